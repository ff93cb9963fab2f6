// One TLB array: sets × ways of tags with LRU, tree-PLRU or seeded random replacement.
// Flat buffers and a most-recently-hit shortcut keep a lookup to a few compares: this is
// the innermost loop of access-stream replay. Sets need not be a power of two.
// Hazards: the reference simulator in Tests/FaultlineReplayTests/TLBReference.swift must
// agree with this file exactly; a change of policy here is a change there too. TLBArray
// and WalkCache are structs of raw buffers that TLBHierarchy keeps in raw memory and
// mutates in place (measured: as classes reached through Unmanaged, the closures and
// calls around each lookup were a tenth of a random trace's time); a copy shares the
// buffers but not the counters, so they are only ever used in place, and freed once.

/// An entry taken out of an array: its tag and where it came from, so that an exclusive
/// hierarchy can move it down a tier.
struct TLBEntry {
    var tag: UInt64
    /// log2 of the page the entry translates (before any smashing).
    var pageShift: Int
    /// 0 instruction fetch, 1 data: the kind of access that filled it.
    var kind: Int
    /// The address of the access that filled it.
    var address: UInt64
}

struct TLBArray {
    let entries: Int
    let sets: Int
    let ways: Int
    private let setMask: Int          // sets - 1 when sets is a power of two, else -1
    private let treeLeaves: Int       // PLRU: ways rounded up to a power of two
    private let plruWordsPerSet: Int  // tree bits, one per node, in 64-bit words
    private let replacement: Replacement
    private let tags: UnsafeMutablePointer<UInt64>
    private let stamps: UnsafeMutablePointer<UInt64>
    /// Tree-PLRU state, bit n of a set's words for node n (1 = the victim is on the right).
    /// Up to 64 ways a set's tree is one word, walked in a register (measured: the byte per
    /// node it replaces, with a table of real subtrees, made victim choice a third of a fill).
    private let plruBits: UnsafeMutablePointer<UInt64>
    /// Bit n set: node n's right subtree holds no real way (ways not a power of two), so
    /// the victim search goes left there whatever the node's bit says.
    private let forceLeft: UnsafeMutablePointer<UInt64>
    /// Valid entries per set: a full set needs no search for an invalid way; and invalid
    /// entries in all, so that a full array needs no look at its set's count either.
    private let valid: UnsafeMutablePointer<Int32>
    private var invalidCount: Int
    /// Per slot: the page shift and kind (bit 7) of the access that filled it, and its address.
    private let origins: UnsafeMutablePointer<UInt8>
    private let addresses: UnsafeMutablePointer<UInt64>
    /// Whether fills keep origins and return victims (inclusive and exclusive hierarchies).
    private let tracksVictims: Bool
    /// For sets of 16, 32, 48 or 64 ways (the fully associative L1s of zen2 and
    /// neoverse-n1, zen2's L2): a byte of each slot's tag, compared 16 at a time before
    /// any tag is. A random trace misses these arrays on nearly every access, and each miss
    /// compared every tag of the set one by one (zen2's 64-way L1D: 64 compares). Written
    /// by each fill; a slot emptied keeps its stale byte, which can only send a lookup to
    /// compare the (empty) tag itself. nil for other associativities.
    private let fingerprints: UnsafeMutablePointer<UInt8>?
    /// LRU sets of 16 ways or more keep their ways in order of use instead of by stamp: a
    /// doubly linked list per set, most recent first (per slot: the previous and the next
    /// way; per set: the first and the last), so the victim is the last way, not the
    /// oldest of every way's stamp compared (neoverse-n1's 48-way L1s, which a random trace
    /// fills on nearly every access). Every way of a full set has been used, so the order
    /// is the stamps' order. nil for other arrays.
    private let lruLinks: UnsafeMutablePointer<Int16>?
    private let lruEnds: UnsafeMutablePointer<Int16>?
    /// Tree-PLRU with a set's tree in one word (up to 64 ways): by way, the nodes on its
    /// path to the root and the bits that point them away from it, so that a touch is one
    /// and-or, not a walk up the tree (the walk's dependent steps were a sixth of a fill on
    /// zen2's 64-way L1s, perf). nil otherwise.
    private let plruPathNodes: UnsafeMutablePointer<UInt64>?
    private let plruPathBits: UnsafeMutablePointer<UInt64>?
    private var clock: UInt64 = 0
    private var rng: UInt64
    /// The most recently hit or filled slot and its set: checked before the set is searched.
    private var mru = 0, mruSet = 0
    /// Bit `s` set: holds pages of 2^s bytes.
    let heldShifts: UInt64
    /// Pages larger than this are held as entries of this size (0: no smashing).
    let smashShift: Int
    var hits: UInt64 = 0
    var misses: UInt64 = 0

