// Each process's page history (PopulatedPages): the pages a fault, MAP_POPULATE or
// MADV_POPULATE filled with memory that only swap can give back once reclaim takes it, kept
// up to date with every change of the address space that frees or moves pages. A fault
// that finds such a page missing again is a swap-in.
//
// The rules of what each call frees are AddressSpace's; this file only applies what they
// return. What it cannot see: a process's pages from before an attach, and pages khugepaged filled while collapsing; their swap-ins
// are recognised only when they read the disk (a major fault on anonymous memory or shmem
// can only be a swap-in).

import FaultlineAddressSpace
import FaultlineCore

extension FaultAssembler {
    /// Classifies a completed fault in `vma` with the process's page history, and records
    /// the page it leaves behind. True: a write that lost its page to another thread's read
    /// of the zero page, whose kind the thread's next fault decides (`settleCopy`).
    @discardableResult
    func classify(_ fault: inout FaultEvent, errorCode: PageFaultErrorCode?, major: Bool, vma: VMA?) -> Bool {
        let region = vma?.region
        var wasPopulated = false
        if let vma, let region, region.isSwapBacked {
            // The page stays populated whatever the fault was: one visit tests and marks it.
            let (start, end) = extent(of: fault, in: vma)
            wasPopulated = populated[fault.pid, default: PopulatedPages(pageSize: pageSize)]
                .testAndInsert(fault.address, start: start, end: end)
        } else if region?.backing == .filePrivate && region?.isHugetlb == false {
            wasPopulated = populated[fault.pid]?.contains(fault.address) ?? false
        }
        var fileHolds = false
        if let vma, vma.isHugetlb, let page = HugetlbFilePage(vma, fault.address) {
            // A shared mapping's fault leaves the page in the file; a private one finds it there.
            if vma.backing.isShared { hugetlbFilePages.insert(page) } else { fileHolds = hugetlbFilePages.contains(page) }
        }
        fault.kind = FaultClassifier.classify(FaultObservation(errorCode: errorCode, isMajor: major, signalled: false,
                                                               region: region, pageWasPopulated: wasPopulated,
                                                               fileHoldsPage: fileHolds))
        // (A private file mapping races only over the copies of its pages.)
        var undecided = false
        if let vma, region?.isSwapBacked == true || (region?.backing == .filePrivate && fault.kind == .cow) {
            undecided = noteRace(&fault, major: major, extent: extent(of: fault, in: vma))
        }
        if let vma, vma.backing == .anonymous, !vma.isHugetlb { noteWholeWrite(&fault) }
        fault.swapFromDisk = fault.kind == .swap && major
        if let vma, let region, !region.isSwapBacked, region.leavesSwappablePage(fault.kind) {
            let (start, end) = extent(of: fault, in: vma)
            populated[fault.pid, default: PopulatedPages(pageSize: pageSize)].insert(start, end)
        }
        return undecided
    }

    /// How long before a fault's entry a racing fault may have completed: a fault's entry is
    /// stamped when the kernel's handler runs, after the exception entry, while the filling
    /// fault's completion is stamped after its page-table lock is dropped (node showed 1 run
    /// in 4 a "swap-in" whose filler completed 110 ns before it began). Reclaim cannot take a
    /// page to swap and back within this of its first fault; an MADV_PAGEOUT between them is
    /// a system call of its own, longer than that.
    static let raceSlackNs: UInt64 = 50_000

    /// Two threads that fault on one absent page at once both take a fault; the second finds
    /// the page there when it gets the lock, filled by the first, and the kernel has nothing
    /// left to do. The page history alone would call it a swap-in (seen on node, whose
    /// garbage collector's threads touch fresh pages together, on a machine without swap).
    /// It is `other`: memory filled by a fault that completed after this one began, or less
    /// than `raceSlackNs` before. The filler is found by the memory it mapped, not by its
    /// address: threads racing into one huge page fault at different base pages of it (64
    /// threads writing at random over THP memory: 50 "swap-ins" in 1,173 faults, on a
    /// machine without swap).
    ///
    /// Two threads that write one write-protected page at once (the zero page, the huge zero
    /// page, a private file's page) both take a fault and both copy it, but only the first to
    /// take the page-table lock maps its copy: the other finds the entry changed, frees its
    /// copy and has done nothing (wp_page_copy, do_huge_zero_wp_pmd). Its `cow` is `other`
    /// when a copy that completed after it began maps its address (32 threads writing at
    /// random over MADV_HUGEPAGE memory: 12 such pairs in 331 faults, both called `cow`).
    ///
    /// A write that lost to another thread's read of the zero page (or the huge zero page)
    /// may have done either: found the zero page mapped and copied it (do_wp_page: its one
    /// fault is a `cow`), or lost the page and retried (this fault did nothing; the retry is
    /// the cow). Only the thread's next fault tells which (32 threads at random over base
    /// pages: one such write in 98,129 faults copied in its own fault). True: undecided.
    private func noteRace(_ fault: inout FaultEvent, major: Bool, extent: (start: UInt64, end: UInt64)) -> Bool {
        let began = fault.timeNs > Self.raceSlackNs ? fault.timeNs - Self.raceSlackNs : 0
        var undecided = false
        if (fault.kind == .swap && !major) || fault.kind == .cow {
            // Only a fault that looks like these searches the ring.
            let fills = recentPopulations[fault.pid]?.fills(of: fault.address, after: began) ?? 0
            if fault.kind == .swap && fills != 0 {
                fault.kind = .other
                undecided = fault.access == .write && fills & RecentPopulations.bit(.zero) != 0
            } else if fault.kind == .cow && fills & RecentPopulations.bit(.cow) != 0 {
                fault.kind = .other
            }
        }
        recentPopulations[fault.pid, default: RecentPopulations()]
            .note(extent.start, extent.end, at: fault.timeNs &+ (fault.serviceNs ?? 0), kind: fault.kind)
        return undecided
    }

