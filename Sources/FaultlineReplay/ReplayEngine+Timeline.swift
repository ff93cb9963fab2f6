// The address-space timeline in the model. The VMA rules are the shared AddressSpace's; this
// file does what they mean for pages, page tables and the TLB: a mapping replaced or
// unmapped frees its pages (and the tables nothing covers any more), a move carries them,
// fork copies the page tables Linux copies, exec and exit free everything.

import FaultlineAddressSpace
import FaultlineCore

extension ReplayEngine {
    func apply(_ change: ReplayInput.Change) {
        memory.advance(to: change.time)
        let index = change.process
        switch change.operation {
        case .fork(let parent):
            fork(child: index, parent: parent)
        case .exec:
            reset(process: index, exited: false)
        case .exit:
            reset(process: index, exited: true)
        case .mapping(let row):
            let added = map(process: index, row: Int(row))
            withProcess(index) { noteKhugepagedCandidate($0, among: added, at: change.time) }
        case .change(let c):
            // The process unretained, and the heap's row asked only of a brk (a retain and
            // release of each, and a dictionary lookup, at every munmap and madvise of
            // mapping_churn's 300,000 changes, perf).
            withProcess(index) { p in
                var heapLabel: Int32 = -1
                if case .brk = c { heapLabel = input.heapRows[index] ?? -1 }
                let effect = p.space.apply(c, heapLabel: heapLabel)
                applyEffect(effect, to: p)
                if case .mapped(let a) = effect { widenRows(a.added) }
                splitTHPsAcrossNewBoundaries(p, c)
                noteKhugepagedCandidate(p, among: khugepagedCandidates(of: c, effect, in: p), at: change.time)
            }
        }
    }

    /// A call over part of a mapping that gave it new VMA boundaries (mprotect, madvise's
    /// flags, mlock, munlock) splits each THP a boundary now cuts through, as split_vma
    /// does (vma_adjust_trans_huge): a PMD maps one VMA's memory only. The THP's pages stay,
    /// as base pages: a fork then shares them a page at a time, and a write after it copies
    /// a page a fault. (Left whole, a parent that wrote such a THP again after its child had
    /// gone reused it with one fault where the kernel took one a page: 508 cow faults short
    /// of a recording made under THP `always`.) Only the range's two ends can be new
    /// boundaries, and a THP still inside one of the kernel's VMAs stays whole.
    private func splitTHPsAcrossNewBoundaries(_ p: ProcessState, _ c: AddressSpaceChange) {
        guard p.thp.count > 0 else { return }
        let range: (start: UInt64, end: UInt64)?
        switch c {
        case .mprotect(let address, let length, _), .madvise(let address, let length, _),
             .mlock(let address, let length, _), .munlock(let address, let length):
            range = p.space.range(address, length)
        default:
            range = nil
        }
        guard let range else { return }
        let size = UInt64(1) << UInt64(ts)
        for edge in [range.start, range.end] where edge & (size - 1) != 0 {
            let key = edge >> UInt64(ts)
            guard p.thp.get(key) != 0 else { continue }
            let start = key << UInt64(ts)
            guard let vi = p.inSpace({ $0.index(containing: start) }),
                  !p.inSpace({ $0.kernelVMACovers(vi, start, start &+ size) }) else { continue }
            split(p, key: key, label: p.space[vi].label)
        }
    }

    /// After change `n` of the input: execve's writes at the top of the stack it mapped, if
    /// it mapped an exec's new stack (ExecStackFills). `cursor` is the caller's, from 0,
    /// with `n` never decreasing.
    func fillExecStack(mappedBy n: Int, cursor: inout Int) {
        guard let fills = input.execStackFills?.fill(afterChange: n, cursor: &cursor), !fills.isEmpty else { return }
        let p = process(input.changes[n].process)
        for run in fills { populate(p, run.lowerBound, run.upperBound, write: true) }
    }

    /// Applies a mapping record; returns the pieces it added.
    @discardableResult
    private func map(process index: Int32, row: Int) -> [VMA] {
        let p = process(index)
        // The row's VMA and flags only: a copy of the whole row retained its name, a string
        // every model shares, so models replaying a shell loop's mapping records at once
        // took turns at its reference count's cache line (1% of the samples, perf).
        let (vma, mapFlags) = (input.mappings[row].vma, input.mappings[row].mapFlags)
        let a = p.space.apply(mapping: vma, announced: input.mappingsAreAnnouncements)
        if a.grewStack {
            // The new part ends where the stack began.
            if let grown = a.added.first, let i = p.space.index(containing: grown.start) { grewStack(p, i, from: grown.end) }
            return a.added
        }
        if let first = a.removed.first {
            var start = first.start, end = first.end
            whileLeaving(a.removed) {
                for old in a.removed {
                    zap(p, old, unmapping: true)
                    (start, end) = (min(start, old.start), max(end, old.end))
                }
            }
            flushTLB(asid: index, start: start, end: end)
        }
        widenRows(a.added)
        if p.inSpace({ $0.mmapFills(vma, mapFlags: mapFlags) }) {
            // MAP_POPULATE or locked memory: the kernel faults the new pages in itself.
            populate(p, a.added, write: \.populateWrites)
        }
        return a.added
    }

    /// Each mapping row's extent covers the memory added under it.
    func widenRows(_ added: [VMA]) {
        for new in added where new.label >= 0 && Int(new.label) < rowStart.count {
            let r = Int(new.label)
            rowStart[r] = rowEnd[r] == 0 ? new.start : min(rowStart[r], new.start)
            rowEnd[r] = max(rowEnd[r], new.end)
        }
    }

