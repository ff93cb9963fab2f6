// Varints as the decoder reads them: the unchecked path (taken when ten bytes are left)
// must give exactly what a byte-by-byte reading gives, value, length and errors, for every
// length and for arbitrary bytes; zigzagSums as zigzag does; the chunk checksum as the
// bitwise CRC-32 computes it.

import XCTest
import FaultlineTestSupport
@testable import FaultlineLog

final class ByteCodingTests: XCTestCase {
    /// The rule written out byte by byte: nil where a reader must refuse (longer than ten
    /// bytes, more than 64 bits, or running out).
    func reference(_ bytes: [UInt8], from start: Int) -> (value: UInt64, length: Int)? {
        var result: UInt64 = 0, shift: UInt64 = 0, i = start
        while i < bytes.count {
            let b = bytes[i]
            if shift == 63 && b > 1 { return nil }
            result |= UInt64(b & 0x7F) << shift
            i += 1
            if b & 0x80 == 0 { return (result, i - start) }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    func testEveryLengthRoundTrips() throws {
        var values: [UInt64] = [0, 1, 127, 128, .max, .max - 1, 1 << 63]
        for bits in 1...64 {
            values.append(UInt64.max >> (64 - bits))       // the largest of each bit length
            values.append(UInt64(1) << (bits - 1))          // the smallest
        }
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<2000 { values.append(rng.next() >> (rng.next() % 64)) }
        for value in values {
            var e = ByteEncoder()
            e.varint(value)
            let encoded = e.bytes
            // With ten bytes after it (the fast path) and alone (the checked path).
            for padding in [10, 0] {
                var d = ByteDecoder(encoded + [UInt8](repeating: 0xFF, count: padding))
                XCTAssertEqual(try d.varint(), value, "\(value), padding \(padding)")
                XCTAssertEqual(d.position, encoded.count, "\(value), padding \(padding)")
            }
        }
    }

    func testTenthByteBeyondOneOverflowsOnBothPaths() {
        let nines = [UInt8](repeating: 0xFF, count: 9)
        for padding in [10, 0] {
            let pad = [UInt8](repeating: 0, count: padding)
            var ok = ByteDecoder(nines + [0x01] + pad)
            XCTAssertEqual(try ok.varint(), .max, "padding \(padding)")
            for tenth: UInt8 in [0x02, 0x03, 0x7F] {
                var over = ByteDecoder(nines + [tenth] + pad)
                XCTAssertThrowsError(try over.varint(), "tenth byte \(tenth), padding \(padding)")
            }
            var long = ByteDecoder(nines + [0x81, 0x00] + pad)
            XCTAssertThrowsError(try long.varint(), "eleven bytes, padding \(padding)")
        }
    }

    func testArbitraryBytesReadAsTheByteRuleReadsThem() {
        var rng = SeededGenerator(seed: 11)
        for trial in 0..<20_000 {
            // Mostly continuation bytes, so that every length up to twelve comes up.
            let count = Int(rng.next() % 14) + 1
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) | (rng.next() % 4 == 0 ? 0 : 0x80) }
            bytes += [UInt8](repeating: UInt8(truncatingIfNeeded: rng.next()), count: Int(rng.next() % 12))
            var d = ByteDecoder(bytes)
            let read = try? d.varint()
            let expected = reference(bytes, from: 0)
            XCTAssertEqual(read, expected?.value, "trial \(trial): \(bytes)")
            if let expected { XCTAssertEqual(d.position, expected.length, "trial \(trial): \(bytes)") }
        }
    }

    func testChunkChecksumIsTheStandardCRC32() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926, "the CRC-32 check value")
        XCTAssertEqual(CRC32.checksum([]), 0)
        var rng = SeededGenerator(seed: 9)
        for size in [1, 7, 8, 15, 16, 63, 64, 65, 255, 256, 1000, 4096, 65_537] {
            let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            XCTAssertEqual(CRC32.checksum(bytes), testCRC32(bytes[...]), "\(size) bytes")
        }
    }

    func testZigzagSumsReadWhatZigzagReads() throws {
        var rng = SeededGenerator(seed: 3)
        var e = ByteEncoder()
        var deltas: [Int64] = []
        for _ in 0..<5000 {
            let d = Int64(bitPattern: rng.next()) >> (rng.next() % 64)
            deltas.append(d)
            e.zigzag(d)
        }
        var v: UInt64 = 1 << 40, least = UInt64.max, most: UInt64 = 0
        for d in deltas {
            v &+= UInt64(bitPattern: d)
            least = min(least, v)
            most = max(most, v)
        }
        var sums = ByteDecoder(e.bytes)
        let (l, m) = try sums.zigzagSums(deltas.count, from: 1 << 40)
        XCTAssertEqual(l, least)
        XCTAssertEqual(m, most)
        XCTAssertEqual(sums.position, e.bytes.count)
        var one = ByteDecoder(e.bytes)
        for d in deltas { XCTAssertEqual(try one.zigzag(), d) }
    }
}