    /// A huge page of private anonymous memory that one of the process's write faults made
    /// writable whole (do_huge_pmd_wp_page reusing it once no other process maps it, or a
    /// write copying the huge zero page whole) takes no copy-on-write fault again until
    /// something write-protects it or frees it: a fork, an mprotect, madvise, mremap or
    /// prctl (KSM), or a fault of another kind there once its memory has gone. A write
    /// fault there that looks like one is spurious: another CPU's TLB still held the page
    /// read-only, and the kernel found it writable and did nothing
    /// (flush_tlb_fix_spurious_fault). The ring (noteRace) sees only those within
    /// raceSlackNs; one 54 us after a reuse was called `cow` (thp_shapes fork_rewrite: a
    /// parent rewriting its THPs after its child had gone, 1-2 of 2,064 in one run of six).
    /// Any other fault in such a huge page ends it (its memory was unmapped or freed: the
    /// first fault in new memory is a first touch or a read of the zero page).
    private func noteWholeWrite(_ fault: inout FaultEvent) {
        // Most faults are not copies and find no such huge page: no lookup for them.
        guard fault.kind == .cow || !writableHugePages.isEmpty else { return }
        if writableHugePages[fault.pid]?.contains(fault.address) == true {
            // (The spurious fault may say it mapped the huge page: the kernel found it mapped.)
            if fault.kind == .cow {
                fault.kind = .other
            } else if fault.kind != .other {
                writableHugePages[fault.pid]?.remove(containing: fault.address)
            }
            return
        }
        let base = UInt8(pageSize.trailingZeroBitCount)
        if fault.kind == .cow && fault.pageShift > base && fault.pageShift < 40 {
            writableHugePages[fault.pid, default: WritableHugePages()].insert(fault.address, shift: fault.pageShift)
        }
    }

    /// The memory a completed fault mapped: its base page, or the whole huge page the kernel
    /// said it mapped (a THP's other pages are populated too), within the VMA.
    private func extent(of fault: FaultEvent, in vma: VMA) -> (UInt64, UInt64) {
        let base = UInt64(pageSize.trailingZeroBitCount)
        let shift = UInt64(fault.pageShift) > base && fault.pageShift < 40 ? UInt64(fault.pageShift) : base
        let start = fault.address & ~((1 << shift) - 1)
        let end = start.addingReportingOverflow(1 << shift).overflow ? UInt64.max : start + (1 << shift)
        return (max(start, vma.start), min(end, vma.end))
    }

    /// One huge page of a hugetlbfs file, by the file's module and its index in the file.
    struct HugetlbFilePage: Hashable {
        var file: Int32
        var index: UInt64

        /// nil for private anonymous hugetlb memory (MAP_HUGETLB without a file: a file of
        /// its own that no other mapping shares).
        init?(_ vma: VMA, _ address: UInt64) {
            guard vma.backing != .anonymous, vma.inode != 0, vma.label >= 0, vma.contains(address) else { return nil }
            file = vma.label
            index = (vma.offset &+ (address - vma.start)) >> UInt64(vma.hugePageShift)
        }
    }

    // MARK: changes of the address space

    /// Memory that is gone (munmap, MAP_FIXED, a lower brk, mremap's unmapped parts): its
    /// pages come back, if touched, as first touches.
    func forgetPages(_ gone: [VMA], pid: Int32) {
        guard !gone.isEmpty, populated[pid] != nil else { return }
        for v in gone { populated[pid]?.remove(v.start, v.end) }
    }

    /// What madvise did to pages: DONTNEED and FREE forget them, POPULATE fills them.
    func applyToPages(_ effect: AdviceEffect, pid: Int32) {
        switch effect {
        case .none, .collapse, .pageOut:
            // (Pages paged out are still the process's: a fault on them later is a swap-in
            // for anonymous memory, a page-cache hit or read for a file.)
            return
        case .discard(let pieces, _, _), .lazyFree(let pieces):
            forgetPages(pieces, pid: pid)
        case .populate(let pieces, let write):
            notePopulated(pieces, write: write, pid: pid)
        }
    }