    private func applyEffect(_ effect: ChangeEffect, to p: ProcessState) {
        switch effect {
        case .none:
            return
        case .unmapped(let gone):
            unmapped(gone, in: p)
        case .mapped(let a):
            whileLeaving(a.removed) { for old in a.removed { zap(p, old, unmapping: true) } }
            // brk growth under mlockall(MCL_FUTURE) is filled by the call.
            populate(p, a.added.filter { p.space.fillsGrowth(of: $0) }, write: \.populateWrites)
        case .filled(let pieces):
            populate(p, pieces, write: \.populateWrites)
        case .remapped(let r):
            unmapped(r.unmapped, in: p)
            if let m = r.moved {
                movePages(p, from: m.from, to: m.to, length: m.length)
                if r.emptied == nil { tables.freeUnused(p, m.from, m.from &+ m.length) }
                flushTLB(asid: p.index, start: m.from, end: m.from &+ m.length)
            }
            // A locked mapping's growth is filled by the mremap.
            if let g = r.grown, let vi = p.space.find(g.start), p.space.fillsGrowth(of: p.space[vi]) {
                populate(p, g.start, g.end, write: p.space[vi].populateWrites)
            }
        case .advised(let advice):
            switch advice {
            case .none:
                return
            case .lazyFree(let pieces):
                // MADV_FREE'd pages stay until memory runs short, which the model never
                // does; a huge page it covers only in part splits now.
                for v in pieces { splitHugePagesFreedInPart(p, v) }
            case .discard(let pieces, let freesTables, let freesSharedPages):
                for v in pieces { zap(p, v, unmapping: false) }
                if freesSharedPages {
                    for v in pieces where ShmemCache.tracks(v) { shmemCache.remove(v) }
                }
                if freesTables { freeEmptiedLeafTables(p, pieces) }
                if let first = pieces.first, let last = pieces.last { flushTLB(asid: p.index, start: first.start, end: last.end) }
            case .populate(let pieces, let write):
                populate(p, pieces) { _ in write }
            case .collapse(let pieces):
                if let first = pieces.first, let last = pieces.last { collapse(p, first.start, last.end) }
            case .pageOut(let pieces):
                for v in pieces { pageOutFilePages(p, v) }
                if let first = pieces.first, let last = pieces.last { flushTLB(asid: p.index, start: first.start, end: last.end) }
            }
        case .protected(let start, let end):
            // Pages keep their state: exclusive anonymous pages become writable again with the
            // VMA (MM_CP_TRY_CHANGE_WRITABLE), shared ones stay write-protected until a CoW.
            flushTLB(asid: p.index, start: start, end: end)
        }
    }

    /// MADV_DONTNEED freed the PTE tables it emptied, each wholly inside one of the kernel's
    /// VMAs (KernelBehaviour.dontNeedFreesEmptyPageTables): the model's pieces of one (a
    /// mapping grown by a thousand mprotects of a page, glibc's thread arenas) are joined
    /// first, or no piece would hold a whole table.
    private func freeEmptiedLeafTables(_ p: ProcessState, _ pieces: [VMA]) {
        var run: VMA?
        for v in pieces {
            if let r = run, r.mergeable(with: v) {
                run?.end = v.end
                continue
            }
            if let r = run { tables.freeLeafTables(p, within: r) }
            run = v
        }
        if let r = run { tables.freeLeafTables(p, within: r) }
    }

    /// MADV_PAGEOUT over `v`: the file pages it maps (page-cache pages, not copies a write
    /// made) leave its page tables (shrink_folio_list unmaps them: measured, a second read
    /// of 64 MiB after MADV_PAGEOUT took 440 faults again). Anonymous pages, copies of file
    /// pages and shmem go only to swap, and stay: the model has none, as on a host without
    /// swap. The zero page and the kernel's own pages are not reclaimed; hugetlb and PFN
    /// maps are refused (can_madv_lru_vma), and so is a shared file mapping by a process
    /// that may not write the file (can_do_file_pageout), which the log does not say. Pages
    /// another process maps too are skipped by the kernel; the model takes them from this
    /// process alone.
    private func pageOutFilePages(_ p: ProcessState, _ v: VMA) {
        guard v.backing == .filePrivate || v.backing == .fileShared, !v.isHugetlb, !v.flags.contains(.pfnMap) else { return }
        let shift = UInt64(gs), size = UInt64(1) << shift
        let first = (v.start &+ size &- 1) >> shift, end = v.end >> shift
        guard first < end else { return }
        let layer = PageLayer(layer: .base, shift: gs, map: p.base)
        for (key, s) in p.base.entries(in: first, end) where s & PageState.ownsFile != 0 && s & PageState.ownsAnon == 0 {
            free(p, layer, key, s, label: v.label)
        }
    }

    private func unmapped(_ gone: [VMA], in p: ProcessState) {
        guard var start = gone.first?.start, var end = gone.first?.end else { return }
        whileLeaving(gone) {
            for v in gone {
                zap(p, v, unmapping: true)
                start = min(start, v.start)
                end = max(end, v.end)
            }
        }
        tables.freeUnused(p, start, end)
        flushTLB(asid: p.index, start: start, end: end)
    }

    /// Writes [start, end) without counting faults (memory the kernel filled for the
    /// process: execve's arguments, MAP_POPULATE, MADV_POPULATE_*), VMA by VMA, at most
    /// `WorkLimits.populatePerCall` bytes a call and `WorkLimits.populateTotal` in all: more
    /// is not a program's, and a file of a few bytes a call must not buy hours of work.
    func populate(_ p: ProcessState, _ start: UInt64, _ end: UInt64, write: Bool) {
        populateCall { budget in _ = populate(p, start, end, write: write, budget: &budget) }
    }

