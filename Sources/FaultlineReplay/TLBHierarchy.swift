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
    let arrays: [TLBArray]
    /// The same arrays, unretained, for the lookup loop (no ARC per access).
    private let arrayRefs: UnsafeMutablePointer<Unmanaged<TLBArray>>
    /// route[(kind * 3 + tier) * 64 + pageShift]: the array index, or -1 (kind 0 fetch, 1 data).
    private let route: UnsafeMutablePointer<Int8>
    /// By layout level (top first); nil where there is no cache. The same, unretained, for
    /// the walk (no ARC or bounds checks per level).
    private let walkCaches: [WalkCache?]
    private let walkCacheRefs: UnsafeMutablePointer<Unmanaged<WalkCache>?>
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
        let arrays = spec.levels.map { TLBArray($0, seed: spec.seed, tracksVictims: spec.inclusion != .nonInclusive) }
        self.arrays = arrays
        arrayRefs = .allocate(capacity: max(arrays.count, 1))
        for (i, a) in arrays.enumerated() { (arrayRefs + i).initialize(to: .passUnretained(a)) }
        tiers = spec.levels.map(\.tier).max() ?? 1
        leafForShift = .allocate(capacity: 64)
        for shift in 0..<64 { (leafForShift + shift).initialize(to: layout.level(forPageShift: shift) ?? layout.leafLevel) }
        entryShifts = .allocate(capacity: layout.levels)
        for level in 0..<layout.levels { (entryShifts + level).initialize(to: min(layout.entryShift(level), 63)) }
        route = .allocate(capacity: 2 * 3 * 64)
        route.initialize(repeating: -1, count: 2 * 3 * 64)
        for kind in 0..<2 {
            for (i, a) in arrays.enumerated() {
                let serves = a.spec.serves == .unified || (a.spec.serves == .instruction) == (kind == 0)
                guard serves else { continue }
                for shift in 0..<64 where a.holds(shift) {
                    let slot = (kind * 3 + a.spec.tier - 1) * 64 + shift
                    if route[slot] < 0 { route[slot] = Int8(i) }
                }
            }
        }
        upper = arrays.map { low in
            arrays.indices.compactMap { j in
                let up = arrays[j]
                let overlap = low.spec.serves == .unified || up.spec.serves == .unified || low.spec.serves == up.spec.serves
                return up.spec.tier < low.spec.tier && overlap ? (j, up.entryShifts) : nil
            }
        }
        // walkCacheEntries[0] caches the level just above the leaf, [1] the next, ...
        walkCaches = (0..<layout.levels).map { level in
            let distance = layout.leafLevel - 1 - level
            guard distance >= 0, distance < spec.walkCacheEntries.count, spec.walkCacheEntries[distance] > 0 else { return nil }
            return WalkCache(entries: spec.walkCacheEntries[distance])
        }
        walkCacheRefs = .allocate(capacity: layout.levels)
        for (level, c) in walkCaches.enumerated() { (walkCacheRefs + level).initialize(to: c.map { .passUnretained($0) }) }
    }

    deinit {
        route.deallocate(); arrayRefs.deallocate(); leafForShift.deallocate(); entryShifts.deallocate()
        walkCacheRefs.deallocate()
    }

    static let vpnMask: UInt64 = 0xFFF_FFFF_FFFF

    /// An entry's tag: address space (14 bits), entry size (6) and page number (44: addresses
    /// above 2^56 alias lower ones, as no MMU the model knows translates them).
    @inline(__always)
    static func tag(asid: Int32, shift: Int, vpn: UInt64) -> UInt64 {
        (UInt64(UInt32(bitPattern: asid) & 0x3FFF) << 50) | (UInt64(shift - 12) << 44) | (vpn & vpnMask)
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
    private var repeatArray: Unmanaged<TLBArray>?

    /// One access to `address`, translated by a page of 2^pageShift bytes.
    @inline(__always)
    public func access(asid: Int32, address: UInt64, pageShift: Int, instruction: Bool) {
        accesses &+= 1
        let kind = instruction ? 0 : 1
        let who = Int(asid) << 8 | pageShift << 1 | kind
        if who == repeatWho && address &>> repeatShift == repeatVPN, let a = repeatArray {
            a._withUnsafeGuaranteedRef { $0.hits &+= 1 }
            return
        }
        repeatArray = nil
        // The arrays on this access's path that missed, top tier first.
        var missed0 = -1, missed1 = -1, missed2 = -1
        var tier = 0
        while tier < tiers {
            let ai = Int(route[(kind * 3 + tier) * 64 + pageShift])
            if ai >= 0 {
                let es = arrayRefs[ai]._withUnsafeGuaranteedRef { $0.entryShift(pageShift) }
                let vpn = address >> UInt64(es)
                let hit = arrayRefs[ai]._withUnsafeGuaranteedRef { a -> Bool in
                    a.lookup(Self.tag(asid: asid, shift: es, vpn: vpn), vpn)
                }
                if hit {
                    if missed0 >= 0 {
                        hitBelow(ai, missed0, missed1, asid: asid, address: address, pageShift: pageShift, kind: kind)
                    } else {
                        repeatWho = who
                        repeatVPN = vpn
                        repeatShift = UInt64(es)
                        repeatArray = arrayRefs[ai]
                    }
                    return
                }
                if missed0 < 0 { missed0 = ai } else if missed1 < 0 { missed1 = ai } else { missed2 = ai }
            }
            tier += 1
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
            let a = arrays[hit]
            let es = a.entryShift(pageShift)
            let vpn = address >> UInt64(es)
            _ = a.remove(Self.tag(asid: asid, shift: es, vpn: vpn), vpn)
            fillExclusive(m0, asid: asid, address: address, pageShift: pageShift, kind: kind)
            return
        }
        if m1 >= 0 { fill(m1, asid: asid, address: address, pageShift: pageShift, kind: kind) }
        fill(m0, asid: asid, address: address, pageShift: pageShift, kind: kind)
    }

    /// Non-inclusive and inclusive fills; inclusive back-invalidates what the fill evicted.
    @inline(__always)
    private func fill(_ ai: Int, asid: Int32, address: UInt64, pageShift: Int, kind: Int) {
        let evicted = arrayRefs[ai]._withUnsafeGuaranteedRef { a -> TLBEntry? in
            let es = a.entryShift(pageShift)
            let vpn = address >> UInt64(es)
            return a.fill(Self.tag(asid: asid, shift: es, vpn: vpn), vpn, pageShift: pageShift, kind: kind, address: address)
        }
        if inclusion == .inclusive, let evicted { backInvalidate(from: ai, evicted.tag) }
    }

    /// Exclusive: fills array `ai`, then moves each victim down to the next tier that holds it.
    private func fillExclusive(_ ai: Int, asid: Int32, address: UInt64, pageShift: Int, kind: Int) {
        let a = arrays[ai]
        let es = a.entryShift(pageShift)
        let vpn = address >> UInt64(es)
        var victim = a.fill(Self.tag(asid: asid, shift: es, vpn: vpn), vpn, pageShift: pageShift, kind: kind, address: address)
        var tier = a.spec.tier      // the next tier down, 0-based
        while let v = victim {
            guard let below = nextArray(kind: v.kind, pageShift: v.pageShift, fromTier: tier) else { return }
            let b = arrays[below]
            let bes = b.entryShift(v.pageShift)
            let bvpn = v.address >> UInt64(bes)
            let id = Int32(bitPattern: UInt32(truncatingIfNeeded: Self.asid(ofTag: v.tag)))
            victim = b.insert(TLBEntry(tag: Self.tag(asid: id, shift: bes, vpn: bvpn), pageShift: v.pageShift,
                                       kind: v.kind, address: v.address), bvpn)
            tier = b.spec.tier
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
            let u = arrays[j]
            for us in shifts {
                if us >= es {
                    let vpn = first >> UInt64(us)
                    u.invalidate(Self.tag(asid: asid, shift: us, vpn: vpn), vpn)
                } else if es - us <= 20 && 1 << (es - us) <= u.spec.entries {
                    let vpn0 = first >> UInt64(us)
                    for k in 0..<(UInt64(1) << UInt64(es - us)) {
                        u.invalidate(Self.tag(asid: asid, shift: us, vpn: vpn0 + k), vpn0 + k)
                    }
                } else {
                    // More candidate pages than entries: look at every entry instead.
                    let low = (first >> UInt64(us)) & Self.vpnMask
                    let count = UInt64(1) << UInt64(es - us)
                    u.invalidateAll { t in
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
        var level = leaf - 1
        while level >= 0 {
            if let c = walkCacheRefs[level],
               c._withUnsafeGuaranteedRef({ $0.lookup(walkTag(asid, address, level)) }) { hit = level; break }
            level -= 1
        }
        walkMemoryAccesses &+= UInt64(leaf - hit)
        var fillLevel = hit + 1
        while fillLevel < leaf {
            if let c = walkCacheRefs[fillLevel] { c._withUnsafeGuaranteedRef { $0.fill(walkTag(asid, address, fillLevel)) } }
            fillLevel += 1
        }
    }

    @inline(__always)
    private func walkTag(_ asid: Int32, _ address: UInt64, _ level: Int) -> UInt64 {
        let shift = entryShifts[level]
        return Self.tag(asid: asid, shift: shift, vpn: address >> UInt64(shift))
    }

    /// Drops the translations of [start, end) in `asid`: page by page for small ranges,
    /// else the whole address space, as Linux does past tlb_single_page_flush_ceiling
    /// (33 pages, arch/x86/mm/tlb.c).
    public func flush(asid: Int32, start: UInt64, end: UInt64) {
        repeatArray = nil
        if end > start && (end - start) >> 12 <= 33 {
            for a in arrays {
                for shift in 12..<64 where a.holds(shift) {
                    let es = a.entryShift(shift)
                    var vpn = start >> UInt64(es)
                    while vpn <= (end - 1) >> UInt64(es) {
                        a.invalidate(Self.tag(asid: asid, shift: es, vpn: vpn), vpn)
                        vpn += 1
                    }
                }
            }
            // Freed page tables invalidate walk-cache entries above them.
            let id = UInt64(UInt32(bitPattern: asid) & 0x3FFF)
            for c in walkCaches { c?.invalidateAll { Self.asid(ofTag: $0) == id } }
        } else {
            flush(asid: asid)
        }
    }

    public func flush(asid: Int32) {
        repeatArray = nil
        let id = UInt64(UInt32(bitPattern: asid) & 0x3FFF)
        for a in arrays { a.invalidateAll { Self.asid(ofTag: $0) == id } }
        for c in walkCaches { c?.invalidateAll { Self.asid(ofTag: $0) == id } }
    }

    public var result: TLBResult {
        TLBResult(preset: spec.name,
                  levels: arrays.map { TLBLevelResult(name: $0.spec.name, hits: $0.hits, misses: $0.misses,
                                                      entries: $0.spec.entries, pageSizes: $0.spec.pageSizes) },
                  accesses: accesses, walks: walks, walkMemoryAccesses: walkMemoryAccesses,
                  walkCyclesMin: Self.saturatingProduct(walkMemoryAccesses, spec.walkAccessCycles.min),
                  walkCyclesMax: Self.saturatingProduct(walkMemoryAccesses, spec.walkAccessCycles.max))
    }

    static func saturatingProduct(_ count: UInt64, _ cycles: Int) -> UInt64 {
        let (p, overflow) = count.multipliedReportingOverflow(by: UInt64(max(cycles, 0)))
        return overflow ? .max : p
    }
}