    static let empty = UInt64.max

    init(_ spec: TLBLevelSpec, seed: UInt64, tracksVictims: Bool = true) {
        entries = spec.entries
        ways = spec.ways
        sets = spec.entries / spec.ways
        replacement = spec.replacement
        setMask = sets.nonzeroBitCount == 1 ? sets - 1 : -1
        var leaves = 1
        while leaves < ways { leaves <<= 1 }
        treeLeaves = leaves
        plruWordsPerSet = max(leaves / 64, 1)
        self.tracksVictims = tracksVictims
        tags = .allocate(capacity: spec.entries)
        tags.initialize(repeating: Self.empty, count: spec.entries)
        stamps = .allocate(capacity: spec.entries)
        stamps.initialize(repeating: 0, count: spec.entries)
        plruBits = .allocate(capacity: sets * plruWordsPerSet)
        plruBits.initialize(repeating: 0, count: sets * plruWordsPerSet)
        forceLeft = .allocate(capacity: plruWordsPerSet)
        forceLeft.initialize(repeating: 0, count: plruWordsPerSet)
        for node in 1..<leaves {
            // The right child's first leaf.
            var first = node * 2 + 1
            while first < leaves { first <<= 1 }
            if first - leaves >= spec.ways { forceLeft[node >> 6] |= 1 << UInt64(node & 63) }
        }
        valid = .allocate(capacity: sets)
        valid.initialize(repeating: 0, count: sets)
        invalidCount = spec.entries
        origins = .allocate(capacity: spec.entries)
        origins.initialize(repeating: 0, count: spec.entries)
        addresses = .allocate(capacity: spec.entries)
        addresses.initialize(repeating: 0, count: spec.entries)
        rng = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed
        if spec.ways >= 16 && spec.ways % 16 == 0 {
            fingerprints = .allocate(capacity: spec.entries)
            fingerprints!.initialize(repeating: 0, count: spec.entries)
        } else {
            fingerprints = nil
        }
        if spec.replacement == .lru && spec.ways >= 16 {
            let links = UnsafeMutablePointer<Int16>.allocate(capacity: 2 * spec.entries)
            let ends = UnsafeMutablePointer<Int16>.allocate(capacity: 2 * sets)
            for set in 0..<sets {
                for w in 0..<spec.ways {
                    links[2 * (set * spec.ways + w)] = Int16(w - 1)
                    links[2 * (set * spec.ways + w) + 1] = Int16(w + 1 < spec.ways ? w + 1 : -1)
                }
                ends[2 * set] = 0
                ends[2 * set + 1] = Int16(spec.ways - 1)
            }
            lruLinks = links
            lruEnds = ends
        } else {
            lruLinks = nil
            lruEnds = nil
        }
        if spec.replacement == .plru && plruWordsPerSet == 1 {
            let nodes = UnsafeMutablePointer<UInt64>.allocate(capacity: spec.ways)
            let bits = UnsafeMutablePointer<UInt64>.allocate(capacity: spec.ways)
            for way in 0..<spec.ways {
                var node = leaves + way, onPath: UInt64 = 0, away: UInt64 = 0
                while node > 1 {
                    let parent = UInt64(node >> 1)
                    onPath |= 1 << parent
                    away |= UInt64(~node & 1) << parent
                    node >>= 1
                }
                nodes[way] = onPath
                bits[way] = away
            }
            plruPathNodes = nodes
            plruPathBits = bits
        } else {
            plruPathNodes = nil
            plruPathBits = nil
        }
        heldShifts = spec.pageSizes.reduce(0) { $0 | (1 << UInt64($1.trailingZeroBitCount)) }
        smashShift = spec.smashTo.map { $0.trailingZeroBitCount } ?? 0
    }

    func deallocate() {
        tags.deallocate(); stamps.deallocate(); plruBits.deallocate()
        origins.deallocate(); addresses.deallocate(); valid.deallocate(); forceLeft.deallocate()
        fingerprints?.deallocate(); lruLinks?.deallocate(); lruEnds?.deallocate()
        plruPathNodes?.deallocate(); plruPathBits?.deallocate()
    }

