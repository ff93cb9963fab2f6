// A second TLB simulator, written apart from Sources/FaultlineReplay/TLB*.swift and as
// plainly as possible, to check the fast one against: per-set arrays of optional entries,
// LRU by timestamps, tree-PLRU as a recursion over way ranges, the same seeded xorshift for
// random replacement, walk caches as lists, and the inclusion policies of TLBInclusion's
// documentation written from that text. Nothing here is packed, masked or shortcut.

import FaultlineCore
@testable import FaultlineReplay

struct RefKey: Equatable {
    var asid: Int32
    var entryShift: Int
    var vpn: UInt64
    var first: UInt64 { vpn << UInt64(entryShift) }
    var last: UInt64 { first + (UInt64(1) << UInt64(entryShift)) - 1 }
    func overlaps(_ o: RefKey) -> Bool { asid == o.asid && first <= o.last && o.first <= last }
}

struct RefEntry {
    var key: RefKey
    var lastUse: Int
    var pageShift: Int
    var instruction: Bool
    var address: UInt64
}

final class RefArray {
    let level: TLBLevelSpec
    var sets: [[RefEntry?]]
    /// Tree-PLRU per set: node n (1-based heap order) says where the next victim is:
    /// false the left half of its ways, true the right half.
    var tree: [[Bool]]
    let leaves: Int
    var time = 0
    var random: UInt64
    var hits: UInt64 = 0, misses: UInt64 = 0

    init(_ level: TLBLevelSpec, seed: UInt64) {
        self.level = level
        let setCount = level.entries / level.ways
        sets = Array(repeating: Array(repeating: nil, count: level.ways), count: setCount)
        var l = 1
        while l < level.ways { l *= 2 }
        leaves = l
        tree = Array(repeating: Array(repeating: false, count: 2 * l), count: setCount)
        random = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed
    }

    func holds(_ pageShift: Int) -> Bool { level.pageSizes.contains(UInt64(1) << UInt64(pageShift)) }

    func entryShift(_ pageShift: Int) -> Int {
        if let smash = level.smashTo, pageShift > smash.trailingZeroBitCount { return smash.trailingZeroBitCount }
        return pageShift
    }

    func key(asid: Int32, address: UInt64, pageShift: Int) -> RefKey {
        let es = entryShift(pageShift)
        return RefKey(asid: asid, entryShift: es, vpn: address >> UInt64(es))
    }

    func setIndex(_ k: RefKey) -> Int { Int(k.vpn % UInt64(sets.count)) }

    func use(_ set: Int, _ way: Int) {
        time += 1
        sets[set][way]!.lastUse = time
        // Tree-PLRU: every node on the way's path points to the other half.
        var node = 1, lo = 0, hi = leaves
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if way < mid { tree[set][node] = true; node = 2 * node; hi = mid } else { tree[set][node] = false; node = 2 * node + 1; lo = mid }
        }
    }

    func wayOf(_ k: RefKey) -> Int? { sets[setIndex(k)].firstIndex { $0?.key == k } }

    /// A lookup by an access: counted.
    func lookup(_ k: RefKey) -> Bool {
        if let w = wayOf(k) { use(setIndex(k), w); hits += 1; return true }
        misses += 1
        return false
    }

    func victimWay(_ set: Int) -> Int {
        switch level.replacement {
        case .lru:
            var best = 0
            for w in 0..<level.ways where sets[set][w]!.lastUse < sets[set][best]!.lastUse { best = w }
            return best
        case .random:
            random ^= random << 13; random ^= random >> 7; random ^= random << 17
            return Int(random % UInt64(level.ways))
        case .plru:
            var node = 1, lo = 0, hi = leaves
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                var right = tree[set][node]
                // A half that holds no real way (ways not a power of two) is never chosen.
                if right && mid >= level.ways { right = false }
                if right { node = 2 * node + 1; lo = mid } else { node = 2 * node; hi = mid }
            }
            return lo
        }
    }

    /// Puts an entry in; returns the entry it replaced, if any.
    func fill(_ e: RefEntry) -> RefEntry? {
        let set = setIndex(e.key)
        var replaced: RefEntry?
        let way: Int
        if let free = sets[set].firstIndex(where: { $0 == nil }) {
            way = free
        } else {
            way = victimWay(set)
            replaced = sets[set][way]
        }
        sets[set][way] = e
        use(set, way)
        return replaced
    }

    func remove(where matches: (RefKey) -> Bool) {
        for s in sets.indices { for w in 0..<level.ways where sets[s][w].map({ matches($0.key) }) == true { sets[s][w] = nil } }
    }
}

