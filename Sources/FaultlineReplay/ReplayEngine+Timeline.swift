// The address-space timeline in the model: new mappings, munmap, mremap, mprotect,
// madvise, brk, fork, exec and exit, each changing VMAs, freeing pages and page tables, and
// flushing the TLB the way Linux does.
//
// Hazard: perf reports a new MMAP2 record not only for mmap but also for mprotect, brk
// growth and VMA merges, always for the whole resulting VMA. A record laid over the same
// memory (same backing, same file offset) therefore keeps its pages; only a record over
// different memory drops them. An anonymous mapping that replaces another in place without
// a munmap record (MAP_FIXED, or munmap before the recorder logged it) keeps stale pages.

import FaultlineCore

extension ReplayEngine {
    func mmap(process index: Int32, row: Int) {
        let p = process(index)
        var vma = input.mappings[row].vma
        for old in p.vmas.overlapping(vma.start, vma.end) {
            if old.sameMemory(as: vma) {
                // The same memory announced again: keep its pages, hints and mapping row.
                if old.mapping >= 0 && vma.mapping == Int32(row) { vma.mapping = old.mapping }
                vma.hasAnonPages = vma.hasAnonPages || old.hasAnonPages
                vma.hugeAdvice = old.hugeAdvice
                vma.dontFork = old.dontFork
                vma.wipeOnFork = old.wipeOnFork
                vma.growsDown = vma.growsDown || old.growsDown
            } else {
                zap(p, old, unmapping: true)
                tlb?.flush(asid: index, start: old.start, end: old.end)
            }
        }
        if vma.mapping >= 0 {
            let m = Int(vma.mapping)
            mapStart[m] = min(mapStart[m] == 0 ? vma.start : mapStart[m], vma.start)
            mapEnd[m] = max(mapEnd[m], vma.end)
        }
        p.vmas.insert(vma)
    }

    func munmap(process index: Int32, start: UInt64, end: UInt64) {
        let p = process(index)
        let s = start & ~4095, e = (end &+ 4095) & ~4095
        guard e > s else { return }
        let old = p.vmas.overlapping(s, e)
        p.vmas.remove(s, e)
        for v in old { zap(p, v, unmapping: true) }
        freeTables(p, s, e)
        tlb?.flush(asid: index, start: s, end: e)
    }

    func mprotect(process index: Int32, start: UInt64, end: UInt64, prot: UInt32) {
        // Pages keep their state: exclusive anonymous pages become writable again with the
        // VMA (MM_CP_TRY_CHANGE_WRITABLE), shared ones stay write-protected until a CoW.
        let p = process(index)
        p.vmas.update(start & ~4095, (end &+ 4095) & ~4095) { $0.prot = prot }
        tlb?.flush(asid: index, start: start, end: end)
    }

    func madvise(process index: Int32, start: UInt64, end: UInt64, advice: Int32) {
        let p = process(index)
        let s = start & ~4095, e = (end &+ 4095) & ~4095
        switch advice {
        case 4, 9, 24:  // DONTNEED, REMOVE, DONTNEED_LOCKED: pages go, VMAs and tables stay.
            for v in p.vmas.overlapping(s, e) { zap(p, v, unmapping: false) }
            tlb?.flush(asid: index, start: s, end: e)
        // FREE (8) only marks pages lazily freeable: they stay mapped until reclaim, so a
        // later touch does not fault. Not modelled as a change.
        case 14: p.vmas.update(s, e) { $0.hugeAdvice = 1 }
        case 15: p.vmas.update(s, e) { $0.hugeAdvice = -1 }
        case 10: p.vmas.update(s, e) { $0.dontFork = true }
        case 11: p.vmas.update(s, e) { $0.dontFork = false }
        case 18: p.vmas.update(s, e) { $0.wipeOnFork = true }
        case 19: p.vmas.update(s, e) { $0.wipeOnFork = false }
        default: break
        }
    }

    func brk(process index: Int32, result: UInt64, heapRow: Int32) {
        let p = process(index)
        defer { p.programBreak = result }
        guard p.programBreak != 0, result != 0 else { return }
        let old = (p.programBreak + 4095) & ~4095, new = (result + 4095) & ~4095
        if new < old {
            munmap(process: index, start: new, end: old)
        } else if new > old && p.vmas.overlapping(old, new).isEmpty {
            // Grow the heap VMA ending at the old break, or start one under the heap row.
            var vma = VMA(start: old, end: new, prot: 3, backing: .anonymous, mapping: heapRow)
            if let below = p.vmas.find(old - 1), p.vmas[below].backing == .anonymous, p.vmas[below].end == old {
                vma = p.vmas[below].slice(p.vmas[below].start, old)
                vma.start = old; vma.end = new
            }
            if vma.mapping >= 0 {
                let m = Int(vma.mapping)
                mapStart[m] = mapStart[m] == 0 ? old : min(mapStart[m], old)
                mapEnd[m] = max(mapEnd[m], new)
            }
            p.vmas.insert(vma)
        }
    }

