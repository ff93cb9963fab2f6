// The kernel's fault handlers, as the model plays them: an access to memory nothing maps
// yet (do_anonymous_page, do_huge_pmd_anonymous_page, do_read_fault/do_cow_fault/
// do_shared_fault with fault-around, hugetlb_no_page), and a write to a page mapped without
// write permission (do_wp_page, do_huge_pmd_wp_page, hugetlb_wp, write-notify). What they
// return is the class DESIGN.md's table gives the same fault.

import FaultlineAddressSpace
import FaultlineCore

extension ReplayEngine {
    /// One access by process `index` (tests and traces).
    @discardableResult
    public func touch(process index: Int32, address: UInt64, access: Access) -> FaultOutcome {
        withProcess(index) { touch($0, index, address, access) }
    }

    /// `readFromDisk`: the recording saw this fault wait for I/O (a major fault).
    @inline(__always)
    func touch(_ p: ProcessState, _ index: Int32, _ address: UInt64, _ access: Access, readFromDisk: Bool = false) -> FaultOutcome {
        totals.accesses &+= 1
        guard let vi = p.space.find(address) ?? unmappedAccess(p, address) else {
            if counting { counts[Int(FaultKind.segv.rawValue)] &+= 1 }
            return FaultOutcome(kind: .segv, pageShift: gs)
        }
        let v = p.space[vi]
        let outcome = resolve(p, vi, v, address, write: access == .write, exec: access == .exec, readFromDisk: readFromDisk)
        if counting {
            if let kind = outcome.kind {
                counts[Int(kind.rawValue)] &+= 1
                memory.countFault(v.label)
            } else {
                counts[noFaultColumn] &+= 1
            }
        }
        // Asked here, not only inside: without a TLB the call itself showed in perf (2%).
        if tlb != nil && outcome.kind != .segv {
            tlbAccess(asid: index, address: address, pageShift: outcome.pageShift, access: access, repeating: false)
        }
        return outcome
    }

    /// Hands an access to the TLB model, wherever it runs; `repeating`: the same page as
    /// the access before, which the queue may fold into that one's request.
    @inline(__always)
    func tlbAccess(asid: Int32, address: UInt64, pageShift: Int, access: Access, repeating: Bool) {
        if let tlbRef {
            tlbRef._withUnsafeGuaranteedRef {
                $0.access(asid: asid, address: address, pageShift: pageShift, instruction: access == .exec)
            }
        } else if let tlbQueueRef {
            tlbQueueRef._withUnsafeGuaranteedRef { queue in
                if repeating {
                    queue.repeatAccess(asid: asid, address: address, pageShift: pageShift, instruction: access == .exec)
                } else {
                    queue.access(asid: asid, address: address, pageShift: pageShift, instruction: access == .exec)
                }
            }
        }
    }

    /// Drops `asid`'s translations of [start, end) from the TLB model, wherever it runs.
    func flushTLB(asid: Int32, start: UInt64, end: UInt64) {
        if let tlbQueue {
            tlbQueue.flush(asid: asid, start: start, end: end)
        } else {
            tlb?.flush(asid: asid, start: start, end: end)
        }
    }

    /// Drops all of `asid`'s translations from the TLB model.
    func flushTLB(asid: Int32) {
        if let tlbQueue {
            tlbQueue.flush(asid: asid)
        } else {
            tlb?.flush(asid: asid)
        }
    }

