// A TLB hierarchy in use: an access looks up the tier-1 array for its kind (fetch or data)
// and page size, then tier 2, and on a miss everywhere walks the page table, where each
// level the walk caches do not cover costs one memory access. Entries are tagged with an
// address-space id (like PCID/ASID), so processes need no flush on switch.

public struct TLBLevelResult: Sendable, Equatable {
    public var name: String
    public var hits: UInt64
    public var misses: UInt64
    public var entries: Int
    public var pageSizes: [UInt64]
}

public struct TLBResult: Sendable, Equatable {
    public var preset: String
    public var levels: [TLBLevelResult]
    public var accesses: UInt64
    public var walks: UInt64
    public var walkMemoryAccesses: UInt64
    public var walkCyclesMin: UInt64
    public var walkCyclesMax: UInt64
}

public final class TLBHierarchy {
    public let spec: TLBSpec
    let layout: PageTableLayout
    /// One per spec level, used in place (`arrays[i].lookup(...)`), never copied out.
    private let arrays: UnsafeMutablePointer<TLBArray>
    private let arrayCount: Int
    /// route[(kind * 3 + tier) * 64 + pageShift]: the array index, or -1 (kind 0 fetch, 1 data).
    private let route: UnsafeMutablePointer<Int8>
    /// By layout level (top first), in place; capacity 0 where there is no cache.
    private let walkCaches: UnsafeMutablePointer<WalkCache>
    private(set) var accesses: UInt64 = 0
    private(set) var walks: UInt64 = 0
    private(set) var walkMemoryAccesses: UInt64 = 0
    private let tiers: Int
    private let inclusion: TLBInclusion
    /// Inclusive: for each array, the upper-tier arrays serving the same kind of access, with
    /// the entry sizes each holds: where an eviction back-invalidates.
    private let upper: [[(array: Int, entryShifts: [Int])]]
    /// Precomputed from the layout: the level whose entries map 2^shift (64 of them), and
    /// each level's entry shift.
    private let leafForShift: UnsafeMutablePointer<Int>
    private let entryShifts: UnsafeMutablePointer<Int>

    public init(spec: TLBSpec, layout: PageTableLayout) {
        precondition(spec.problems().isEmpty, "TLB spec \(spec.name): \(spec.problems())")
        self.spec = spec
        self.layout = layout
        inclusion = spec.inclusion
        arrayCount = spec.levels.count
        arrays = .allocate(capacity: max(arrayCount, 1))
        for (i, level) in spec.levels.enumerated() {
            (arrays + i).initialize(to: TLBArray(level, seed: spec.seed, tracksVictims: spec.inclusion != .nonInclusive))
        }
        tiers = spec.levels.map(\.tier).max() ?? 1
        leafForShift = .allocate(capacity: 64)
        for shift in 0..<64 { (leafForShift + shift).initialize(to: layout.level(forPageShift: shift) ?? layout.leafLevel) }
        entryShifts = .allocate(capacity: layout.levels)
        for level in 0..<layout.levels { (entryShifts + level).initialize(to: min(layout.entryShift(level), 63)) }
        route = .allocate(capacity: 2 * 3 * 64)
        route.initialize(repeating: -1, count: 2 * 3 * 64)
        for kind in 0..<2 {
            for (i, level) in spec.levels.enumerated() {
                let serves = level.serves == .unified || (level.serves == .instruction) == (kind == 0)
                guard serves else { continue }
                for shift in 0..<64 where arrays[i].holds(shift) {
                    let slot = (kind * 3 + level.tier - 1) * 64 + shift
                    if route[slot] < 0 { route[slot] = Int8(i) }
                }
            }
        }
        let levels = spec.levels, arrays = self.arrays
        upper = levels.indices.map { low in
            levels.indices.compactMap { j in
                let overlap = levels[low].serves == .unified || levels[j].serves == .unified || levels[low].serves == levels[j].serves
                return levels[j].tier < levels[low].tier && overlap ? (j, arrays[j].entryShifts) : nil
            }
        }
        // walkCacheEntries[0] caches the level just above the leaf, [1] the next, ...
        walkCaches = .allocate(capacity: layout.levels)
        for level in 0..<layout.levels {
            let distance = layout.leafLevel - 1 - level
            let entries = distance >= 0 && distance < spec.walkCacheEntries.count ? spec.walkCacheEntries[distance] : 0
            (walkCaches + level).initialize(to: entries > 0 ? WalkCache(entries: entries) : .none)
        }
    }