final class RefWalkCache {
    var slots: [(key: RefKey, lastUse: Int)?]
    var time = 0
    init(entries: Int) { slots = Array(repeating: nil, count: entries) }

    func lookup(_ k: RefKey) -> Bool {
        guard let i = slots.firstIndex(where: { $0?.key == k }) else { return false }
        time += 1
        slots[i]!.lastUse = time
        return true
    }

    func fill(_ k: RefKey) {
        guard !slots.isEmpty else { return }
        var i = slots.firstIndex { $0 == nil } ?? -1
        if i < 0 {
            i = 0
            for j in slots.indices where slots[j]!.lastUse < slots[i]!.lastUse { i = j }
        }
        time += 1
        slots[i] = (k, time)
    }
}

final class RefTLB {
    let spec: TLBSpec
    let layout: PageTableLayout
    let arrays: [RefArray]
    /// By page-table level; nil where there is no cache.
    var walkCaches: [RefWalkCache?]
    var accesses: UInt64 = 0, walks: UInt64 = 0, walkMemoryAccesses: UInt64 = 0

    init(spec: TLBSpec, layout: PageTableLayout) {
        self.spec = spec
        self.layout = layout
        arrays = spec.levels.map { RefArray($0, seed: spec.seed) }
        walkCaches = (0..<layout.levels).map { level in
            let fromLeaf = layout.leafLevel - 1 - level
            if fromLeaf >= 0 && fromLeaf < spec.walkCacheEntries.count && spec.walkCacheEntries[fromLeaf] > 0 {
                return RefWalkCache(entries: spec.walkCacheEntries[fromLeaf])
            }
            return nil
        }
    }

    func serves(_ a: RefArray, instruction: Bool) -> Bool {
        a.level.serves == .unified || (a.level.serves == .instruction) == instruction
    }

    /// The array an access of this kind and page size looks up at `tier` (the first listed).
    func array(tier: Int, instruction: Bool, pageShift: Int) -> RefArray? {
        arrays.first { $0.level.tier == tier && serves($0, instruction: instruction) && $0.holds(pageShift) }
    }

    /// The arrays an access looks up, top tier first (remembered: it never changes).
    var paths: [Int: [RefArray]] = [:]
    func path(instruction: Bool, pageShift: Int) -> [RefArray] {
        let id = pageShift * 2 + (instruction ? 1 : 0)
        if let p = paths[id] { return p }
        let p = (1...3).compactMap { array(tier: $0, instruction: instruction, pageShift: pageShift) }
        paths[id] = p
        return p
    }

    func access(asid: Int32, address: UInt64, pageShift: Int, instruction: Bool) {
        accesses += 1
        let arrays = path(instruction: instruction, pageShift: pageShift)
        for (i, a) in arrays.enumerated() where a.lookup(a.key(asid: asid, address: address, pageShift: pageShift)) {
            let above = Array(arrays[..<i])
            guard !above.isEmpty else { return }
            switch spec.inclusion {
            case .nonInclusive, .inclusive:
                for u in above.reversed() { fillAndEnforce(u, asid: asid, address: address, pageShift: pageShift, instruction: instruction) }
            case .exclusive:
                let k = a.key(asid: asid, address: address, pageShift: pageShift)
                a.sets[a.setIndex(k)][a.wayOf(k)!] = nil
                fillExclusive(above[0], asid: asid, address: address, pageShift: pageShift, instruction: instruction)
            }
            return
        }
        walk(asid: asid, address: address, pageShift: pageShift)
        switch spec.inclusion {
        case .nonInclusive, .inclusive:
            for a in arrays.reversed() { fillAndEnforce(a, asid: asid, address: address, pageShift: pageShift, instruction: instruction) }
        case .exclusive:
            if let first = arrays.first { fillExclusive(first, asid: asid, address: address, pageShift: pageShift, instruction: instruction) }
        }
    }