    /// `readFromDisk`: a major fault, whose page was not in the page cache; the pages
    /// around it most likely were not either, and the kernel maps around a fault before it
    /// reads the page (do_read_fault: do_fault_around, then __do_fault), so a major fault
    /// maps no others. (A cold file read with MADV_RANDOM takes a major fault on every
    /// page; the model's fault-around had mapped sixteen at each, and it predicted 4,130 of
    /// the kernel's 65,536 faults at the recorded configuration.)
    @inline(__always)
    func resolve(_ p: ProcessState, _ vi: Int, _ v: VMA, _ address: UInt64, write: Bool, exec: Bool,
                 readFromDisk: Bool = false) -> FaultOutcome {
        // x86 without protection keys: any PROT_* lets a page be read.
        if !permissive && ((write && v.prot & Protection.write == 0) || (exec && v.prot & Protection.exec == 0) || v.prot & 7 == 0) {
            return FaultOutcome(kind: .segv, pageShift: gs)
        }
        if v.isHugetlb { return hugePage(p, vi, v, address, shift: Int(v.hugePageShift), write: write) }
        // A THP first: under an explicit 2m configuration one comes only from a collapse of
        // base pages, which took their page table with it, and an explicit page must not go
        // over it (it did, and both were counted: 76 MiB of CPython's memory stayed resident
        // after every process had exited, at 2m with khugepaged eager).
        if p.thp.count > 0 {
            let key = address >> UInt64(ts)
            let s = p.thp.get(key)
            if s != 0 { return present(p, vi, v, .thp, p.thp, key, s, address, write: write, row: pageRow(p, v, key << UInt64(ts))) }
        }
        if explicitShift != 0 && v.backing == .anonymous && !v.isStack {
            if let map = p.existingHugeMap(shift: explicitShift), map.get(address >> UInt64(explicitShift)) != 0 {
                return hugePage(p, vi, v, address, shift: explicitShift, write: write)
            }
            if fits(p, vi, v, address, explicitShift) && !hasSmallerPages(p, address, shift: explicitShift) {
                return hugePage(p, vi, v, address, shift: explicitShift, write: write)
            }
        }
        if gs > 12, let key = edgeKey(p, vi, v, address) {
            let s = p.edges.get(key)
            // The part is the row's that holds its first byte (another piece of the kernel
            // VMA may, which the part begins in).
            let row = pageRow(p, v, edgeAddress(key))
            if s != 0 { return present(p, vi, v, .base, p.edges, key, s, address, write: write, row: row) }
            return basePage(p, vi, v, address, write: write, map: p.edges, key: key, aroundAllowed: !readFromDisk, row: row)
        }
        let key = address >> UInt64(gs)
        let s = p.base.get(key)
        if s != 0 { return present(p, vi, v, .base, p.base, key, s, address, write: write, row: pageRow(p, v, key << UInt64(gs))) }
        return missing(p, vi, v, address, write: write, aroundAllowed: !readFromDisk)
    }

    /// The row a page at `start` is charged to: that of the piece holding its first byte,
    /// as an exit and a munmap release it (`v`'s, the faulting piece's, where that holds it
    /// or none does). A page larger than the recording's (a coarser granule, a THP, an
    /// explicit huge page) may span two pieces of one kernel VMA (two mappings merged);
    /// charged to the faulting piece, it was released from the other's row, and the rows of
    /// a build's processes at 16k went negative and over by as much.
    @inline(__always)
    func pageRow(_ p: ProcessState, _ v: VMA, _ start: UInt64) -> Int32 {
        guard start < v.start || start >= v.end else { return v.label }
        return rowOfPage(p, at: start, fallback: v.label)
    }

    /// For an address in a granule page whose first part belongs to another kernel VMA (or
    /// to none), the key of this VMA's part of it (ProcessState.edges): the page, and the
    /// 4 KiB slot where the part begins. nil for a page whose start this VMA holds: its
    /// key is the page's, so it stays the same page when the VMA grows or the page fills.
    @inline(__always)
    func edgeKey(_ p: ProcessState, _ vi: Int, _ v: VMA, _ address: UInt64) -> UInt64? {
        let pageStart = address & ~((UInt64(1) << UInt64(gs)) - 1)
        guard v.start > pageStart else { return nil }
        let partStart = p.inSpace { $0.kernelVMAStart(vi, notBelow: pageStart) }
        guard partStart > pageStart else { return nil }
        return (address >> UInt64(gs)) << 4 | ((partStart - pageStart) >> 12)
    }

    /// Where the part an edge key names begins.
    func edgeAddress(_ key: UInt64) -> UInt64 { (key >> 4) << UInt64(gs) | (key & 15) << 12 }

    /// The VMA now has anonymous pages (an anon_vma): fork will copy its page tables.
    @inline(__always)
    func markAnonPages(_ p: ProcessState, _ vi: Int, _ v: VMA) {
        if !v.flags.contains(.hasAnonPages) { p.space.insertFlags(.hasAnonPages, at: vi) }
    }