    deinit {
        for i in 0..<arrayCount { arrays[i].deallocate() }
        for level in 0..<layout.levels { walkCaches[level].deallocate() }
        arrays.deallocate(); walkCaches.deallocate()
        route.deallocate(); leafForShift.deallocate(); entryShifts.deallocate()
    }

    static let vpnMask: UInt64 = 0xFFF_FFFF_FFFF

    /// An entry's tag: address space (14 bits), entry size (6) and page number (44: addresses
    /// above 2^56 alias lower ones, as no MMU the model knows translates them).
    @inline(__always)
    static func tag(asid: Int32, shift: Int, vpn: UInt64) -> UInt64 {
        (UInt64(UInt32(bitPattern: asid) & 0x3FFF) &<< 50) | (UInt64(truncatingIfNeeded: shift &- 12) &<< 44) | (vpn & vpnMask)
    }

    @inline(__always)
    static func asid(ofTag tag: UInt64) -> UInt64 { tag >> 50 }

    @inline(__always)
    static func shift(ofTag tag: UInt64) -> Int { Int((tag >> 44) & 63) + 12 }

    /// The last access, when it hit the first array on its path: who made it (address
    /// space, page size, kind), the entry's page number and size, and the array. The same
    /// entry asked for again is a hit on the most recently used entry of that array, which
    /// changes no replacement state, so only the counters move. Sequential traces ask for
    /// the same page dozens of times in a row (measured: the TLB was a third of their time).
    private var repeatWho = -1
    private var repeatVPN: UInt64 = 0
    private var repeatShift: UInt64 = 0
    private var repeatArray = -1

    /// One access to `address`, translated by a page of 2^pageShift bytes.
    @inline(__always)
    public func access(asid: Int32, address: UInt64, pageShift: Int, instruction: Bool) {
        accesses &+= 1
        let kind = instruction ? 0 : 1
        let who = Int(asid) &<< 8 | pageShift &<< 1 | kind
        if who == repeatWho && address &>> repeatShift == repeatVPN && repeatArray >= 0 {
            arrays[repeatArray].hits &+= 1
            return
        }
        repeatArray = -1
        // The arrays on this access's path that missed, top tier first.
        var missed0 = -1, missed1 = -1, missed2 = -1
        var tier = 0
        while tier < tiers {
            let ai = Int(route[(kind &* 3 &+ tier) &* 64 &+ pageShift])
            if ai >= 0 {
                let es = arrays[ai].entryShift(pageShift)
                let vpn = address &>> UInt64(truncatingIfNeeded: es)
                if arrays[ai].lookup(Self.tag(asid: asid, shift: es, vpn: vpn), vpn) {
                    if missed0 >= 0 {
                        hitBelow(ai, missed0, missed1, asid: asid, address: address, pageShift: pageShift, kind: kind)
                    } else {
                        repeatWho = who
                        repeatVPN = vpn
                        repeatShift = UInt64(truncatingIfNeeded: es)
                        repeatArray = ai
                    }
                    return
                }
                if missed0 < 0 { missed0 = ai } else if missed1 < 0 { missed1 = ai } else { missed2 = ai }
            }
            tier &+= 1
        }
        walk(asid: asid, address: address, pageShift: pageShift)
        if inclusion == .exclusive {
            if missed0 >= 0 { fillExclusive(missed0, asid: asid, address: address, pageShift: pageShift, kind: kind) }
            return
        }
        // Bottom-up, so that an inclusive back-invalidation never undoes a fill above it.
        if missed2 >= 0 { fill(missed2, asid: asid, address: address, pageShift: pageShift, kind: kind) }
        if missed1 >= 0 { fill(missed1, asid: asid, address: address, pageShift: pageShift, kind: kind) }
        if missed0 >= 0 { fill(missed0, asid: asid, address: address, pageShift: pageShift, kind: kind) }
    }

