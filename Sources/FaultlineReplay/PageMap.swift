// An open-addressing hash map from a page (or table) number to a small value, on one flat
// buffer: the replay's inner loop does several lookups per event, and a Dictionary of
// structs would cost an allocation and ARC traffic on each. Each slot packs the key and its
// value into one word (`key << 8 | value`, 0 = empty), so a lookup reads one cache line.
// Linear probing with backward-shift deletion: no tombstones, probe runs stay short.
// Keys must be below 2^56 (page numbers of 57-bit addresses are below 2^45).
//
// A PageMap is a handle to storage it does not reference-count (copies share the table),
// so the inner loop pays no retain/release for it (ARC was over half of trace replay's
// time with a class here); whoever creates one calls `destroy()` once.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct PageMap {
    @usableFromInline struct Header {
        var slots: UnsafeMutablePointer<UInt64>
        var mask: Int
        var count: Int
    }
    @usableFromInline let header: UnsafeMutablePointer<Header>

    @usableFromInline var slots: UnsafeMutablePointer<UInt64> {
        @inline(__always) get { header.pointee.slots }
        nonmutating set { header.pointee.slots = newValue }
    }
    @usableFromInline var mask: Int {
        @inline(__always) get { header.pointee.mask }
        nonmutating set { header.pointee.mask = newValue }
    }
    public private(set) var count: Int {
        @inline(__always) get { header.pointee.count }
        nonmutating set { header.pointee.count = newValue }
    }

    public init(capacity: Int = 64) {
        var cap = 16
        while cap < capacity * 2 { cap <<= 1 }
        header = .allocate(capacity: 1)
        header.initialize(to: Header(slots: Self.zeroed(cap), mask: cap - 1, count: 0))
    }

    /// Frees the table; no copy of this handle may be used afterwards.
    public func destroy() {
        free(header.pointee.slots)
        header.deallocate()
    }

    /// Zeroed memory from calloc: the kernel supplies large blocks already zero, so a big,
    /// sparsely used table costs only the pages it touches.
    private static func zeroed(_ n: Int) -> UnsafeMutablePointer<UInt64> {
        guard let raw = calloc(n, MemoryLayout<UInt64>.stride) else { fatalError("out of memory for a page map of \(n) slots") }
        return raw.bindMemory(to: UInt64.self, capacity: n)
    }

    public var capacity: Int { mask + 1 }

    @inline(__always) @usableFromInline
    func home(_ key: UInt64) -> Int {
        // Runs of 16 consecutive pages share one hashed home and sit side by side, so a
        // sequential sweep stays within a few cache lines; the runs themselves are spread by
        // Fibonacci hashing, so strided keys (one page per 2 MiB) do not cluster.
        let group = ((key >> 4) &* 0x9E37_79B9_7F4A_7C15) >> 20
        return Int(truncatingIfNeeded: (group << 4) | (key & 15)) & mask
    }

    /// The value stored for `key`, or 0 when absent (stored values are never 0).
    @inline(__always)
    public func get(_ key: UInt64) -> UInt8 {
        var i = home(key)
        while true {
            let s = slots[i]
            if s == 0 { return 0 }
            if s >> 8 == key { return UInt8(truncatingIfNeeded: s) }
            i = (i &+ 1) & mask
        }
    }

    @inline(__always)
    public func contains(_ key: UInt64) -> Bool { get(key) != 0 }

    /// Stores `value` (non-zero) for `key`; returns the previous value or 0.
    @discardableResult
    public func set(_ key: UInt64, _ value: UInt8) -> UInt8 {
        precondition(value != 0 && key < 1 << 56)
        let packed = key << 8 | UInt64(value)
        var i = home(key)
        while true {
            let s = slots[i]
            if s == 0 { break }
            if s >> 8 == key { slots[i] = packed; return UInt8(truncatingIfNeeded: s) }
            i = (i &+ 1) & mask
        }
        slots[i] = packed
        count += 1
        if count * 2 > capacity { grow() }
        return 0
    }

    /// Removes `key`; returns its value or 0 when absent.
    @discardableResult
    public func remove(_ key: UInt64) -> UInt8 {
        var i = home(key)
        while true {
            let s = slots[i]
            if s == 0 { return 0 }
            if s >> 8 == key { break }
            i = (i &+ 1) & mask
        }
        let old = UInt8(truncatingIfNeeded: slots[i])
        // Backward-shift: move later members of the probe run into the hole.
        var hole = i
        var j = (i &+ 1) & mask
        while slots[j] != 0 {
            let h = home(slots[j] >> 8)
            // Move j into the hole unless its home lies cyclically in (hole, j].
            let inRange = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j)
            if !inRange {
                slots[hole] = slots[j]
                hole = j
            }
            j = (j &+ 1) & mask
        }
        slots[hole] = 0
        count -= 1
        return old
    }

    public func removeAll() {
        slots.update(repeating: 0, count: capacity)
        count = 0
    }

    /// Calls `body` for every entry. The map must not change during the walk.
    public func forEach(_ body: (UInt64, UInt8) -> Void) {
        for i in 0..<capacity where slots[i] != 0 { body(slots[i] >> 8, UInt8(truncatingIfNeeded: slots[i])) }
    }

    /// The keys in [low, high) with their values: probes each key when the range is
    /// small, else walks the table.
    public func entries(in low: UInt64, _ high: UInt64) -> [(UInt64, UInt8)] {
        var found: [(UInt64, UInt8)] = []
        guard high > low, count > 0 else { return found }
        if high - low <= UInt64(capacity) {
            var k = low
            while k < high { let v = get(k); if v != 0 { found.append((k, v)) }; k += 1 }
        } else {
            forEach { k, v in if k >= low && k < high { found.append((k, v)) } }
        }
        return found
    }

    /// Removes every key in [low, high), calling `body` with each removed entry first.
    /// Probes key by key when the range is small; otherwise rebuilds the table once, so
    /// unmapping gigabytes costs one pass, not a backward shift per page.
    public func removeAll(in low: UInt64, _ high: UInt64, _ body: (UInt64, UInt8) -> Void) {
        guard high > low, count > 0 else { return }
        if high - low <= UInt64(capacity / 16) {
            var k = low
            while k < high {
                let v = remove(k)
                if v != 0 { body(k, v) }
                k += 1
            }
            return
        }
        var kept: [UInt64] = []
        var removed = 0
        for i in 0..<capacity where slots[i] != 0 {
            let k = slots[i] >> 8
            if k >= low && k < high { body(k, UInt8(truncatingIfNeeded: slots[i])); removed += 1 } else { kept.append(slots[i]) }
        }
        guard removed > 0 else { return }
        removeAll()
        for s in kept { set(s >> 8, UInt8(truncatingIfNeeded: s)) }
    }

    private func grow() {
        let old = slots, oldCap = capacity
        let cap = oldCap * 2
        slots = Self.zeroed(cap)
        mask = cap - 1
        for i in 0..<oldCap where old[i] != 0 {
            var j = home(old[i] >> 8)
            while slots[j] != 0 { j = (j &+ 1) & mask }
            slots[j] = old[i]
        }
        free(old)
    }

    /// A copy with the same layout, each value replaced by `transform`'s (0 drops the
    /// entry). One memcpy and one pass: fork copies millions of pages this way.
    public func copy(transform: (UInt64, UInt8) -> UInt8) -> PageMap {
        let m = PageMap(capacity: 1)
        free(m.slots)
        m.slots = Self.zeroed(capacity)
        m.slots.update(from: slots, count: capacity)
        m.mask = mask
        m.count = count
        var dropped: [UInt64] = []
        for i in 0..<capacity where m.slots[i] != 0 {
            let key = m.slots[i] >> 8
            let v = transform(key, UInt8(truncatingIfNeeded: m.slots[i]))
            if v == 0 { dropped.append(key) } else { m.slots[i] = key << 8 | UInt64(v) }
        }
        for k in dropped { m.remove(k) }
        return m
    }

    /// Replaces every value in place (no entry moves).
    public func updateAll(_ transform: (UInt64, UInt8) -> UInt8) {
        for i in 0..<capacity where slots[i] != 0 {
            let key = slots[i] >> 8
            let v = transform(key, UInt8(truncatingIfNeeded: slots[i]))
            precondition(v != 0)
            slots[i] = key << 8 | UInt64(v)
        }
    }
}