    /// mremap: the moved pages go with their memory; the unmapped parts are forgotten first
    /// (they never include the range the pages move from).
    func applyToPages(_ effect: RemapEffect, pid: Int32) {
        forgetPages(effect.unmapped, pid: pid)
        if let m = effect.moved { populated[pid]?.move(from: m.from, to: m.to, length: m.length) }
    }

    /// Pages the kernel filled without faults (MAP_POPULATE, MAP_LOCKED, MADV_POPULATE_*):
    /// anonymous memory and shmem always; a private file mapping only where a write made
    /// copies (populate writes a writable private mapping, as mm_populate does).
    func notePopulated(_ pieces: [VMA], write: Bool, pid: Int32) {
        for v in pieces where !v.isHugetlb {
            let copies = v.backing == .filePrivate && write
            guard v.region.isSwapBacked || copies else { continue }
            populated[pid, default: PopulatedPages(pageSize: pageSize)].insert(v.start, v.end)
        }
    }

    /// Pieces the kernel filled without faults, each written where it is private and
    /// writable (mlock, mlockall, a locked mapping's growth).
    func noteFilled(_ pieces: [VMA], pid: Int32) {
        for v in pieces { notePopulated([v], write: v.populateWrites, pid: pid) }
    }

    /// A fork child's history: the parent's, but for memory whose page tables fork does not
    /// copy (shared mappings fault their pages in again from the page cache) or that the
    /// child does not get (MADV_DONTFORK) or gets empty (MADV_WIPEONFORK).
    func forkPages(parent: Int32, child: Int32) {
        guard var pages = populated[parent], let space = spaces[parent] else {
            populated[child] = nil
            return
        }
        for i in 0..<space.count {
            let v = space[i]
            if v.backing.isShared || v.flags.contains(.dontFork) || v.flags.contains(.wipeOnFork) {
                pages.remove(v.start, v.end)
            }
        }
        populated[child] = pages
    }

    /// The new stack execve wrote the arguments and environment into (through
    /// get_user_pages: no fault events): from the start of the stack to its top.
    func noteExecStack(pid: Int32, startStack: UInt64) {
        guard startStack != 0, let v = spaces[pid]?.lookup(startStack), v.flags.contains(.growsDown) else { return }
        populated[pid, default: PopulatedPages(pageSize: pageSize)].insert(startStack & ~(pageSize - 1), v.end)
    }
}

/// The last memory a process's faults filled (a base page, or a huge page), with when each
/// fault completed: a ring of a few hundred (6 KiB a process), for the faults other threads
/// complete while a racing fault waits (a huge page's allocation stalled 100 ms in
/// compaction under 64 threads). Only a fault that looks like a swap-in searches it.
struct RecentPopulations {
    private static let size = 256
    private var starts = [UInt64](repeating: 0, count: size)
    private var ends = [UInt64](repeating: 0, count: size)
    private var times = [UInt64](repeating: 0, count: size)
    private var kinds = [FaultKind](repeating: .other, count: size)
    private var next = 0

    mutating func note(_ start: UInt64, _ end: UInt64, at time: UInt64, kind: FaultKind) {
        starts[next] = start
        ends[next] = end
        times[next] = time
        kinds[next] = kind
        next = (next + 1) % starts.count
    }

    /// The kinds of the faults that completed after `time` and filled memory holding
    /// `address`, a bit each (`bit`); 0: none. Faults are noted as they complete, so the
    /// search goes from the newest back to the first that completed by `time` (every cow
    /// fault searches: a full ring each was 256 compares a copy).
    func fills(of address: UInt64, after time: UInt64) -> UInt32 {
        var found: UInt32 = 0
        var i = next
        for _ in 0..<starts.count {
            i = i == 0 ? starts.count - 1 : i - 1
            if times[i] <= time { break }
            if starts[i] <= address && address < ends[i] { found |= Self.bit(kinds[i]) }
        }
        return found
    }

    static func bit(_ kind: FaultKind) -> UInt32 { 1 << UInt32(kind.rawValue & 31) }
}

/// Huge pages made writable whole (FaultAssembler.noteWholeWrite), each by its first
/// address and size: one entry a huge page, until a fork or call clears them all.
struct WritableHugePages {
    private var pages = Set<UInt64>()   // start | shift: a start is aligned to its size, at least 4 KiB
    private var shifts = Set<UInt8>()

    mutating func insert(_ address: UInt64, shift: UInt8) {
        pages.insert(Self.key(address, shift))
        shifts.insert(shift)
    }

    func contains(_ address: UInt64) -> Bool {
        shifts.contains { pages.contains(Self.key(address, $0)) }
    }

    mutating func remove(containing address: UInt64) {
        for shift in shifts { pages.remove(Self.key(address, shift)) }
    }

    private static func key(_ address: UInt64, _ shift: UInt8) -> UInt64 {
        address & ~((UInt64(1) << UInt64(shift)) - 1) | UInt64(shift)
    }
}