    func mremap(process index: Int32, index r: Int) {
        let (old, oldLength, new, newLength) = input.remaps[r]
        let p = process(index)
        let oldEnd = old &+ oldLength
        if newLength < oldLength { munmap(process: index, start: old + newLength, end: oldEnd) }
        let kept = min(oldLength, newLength)
        if new != old {
            munmap(process: index, start: new, end: new &+ newLength)
            move(p, from: old, to: new, length: kept)
            freeTables(p, old, old + kept)
            tlb?.flush(asid: index, start: old, end: old + kept)
        }
        if newLength > oldLength, let last = p.vmas.find(new + kept - 1) {
            // Grown in place (or at the new address): the last VMA extends.
            var grown = p.vmas[last]
            let extensionStart = new + kept
            grown = grown.slice(grown.start, extensionStart)
            if grown.backing.isFile { grown.offset &+= extensionStart - grown.start }
            grown.start = extensionStart
            grown.end = new &+ newLength
            p.vmas.insert(grown)
        }
    }

    /// Moves VMAs and pages of [from, from+length) to `to` (mremap's move_page_tables).
    private func move(_ p: ProcessState, from: UInt64, to: UInt64, length: UInt64) {
        let slices = p.vmas.overlapping(from, from + length)
        p.vmas.remove(from, from + length)
        let delta = to &- from
        for layer in [Layer.hugetlb, .thp, .base] where p.pages[layer.rawValue].count > 0 {
            let shift = layerShift(layer)
            let size = UInt64(1) << UInt64(shift)
            let entries = p.pages[layer.rawValue].entries(in: from >> UInt64(shift), (from + length + size - 1) >> UInt64(shift))
            for (key, s) in entries {
                if delta % size != 0 {
                    // Not movable as a whole at this alignment: a THP splits; what cannot
                    // move is dropped (the model's granule is coarser than the recording's).
                    if layer == .thp { split(p, key: key) } else { free(p, layer, key, s, mapping: -1) }
                    continue
                }
                p.pages[layer.rawValue].remove(key)
                let newKey = key &+ (delta >> UInt64(shift))
                p.pages[layer.rawValue].set(newKey, s)
                ensureTables(p, newKey << UInt64(shift), levelOf(layer))
            }
        }
        for var v in slices {
            v.start = v.start &+ delta
            v.end = v.end &+ delta
            p.vmas.insert(v)
        }
    }

    func fork(child index: Int32, parent parentIndex: Int32) {
        let parent = process(parentIndex)
        if let previous = procs[Int(index)] ?? nil, previous !== parent { release(previous) }
        // Page tables are copied for private VMAs that have an anon_vma; both sides are
        // write-protected, so the next write on either side is a CoW. The child maps the
        // same pages, which the parent keeps counting.
        let copies: [PageMap] = Layer.allCases.map { layer in
            let map = parent.pages[layer.rawValue]
            guard map.count > 0 else { return PageMap() }
            let shift = UInt64(layerShift(layer))
            let child = map.copy { key, s in
                guard let vi = parent.vmas.find(key << shift) else { return 0 }
                let v = parent.vmas[vi]
                guard v.backing.isPrivate && v.hasAnonPages && !v.dontFork && !v.wipeOnFork else { return 0 }
                return s & ~(PageState.writable | PageState.ownsAnon | PageState.ownsFile)
            }
            map.updateAll { key, s in
                // Write-protect what the child now shares (the pages `copy` kept).
                child.get(key) != 0 ? s & ~PageState.writable : s
            }
            return child
        }
        let child = ProcessState(levels: tableShifts.count, index: index, pages: copies)
        child.vmas = parent.vmas
        child.vmas.filter { !$0.dontFork }
        child.programBreak = parent.programBreak
        for layer in Layer.allCases where copies[layer.rawValue].count > 0 {
            let shift = UInt64(layerShift(layer))
            let level = levelOf(layer)
            let tableShift = UInt64(tableShifts[level]) - shift
            var last = UInt64.max
            copies[layer.rawValue].forEach { key, _ in
                // Keys come in runs of neighbours: one table check per run is enough.
                if key >> tableShift != last { ensureTables(child, key << shift, level); last = key >> tableShift }
            }
            if layer == .thp { deposit(Int64(copies[layer.rawValue].count)) }
        }
        invalidateProcessCache()
        procs[Int(index)] = child
        tlb?.flush(asid: parentIndex)
    }

    /// exec (a new, empty address space) or exit: everything the process held is freed.
    func reset(process index: Int32, exited: Bool) {
        guard Int(index) < procs.count, let p = procs[Int(index)] else { return }
        release(p)
        invalidateProcessCache()
        procs[Int(index)] = exited ? nil : ProcessState(levels: tableShifts.count, index: index)
    }

