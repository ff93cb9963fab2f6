// LEB128 varints, zigzag and length-prefixed bytes: the primitives every record is built
// from. The decoder is bounds-checked everywhere, so hostile input throws instead of trapping.

struct ByteEncoder {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func varint<I: BinaryInteger>(_ value: I) { varint(UInt64(value)) }

    mutating func zigzag(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func blob(_ b: [UInt8]) {
        varint(UInt64(b.count))
        bytes.append(contentsOf: b)
    }

    mutating func string(_ s: String) { blob(Array(s.utf8)) }

    mutating func u32le(_ v: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }
}

/// Why a record could not be decoded; the reader adds the file offset.
struct DecodeFailure: Error {
    let reason: String
    let offset: Int
}

struct ByteDecoder {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        // Never past the bytes: the unchecked varint relies on it.
        self.end = min(end ?? bytes.count, bytes.count)
    }

    var isAtEnd: Bool { position >= end }
    /// Bytes left to read.
    var remaining: Int { Swift.max(end &- position, 0) }

    /// The next byte, not consumed; nil at the end.
    func peek() -> UInt8? { position < end ? bytes[position] : nil }

    func fail(_ reason: String) -> DecodeFailure { DecodeFailure(reason: reason, offset: position) }

    @inline(__always)
    mutating func u8() throws -> UInt8 {
        guard position < end else { throw fail("record runs past the end of its chunk") }
        defer { position += 1 }
        return bytes[position]
    }

    /// A varint. Where ten bytes (the longest varint) are left, it is read without a check
    /// per byte (perf: the checked loop was 7% of a 2M-fault replay); anything it cannot
    /// take, an overlong or overflowing varint included, goes to the checked loop, which
    /// throws as it always did.
    @inline(__always)
    mutating func varint() throws -> UInt64 {
        if end &- position >= 10 {
            let (value, length) = bytes.withUnsafeBufferPointer { Self.unchecked($0.baseAddress! + position) }
            if length > 0 {
                position &+= length
                return value
            }
        }
        return try checkedVarint()
    }

    /// The varint at `p`, of which ten bytes may be read, and its length; length 0 for
    /// one that is longer or overflows 64 bits.
    @inline(__always)
    private static func unchecked(_ p: UnsafePointer<UInt8>) -> (UInt64, Int) {
        let b0 = p[0]
        if b0 < 0x80 { return (UInt64(b0), 1) }
        var result = UInt64(b0 & 0x7F)
        var shift: UInt64 = 7
        for i in 1..<10 {
            let b = p[i]
            if i == 9 && b > 1 { return (0, 0) }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return (result, i + 1) }
            shift += 7
        }
        return (0, 0)
    }

    private mutating func checkedVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8()
            if shift == 63 && b > 1 { throw fail("varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes") }
        }
    }

    mutating func varint32() throws -> UInt32 {
        let v = try varint()
        guard v <= UInt64(UInt32.max) else { throw fail("value \(v) does not fit 32 bits") }
        return UInt32(v)
    }

    mutating func int32() throws -> Int32 {
        let v = try zigzag()
        guard v >= Int64(Int32.min) && v <= Int64(Int32.max) else { throw fail("value \(v) does not fit 32 bits") }
        return Int32(v)
    }

    @inline(__always)
    mutating func zigzag() throws -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    /// Adds `count` zigzag deltas in turn to `value`: the least and the most of the values
    /// reached. One loop over the bytes (a first pass over a chunk's fault times reads
    /// nothing else of them); each varint is read and checked as `zigzag()` reads it.
    mutating func zigzagSums(_ count: Int, from value: UInt64) throws -> (least: UInt64, most: UInt64) {
        var v = value, least = UInt64.max, most: UInt64 = 0
        let bytes = self.bytes
        try bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else {
                if count > 0 { _ = try checkedVarint() }
                return
            }
            for _ in 0..<count {
                var raw: UInt64 = 0, length = 0
                if end &- position >= 10 { (raw, length) = Self.unchecked(base + position) }
                if length > 0 { position &+= length } else { raw = try checkedVarint() }
                v &+= UInt64(bitPattern: Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1))
                least = Swift.min(least, v)
                most = Swift.max(most, v)
            }
        }
        return (least, most)
    }

    /// A length-prefixed byte string; the length is checked against what is left in the
    /// chunk before anything is allocated.
    mutating func blob(limit: Int = 1 << 20) throws -> [UInt8] {
        let n = try varint()
        guard n <= UInt64(end - position) else { throw fail("length \(n) runs past the end of its chunk") }
        guard n <= UInt64(limit) else { throw fail("length \(n) exceeds the limit of \(limit)") }
        defer { position += Int(n) }
        return Array(bytes[position..<position + Int(n)])
    }

    mutating func string() throws -> String {
        let b = try blob()
        return String(decoding: b, as: UTF8.self)
    }

    mutating func u32le() throws -> UInt32 {
        var v: UInt32 = 0
        for shift in stride(from: 0, to: 32, by: 8) { v |= UInt32(try u8()) << UInt32(shift) }
        return v
    }
}
