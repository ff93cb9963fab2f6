// One TLB array: sets × ways of tags with LRU, tree-PLRU or seeded random replacement.
// Flat buffers and a most-recently-hit shortcut keep a lookup to a few compares: this is
// the innermost loop of access-stream replay. Sets need not be a power of two.
// Hazard: the reference simulator in Tests/FaultlineReplayTests/TLBReferenceTests.swift
// must agree with this file exactly; a change of policy here is a change there too.

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

final class TLBArray {
    let spec: TLBLevelSpec
    let sets: Int
    let ways: Int
    private let setMask: Int          // sets - 1 when sets is a power of two, else -1
    private let treeLeaves: Int       // PLRU: ways rounded up to a power of two
    private let replacement: Replacement
    private let tags: UnsafeMutablePointer<UInt64>
    private let stamps: UnsafeMutablePointer<UInt64>
    private let plruBits: UnsafeMutablePointer<UInt8>
    /// Per slot: the page shift and kind (bit 7) of the access that filled it, and its address.
    private let origins: UnsafeMutablePointer<UInt8>
    private let addresses: UnsafeMutablePointer<UInt64>
    private var clock: UInt64 = 0
    private var rng: UInt64
    private var mru = 0
    /// Bit `s` set: holds pages of 2^s bytes.
    let heldShifts: UInt64
    /// Pages larger than this are held as entries of this size (0: no smashing).
    let smashShift: Int
    var hits: UInt64 = 0
    var misses: UInt64 = 0

    static let empty = UInt64.max

    init(_ spec: TLBLevelSpec, seed: UInt64) {
        self.spec = spec
        ways = spec.ways
        sets = spec.entries / spec.ways
        replacement = spec.replacement
        setMask = sets.nonzeroBitCount == 1 ? sets - 1 : -1
        var leaves = 1
        while leaves < ways { leaves <<= 1 }
        treeLeaves = leaves
        tags = .allocate(capacity: spec.entries)
        tags.initialize(repeating: Self.empty, count: spec.entries)
        stamps = .allocate(capacity: spec.entries)
        stamps.initialize(repeating: 0, count: spec.entries)
        plruBits = .allocate(capacity: sets * leaves)
        plruBits.initialize(repeating: 0, count: sets * leaves)
        origins = .allocate(capacity: spec.entries)
        origins.initialize(repeating: 0, count: spec.entries)
        addresses = .allocate(capacity: spec.entries)
        addresses.initialize(repeating: 0, count: spec.entries)
        rng = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed
        heldShifts = spec.pageSizes.reduce(0) { $0 | (1 << UInt64($1.trailingZeroBitCount)) }
        smashShift = spec.smashTo.map { $0.trailingZeroBitCount } ?? 0
    }