    private func release(_ p: ProcessState) {
        // One pass over each map: every page is accounted to the mapping it lies in.
        for layer in Layer.allCases where p.pages[layer.rawValue].count > 0 {
            let shift = UInt64(layerShift(layer))
            p.pages[layer.rawValue].forEach { key, s in
                let vi = p.vmas.find(key << shift)
                released(layer, s, mapping: vi.map { p.vmas[$0].mapping } ?? -1)
            }
            p.pages[layer.rawValue].removeAll()
        }
        for l in 0..<p.tables.count {
            tableLive[l] -= Int64(p.tables[l].count)
            tableTotal -= Int64(p.tables[l].count)
            p.tables[l].removeAll()
        }
        p.vmas.removeAll()
        tlb?.flush(asid: p.index)
    }

    // MARK: pages and tables

    func layerShift(_ layer: Layer) -> Int {
        switch layer {
        case .base: return gs
        case .thp: return ts
        case .hugetlb: return hs
        }
    }

    func levelOf(_ layer: Layer) -> Int {
        switch layer {
        case .base: return leafLevel
        case .thp: return thpLevel
        case .hugetlb: return hugetlbLevel
        }
    }

    /// Frees the pages of `v` (a VMA, or the part of one being zapped). Pages only partly
    /// inside: a THP is split and its base pages inside go; a granule page larger than the
    /// recording's pages goes only when unmapping left nothing else over it.
    func zap(_ p: ProcessState, _ v: VMA, unmapping: Bool) {
        for layer in [Layer.hugetlb, .thp, .base] where p.pages[layer.rawValue].count > 0 {
            let map = p.pages[layer.rawValue]
            let shift = UInt64(layerShift(layer))
            let size = UInt64(1) << shift
            // The pages wholly inside go in one sweep.
            let first = (v.start &+ size - 1) >> shift, end = v.end >> shift
            if first < end { map.removeAll(in: first, end) { _, s in self.released(layer, s, mapping: v.mapping) } }
            // At most one page at each edge is only partly inside.
            var edges: [UInt64] = []
            if v.start & (size - 1) != 0 { edges.append(v.start >> shift) }
            if v.end & (size - 1) != 0 && !edges.contains(v.end >> shift) { edges.append(v.end >> shift) }
            for key in edges {
                let s = map.get(key)
                guard s != 0 else { continue }
                switch layer {
                case .thp: split(p, key: key)
                case .hugetlb: if unmapping { free(p, layer, key, s, mapping: v.mapping) }
                case .base:
                    let start = key << shift
                    if unmapping && p.vmas.overlapping(start, start &+ size).isEmpty { free(p, layer, key, s, mapping: v.mapping) }
                }
            }
        }
    }

    func free(_ p: ProcessState, _ layer: Layer, _ key: UInt64, _ s: UInt8, mapping: Int32) {
        p.pages[layer.rawValue].remove(key)
        released(layer, s, mapping: mapping)
    }

    /// Accounts for a page that is no longer mapped.
    func released(_ layer: Layer, _ s: UInt8, mapping: Int32) {
        let size = Int64(1) << Int64(layerShift(layer))
        let anon = s & PageState.ownsAnon != 0 ? -size : 0
        charge(mapping, anon: anon, file: s & PageState.ownsFile != 0 ? -size : 0,
               huge: layer == .base ? 0 : anon)
        if layer == .thp { deposited -= 1 }
    }

    /// Splits a THP into base pages with the same state (the deposited table becomes the
    /// PTE table), as __split_huge_pmd does.
    func split(_ p: ProcessState, key: UInt64) {
        let s = p.thp.remove(key)
        guard s != 0 else { return }
        deposited -= 1
        let start = key << UInt64(ts)
        if s & PageState.ownsAnon != 0 { charge(-1, anon: 0, file: 0, huge: -(Int64(1) << Int64(ts))) }
        let base = p.base
        let first = start >> UInt64(gs)
        for i in 0..<(UInt64(1) << UInt64(ts - gs)) where base.get(first + i) == 0 { base.set(first + i, s) }
        ensureTables(p, start, leafLevel)
        tlb?.flush(asid: p.index, start: start, end: start + 4096)
    }

    /// Frees the page tables that no longer cover any VMA around [start, end), like
    /// free_pgtables with its floor (the previous VMA's end) and ceiling (the next's start).
    func freeTables(_ p: ProcessState, _ start: UInt64, _ end: UInt64) {
        let nextIndex = p.vmas.next(after: start) ?? p.vmas.vmas.count
        let floor = nextIndex > 0 ? p.vmas[nextIndex - 1].end : 0
        let ceiling = p.vmas.next(after: end).map { p.vmas[$0].start } ?? (UInt64(1) << 57)
        guard ceiling > floor else { return }
        for level in stride(from: leafLevel, through: 1, by: -1) {
            let shift = UInt64(tableShifts[level])
            let low = (floor + (UInt64(1) << shift) - 1) >> shift
            let high = ceiling >> shift
            guard high > low else { continue }
            for (key, _) in p.tables[level].entries(in: low, high) {
                p.tables[level].remove(key)
                tableLive[level] -= 1
                tableTotal -= 1
            }
        }
    }
}
