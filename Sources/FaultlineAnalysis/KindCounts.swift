// Fault counts split by kind, with the derived totals the JSON contract names.
// `faults` is every recorded fault (minor + major + segv); segv faults are not accounted
// by the kernel as minor or major, so `minor + major` is what /proc/PID/stat would show.

import FaultlineCore

public struct KindCounts: Sendable, Equatable {
    // Stored fields, not an array: a grouping keeps one of these per page or stack, and
    // millions of small heap arrays would cost more than the counting itself.
    private var anon: UInt64 = 0, zero: UInt64 = 0, file: UInt64 = 0, cow: UInt64 = 0
    private var majorCount: UInt64 = 0, segvCount: UInt64 = 0, other: UInt64 = 0

    public init() {}

    public subscript(kind: FaultKind) -> UInt64 {
        get {
            switch kind {
            case .anon: return anon
            case .zero: return zero
            case .file: return file
            case .cow: return cow
            case .major: return majorCount
            case .segv: return segvCount
            case .other: return other
            }
        }
        set {
            switch kind {
            case .anon: anon = newValue
            case .zero: zero = newValue
            case .file: file = newValue
            case .cow: cow = newValue
            case .major: majorCount = newValue
            case .segv: segvCount = newValue
            case .other: other = newValue
            }
        }
    }

    public mutating func add(_ kind: FaultKind, _ n: UInt64 = 1) {
        self[kind] += n
    }

    public mutating func add(_ other: KindCounts) {
        for kind in FaultKind.allCases { self[kind] += other[kind] }
    }

    public var faults: UInt64 { anon + zero + file + cow + majorCount + segvCount + other }
    /// What the kernel accounts as minor: everything but major and segv.
    public var minor: UInt64 { anon + zero + file + cow + other }
    public var major: UInt64 { majorCount }
    public var segv: UInt64 { segvCount }

    /// Kinds with a non-zero count, largest first (ties in FaultKind order), for the
    /// one-column breakdown a person reads.
    public var nonZeroKinds: [(kind: FaultKind, count: UInt64)] {
        FaultKind.allCases.filter { self[$0] > 0 }
            .map { (kind: $0, count: self[$0]) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.kind.rawValue < $1.kind.rawValue }
    }

    /// The contract's keys: `faults`, `minor`, `major`, `segv`, and every kind by name.
    public var jsonObject: [String: Int] {
        var object: [String: Int] = ["faults": Int(faults), "minor": Int(minor)]
        for kind in FaultKind.allCases { object[kind.name] = Int(self[kind]) }
        return object
    }

    /// Every kind by name, without the derived totals: the `kinds` of a grouping row.
    public var kindsObject: [String: Int] {
        var object: [String: Int] = [:]
        for kind in FaultKind.allCases { object[kind.name] = Int(self[kind]) }
        return object
    }
}
