// Turns what the kernel tells us about one fault into a FaultKind: DESIGN.md's table.

/// The memory a fault hit, as far as classifying it goes.
public struct FaultRegion: Sendable, Hashable {
    public var backing: Backing
    /// A hugetlb mapping (MAP_HUGETLB, hugetlbfs): pages come from the huge page pool, there
    /// is no zero page, and a private first touch allocates a page whatever the access.
    public var isHugetlb: Bool

    public init(backing: Backing, isHugetlb: Bool = false) {
        self.backing = backing
        self.isHugetlb = isHugetlb
    }
}

/// Everything the classifier needs to know about one fault.
public struct FaultObservation: Sendable {
    /// Error code from exceptions:page_fault_{user,kernel}; nil if the entry event was missed.
    public var errorCode: PageFaultErrorCode?
    /// The fault was accounted as major (PERF_COUNT_SW_PAGE_FAULTS_MAJ).
    public var isMajor: Bool
    /// SIGSEGV or SIGBUS was delivered for this access.
    public var signalled: Bool
    /// The VMA the address fell into, or nil when no mapping is known there.
    public var region: FaultRegion?

    public init(errorCode: PageFaultErrorCode?, isMajor: Bool, signalled: Bool, region: FaultRegion?) {
        self.errorCode = errorCode
        self.isMajor = isMajor
        self.signalled = signalled
        self.region = region
    }
}

public enum FaultClassifier {
    public static func classify(_ o: FaultObservation) -> FaultKind {
        if o.signalled { return .segv }
        if o.isMajor { return .major }
        guard let code = o.errorCode, let region = o.region else { return .other }
        let present = code.contains(.present)
        let write = code.contains(.write)

        if region.backing.isShared {
            // Shared memory never copies: a missing page comes from the page cache (or shmem);
            // a write to a present page is write-notify (dirty tracking), not CoW.
            return present ? .other : .file
        }
        if present {
            // Write to a present, write-protected private page: the page is copied.
            // Anything else on a present page (NUMA hinting, pkeys) is "other".
            return write ? .cow : .other
        }
        if region.backing == .filePrivate {
            // A private file page: reading maps the page-cache page; writing copies it
            // in the same fault (error code 0x6 on a file VMA).
            return write ? .cow : .file
        }
        // hugetlb has no zero page: any first touch of private anonymous hugetlb memory
        // allocates a huge page (a read maps it read-only; a later write faults again).
        if region.isHugetlb { return .anon }
        // An instruction fetch is a read as far as do_anonymous_page cares: zero page.
        return write ? .anon : .zero
    }
}