    @inline(__always) private static func fingerprint(_ tag: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: (tag &* 0x9E37_79B9_7F4A_7C15) >> 56)
    }

    /// The way of the set at `base` holding `tag`, found through the fingerprints; -1 if none.
    @inline(__always) private func fingerprintedWay(_ fingerprints: UnsafeMutablePointer<UInt8>, _ tag: UInt64, _ base: Int) -> Int {
        let wanted = SIMD16<UInt8>(repeating: Self.fingerprint(tag))
        var w = 0
        while w < ways {
            let held = UnsafeRawPointer(fingerprints + base + w).loadUnaligned(as: SIMD16<UInt8>.self)
            if any(held .== wanted) {
                for v in w..<(w + 16) where tags[base + v] == tag { return v }
            }
            w += 16
        }
        return -1
    }

    @inline(__always) func holds(_ shift: Int) -> Bool { heldShifts & (1 << UInt64(shift)) != 0 }

    /// The size of the entry that holds a page of 2^shift bytes.
    @inline(__always) func entryShift(_ shift: Int) -> Int {
        smashShift != 0 && shift > smashShift ? smashShift : shift
    }

    /// The distinct entry sizes this array can hold.
    var entryShifts: [Int] {
        var seen: [Int] = []
        for s in 0..<64 where holds(s) && !seen.contains(entryShift(s)) { seen.append(entryShift(s)) }
        return seen
    }

    @inline(__always) private func setIndex(_ vpn: UInt64) -> Int {
        setMask >= 0 ? Int(truncatingIfNeeded: vpn) & setMask : Int(vpn % UInt64(sets))
    }


    /// Looks `tag` up in the set `vpn` selects, counting a hit or a miss; a hit updates the
    /// replacement state.
    @inline(__always)
    mutating func lookup(_ tag: UInt64, _ vpn: UInt64) -> Bool {
        if tags[mru] == tag { touch(mruSet, mru - mruSet * ways); hits &+= 1; return true }
        let set = setIndex(vpn)
        let base = set * ways
        if let fingerprints {
            let w = fingerprintedWay(fingerprints, tag, base)
            if w >= 0 { touch(set, w); mru = base + w; mruSet = set; hits &+= 1; return true }
            misses &+= 1
            return false
        }
        var w = 0
        while w < ways {
            if tags[base + w] == tag { touch(set, w); mru = base + w; mruSet = set; hits &+= 1; return true }
            w += 1
        }
        misses &+= 1
        return false
    }

    /// The way of `set` holding `tag`, without counting or touching it.
    private func find(_ tag: UInt64, _ set: Int) -> Int? {
        let base = set * ways
        if let fingerprints {
            let w = fingerprintedWay(fingerprints, tag, base)
            return w >= 0 ? w : nil
        }
        for w in 0..<ways where tags[base + w] == tag { return w }
        return nil
    }

    /// Puts `tag` in its set: into the lowest invalid way if there is one, else over the
    /// victim, which is returned.
    @discardableResult @inline(__always)
    mutating func fill(_ tag: UInt64, _ vpn: UInt64, pageShift: Int, kind: Int, address: UInt64) -> TLBEntry? {
        let set = setIndex(vpn)
        let base = set * ways
        var way: Int
        var evicted: TLBEntry?
        if invalidCount > 0 && valid[set] < ways {
            way = 0
            while tags[base + way] != Self.empty { way += 1 }
            valid[set] += 1
            invalidCount -= 1
        } else {
            way = victim(set)
            if tracksVictims { evicted = entry(base + way) }
        }
        let slot = base + way
        tags[slot] = tag
        fingerprints?[slot] = Self.fingerprint(tag)
        if tracksVictims {
            origins[slot] = UInt8(pageShift) | UInt8(kind << 7)
            addresses[slot] = address
        }
        touch(set, way)
        mru = slot
        mruSet = set
        return evicted
    }

    /// Puts an entry moved from another tier: refreshes it if the array holds it already
    /// (no victim), else fills it.
    mutating func insert(_ e: TLBEntry, _ vpn: UInt64) -> TLBEntry? {
        let set = setIndex(vpn)
        if let way = find(e.tag, set) { touch(set, way); return nil }
        return fill(e.tag, vpn, pageShift: e.pageShift, kind: e.kind, address: e.address)
    }

    /// Takes `tag` out; returns it with its origin, or nil when absent.
    mutating func remove(_ tag: UInt64, _ vpn: UInt64) -> TLBEntry? {
        let set = setIndex(vpn)
        guard let way = find(tag, set) else { return nil }
        let e = entry(set * ways + way)
        tags[set * ways + way] = Self.empty
        valid[set] -= 1
        invalidCount += 1
        return e
    }

    @inline(__always) private func entry(_ slot: Int) -> TLBEntry {
        let o = origins[slot]
        return TLBEntry(tag: tags[slot], pageShift: Int(o & 0x7F), kind: Int(o >> 7), address: addresses[slot])
    }

    /// The way to replace in a full set.
    @inline(__always)
    private mutating func victim(_ set: Int) -> Int {
        let base = set * ways
        switch replacement {
        case .lru:
            if let lruEnds { return Int(lruEnds[2 * set + 1]) }
            // The oldest stamp, kept in a register: compared against `stamps[base + best]`,
            // each way's load waited for the previous compare, a chain of loads that was
            // the largest part of a fill on the 1 GiB random trace (perf, generic's 8-way L2;
            // held in a register, 2.52 → 1.78 s end to end, medians of 5 alternated).
            var best = 0, oldest = stamps[base]
            for w in 1..<max(ways, 1) {
                let stamp = stamps[base + w]
                if stamp < oldest { oldest = stamp; best = w }
            }
            return best
        case .random:
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            return Int(rng % UInt64(ways))
        case .plru:
            // Follow the bits from the root; skip subtrees that hold no real way (non-power-
            // of-two associativity).
            let words = plruBits + set * plruWordsPerSet
            var node = 1
            if plruWordsPerSet == 1 {
                let state = words[0] & ~forceLeft[0]
                while node < treeLeaves { node = node &<< 1 | Int(truncatingIfNeeded: state &>> UInt64(node)) & 1 }
            } else {
                while node < treeLeaves {
                    let word = words[node >> 6] & ~forceLeft[node >> 6]
                    node = node &<< 1 | Int(truncatingIfNeeded: word &>> UInt64(node & 63)) & 1
                }
            }
            return node &- treeLeaves
        }
    }

    /// Marks way `way` of `set` most recently used. (Callers pass the set: dividing a slot
    /// by a way count that is not a power of two cost more than the rest of a hit.)
    @inline(__always) private mutating func touch(_ set: Int, _ way: Int) {
        switch replacement {
        case .lru:
            if let links = lruLinks, let ends = lruEnds {
                let head = Int(ends[2 * set])
                guard head != way else { return }
                let base = set * ways
                // Out of its place (it has a previous way: it is not the first)...
                let prev = Int(links[2 * (base + way)]), next = Int(links[2 * (base + way) + 1])
                links[2 * (base + prev) + 1] = Int16(truncatingIfNeeded: next)
                if next >= 0 { links[2 * (base + next)] = Int16(truncatingIfNeeded: prev) } else { ends[2 * set + 1] = Int16(truncatingIfNeeded: prev) }
                // ...and first.
                links[2 * (base + way)] = -1
                links[2 * (base + way) + 1] = Int16(truncatingIfNeeded: head)
                links[2 * (base + head)] = Int16(truncatingIfNeeded: way)
                ends[2 * set] = Int16(truncatingIfNeeded: way)
                return
            }
            clock &+= 1
            stamps[set * ways + way] = clock
        case .random:
            break
        case .plru:
            // Point every node on the path away from the way just used.
            let words = plruBits + set * plruWordsPerSet
            if let nodes = plruPathNodes, let bits = plruPathBits {
                words[0] = words[0] & ~nodes[way] | bits[way]
                return
            }
            // A tree over several words (more than 64 ways): walk up it.
            var node = treeLeaves + way
            while node > 1 {
                let parent = node >> 1
                let bit = UInt64(1) << UInt64(parent & 63)
                words[parent >> 6] = node & 1 == 0 ? words[parent >> 6] | bit : words[parent >> 6] & ~bit
                node >>= 1
            }
        }
    }

    mutating func invalidate(_ tag: UInt64, _ vpn: UInt64) {
        let set = setIndex(vpn)
        let base = set * ways
        for w in 0..<ways where tags[base + w] == tag { tags[base + w] = Self.empty; valid[set] -= 1; invalidCount += 1 }
    }

    /// Drops every entry `matches` accepts (by tag).
    mutating func invalidateAll(where matches: (UInt64) -> Bool) {
        for i in 0..<entries where tags[i] != Self.empty && matches(tags[i]) {
            tags[i] = Self.empty
            valid[i / ways] -= 1
            invalidCount += 1
        }
    }
}