    /// `populate` of several pieces of one call, which share its budget (an mlockall over
    /// a log's thousand huge mappings is one call, not a thousand).
    func populate(_ p: ProcessState, _ pieces: [VMA], write: (VMA) -> Bool) {
        populateCall { budget in
            for v in pieces where !populate(p, v.start, v.end, write: write(v), budget: &budget) { return }
        }
    }

    /// Runs one call's populate with its budget, and takes what it used from the total.
    private func populateCall(_ body: (inout UInt64) -> Void) {
        let granted = limits.populateGrant
        var budget = granted
        body(&budget)
        limits.populated(granted: granted, unused: budget)
    }

    /// false when the budget ran out (counted in `limits`).
    ///
    /// Each page is faulted in as get_user_pages does, through the fault handler: the kernel
    /// counts those faults in the caller's minflt (mm_account_fault), though perf sees none
    /// (no registers), so they are counted here too, and in `filledFaults`.
    @discardableResult
    private func populate(_ p: ProcessState, _ start: UInt64, _ end: UInt64, write: Bool, budget: inout UInt64) -> Bool {
        let counted = countedProcesses.map { $0.indices.contains(Int(p.index)) && $0[Int(p.index)] } ?? true
        for v in p.space.pieces(start & ~UInt64(4095), end) {
            // populate_vma_page_range skips what the access could not do.
            guard !(write && v.prot & Protection.write == 0), v.prot & 7 != 0 else { continue }
            var a = v.start
            while a < v.end {
                guard budget > 0 else { limits.populateCutShort(); return false }
                // One step per page the access maps (a THP or a huge page covers many).
                var step: UInt64 = 4096
                if let vi = p.space.find(a) {
                    let outcome = resolve(p, vi, p.space[vi], a, write: write, exec: false)
                    if counted, let kind = outcome.kind, kind != .segv {
                        counts[Int(kind.rawValue)] &+= 1
                        memory.countFault(p.space[vi].label)
                        totals.filledFaults &+= 1
                    }
                    let shift = outcome.pageShift
                    step = (UInt64(1) << UInt64(shift)) - (a & ((UInt64(1) << UInt64(shift)) - 1))
                }
                budget = budget > step ? budget - step : 0
                let (next, overflow) = a.addingReportingOverflow(step)
                if overflow { break }
                a = next
            }
        }
        return true
    }

    // MARK: fork, exec, exit

