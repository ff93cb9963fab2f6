// Fault counts split by kind, with the derived totals the JSON contract names.
// `faults` is every recorded fault (minor + major + segv); segv faults are not accounted
// by the kernel as minor or major, so `minor + major` is what /proc/PID/stat would show.
// A swap-in is minor (from the swap cache) or major (from disk): `swapFromDisk` counts the
// second, so the kernel's major count is the `major` kind plus `swapFromDisk`.

import FaultlineCore

public struct KindCounts: Sendable, Equatable {
    // Stored fields, not an array: a grouping keeps one of these per page or stack, and
    // millions of small heap arrays would cost more than the counting itself.
    private var anon: UInt64 = 0, zero: UInt64 = 0, file: UInt64 = 0, cow: UInt64 = 0
    private var majorCount: UInt64 = 0, segvCount: UInt64 = 0, other: UInt64 = 0, swap: UInt64 = 0
    /// The swap-ins that read the disk (major faults), out of `self[.swap]`.
    public private(set) var swapFromDisk: UInt64 = 0

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
            case .swap: return swap
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
            case .swap: swap = newValue; swapFromDisk = min(swapFromDisk, newValue)
            }
        }
    }

    /// Counts `n` faults of `kind`; for `swap`, `fromDisk` says they were major.
    public mutating func add(_ kind: FaultKind, _ n: UInt64 = 1, fromDisk: Bool = false) {
        self[kind] = self[kind].addingSaturated(n)
        if kind == .swap && fromDisk { swapFromDisk = swapFromDisk.addingSaturated(n) }
    }

    /// Counts one recorded fault.
    public mutating func add(_ fault: FaultEvent) {
        add(fault.kind, fromDisk: fault.swapFromDisk)
    }

    public mutating func add(_ other: KindCounts) {
        for kind in FaultKind.allCases { self[kind] = self[kind].addingSaturated(other[kind]) }
        swapFromDisk = min(swapFromDisk.addingSaturated(other.swapFromDisk), swap)
    }

    /// Every kind: the counts are exclusive, so they sum to every recorded fault.
    public var faults: UInt64 {
        minor.addingSaturated(accountedMajor).addingSaturated(segvCount)
    }
    /// What the kernel accounts as minor: everything but major faults (the `major` kind and
    /// swap-ins from disk) and segv.
    public var minor: UInt64 {
        anon.addingSaturated(zero).addingSaturated(file).addingSaturated(cow).addingSaturated(other)
            .addingSaturated(swap - swapFromDisk)
    }
    /// The `major` kind: faults that waited for file I/O.
    public var major: UInt64 { majorCount }
    /// What the kernel accounts as major: the `major` kind and swap-ins from disk.
    public var accountedMajor: UInt64 { majorCount.addingSaturated(swapFromDisk) }
    public var segv: UInt64 { segvCount }

    /// Kinds with a non-zero count, largest first (ties in FaultKind order), for the
    /// one-column breakdown a person reads.
    public var nonZeroKinds: [(kind: FaultKind, count: UInt64)] {
        FaultKind.allCases.filter { self[$0] > 0 }
            .map { (kind: $0, count: self[$0]) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.kind.rawValue < $1.kind.rawValue }
    }

    /// The contract's keys: `faults`, `minor`, `major`, `segv`, every kind by name, and
    /// `swap_from_disk` (the kernel's major count is `major` + `swap_from_disk`).
    public var jsonObject: [String: Int] {
        var object: [String: Int] = ["faults": Int(faults), "minor": Int(minor), "swap_from_disk": Int(swapFromDisk)]
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
