// An open-addressing hash map from a page (or table) number to a small value, on one flat
// buffer: the replay's inner loop does several lookups per event, and a Dictionary of
// structs would cost an allocation and ARC traffic on each. Linear probing with
// backward-shift deletion, so there are no tombstones and lookups stay short.

public final class PageMap {
    /// A key no page number reaches (page numbers are addresses shifted right by ≥ 12).
    @usableFromInline static let empty = UInt64.max

    @usableFromInline var keys: UnsafeMutablePointer<UInt64>
    @usableFromInline var values: UnsafeMutablePointer<UInt8>
    @usableFromInline var mask: Int
    public private(set) var count = 0

    public init(capacity: Int = 64) {
        var cap = 16
        while cap < capacity * 2 { cap <<= 1 }
        keys = .allocate(capacity: cap)
        keys.initialize(repeating: Self.empty, count: cap)
        values = .allocate(capacity: cap)
        values.initialize(repeating: 0, count: cap)
        mask = cap - 1
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    public var capacity: Int { mask + 1 }

    @inline(__always) @usableFromInline
    func home(_ key: UInt64) -> Int {
        // Fibonacci hashing: page numbers are dense runs, which a plain mask would cluster.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask
    }

    /// The value stored for `key`, or 0 when absent (stored values are never 0).
    @inline(__always)
    public func get(_ key: UInt64) -> UInt8 {
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == Self.empty { return 0 }
            i = (i &+ 1) & mask
        }
    }

    @inline(__always)
    public func contains(_ key: UInt64) -> Bool { get(key) != 0 }

    /// Stores `value` (non-zero) for `key`; returns the previous value or 0.
    @discardableResult
    public func set(_ key: UInt64, _ value: UInt8) -> UInt8 {
        precondition(value != 0 && key != Self.empty)
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { let old = values[i]; values[i] = value; return old }
            if k == Self.empty { break }
            i = (i &+ 1) & mask
        }
        keys[i] = key
        values[i] = value
        count += 1
        if count * 2 > capacity { grow() }
        return 0
    }

    /// Removes `key`; returns its value or 0 when absent.
    @discardableResult
    public func remove(_ key: UInt64) -> UInt8 {
        var i = home(key)
        while true {
            let k = keys[i]
            if k == Self.empty { return 0 }
            if k == key { break }
            i = (i &+ 1) & mask
        }
        let old = values[i]
        // Backward-shift: move later members of the probe run into the hole.
        var hole = i
        var j = (i &+ 1) & mask
        while keys[j] != Self.empty {
            let h = home(keys[j])
            // Move j into the hole unless its home lies cyclically in (hole, j].
            let inRange = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j)
            if !inRange {
                keys[hole] = keys[j]; values[hole] = values[j]
                hole = j
            }
            j = (j &+ 1) & mask
        }
        keys[hole] = Self.empty
        values[hole] = 0
        count -= 1
        return old
    }

    public func removeAll() {
        keys.update(repeating: Self.empty, count: capacity)
        values.update(repeating: 0, count: capacity)
        count = 0
    }

    /// Calls `body` for every entry. The map must not change during the walk.
    public func forEach(_ body: (UInt64, UInt8) -> Void) {
        for i in 0..<capacity where keys[i] != Self.empty { body(keys[i], values[i]) }
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

    private func grow() {
        let oldKeys = keys, oldValues = values, oldCap = capacity
        let cap = oldCap * 2
        keys = .allocate(capacity: cap)
        keys.initialize(repeating: Self.empty, count: cap)
        values = .allocate(capacity: cap)
        values.initialize(repeating: 0, count: cap)
        mask = cap - 1
        for i in 0..<oldCap where oldKeys[i] != Self.empty {
            var j = home(oldKeys[i])
            while keys[j] != Self.empty { j = (j &+ 1) & mask }
            keys[j] = oldKeys[i]; values[j] = oldValues[i]
        }
        oldKeys.deallocate()
        oldValues.deallocate()
    }

    /// A copy with the same entries (for fork).
    public func copy() -> PageMap {
        let m = PageMap(capacity: count)
        forEach { k, v in m.set(k, v) }
        return m
    }
}