    func fork(child index: Int32, parent parentIndex: Int32) {
        guard index >= 0, parentIndex >= 0, index != parentIndex else { return }
        let parent = process(parentIndex)
        if let previous = procs.indices.contains(Int(index)) ? procs[Int(index)] : nil, previous !== parent {
            release(previous)
        }
        let parentSpace = parent.space
        let space = parentSpace.forked()
        // Page tables are copied for private VMAs that have an anon_vma, and for PFN maps,
        // not MADV_DONTFORK nor MADV_WIPEONFORK (vma_needs_copy); both sides are
        // write-protected, so the next write on either side is a CoW. The child maps the
        // same pages, which the parent keeps counting.
        // (The parent's space is read once: read through `parent` for each page, it was
        // copied for each page, and a bash loop of 1,000 forks spent half of its model time
        // there. Keys come in runs, so the VMA of the last one is asked first.)
        func copies(_ v: VMA) -> Bool {
            ((v.backing.isPrivate && v.flags.contains(.hasAnonPages)) || v.flags.contains(.pfnMap))
                && v.flags.isDisjoint(with: [.dontFork, .wipeOnFork])
        }
        var lastVMA = VMA(start: 0, end: 0, prot: 0, backing: .anonymous)
        func copiedAt(_ address: UInt64) -> Bool {
            if !lastVMA.contains(address) {
                guard let vi = parentSpace.index(containing: address) else { return false }
                lastVMA = parentSpace[vi]
            }
            return copies(lastVMA)
        }
        // The address ranges fork copies, in order, adjacent ones joined: a few for a parent
        // of a few dozen VMAs. Each block of a map is matched against them by a binary
        // search (the VMA lookups of each block's keys were two fifths of a fork: a shell
        // loop's bash, callgrind).
        var copiedRanges: [(start: UInt64, end: UInt64)] = []
        for i in 0..<parentSpace.count where copies(parentSpace[i]) {
            let v = parentSpace[i]
            if let last = copiedRanges.last, last.end == v.start {
                copiedRanges[copiedRanges.count - 1].end = v.end
            } else {
                copiedRanges.append((v.start, v.end))
            }
        }
        // Which of the keys `held` of the block from `first` fork copies, as bits: those whose
        // page starts in a copied range.
        func copiedKeys(_ first: UInt64, _ held: UInt64, shift: Int) -> UInt64 {
            let s = UInt64(shift), size = UInt64(1) << s
            let blockStart = first << s, blockEnd = (first &+ UInt64(PageMap.blockKeys)) << s
            var lo = 0, hi = copiedRanges.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if copiedRanges[mid].end <= blockStart { lo = mid + 1 } else { hi = mid }
            }
            var copied: UInt64 = 0
            while lo < copiedRanges.count && copiedRanges[lo].start < blockEnd {
                let a = max(copiedRanges[lo].start, blockStart), b = min(copiedRanges[lo].end, blockEnd)
                // The keys whose page starts in [a, b).
                let low = ((a &+ size &- 1) >> s) &- first, high = ((b &+ size &- 1) >> s) &- first
                if high > low { copied |= (high &- low == 64 ? .max : ((1 << (high &- low)) &- 1) << low) }
                lo += 1
            }
            return copied & held
        }
        func copy(_ map: PageMap, shift: Int) -> PageMap {
            guard map.count > 0 else { return PageMap() }
            // The parent write-protects what the child now shares (the pages the copy kept).
            return map.forkCopy(kept: { copiedKeys($0, $1, shift: shift) },
                                child: PageState.inheritedCopy,
                                parent: { $0 & ~PageState.writable })
        }
        let pages = UInt64(parent.layers.reduce(parent.edges.count) { $0 + $1.map.count })
        let child: ProcessState
        if limits.takeFork(pages) {
            let base = copy(parent.base, shift: gs), thp = copy(parent.thp, shift: ts)
            let huge = parent.layers.filter { $0.layer == .huge }.map { PageLayer(layer: .huge, shift: $0.shift, map: copy($0.map, shift: $0.shift)) }
            // Edge keys are not addresses: their parts say where they are.
            let edges = parent.edges.count == 0 ? PageMap() : parent.edges.copy(transform: { key, s in
                guard copiedAt(edgeAddress(key)) else { return 0 }
                return PageState.inheritedCopy(s)
            }, updatingKept: { s in s & ~PageState.writable })
            child = newProcess(index: index, space: space, base: base, thp: thp, huge: huge, edges: edges)
        } else {
            child = newProcess(index: index, space: space)
        }
        for layer in child.layers {
            let level = layer.layer == .base ? leafLevel : (config.layout.level(forPageShift: layer.shift) ?? thpLevel)
            let tableShift = UInt64(tables.tableShifts[level]) - UInt64(layer.shift)
            // A table holds at least a block's keys (512 or more entries), and blocks are
            // aligned: one table check a block, in the map's own order (a walk in key order
            // sorted the blocks first: a tenth of a fork's time, a shell loop of 1,000 forks).
            precondition(UInt64(1) << tableShift >= UInt64(PageMap.blockKeys))
            layer.map.forEachBlock { first in tables.ensure(child, first << UInt64(layer.shift), level: level) }
            if layer.layer == .thp { tables.deposit(Int64(layer.map.count)) }
        }
        child.edges.forEach { key, _ in tables.ensure(child, edgeAddress(key), level: leafLevel) }
        invalidateProcessCache()
        if Int(index) >= procs.count { procs.append(contentsOf: repeatElement(nil, count: Int(index) + 1 - procs.count)) }
        procs[Int(index)] = child
        flushTLB(asid: parentIndex)
    }

    /// exec (a new, empty address space, keeping the THP prctl) or exit: everything the
    /// process held is freed.
    func reset(process index: Int32, exited: Bool) {
        guard index >= 0, Int(index) < procs.count, let p = procs[Int(index)] else { return }
        if exited { noteResidentAtExit(p, index: index) }
        release(p)
        invalidateProcessCache()
        var space = p.space
        space.exec()
        procs[Int(index)] = exited ? nil : newProcess(index: index, space: space)
    }

    /// Frees everything `p` holds: each page off the row it was charged to, that of the VMA
    /// holding its first byte (a page only partly inside a VMA is that VMA's: a fault there
    /// from a VMA that begins inside the page maps a part of its own, ProcessState.edges,
    /// whose first byte is the VMA's); then what is left (pages outside any VMA with a row)
    /// off the totals alone. Without the rows, a mapping that a thousand fork children
    /// inherited and wrote kept every child's pages as its own: the vDSO of 11 processes
    /// that were never alive together had a peak of 11 pages. Each map is walked once, a
    /// block of one value at a time, its VMA looked up by run. (A lookup of each page's
    /// mapping was most of an exit's time; then a sweep of each VMA's range walked the whole
    /// directory for each wide VMA: 7% of the instructions of a shell loop's replay, 1,000
    /// exec'd forks, callgrind.)
    private func release(_ p: ProcessState) {
        let space = p.space
        var last = VMA(start: 0, end: 0, prot: 0, backing: .anonymous)
        // Edge keys are not addresses (edgeAddress): each is looked up alone, and they are few.
        let layers = p.layers.map { ($0, true) } + [(PageLayer(layer: .base, shift: gs, map: p.edges), false)]
        for (layer, isAddressKeyed) in layers where layer.map.count > 0 {
            let size = Int64(1) << Int64(layer.shift)
            var anon: Int64 = 0, file: Int64 = 0, collapsed: Int64 = 0, left = 0
            layer.map.forEachGroup { first, keys, s in
                // Pages the process does not own (a forked child's of its parent's) are
                // charged to no row, so they need no VMA: the children of a shell loop exec
                // at once, and looking up the VMAs of the bash pages each one shared was most
                // of exec's release (callgrind).
                let owned = s & (PageState.ownsAnon | PageState.ownsFile) != 0
                var leftover = owned ? 0 : keys
                if owned && isAddressKeyed {
                    Self.forEachVMARun(of: keys, from: first, shift: layer.shift, in: space, last: &last) { run, v in
                        guard let v, v.label >= 0 else { leftover |= run; return }
                        released(layer, s, label: v.label, pages: run.nonzeroBitCount)
                    }
                } else if owned {
                    var rest = keys
                    while rest != 0 {
                        let bit = rest & (0 &- rest)
                        rest &= rest &- 1
                        let address = edgeAddress(first &+ UInt64(bit.trailingZeroBitCount))
                        if let vi = space.index(containing: address), space[vi].label >= 0 {
                            released(layer, s, label: space[vi].label)
                        } else {
                            leftover |= bit
                        }
                    }
                }
                let pages = Int64(leftover.nonzeroBitCount)
                left += Int(pages)
                if s & PageState.ownsAnon != 0 { anon &+= pages &* size; if s & PageState.collapsed != 0 { collapsed &+= pages &* size } }
                if s & PageState.ownsFile != 0 { file &+= pages &* size }
            }
            switch layer.layer {
            case .base:
                memory.charge(-1, .anon, -anon)
                memory.charge(-1, .file, -file)
            case .thp:
                memory.charge(-1, .collapsedTHP, -collapsed)
                memory.charge(-1, .thp, collapsed &- anon)
                tables.deposit(-Int64(left))
            case .huge:
                memory.charge(-1, .hugetlb, -(anon &+ file))
            }
            layer.map.removeAll()
        }
        tables.releaseAll(p)
        flushTLB(asid: p.index)
    }

    // MARK: pages

    /// Frees the pages of `v` (a VMA, or the part of one being zapped). Pages only partly
    /// inside: a THP is split and its base pages inside go; a granule page larger than the
    /// recording's pages goes only when unmapping left nothing else over it.
    func zap(_ p: ProcessState, _ v: VMA, unmapping: Bool) {
        if p.edges.count > 0 { zapEdges(p, v) }
        p.forEachLayer { layer in
            let map = layer.map
            let shift = UInt64(layer.shift)
            let size = UInt64(1) << shift
            // The pages wholly inside go in one sweep.
            let first = (v.start &+ size &- 1) >> shift, end = v.end >> shift
            if first < end { map.removeAll(in: first, end) { s, pages in self.released(layer, s, label: v.label, pages: pages) } }
            // At most one page at each edge is only partly inside.
            let startKey = v.start & (size - 1) != 0 ? v.start >> shift : nil
            let endKey = v.end & (size - 1) != 0 && v.end >> shift != startKey ? v.end >> shift : nil
            for key in [startKey, endKey] {
                guard let key else { continue }
                let s = map.get(key)
                guard s != 0 else { continue }
                switch layer.layer {
                case .thp:
                    split(p, key: key, label: v.label)
                    let start = key << shift
                    zap(p, v.slice(max(v.start, start), min(v.end, start &+ size)), unmapping: unmapping)
                case .huge:
                    // hugetlbfs refuses to unmap part of a huge page, so this is one of the
                    // explicit 2m/1g what-if pages: like a THP, it splits, and its base
                    // pages inside go.
                    splitHuge(p, layer, key: key, label: v.label)
                    let start = key << shift
                    zap(p, v.slice(max(v.start, start), min(v.end, start &+ size)), unmapping: unmapping)
                case .base:
                    // A page partly inside: one that begins inside `v` was `v`'s (a page is
                    // the row's that holds its first byte) and goes with it, even where a
                    // mapping now put over its start begins a page of its own; one that
                    // begins before goes when nothing holds its start any more (its other
                    // parts belong to other VMAs, ProcessState.edges), off no row.
                    guard unmapping else { continue }
                    let start = key << shift
                    if start >= v.start {
                        free(p, layer, key, s, label: v.label)
                    } else if !p.space.overlaps(start, start &+ (gs > 12 ? 4096 : size)) {
                        free(p, layer, key, s, label: -1)
                    }
                }
            }
        }
    }

    /// Frees the parts of shared granule pages that begin inside `v` (ProcessState.edges).
    /// Not only the pages at `v`'s ends hold them: two VMAs that shared a page may have
    /// merged since (an mprotect back to one protection), and the part is then inside.
    private func zapEdges(_ p: ProcessState, _ v: VMA) {
        guard v.end > v.start else { return }
        let edgeLayer = PageLayer(layer: .base, shift: gs, map: p.edges)
        let first = v.start >> UInt64(gs), last = (v.end - 1) >> UInt64(gs)
        for (key, s) in p.edges.entries(in: first << 4, (last &+ 1) << 4) where v.contains(edgeAddress(key)) {
            free(p, edgeLayer, key, s, label: v.label)
        }
    }

    /// MADV_FREE over part of a THP splits it, so that only the pages asked for are freed
    /// later (madvise_free_huge_pmd), unless another process maps it too: the kernel asks
    /// the folio's mapcount, which the model does not keep; a fork write-protects the THPs
    /// it shares, so a writable one is this process's alone, and a write-protected one is
    /// taken as shared and stays whole.
    private func splitHugePagesFreedInPart(_ p: ProcessState, _ v: VMA) {
        let shift = UInt64(ts), size = UInt64(1) << shift
        let startKey = v.start & (size - 1) != 0 ? v.start >> shift : nil
        let endKey = v.end & (size - 1) != 0 && v.end >> shift != startKey ? v.end >> shift : nil
        for key in [startKey, endKey] {
            guard let key else { continue }
            let s = p.thp.get(key)
            if s & PageState.writable != 0 && s & PageState.zero == 0 { split(p, key: key, label: v.label) }
        }
    }

    func free(_ p: ProcessState, _ layer: PageLayer, _ key: UInt64, _ s: UInt8, label: Int32) {
        layer.map.remove(key)
        released(layer, s, label: label)
    }

    /// Accounts for `pages` pages in state `s` that are no longer mapped. (Freeing only
    /// lowers the counts, so many pages at once leave every peak as one at a time would.)
    func released(_ layer: PageLayer, _ s: UInt8, label: Int32, pages: Int = 1) {
        let size = Int64(pages) << Int64(layer.shift)
        switch layer.layer {
        case .base:
            if s & PageState.ownsAnon != 0 { memory.charge(label, .anon, -size) }
            if s & PageState.ownsFile != 0 { memory.charge(label, .file, -size) }
        case .thp:
            if s & PageState.ownsAnon != 0 { memory.charge(label, s & PageState.collapsed != 0 ? .collapsedTHP : .thp, -size) }
            tables.deposit(-Int64(pages))
        case .huge:
            if s & (PageState.ownsAnon | PageState.ownsFile) != 0 { memory.charge(label, .hugetlb, -size) }
        }
    }

    /// Runs `body` with `pieces` as the ones a change is taking out (`leaving`), in address
    /// order for the searches below: a hostile log may move or unmap a hundred thousand at
    /// once.
    private func whileLeaving(_ pieces: [VMA], _ body: () -> Void) {
        leaving = pieces.sorted { $0.start < $1.start }
        defer { leaving = [] }
        body()
    }

    /// The index of the first piece `leaving` that ends past `address`.
    private func firstLeaving(endingAfter address: UInt64) -> Int {
        var lo = 0, hi = leaving.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if leaving[mid].end <= address { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The row of the piece holding `address` (a page is the row's that holds its first
    /// byte): of one `leaving` the address space, first (a mapping put in its place holds
    /// none of its pages yet); `fallback` where none does.
    func rowOfPage(_ p: ProcessState, at address: UInt64, fallback: Int32) -> Int32 {
        let i = firstLeaving(endingAfter: address)
        if i < leaving.count && leaving[i].start <= address { return leaving[i].label }
        return p.inSpace { space in space.index(containing: address).map { space[$0].label } } ?? fallback
    }

    /// Calls `body` with each run of the granule pages [first, first + count) whose starts
    /// one piece holds (or held, `leaving`), and that piece's row (`fallback` for pages
    /// whose start none holds).
    func forEachRowRun(_ p: ProcessState, first: UInt64, count: UInt64, fallback: Int32,
                       _ body: (_ row: Int32, _ pages: Int) -> Void) {
        let shift = UInt64(gs), end = first &+ count
        // The first page whose start is at or past `address`.
        func firstPage(from address: UInt64) -> UInt64 { (address &+ (1 << shift) &- 1) >> shift }
        var key = first
        while key < end {
            let address = key << shift
            var stop = end, row = fallback
            let g = firstLeaving(endingAfter: address)
            if g < leaving.count && leaving[g].start <= address {
                row = leaving[g].label
                stop = firstPage(from: leaving[g].end)
            } else {
                if let i = p.inSpace({ $0.index(containing: address) }) {
                    row = p.space[i].label
                    stop = firstPage(from: p.space[i].end)
                } else if let j = p.inSpace({ $0.firstStarting(atOrAfter: address) }) {
                    // Up to the next piece.
                    stop = firstPage(from: p.space[j].start)
                }
                // Or up to the next piece leaving.
                if g < leaving.count { stop = min(stop, firstPage(from: leaving[g].start)) }
            }
            stop = min(end, max(stop, key &+ 1))
            body(row, Int(stop &- key))
            key = stop
        }
    }

    /// Splits a THP into base pages with the same state (the deposited table becomes the
    /// PTE table), as __split_huge_pmd does.
    func split(_ p: ProcessState, key: UInt64, label: Int32) {
        let s = p.thp.remove(key)
        guard s != 0 else { return }
        tables.deposit(-1)
        let start = key << UInt64(ts)
        let size = Int64(1) << Int64(ts)
        let first = start >> UInt64(gs)
        if s & PageState.ownsAnon != 0 {
            // The memory stays; it is no longer a huge page, and its base pages are their
            // pieces' (a THP may span two mappings merged into one VMA).
            memory.charge(rowOfPage(p, at: start, fallback: label), s & PageState.collapsed != 0 ? .collapsedTHP : .thp, -size)
            forEachRowRun(p, first: first, count: 1 << UInt64(ts - gs), fallback: label) { row, pages in
                memory.charge(row, .anon, Int64(pages) << Int64(gs))
            }
        }
        let pageState = s & ~PageState.collapsed
        p.base.fillAbsent(first, 1 << (ts - gs), pageState)
        tables.ensure(p, start, level: leafLevel)
        flushTLB(asid: p.index, start: start, end: start + 4096)
    }

    /// Splits an explicit huge page into base pages with its state: its memory stays, now
    /// in base pages, under a PTE table.
    func splitHuge(_ p: ProcessState, _ layer: PageLayer, key: UInt64, label: Int32) {
        let s = layer.map.get(key)
        guard s != 0 else { return }
        // A split writes a base page for each of its pages (262,144 for 1 GiB, 4M for the
        // 16 GiB a file may claim), so splits share the budget of moves: past it, the page
        // goes whole instead.
        let pages = UInt64(1) << UInt64(layer.shift - gs)
        guard limits.takeHugePageSplit(pages) else {
            free(p, layer, key, s, label: label)
            return
        }
        layer.map.remove(key)
        let start = key << UInt64(layer.shift)
        let size = Int64(1) << Int64(layer.shift)
        let first = start >> UInt64(gs)
        if s & PageState.ownsAnon != 0 {
            memory.charge(rowOfPage(p, at: start, fallback: label), .hugetlb, -size)
            forEachRowRun(p, first: first, count: pages, fallback: label) { row, n in
                memory.charge(row, .anon, Int64(n) << Int64(gs))
            }
        }
        p.base.fillAbsent(first, 1 << (layer.shift - gs), s)
        var address = start
        while address < start &+ UInt64(size) {
            tables.ensure(p, address, level: leafLevel)
            address &+= UInt64(1) << UInt64(ts)
        }
        flushTLB(asid: p.index, start: start, end: start &+ UInt64(size))
    }

    /// Calls `body` with each run of `keys` (bit j for the 2^shift-byte page first + j) that
    /// lies in one VMA of `space`, and that VMA; a page goes with the VMA its first byte is
    /// in, and one in no VMA goes alone, with nil. `last` is the VMA found last, asked
    /// first: keys come in runs. (A lookup a page was most of a fork's and an exit's time
    /// in a shell loop's replay.)
    static func forEachVMARun(of keys: UInt64, from first: UInt64, shift: Int, in space: AddressSpace,
                              last: inout VMA, _ body: (_ run: UInt64, _ vma: VMA?) -> Void) {
        var left = keys
        while left != 0 {
            let j = UInt64(left.trailingZeroBitCount)
            let address = (first &+ j) << UInt64(shift)
            if !last.contains(address) {
                guard let vi = space.index(containing: address) else {
                    body(UInt64(1) << j, nil)
                    left &= left &- 1
                    continue
                }
                last = space[vi]
            }
            // The keys from j to the VMA's last one (key j at least: each turn takes a key).
            let end = max(j &+ 1, min(UInt64(PageMap.blockKeys), ((last.end &- 1) >> UInt64(shift)) &+ 1 &- first))
            let run = left & (end &- j == 64 ? .max : ((1 << (end &- j)) &- 1) << j)
            body(run, last)
            left &= ~run
        }
    }

    /// How far the keys of 2^shift-byte pages move when memory moves from `from` to `to`:
    /// by the pages between the ends, wrapping for a move down (the common way: mmap hands
    /// out addresses top down). `(to - from) >> shift` shifted the wrapped difference in
    /// zeros, and the pages landed 2^52 pages away.
    private static func keyDelta(from: UInt64, to: UInt64, shift: UInt64) -> UInt64 {
        (to >> shift) &- (from >> shift)
    }

    /// Moves the pages of [from, from+length) to `to` (mremap's move_page_tables). A move by
    /// a distance that is not a whole number of the model's pages (its granule is coarser
    /// than the recording's) takes each page to the same place relative to the mapping's
    /// start, as a kernel of that granule, where both places would be aligned, would.
    private func movePages(_ p: ProcessState, from: UInt64, to: UInt64, length: UInt64) {
        let delta = to &- from
        // The pieces that move, where they were, with their rows (a page is the row's of the
        // piece that held its start): the address space has moved them already.
        let moving = p.space.pieces(to, to &+ length).map { v in
            var was = v
            was.start = v.start &- delta
            was.end = v.end &- delta
            return was
        }
        whileLeaving(moving) {
            moveHugePages(p, from: from, to: to, length: length)
            moveBasePages(p, from: from, to: to, length: length)
            // Parts of shared granule pages do not move: a move's ends rarely share pages again.
            // They leave the row of the mapping that moved, found at its destination.
            for was in moving where p.edges.count > 0 { zapEdges(p, was) }
        }
    }

    /// movePages' huge pages: each moves whole, or splits into base pages (moved next) where
    /// the distance is not a whole number of them.
    private func moveHugePages(_ p: ProcessState, from: UInt64, to: UInt64, length: UInt64) {
        let delta = to &- from
        for layer in p.layers where layer.layer != .base {
            let shift = UInt64(layer.shift)
            let size = UInt64(1) << shift
            let entries = layer.map.entries(in: from >> shift, (from &+ length &+ size &- 1) >> shift)
            // What all moves may carry is shared: past it, the pages are dropped (each page can
            // be dropped only once, so this costs no more than the pages ever mapped).
            let carried = limits.carry(UInt64(entries.count))
            if carried < UInt64(entries.count) { limits.moveCutShort() }
            for (key, s) in entries.dropFirst(Int(carried)) {
                layer.map.remove(key)
                released(layer, s, label: movedLabel(p, from: key << shift, delta))
            }
            let keyDelta = Self.keyDelta(from: from, to: to, shift: shift)
            for (key, s) in entries.prefix(Int(carried)) {
                if delta % size != 0 {
                    // A huge page cannot land across huge pages: it splits, and its base
                    // pages move (next).
                    let label = movedLabel(p, from: max(key << shift, from), delta)
                    if layer.layer == .thp { split(p, key: key, label: label) } else { splitHuge(p, layer, key: key, label: label) }
                    continue
                }
                layer.map.remove(key)
                let newKey = key &+ keyDelta
                if layer.map.get(newKey) != 0 {
                    released(layer, s, label: movedLabel(p, from: key << shift, delta))    // two pages landed on one: the model keeps one
                    continue
                }
                layer.map.set(newKey, s)
                tables.ensure(p, newKey << shift, level: config.layout.level(forPageShift: layer.shift) ?? thpLevel)
            }
        }
    }

    /// The mapping row of a page moved from `address` by `delta`: its mapping is at the
    /// destination by now (the address space moves first), and a split or a page dropped
    /// on the way is that row's, or its resident and huge bytes stay counted forever.
    private func movedLabel(_ p: ProcessState, from address: UInt64, _ delta: UInt64) -> Int32 {
        p.space.find(address &+ delta).map { p.space[$0].label } ?? -1
    }

    /// movePages' base pages: those whose start moves (a page that begins below `from` is
    /// the VMA's below, which keeps it; the moving VMA's part of it is an edge), taken out
    /// in key order as runs of one state, and put back a run at a time
    /// (PageMap.fillAbsent), within what all moves may carry; past that, and where a page
    /// lands on one already there (the model keeps that one), they are released.
    private func moveBasePages(_ p: ProcessState, from: UInt64, to: UInt64, length: UInt64) {
        let shift = UInt64(gs), size = UInt64(1) << shift
        let low = (from &+ size &- 1) >> shift, high = (from &+ length &+ size &- 1) >> shift
        guard low < high else { return }
        var runs: [(key: UInt64, count: Int, state: UInt8)] = []
        p.base.removeAll(in: low, high) { key, s in
            if let last = runs.last, last.state == s, last.key &+ UInt64(last.count) == key {
                runs[runs.count - 1].count += 1
            } else {
                runs.append((key, 1, s))
            }
        }
        let layer = PageLayer(layer: .base, shift: gs, map: p.base)
        let keyDelta = Self.keyDelta(from: from, to: to, shift: shift)
        // Each page table the pages land in is looked up once (the lookup per page was a
        // quarter of a long move).
        let keysPerTable = UInt64(1) << UInt64(ts - gs)
        var tableEnsured = UInt64.max
        var capped = false
        defer { if capped { limits.moveCutShort() } }
        // Each run cut where the piece its pages came from changes (two mappings merged
        // into one VMA move together): a page is the row's of the piece that held its
        // start (`leaving`, as movePages set it).
        var moved: [(key: UInt64, count: Int, state: UInt8, label: Int32)] = []
        for run in runs {
            var key = run.key
            forEachRowRun(p, first: run.key, count: UInt64(run.count), fallback: -1) { row, pages in
                moved.append((key, pages, run.state, row))
                key &+= UInt64(pages)
            }
        }
        for run in moved {
            var carried = Int(limits.carry(UInt64(run.count)))
            let label = run.label
            if carried < run.count {
                capped = true
                released(layer, run.state, label: label, pages: run.count - carried)
            }
            guard carried > 0 else { continue }
            var newKey = run.key &+ keyDelta
            // A move by a distance that is not a whole number of granule pages may land a
            // run's end page where the mapping does not hold its start: the mapping's part
            // there is a page of its own (an edge, faulted again), and the page holds
            // nothing the mapping can reach. It goes. (Kept, it was memory no row held, or a
            // neighbour's row, until the exit.)
            func lands(_ key: UInt64) -> Bool {
                p.inSpace { space in space.index(containing: key << shift).map { space[$0].label == label } ?? false }
            }
            while carried > 0 && !lands(newKey) {
                released(layer, run.state, label: label)
                newKey &+= 1
                carried -= 1
            }
            while carried > 0 && !lands(newKey &+ UInt64(carried) &- 1) {
                released(layer, run.state, label: label)
                carried -= 1
            }
            guard carried > 0 else { continue }
            let landedOnPages = p.base.fillAbsent(newKey, carried, run.state)
            if landedOnPages > 0 { released(layer, run.state, label: label, pages: landedOnPages) }
            var key = newKey
            while key < newKey + UInt64(carried) {
                let table = key / keysPerTable
                if table != tableEnsured { tables.ensure(p, key << shift, level: leafLevel) }
                tableEnsured = table
                key = (table + 1) * keysPerTable
            }
        }
    }

    /// MADV_COLLAPSE over [from, to): each PMD-size range wholly inside it and inside a
    /// kernel VMA that may have a THP, with base pages in it (so a page table), becomes one
    /// THP (the rest of its pages allocated). Only ranges with a table can collapse, so only
    /// those are visited, however large the range.
    func collapse(_ p: ProcessState, _ from: UInt64, _ to: UInt64) {
        guard !refusesCollapse else { return }
        let size = UInt64(1) << UInt64(ts)
        let firstKey = (from >> UInt64(ts)) &+ (from & (size - 1) == 0 ? 0 : 1)
        let endKey = to >> UInt64(ts)
        guard endKey > firstKey else { return }
        for (key, _) in p.leafTables.entries(in: firstKey, endKey) {
            let start = key << UInt64(ts)
            if let vi = p.space.index(containing: start), p.space.collapseAllowed(p.space[vi]),
               p.space.kernelVMACovers(vi, start, start &+ size) {
                collapseRange(p, start, label: p.space[vi].label)
            }
        }
    }

    /// Replaces the base pages of one PMD-size range with a THP; false when it has none.
    @discardableResult
    func collapseRange(_ p: ProcessState, _ start: UInt64, label: Int32) -> Bool {
        let key = start >> UInt64(ts)
        guard p.thp.get(key) == 0, tables.hasLeafTable(p, start) else { return false }
        let first = start >> UInt64(gs), count = UInt64(1) << UInt64(ts - gs)
        let size = Int64(1) << Int64(ts)
        let baseLayer = PageLayer(layer: .base, shift: gs, map: p.base)
        // Each base page leaves its piece's row (the range may hold two mappings merged).
        var runs: [(label: Int32, first: UInt64, count: UInt64)] = []
        forEachRowRun(p, first: first, count: count, fallback: label) { row, pages in
            runs.append((row, (runs.last.map { $0.first + $0.count } ?? first), UInt64(pages)))
        }
        for run in runs {
            p.base.removeAll(in: run.first, run.first + run.count) { s, pages in self.released(baseLayer, s, label: run.label, pages: pages) }
        }
        tables.removeLeafTable(p, start)
        tables.deposit(1)
        p.thp.set(key, PageState.present | PageState.writable | PageState.ownsAnon | PageState.collapsed)
        memory.charge(rowOfPage(p, at: start, fallback: label), .collapsedTHP, size)
        totals.collapses &+= 1
        flushTLB(asid: p.index, start: start, end: start + UInt64(size))
        return true
    }
}