/// A fully associative LRU cache of upper-level page-table entries. A random trace misses
/// it on nearly every walk, and two linear scans per miss (lookup, then the LRU victim)
/// were a fifth of trace replay's time (perf): entries are found through a small chained
/// hash and kept in a doubly linked list, most recently used first, so a lookup, a fill
/// and an eviction each cost a few loads whatever the size.
struct WalkCache {
    /// One entry: its tag, its neighbours in the LRU list and its successor in its hash
    /// chain (-1 ends each), side by side so that touching an entry touches one line.
    private struct Node {
        var tag: UInt64
        var prev: Int32
        var next: Int32
        var chain: Int32
    }
    private let capacity: Int32
    private let nodes: UnsafeMutablePointer<Node>
    private let buckets: UnsafeMutablePointer<Int32>
    private let bucketShift: UInt64
    private var head: Int32 = -1, tail: Int32 = -1
    /// Slots never used yet start at `used`; slots emptied by a flush are on the free stack.
    private var used: Int32 = 0
    private let freeSlots: UnsafeMutablePointer<Int32>
    private var freeCount = 0

    init(entries: Int) {
        capacity = Int32(entries)
        let n = max(entries, 1)
        nodes = .allocate(capacity: n)
        nodes.initialize(repeating: Node(tag: TLBArray.empty, prev: -1, next: -1, chain: -1), count: n)
        freeSlots = .allocate(capacity: n); freeSlots.initialize(repeating: -1, count: n)
        var b = 4
        while b < 2 * n { b <<= 1 }
        buckets = .allocate(capacity: b); buckets.initialize(repeating: -1, count: b)
        bucketShift = UInt64(64 - b.trailingZeroBitCount)
    }