    /// A hit in array `hit` below arrays that missed (`m0` top, then `m1`).
    private func hitBelow(_ hit: Int, _ m0: Int, _ m1: Int, asid: Int32, address: UInt64, pageShift: Int, kind: Int) {
        if inclusion == .exclusive {
            let es = arrays[hit].entryShift(pageShift)
            let vpn = address >> UInt64(es)
            _ = arrays[hit].remove(Self.tag(asid: asid, shift: es, vpn: vpn), vpn)
            fillExclusive(m0, asid: asid, address: address, pageShift: pageShift, kind: kind)
            return
        }
        if m1 >= 0 { fill(m1, asid: asid, address: address, pageShift: pageShift, kind: kind) }
        fill(m0, asid: asid, address: address, pageShift: pageShift, kind: kind)
    }

    /// Non-inclusive and inclusive fills; inclusive back-invalidates what the fill evicted.
    @inline(__always)
    private func fill(_ ai: Int, asid: Int32, address: UInt64, pageShift: Int, kind: Int) {
        let es = arrays[ai].entryShift(pageShift)
        let vpn = address &>> UInt64(truncatingIfNeeded: es)
        let evicted = arrays[ai].fill(Self.tag(asid: asid, shift: es, vpn: vpn), vpn, pageShift: pageShift, kind: kind, address: address)
        if inclusion == .inclusive, let evicted { backInvalidate(from: ai, evicted.tag) }
    }

    /// Exclusive: fills array `ai`, then moves each victim down to the next tier that holds it.
    private func fillExclusive(_ ai: Int, asid: Int32, address: UInt64, pageShift: Int, kind: Int) {
        let es = arrays[ai].entryShift(pageShift)
        let vpn = address >> UInt64(es)
        var victim = arrays[ai].fill(Self.tag(asid: asid, shift: es, vpn: vpn), vpn, pageShift: pageShift, kind: kind, address: address)
        var tier = spec.levels[ai].tier      // the next tier down, 0-based
        while let v = victim {
            guard let below = nextArray(kind: v.kind, pageShift: v.pageShift, fromTier: tier) else { return }
            let bes = arrays[below].entryShift(v.pageShift)
            let bvpn = v.address >> UInt64(bes)
            let id = Int32(bitPattern: UInt32(truncatingIfNeeded: Self.asid(ofTag: v.tag)))
            victim = arrays[below].insert(TLBEntry(tag: Self.tag(asid: id, shift: bes, vpn: bvpn), pageShift: v.pageShift,
                                                   kind: v.kind, address: v.address), bvpn)
            tier = spec.levels[below].tier
        }
    }

    /// The first array at 0-based tier `fromTier` or below on the path of (kind, pageShift).
    private func nextArray(kind: Int, pageShift: Int, fromTier: Int) -> Int? {
        var t = fromTier
        while t < tiers {
            let ai = Int(route[(kind * 3 + t) * 64 + pageShift])
            if ai >= 0 { return ai }
            t += 1
        }
        return nil
    }

    /// Inclusive: drops from the upper tiers every entry overlapping the one array `ai` evicted.
    private func backInvalidate(from ai: Int, _ evicted: UInt64) {
        let es = Self.shift(ofTag: evicted)
        let id = Self.asid(ofTag: evicted)
        let asid = Int32(bitPattern: UInt32(truncatingIfNeeded: id))
        let first = (evicted & Self.vpnMask) << UInt64(es)          // the evicted range's first byte
        for (j, shifts) in upper[ai] {
            for us in shifts {
                if us >= es {
                    let vpn = first >> UInt64(us)
                    arrays[j].invalidate(Self.tag(asid: asid, shift: us, vpn: vpn), vpn)
                } else if es - us <= 20 && 1 << (es - us) <= arrays[j].entries {
                    let vpn0 = first >> UInt64(us)
                    for k in 0..<(UInt64(1) << UInt64(es - us)) {
                        arrays[j].invalidate(Self.tag(asid: asid, shift: us, vpn: vpn0 + k), vpn0 + k)
                    }
                } else {
                    // More candidate pages than entries: look at every entry instead.
                    let low = (first >> UInt64(us)) & Self.vpnMask
                    let count = UInt64(1) << UInt64(es - us)
                    arrays[j].invalidateAll { t in
                        Self.asid(ofTag: t) == id && Self.shift(ofTag: t) == us && (t & Self.vpnMask) &- low < count
                    }
                }
            }
        }
    }