    func fillAndEnforce(_ a: RefArray, asid: Int32, address: UInt64, pageShift: Int, instruction: Bool) {
        let e = RefEntry(key: a.key(asid: asid, address: address, pageShift: pageShift), lastUse: 0,
                         pageShift: pageShift, instruction: instruction, address: address)
        guard let gone = a.fill(e), spec.inclusion == .inclusive else { return }
        // Back-invalidate: upper tiers serving an overlapping kind of access lose whatever
        // overlaps the evicted entry.
        for u in arrays where u.level.tier < a.level.tier {
            let shared = u.level.serves == .unified || a.level.serves == .unified || u.level.serves == a.level.serves
            if shared { u.remove { $0.overlaps(gone.key) } }
        }
    }

    func fillExclusive(_ a: RefArray, asid: Int32, address: UInt64, pageShift: Int, instruction: Bool) {
        var moving = a.fill(RefEntry(key: a.key(asid: asid, address: address, pageShift: pageShift), lastUse: 0,
                                     pageShift: pageShift, instruction: instruction, address: address))
        var tier = a.level.tier
        while let m = moving {
            // The next tier down that holds this page size for the kind that filled it.
            guard let below = path(instruction: m.instruction, pageShift: m.pageShift).first(where: { $0.level.tier > tier }) else { return }
            let k = below.key(asid: m.key.asid, address: m.address, pageShift: m.pageShift)
            if let w = below.wayOf(k) {
                below.use(below.setIndex(k), w)
                return
            }
            moving = below.fill(RefEntry(key: k, lastUse: 0, pageShift: m.pageShift, instruction: m.instruction, address: m.address))
            tier = below.level.tier
        }
    }

    func walk(asid: Int32, address: UInt64, pageShift: Int) {
        walks += 1
        let leaf = layout.level(forPageShift: pageShift) ?? layout.leafLevel
        func key(_ level: Int) -> RefKey {
            let s = layout.entryShift(level)
            return RefKey(asid: asid, entryShift: s, vpn: address >> UInt64(s))
        }
        var found = -1
        for level in stride(from: leaf - 1, through: 0, by: -1) {
            if let c = walkCaches[level], c.lookup(key(level)) { found = level; break }
        }
        walkMemoryAccesses += UInt64(leaf - found)
        for level in (found + 1)..<leaf { walkCaches[level]?.fill(key(level)) }
    }

    /// Drops the translations overlapping [start, end): one by one up to 33 pages of 4 KiB,
    /// else every translation of the address space. Walk caches lose the address space.
    func flush(asid: Int32, start: UInt64, end: UInt64) {
        guard end > start && (end - start) / 4096 <= 33 else { return flush(asid: asid) }
        for a in arrays { a.remove { $0.asid == asid && $0.first < end && $0.last >= start } }
        dropWalkCaches(asid)
    }

    func flush(asid: Int32) {
        for a in arrays { a.remove { $0.asid == asid } }
        dropWalkCaches(asid)
    }

    func dropWalkCaches(_ asid: Int32) {
        for c in walkCaches { if let c { for i in c.slots.indices where c.slots[i]?.key.asid == asid { c.slots[i] = nil } } }
    }

    var levelCounts: [[UInt64]] { arrays.map { [$0.hits, $0.misses] } }
}
