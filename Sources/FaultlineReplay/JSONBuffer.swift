// The bytes of a JSON text being built, in memory of its own: an append is a store and a
// count. (Each of an array's appends asked whether the array was shared, and checked its
// room, byte by byte: the JSON of 100,000 mappings makes some 20 million appends, and with
// an array they were a third of its instructions: callgrind, mapping_churn 100000 2000.)
// A JSONBuffer is used in place (inout), never copied: copies would share the memory.

import FaultlineCore

struct JSONBuffer {
    /// Frees the memory when the buffer goes.
    private final class Allocation {
        var base: UnsafeMutablePointer<UInt8>
        init(capacity: Int) { base = .allocate(capacity: capacity) }
        deinit { base.deallocate() }
    }
    private let allocation: Allocation
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        allocation = Allocation(capacity: self.capacity)
        base = allocation.base
    }

    /// What has been written, as an array's slice.
    var written: ArraySlice<UInt8> { Array(UnsafeBufferPointer(start: base, count: count))[...] }

    mutating func removeAll() { count = 0 }

    /// Room for `n` more bytes.
    @inline(__always) mutating func reserve(_ n: Int) {
        if n > capacity &- count { grow(toHold: count + n) }
    }

    @inline(never) private mutating func grow(toHold needed: Int) {
        let bigger = Swift.max(needed, capacity * 2)
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: bigger)
        moved.initialize(from: base, count: count)
        allocation.base.deallocate()
        allocation.base = moved
        base = moved
        capacity = bigger
    }

    @inline(__always) mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count &+= 1
    }

    @inline(__always) mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let from = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).initialize(from: from, count: bytes.count)
        count &+= bytes.count
    }

    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append($0) }
    }

    /// `value` in base 10 or 16 (lowercase), without a sign or prefix: written back to
    /// front at the end of 20 bytes of room, then moved to its place.
    @inline(__always) mutating func appendDigits(_ value: UInt64, hex: Bool = false) {
        reserve(20)
        let end = base + count + 20
        var at = end
        var v = value
        if hex {
            repeat {
                at -= 1
                let digit = UInt8(truncatingIfNeeded: v & 0xF)
                at.pointee = digit < 10 ? UInt8(ascii: "0") &+ digit : UInt8(ascii: "a") &+ (digit &- 10)
                v >>= 4
            } while v > 0
        } else {
            repeat {
                at -= 1
                at.pointee = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                v /= 10
            } while v > 0
        }
        let n = end - at
        (base + count).update(from: at, count: n)   // may overlap: update is memmove
        count &+= n
    }

    /// `text` as a JSON string, quotes included (JSONBytes's rules).
    mutating func appendQuoted(_ text: String) {
        var plain = text
        let done = plain.withUTF8 { utf8 -> Bool in
            guard !utf8.contains(where: JSONBytes.needsEscaping) else { return false }
            reserve(utf8.count + 2)
            append(UInt8(ascii: "\""))
            append(utf8)
            append(UInt8(ascii: "\""))
            return true
        }
        guard !done else { return }
        var quoted: [UInt8] = []
        JSONBytes.appendQuoted(text, to: &quoted)
        quoted.withUnsafeBufferPointer { append($0) }
    }
}