    /// Whether smaller pages (a lower-level table) already exist inside the huge page at
    /// `address`: a huge page cannot go over them.
    @inline(__always)
    func hasSmallerPages(_ p: ProcessState, _ address: UInt64, shift: Int) -> Bool {
        guard let level = config.layout.level(forPageShift: shift), level + 1 < p.tables.count else { return false }
        return p.tables[level + 1].contains(address >> UInt64(tables.tableShifts[level + 1]))
    }

    // MARK: a page that is mapped

    /// An access to a mapped page: no fault, unless it writes a write-protected page.
    private func present(_ p: ProcessState, _ vi: Int, _ v: VMA, _ layer: Layer, _ map: PageMap, _ key: UInt64,
                         _ s: UInt8, _ address: UInt64, write: Bool, row: Int32) -> FaultOutcome {
        let shift = layer == .thp ? ts : gs
        if !write || s & PageState.writable != 0 { return FaultOutcome(kind: nil, pageShift: shift) }
        if !v.backing.isPrivate {
            // Shared memory never copies: a clean page's first write is write-notify.
            map.set(key, s | PageState.writable)
            return FaultOutcome(kind: .other, pageShift: shift)
        }
        markAnonPages(p, vi, v)
        if layer == .thp {
            if s & PageState.zero == 0 && !thpMappedElsewhere(p, key) {
                // do_huge_pmd_wp_page reuses a THP that no other mapping holds any more (the
                // other side of the fork that shared it has exited or exec'd): the PMD is
                // made writable, whole, and the process's writes to its other pages take no
                // fault. (Split instead, as if still shared, a parent that wrote its THPs
                // again after its child had gone took a fault a base page.)
                map.set(key, s | PageState.writable | PageState.ownsAnon)
                if s & PageState.ownsAnon == 0 { memory.charge(row, .thp, Int64(1) << Int64(ts)) }
                return FaultOutcome(kind: .cow, pageShift: ts)
            }
            if s & PageState.zero != 0 && kernel.hugeZeroPageWriteAllocatesTHP {
                // Since 6.13 a write to the huge zero page allocates a whole THP.
                map.set(key, PageState.present | PageState.writable | PageState.ownsAnon)
                memory.charge(row, .thp, Int64(1) << Int64(ts))
                return FaultOutcome(kind: .cow, pageShift: ts)
            }
            if s & PageState.zero == 0 && !kernel.thpCoWCopiesBasePage {
                // Before 5.8 a CoW copied the whole THP.
                map.set(key, PageState.present | PageState.writable | PageState.ownsAnon)
                if s & PageState.ownsAnon == 0 { memory.charge(row, .thp, Int64(1) << Int64(ts)) }
                return FaultOutcome(kind: .cow, pageShift: ts)
            }
            // The PMD is split and one base page copied (do_huge_pmd_wp_page's fallback).
            split(p, key: key, label: row)
            let bk = address >> UInt64(gs)
            copyBase(p.base, pageRow(p, v, bk << UInt64(gs)), bk, p.base.get(bk))
            return FaultOutcome(kind: .cow, pageShift: gs)
        }
        copyBase(map, row, key, s)
        return FaultOutcome(kind: .cow, pageShift: gs)
    }

    /// Whether a process other than `p` may still map the THP at `key` of `p`, or part of
    /// it: at the same address, as a write-protected THP, or as write-protected base pages
    /// of anonymous memory (a fork child that split its mapping of it with a write keeps
    /// mapping its other pages). Asked only at a write to a write-protected THP, once a
    /// THP a fork. Beyond `sharersAsked` live processes it is taken as shared (the split,
    /// as before), so a log of thousands of processes asks no more than that.
    func thpMappedElsewhere(_ p: ProcessState, _ key: UInt64) -> Bool {
        let first = key << UInt64(ts - gs), end = (key + 1) << UInt64(ts - gs)
        var asked = 0
        for case let q? in procs where q !== p {
            asked += 1
            if asked > Self.sharersAsked { return true }
            let huge = q.thp.get(key)
            if huge != 0 && huge & PageState.writable == 0 && huge & PageState.zero == 0 { return true }
            if q.base.contains(in: first, end, where: { s in
                s & (PageState.writable | PageState.zero | PageState.ownsFile) == 0
            }) { return true }
        }
        return false
    }

