// Faults and the time they took, by kind: what every grouping, tree and picture adds up.
// Times come from the log and may be anything up to 2^64-1 each, so they add with
// saturation; counts stay in KindCounts.

import FaultlineCore

/// Nanoseconds of service by fault kind. Eight lanes of a SIMD vector: no heap allocation,
/// so a grouping can keep one per page of a large recording.
public struct KindTimes: Sendable, Equatable {
    private var lanes = SIMD8<UInt64>()

    public init() {}

    public subscript(kind: FaultKind) -> UInt64 {
        get { lanes[Int(kind.rawValue)] }
        set { lanes[Int(kind.rawValue)] = newValue }
    }

    public mutating func add(_ kind: FaultKind, _ ns: UInt64) {
        self[kind] = self[kind].addingSaturated(ns)
    }

    public mutating func add(_ other: KindTimes) {
        for kind in FaultKind.allCases { add(kind, other[kind]) }
    }

    /// Every kind's time together, saturated.
    public var total: UInt64 {
        FaultKind.allCases.reduce(UInt64(0)) { $0.addingSaturated(self[$1]) }
    }

    /// Every kind by name, in nanoseconds.
    public var kindsObject: [String: UInt64] {
        var object: [String: UInt64] = [:]
        for kind in FaultKind.allCases { object[kind.name] = self[kind] }
        return object
    }
}

/// What a report can rank by: how many faults, or how long they took.
public enum Weight: String, CaseIterable, Sendable {
    case faults
    /// The sum of the faults' service times (entry to completion); a fault whose time is
    /// unknown (a segv, an unpaired entry) weighs nothing.
    case time

    /// The unit a picture or an export states.
    public var unit: String { self == .faults ? "faults" : "nanoseconds" }
}

/// Faults by kind and their service time by kind.
public struct FaultTally: Sendable, Equatable {
    public var counts = KindCounts()
    public var time = KindTimes()

    public init(counts: KindCounts = KindCounts(), time: KindTimes = KindTimes()) {
        self.counts = counts; self.time = time
    }

    public mutating func add(_ fault: FaultEvent) {
        counts.add(fault)
        if let ns = fault.serviceNs { time.add(fault.kind, ns) }
    }

    public mutating func add(_ other: FaultTally) {
        counts.add(other.counts)
        time.add(other.time)
    }

    public var faults: UInt64 { counts.faults }
    public var timeNs: UInt64 { time.total }

    public func weight(_ w: Weight) -> UInt64 { w == .faults ? counts.faults : time.total }

    /// The weight of one kind.
    public func weight(_ w: Weight, of kind: FaultKind) -> UInt64 { w == .faults ? counts[kind] : time[kind] }

    /// The kind that weighs most here (ties in FaultKind order): what a frame or cell is
    /// coloured by.
    public func dominantKind(_ w: Weight) -> FaultKind {
        var best = FaultKind.anon
        for kind in FaultKind.allCases where weight(w, of: kind) > weight(w, of: best) { best = kind }
        return best
    }
}