    /// Walks from the deepest walk-cache hit down to the leaf that maps 2^pageShift pages.
    @inline(__always)
    private func walk(asid: Int32, address: UInt64, pageShift: Int) {
        walks &+= 1
        let leaf = leafForShift[pageShift]
        var hit = -1
        var level = leaf &- 1
        while level >= 0 {
            if walkCaches[level].exists && walkCaches[level].lookup(walkTag(asid, address, level)) { hit = level; break }
            level &-= 1
        }
        walkMemoryAccesses &+= UInt64(truncatingIfNeeded: leaf &- hit)
        var fillLevel = hit &+ 1
        while fillLevel < leaf {
            if walkCaches[fillLevel].exists { walkCaches[fillLevel].fill(walkTag(asid, address, fillLevel)) }
            fillLevel &+= 1
        }
    }

    @inline(__always)
    private func walkTag(_ asid: Int32, _ address: UInt64, _ level: Int) -> UInt64 {
        let shift = entryShifts[level]
        return Self.tag(asid: asid, shift: shift, vpn: address &>> UInt64(truncatingIfNeeded: shift))
    }

    /// Drops the translations of [start, end) in `asid`: page by page for small ranges,
    /// else the whole address space, as Linux does past tlb_single_page_flush_ceiling
    /// (33 pages, arch/x86/mm/tlb.c).
    public func flush(asid: Int32, start: UInt64, end: UInt64) {
        repeatArray = -1
        if end > start && (end - start) >> 12 <= 33 {
            for i in 0..<arrayCount {
                for shift in 12..<64 where arrays[i].holds(shift) {
                    let es = arrays[i].entryShift(shift)
                    var vpn = start >> UInt64(es)
                    while vpn <= (end - 1) >> UInt64(es) {
                        arrays[i].invalidate(Self.tag(asid: asid, shift: es, vpn: vpn), vpn)
                        vpn += 1
                    }
                }
            }
            // Freed page tables invalidate walk-cache entries above them.
            let id = UInt64(UInt32(bitPattern: asid) & 0x3FFF)
            for level in 0..<layout.levels { walkCaches[level].invalidateAll { Self.asid(ofTag: $0) == id } }
        } else {
            flush(asid: asid)
        }
    }

    public func flush(asid: Int32) {
        repeatArray = -1
        let id = UInt64(UInt32(bitPattern: asid) & 0x3FFF)
        for i in 0..<arrayCount { arrays[i].invalidateAll { Self.asid(ofTag: $0) == id } }
        for level in 0..<layout.levels { walkCaches[level].invalidateAll { Self.asid(ofTag: $0) == id } }
    }

    public var result: TLBResult {
        TLBResult(preset: spec.name,
                  levels: spec.levels.indices.map { i in
                      TLBLevelResult(name: spec.levels[i].name, hits: arrays[i].hits, misses: arrays[i].misses,
                                     entries: spec.levels[i].entries, pageSizes: spec.levels[i].pageSizes)
                  },
                  accesses: accesses, walks: walks, walkMemoryAccesses: walkMemoryAccesses,
                  walkCyclesMin: Self.saturatingProduct(walkMemoryAccesses, spec.walkAccessCycles.min),
                  walkCyclesMax: Self.saturatingProduct(walkMemoryAccesses, spec.walkAccessCycles.max))
    }

    static func saturatingProduct(_ count: UInt64, _ cycles: Int) -> UInt64 {
        let (p, overflow) = count.multipliedReportingOverflow(by: UInt64(max(cycles, 0)))
        return overflow ? .max : p
    }
}