    static let sharersAsked = 256

    @inline(__always)
    private func copyBase(_ map: PageMap, _ row: Int32, _ key: UInt64, _ s: UInt8) {
        let size = Int64(1) << Int64(gs)
        map.set(key, PageState.present | PageState.writable | PageState.ownsAnon)
        // The file page's share goes before the copy arrives: the peak never holds both.
        if s & PageState.ownsFile != 0 { memory.charge(row, .file, -size) }
        if s & PageState.ownsAnon == 0 { memory.charge(row, .anon, size) }
    }

    // MARK: a page nothing maps yet

    private func missing(_ p: ProcessState, _ vi: Int, _ v: VMA, _ address: UInt64, write: Bool, aroundAllowed: Bool) -> FaultOutcome {
        if config.thp != .never && v.backing == .anonymous
            && p.thpAllowed(v, mode: config.thp)
            && fits(p, vi, v, address, ts) && !tables.hasLeafTable(p, address) {
            // do_huge_pmd_anonymous_page: only where no PTE table exists yet. It prepares
            // the anon_vma even for the huge zero page, and deposits a PTE table either way.
            markAnonPages(p, vi, v)
            tables.ensure(p, address, level: thpLevel)
            tables.deposit(1)
            let key = address >> UInt64(ts)
            if write || !useHugeZeroPage {
                p.thp.set(key, PageState.present | PageState.writable | PageState.ownsAnon)
                memory.charge(pageRow(p, v, key << UInt64(ts)), .thp, Int64(1) << Int64(ts))
                return FaultOutcome(kind: write ? .anon : .zero, pageShift: ts)
            }
            p.thp.set(key, PageState.present | PageState.zero)
            return FaultOutcome(kind: .zero, pageShift: ts)
        }
        let key = address >> UInt64(gs)
        return basePage(p, vi, v, address, write: write, map: p.base, key: key, aroundAllowed: aroundAllowed,
                        row: pageRow(p, v, key << UInt64(gs)))
    }

    /// A granule page nothing maps yet, kept in `map` under `key`.
    private func basePage(_ p: ProcessState, _ vi: Int, _ v: VMA, _ address: UInt64, write: Bool,
                          map: PageMap, key: UInt64, aroundAllowed: Bool, row: Int32) -> FaultOutcome {
        let g = Int64(1) << Int64(gs)
        tables.ensure(p, address, level: leafLevel)
        switch v.backing {
        case .anonymous:
            if write {
                markAnonPages(p, vi, v)
                map.set(key, PageState.present | PageState.writable | PageState.ownsAnon)
                memory.charge(row, .anon, g)
                return FaultOutcome(kind: .anon, pageShift: gs)
            }
            map.set(key, PageState.present | PageState.zero)
            return FaultOutcome(kind: .zero, pageShift: gs)
        case .filePrivate:
            if write {
                // do_cow_fault: the page-cache page is copied in the same fault.
                markAnonPages(p, vi, v)
                map.set(key, PageState.present | PageState.writable | PageState.ownsAnon)
                memory.charge(row, .anon, g)
                return FaultOutcome(kind: .cow, pageShift: gs)
            }
            map.set(key, PageState.present | PageState.ownsFile)
            memory.charge(row, .file, g)
            if aroundAllowed { faultAround(p, v, address, state: PageState.present | PageState.ownsFile) }
            return FaultOutcome(kind: .file, pageShift: gs)
        case .fileShared, .sharedMemory:
            // A shared file's clean pages are mapped read-only (write-notify); shmem's are not.
            let writable = write || (v.backing == .sharedMemory && v.prot & Protection.write != 0)
            let state = PageState.present | PageState.ownsFile | (writable ? PageState.writable : 0)
            map.set(key, state)
            if ShmemCache.tracks(v) { shmemCache.insert(v, address, pageShift: gs) }
            memory.charge(row, .file, g)
            if !write && aroundAllowed { faultAround(p, v, address, state: state) }
            return FaultOutcome(kind: .file, pageShift: gs)
        case .kernelPages:
            // The kernel's own page, one a fault: the vDSO's counts in RssFile, a PFN map's
            // ([vvar]) in nothing.
            if v.flags.contains(.pfnMap) {
                map.set(key, PageState.present)
            } else {
                map.set(key, PageState.present | PageState.ownsFile)
                memory.charge(row, .file, g)
            }
            return FaultOutcome(kind: .file, pageShift: gs)
        }
    }