    func deallocate() { nodes.deallocate(); buckets.deallocate(); freeSlots.deallocate() }

    /// A cache of no entries, for levels without one.
    static var none: WalkCache { WalkCache(entries: 0) }
    var exists: Bool { capacity > 0 }

    @inline(__always) private func bucket(_ tag: UInt64) -> Int {
        Int(truncatingIfNeeded: (tag &* 0x9E37_79B9_7F4A_7C15) >> bucketShift)
    }

    @inline(__always)
    private func find(_ tag: UInt64) -> Int32 {
        var i = buckets[bucket(tag)]
        while i >= 0 && nodes[Int(i)].tag != tag { i = nodes[Int(i)].chain }
        return i
    }

    @inline(__always) private mutating func unlink(_ i: Int32) {
        let p = nodes[Int(i)].prev, n = nodes[Int(i)].next
        if p >= 0 { nodes[Int(p)].next = n } else { head = n }
        if n >= 0 { nodes[Int(n)].prev = p } else { tail = p }
    }

    @inline(__always) private mutating func pushFront(_ i: Int32) {
        nodes[Int(i)].prev = -1
        nodes[Int(i)].next = head
        if head >= 0 { nodes[Int(head)].prev = i } else { tail = i }
        head = i
    }

    /// Takes slot `i` out of its hash chain.
    private func unhash(_ i: Int32) {
        let b = bucket(nodes[Int(i)].tag)
        if buckets[b] == i { buckets[b] = nodes[Int(i)].chain; return }
        var j = buckets[b]
        while nodes[Int(j)].chain != i { j = nodes[Int(j)].chain }
        nodes[Int(j)].chain = nodes[Int(i)].chain
    }

    /// True when `tag` is cached; it becomes the most recently used.
    @inline(__always)
    mutating func lookup(_ tag: UInt64) -> Bool {
        let i = find(tag)
        guard i >= 0 else { return false }
        if i != head { unlink(i); pushFront(i) }
        return true
    }

    /// Caches `tag` (known absent), evicting the least recently used entry when full.
    mutating func fill(_ tag: UInt64) {
        guard capacity > 0 else { return }
        let i: Int32
        if freeCount > 0 {
            freeCount -= 1
            i = freeSlots[freeCount]
        } else if used < capacity {
            i = used
            used += 1
        } else {
            i = tail
            unlink(i)
            unhash(i)
        }
        let b = bucket(tag)
        nodes[Int(i)].tag = tag
        nodes[Int(i)].chain = buckets[b]
        buckets[b] = i
        pushFront(i)
    }

    mutating func invalidateAll(where matches: (UInt64) -> Bool) {
        var i = head
        while i >= 0 {
            let n = nodes[Int(i)].next
            if matches(nodes[Int(i)].tag) {
                unlink(i)
                unhash(i)
                nodes[Int(i)].tag = TLBArray.empty
                freeSlots[freeCount] = i
                freeCount += 1
            }
            i = n
        }
    }
}