    deinit {
        tags.deallocate(); stamps.deallocate(); plruBits.deallocate()
        origins.deallocate(); addresses.deallocate()
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

    @inline(__always) private func setBase(_ vpn: UInt64) -> Int {
        let set = setMask >= 0 ? Int(truncatingIfNeeded: vpn) & setMask : Int(vpn % UInt64(sets))
        return set * ways
    }

    /// Looks `tag` up in the set `vpn` selects, counting a hit or a miss; a hit updates the
    /// replacement state.
    @inline(__always)
    func lookup(_ tag: UInt64, _ vpn: UInt64) -> Bool {
        if tags[mru] == tag { touch(mru); hits &+= 1; return true }
        let base = setBase(vpn)
        var w = 0
        while w < ways {
            if tags[base + w] == tag { touch(base + w); mru = base + w; hits &+= 1; return true }
            w += 1
        }
        misses &+= 1
        return false
    }

    /// The slot holding `tag`, without counting or touching it.
    private func find(_ tag: UInt64, _ vpn: UInt64) -> Int? {
        let base = setBase(vpn)
        for w in 0..<ways where tags[base + w] == tag { return base + w }
        return nil
    }

    /// Puts `tag` in its set: into the lowest invalid way if there is one, else over the
    /// victim, which is returned.
    @discardableResult
    func fill(_ tag: UInt64, _ vpn: UInt64, pageShift: Int, kind: Int, address: UInt64) -> TLBEntry? {
        let base = setBase(vpn)
        var slot = -1
        for w in 0..<ways where tags[base + w] == Self.empty { slot = base + w; break }
        var evicted: TLBEntry?
        if slot < 0 {
            slot = base + victim(base)
            evicted = entry(slot)
        }
        tags[slot] = tag
        origins[slot] = UInt8(pageShift) | UInt8(kind << 7)
        addresses[slot] = address
        touch(slot)
        mru = slot
        return evicted
    }

    /// Puts an entry moved from another tier: refreshes it if the array holds it already
    /// (no victim), else fills it.
    func insert(_ e: TLBEntry, _ vpn: UInt64) -> TLBEntry? {
        if let slot = find(e.tag, vpn) { touch(slot); return nil }
        return fill(e.tag, vpn, pageShift: e.pageShift, kind: e.kind, address: e.address)
    }

    /// Takes `tag` out; returns it with its origin, or nil when absent.
    func remove(_ tag: UInt64, _ vpn: UInt64) -> TLBEntry? {
        guard let slot = find(tag, vpn) else { return nil }
        let e = entry(slot)
        tags[slot] = Self.empty
        return e
    }

    @inline(__always) private func entry(_ slot: Int) -> TLBEntry {
        let o = origins[slot]
        return TLBEntry(tag: tags[slot], pageShift: Int(o & 0x7F), kind: Int(o >> 7), address: addresses[slot])
    }

    private func victim(_ base: Int) -> Int {
        switch replacement {
        case .lru:
            var best = 0
            for w in 1..<max(ways, 1) where stamps[base + w] < stamps[base + best] { best = w }
            return best
        case .random:
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            return Int(rng % UInt64(ways))
        case .plru:
            // Follow the bits from the root; skip subtrees that hold no real way (non-power-
            // of-two associativity).
            let bits = plruBits + (base / ways) * treeLeaves
            var node = 1
            while node < treeLeaves {
                var child = node * 2 + Int(bits[node])
                if firstLeaf(child) - treeLeaves >= ways { child ^= 1 }
                node = child
            }
            return node - treeLeaves
        }
    }

    @inline(__always) private func firstLeaf(_ node: Int) -> Int {
        var n = node
        while n < treeLeaves { n <<= 1 }
        return n
    }

    @inline(__always) private func touch(_ slot: Int) {
        switch replacement {
        case .lru:
            clock &+= 1
            stamps[slot] = clock
        case .random:
            break
        case .plru:
            // Point every node on the path away from the way just used.
            let set = slot / ways
            let bits = plruBits + set * treeLeaves
            var node = treeLeaves + (slot - set * ways)
            while node > 1 {
                bits[node >> 1] = node & 1 == 0 ? 1 : 0
                node >>= 1
            }
        }
    }

    func invalidate(_ tag: UInt64, _ vpn: UInt64) {
        let base = setBase(vpn)
        for w in 0..<ways where tags[base + w] == tag { tags[base + w] = Self.empty }
    }

    /// Drops every entry `matches` accepts (by tag).
    func invalidateAll(where matches: (UInt64) -> Bool) {
        for i in 0..<spec.entries where tags[i] != Self.empty && matches(tags[i]) { tags[i] = Self.empty }
    }
}

/// A small fully associative LRU cache of upper-level page-table entries.
final class WalkCache {
    private let entries: Int
    private let tags: UnsafeMutablePointer<UInt64>
    private let stamps: UnsafeMutablePointer<UInt64>
    private var clock: UInt64 = 0

    init(entries: Int) {
        self.entries = entries
        tags = .allocate(capacity: max(entries, 1))
        tags.initialize(repeating: TLBArray.empty, count: max(entries, 1))
        stamps = .allocate(capacity: max(entries, 1))
        stamps.initialize(repeating: 0, count: max(entries, 1))
    }

    deinit { tags.deallocate(); stamps.deallocate() }

    @inline(__always)
    func lookup(_ tag: UInt64) -> Bool {
        for i in 0..<entries where tags[i] == tag {
            clock &+= 1; stamps[i] = clock
            return true
        }
        return false
    }

    func fill(_ tag: UInt64) {
        guard entries > 0 else { return }
        var slot = 0
        for i in 0..<entries {
            if tags[i] == TLBArray.empty { slot = i; break }
            if stamps[i] < stamps[slot] { slot = i }
        }
        tags[slot] = tag
        clock &+= 1; stamps[slot] = clock
    }

    func invalidateAll(where matches: (UInt64) -> Bool) {
        for i in 0..<entries where tags[i] != TLBArray.empty && matches(tags[i]) { tags[i] = TLBArray.empty }
    }
}