    /// A hugetlb page of 2^shift bytes (a hugetlb mapping's own size, whatever the
    /// configuration's granule, or the explicit 2m/1g of anonymous memory). hugetlb has no
    /// zero page: a private first touch allocates a page, read-only for a read, so that a
    /// later write takes a fault of its own (hugetlb_no_page, hugetlb_wp).
    private func hugePage(_ p: ProcessState, _ vi: Int, _ v: VMA, _ address: UInt64, shift: Int, write: Bool) -> FaultOutcome {
        let map = p.hugeMap(shift: shift)
        let key = address >> UInt64(shift)
        let row = pageRow(p, v, key << UInt64(shift))
        let s = map.get(key)
        let size = Int64(1) << Int64(shift)
        if s != 0 {
            if !write || s & PageState.writable != 0 { return FaultOutcome(kind: nil, pageShift: shift) }
            if !v.backing.isPrivate {
                map.set(key, s | PageState.writable)
                return FaultOutcome(kind: .other, pageShift: shift)
            }
            // A private write: the page is copied, or reused if this process owns it.
            map.set(key, PageState.present | PageState.writable | PageState.ownsAnon)
            if s & PageState.ownsAnon == 0 { memory.charge(row, .hugetlb, size) }
            return FaultOutcome(kind: .cow, pageShift: shift)
        }
        tables.ensure(p, address, level: config.layout.level(forPageShift: shift) ?? thpLevel)
        switch v.backing {
        case .anonymous:
            markAnonPages(p, vi, v)
            map.set(key, PageState.present | PageState.ownsAnon | (write ? PageState.writable : 0))
            memory.charge(row, .hugetlb, size)
            return FaultOutcome(kind: .anon, pageShift: shift)
        case .filePrivate:
            if write {
                markAnonPages(p, vi, v)
                map.set(key, PageState.present | PageState.writable | PageState.ownsAnon)
                memory.charge(row, .hugetlb, size)
                return FaultOutcome(kind: .cow, pageShift: shift)
            }
            map.set(key, PageState.present | PageState.ownsFile)
            memory.charge(row, .hugetlb, size)
            return FaultOutcome(kind: .file, pageShift: shift)
        case .fileShared, .sharedMemory, .kernelPages:
            let writable = write || v.prot & Protection.write != 0
            map.set(key, PageState.present | PageState.ownsFile | (writable ? PageState.writable : 0))
            memory.charge(row, .hugetlb, size)
            return FaultOutcome(kind: .file, pageShift: shift)
        }
    }

    /// Whether the aligned page of 2^shift bytes around `address` lies wholly inside the
    /// kernel's VMA there: `v` (the piece at `vi`), or it and the pieces it merges with.
    @inline(__always)
    func fits(_ p: ProcessState, _ vi: Int, _ v: VMA, _ address: UInt64, _ shift: Int) -> Bool {
        let size = UInt64(1) << UInt64(shift)
        let start = address & ~(size - 1)
        if start >= v.start && start <= v.end && v.end - start >= size { return true }
        return p.inSpace { $0.kernelVMACovers(vi, start, start &+ size) }
    }

