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

    /// Its pages go to swap when memory runs short, and only swap gives them back: anonymous
    /// memory and shmem. (hugetlb pages are never swapped. A private file mapping's copied
    /// pages are anonymous and swap too, but its other pages are the file's: the page's
    /// history tells them apart, see FaultObservation.pageWasPopulated.)
    public var isSwapBacked: Bool {
        !isHugetlb && (backing == .anonymous || backing == .sharedMemory)
    }

    /// Whether a fault that completed here leaves a page the recorder must remember as
    /// populated (PageHistory): one that can only come back from swap once reclaim takes
    /// it. Anonymous and shmem memory always (the zero page included: reclaim never takes
    /// it, so remembering it changes nothing); a private file mapping only where the fault
    /// made an anonymous copy (cow, or a swap-in of one).
    public func leavesSwappablePage(_ kind: FaultKind) -> Bool {
        if kind == .segv || isHugetlb { return false }
        if isSwapBacked { return true }
        return backing == .filePrivate && (kind == .cow || kind == .swap)
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
    /// This process had a page here that nothing has freed since (no munmap, MADV_DONTNEED
    /// or MADV_FREE, no exec): an earlier fault mapped it (FaultRegion.leavesSwappablePage),
    /// or MAP_POPULATE/MADV_POPULATE filled it. If such a page is missing again, reclaim
    /// took it: the fault brings it back from swap.
    public var pageWasPopulated: Bool
    /// For a private mapping of a hugetlbfs file: the file already holds the page (the
    /// recording saw it instantiated through a shared mapping), so a read maps it and a
    /// write copies it, instead of allocating a page of the mapping's own.
    public var fileHoldsPage: Bool

    public init(errorCode: PageFaultErrorCode?, isMajor: Bool, signalled: Bool, region: FaultRegion?,
                pageWasPopulated: Bool = false, fileHoldsPage: Bool = false) {
        self.errorCode = errorCode
        self.isMajor = isMajor
        self.signalled = signalled
        self.region = region
        self.pageWasPopulated = pageWasPopulated
        self.fileHoldsPage = fileHoldsPage
    }
}

public enum FaultClassifier {
    public static func classify(_ o: FaultObservation) -> FaultKind {
        if o.signalled { return .segv }
        if o.isMajor {
            // Anonymous memory and shmem have no file to read: only swap makes them wait for
            // I/O (do_swap_page, shmem_swapin_folio). A private file mapping's page that
            // was copied before is anonymous too; any other page there comes from the file.
            guard let region = o.region else { return .major }
            return region.isSwapBacked || (o.pageWasPopulated && region.leavesSwappablePage(.swap)) ? .swap : .major
        }
        guard let code = o.errorCode, let region = o.region else { return .other }
        let present = code.contains(.present)
        let write = code.contains(.write)

        // A page this process had, missing again though nothing freed it: reclaim took it
        // to swap, and this fault found it in the swap cache (a major fault read the disk).
        if !present && o.pageWasPopulated && region.leavesSwappablePage(.swap) { return .swap }

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
        // hugetlb has no zero page: a private first touch, read or write, allocates a huge
        // page of its own (hugetlb_no_page), for MAP_HUGETLB and a private mapping of a
        // hugetlbfs file alike (a read maps it read-only; a later write faults again) --
        // unless the file holds the page: then a read maps it and a write copies it.
        if region.isHugetlb {
            guard o.fileHoldsPage else { return .anon }
            return write ? .cow : .file
        }
        if region.backing == .filePrivate {
            // A private file page: reading maps the page-cache page; writing copies it
            // in the same fault (error code 0x6 on a file VMA).
            return write ? .cow : .file
        }
        // An instruction fetch is a read as far as do_anonymous_page cares: zero page.
        return write ? .anon : .zero
    }
}
