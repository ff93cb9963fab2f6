// Turns what the kernel tells us about one fault into a FaultKind: DESIGN.md's table.

/// Everything the classifier needs to know about one fault.
public struct FaultObservation: Sendable {
    /// Error code from exceptions:page_fault_{user,kernel}; nil if the entry event was missed.
    public var errorCode: PageFaultErrorCode?
    /// The fault was accounted as major (PERF_COUNT_SW_PAGE_FAULTS_MAJ).
    public var isMajor: Bool
    /// SIGSEGV or SIGBUS was delivered for this access.
    public var signalled: Bool
    /// The VMA the address fell into, or nil when no mapping is known there.
    public var region: MemoryRegionKind?

    public init(errorCode: PageFaultErrorCode?, isMajor: Bool, signalled: Bool, region: MemoryRegionKind?) {
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

        if region.isShared {
            // Shared memory never copies: a missing page comes from the page cache (or shmem);
            // a write to a present page is write-notify (dirty tracking), not CoW.
            return present ? .other : .file
        }
        if present {
            // Write to a present, write-protected private page: the page is copied.
            // Anything else on a present page (NUMA hinting, pkeys) is "other".
            return write ? .cow : .other
        }
        if region.isFileBacked {
            // A private file page: reading maps the page-cache page; writing copies it
            // in the same fault (error code 0x6 on a file VMA).
            return write ? .cow : .file
        }
        // An instruction fetch is a read as far as do_anonymous_page cares: zero page.
        return write ? .anon : .zero
    }
}