    /// do_fault_around: map the cached pages of a fault_around_bytes window (aligned, clipped
    /// to the VMA and the PTE table) that are not mapped yet. No fault is counted for them;
    /// the model assumes every page of the file is in the page cache, but around a fault the
    /// recording saw read from disk (`resolve`'s `readFromDisk`).
    private func faultAround(_ p: ProcessState, _ v: VMA, _ address: UInt64, state: UInt8) {
        guard faultAroundPages > 1 else { return }
        let page = address >> UInt64(gs)
        let tablePages = UInt64(1) << UInt64(ts - gs)
        let tableFirst = page & ~(tablePages - 1)
        let vmaFirst = (v.start &+ (UInt64(1) << UInt64(gs)) &- 1) >> UInt64(gs)
        // The last page may reach past the VMA's end (a granule coarser than the recording's
        // pages): the VMA holds its start, so it is the VMA's page, and is mapped around too.
        let vmaEnd = (v.end &+ (UInt64(1) << UInt64(gs)) &- 1) >> UInt64(gs)
        let from = max(page & ~(faultAroundPages - 1), vmaFirst, tableFirst)
        let to = min(from &+ faultAroundPages, tableFirst &+ tablePages, vmaEnd)
        guard from < to else { return }
        // The window but the faulting page (which its fault maps; it may lie before the
        // window, in a granule page the VMA starts inside), a block at a time. (Page by page,
        // this was 9% of a shell loop's replay: callgrind, 1,000 short processes.)
        var filled = 0
        func fill(_ low: UInt64, _ high: UInt64) {
            guard low < high else { return }
            guard ShmemCache.tracks(v) else {
                filled += Int(high - low) - p.base.fillAbsent(low, Int(high - low), state)
                return
            }
            // Only the pages a fault put in the object's page cache: fault-around allocates
            // nothing, and shared anonymous memory starts empty.
            for page in low..<high where p.base.get(page) == 0 && shmemCache.contains(v, page << UInt64(gs), pageShift: gs) {
                p.base.set(page, state)
                filled += 1
            }
        }
        fill(from, min(page, to))
        fill(max(page &+ 1, from), to)
        if filled > 0 { memory.charge(v.label, .file, Int64(filled) << Int64(gs)) }
    }

    /// The stack at `i` grew down from `oldStart` (to the recording's page): a kernel of
    /// this granule grows it to the granule page the fault is in, so its start is rounded
    /// down to one (not into the VMA below), and the next faults in that page find it
    /// mapped. (Left at the recording's 4 KiB, each step of the stack down one of a 64 KiB
    /// page's sixteen parts took a fault and a page of its own: 1,389 faults and 87 MiB for
    /// a 6 MiB stack.) Its row widens to the grown stack.
    func grewStack(_ p: ProcessState, _ i: Int, from oldStart: UInt64) {
        let g = UInt64(1) << UInt64(gs)
        let floor = i > 0 ? p.space[i - 1].end : 0
        let rounded = max(p.space[i].start & ~(g - 1), floor)
        if rounded < p.space[i].start { p.space.growStack(i, to: rounded) }
        adoptEdge(p, below: oldStart)
        widenRows([p.space[i]])
    }

    /// A stack grew down past the start of the granule page it began in: its part of that
    /// page now starts the page, so the page's key is the page's own.
    private func adoptEdge(_ p: ProcessState, below oldStart: UInt64) {
        let g = UInt64(1) << UInt64(gs)
        guard gs > 12, oldStart & (g - 1) != 0 else { return }
        let page = oldStart >> UInt64(gs)
        let key = page << 4 | ((oldStart & (g - 1)) >> 12)
        let s = p.edges.remove(key)
        if s != 0 && p.base.get(page) == 0 { p.base.set(page, s) }
    }

    /// An access outside every known mapping: a stack growing down; with the log's full
    /// address-space timeline, a SIGSEGV (nil), as Linux would deliver; else memory the log
    /// never described (counted, and modelled as one page of anonymous memory).
    func unmappedAccess(_ p: ProcessState, _ address: UInt64) -> Int? {
        if let i = p.space.stackBelow(address) {
            let oldStart = p.space[i].start
            p.space.growStack(i, to: address)
            grewStack(p, i, from: oldStart)
            return p.space.find(address)
        }
        if counting { totals.outsideMappings &+= 1 }
        if input.hasAddressSpaceTimeline && !permissive { return nil }
        let start = address & ~UInt64(4095)
        guard start < AddressSpace.addressLimit else { return nil }
        p.space.map(VMA(start: start, end: start + 4096, prot: 7, backing: .anonymous, label: -1))
        return p.space.find(address)
    }
}
