// Chunks are deflated by libdeflate but stay zlib streams: older faultline builds and any
// zlib reader must read a new log, and a chunk that does not inflate to exactly what its
// header states must be refused (it becomes the log's damage, not a short payload).

import XCTest
import CZlib
import FaultlineTestSupport
import FaultlineCore
@testable import FaultlineLog

final class DeflateTests: XCTestCase {
    /// A payload shaped like a chunk's: repeating records with a little noise.
    private func payload(_ n: Int) -> [UInt8] {
        var rng = SeededGenerator(seed: 77)
        return (0..<n).map { i in UInt8(truncatingIfNeeded: i % 97 == 0 ? Int.random(in: 0..<256, using: &rng) : i & 15) }
    }

    func testWrittenChunksAreZlibStreamsThatZlibReads() throws {
        let input = payload(300_000)
        let stored = try XCTUnwrap(Deflate.compress(input))
        XCTAssertLessThan(stored.count, input.count / 4, "a repetitive payload must deflate")
        // zlib's own reader, as an older build used: a raw deflate stream or a gzip one fails here.
        var inflated = [UInt8](repeating: 0, count: input.count)
        var size = uLong(input.count)
        let status = inflated.withUnsafeMutableBufferPointer { out in
            stored.withUnsafeBufferPointer { uncompress(out.baseAddress, &size, $0.baseAddress, uLong($0.count)) }
        }
        XCTAssertEqual(status, Z_OK)
        XCTAssertEqual(Int(size), input.count)
        XCTAssertEqual(inflated, input)
        // And a chunk zlib deflated (every log written before) reads back the same.
        var bound = compressBound(uLong(input.count))
        var zlibStored = [UInt8](repeating: 0, count: Int(bound))
        XCTAssertEqual(zlibStored.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { compress2(out.baseAddress, &bound, $0.baseAddress, uLong($0.count), 1) }
        }, Z_OK)
        zlibStored.removeSubrange(Int(bound)...)
        XCTAssertEqual(Deflate.decompress(zlibStored, expectedSize: input.count), input)
    }

    func testAChunkThatDoesNotInflateToItsStatedSizeIsRefused() throws {
        let input = payload(10_000)
        let stored = try XCTUnwrap(Deflate.compress(input))
        XCTAssertEqual(Deflate.decompress(stored, expectedSize: input.count), input)
        XCTAssertNil(Deflate.decompress(stored, expectedSize: input.count - 1), "more bytes than stated")
        XCTAssertNil(Deflate.decompress(stored, expectedSize: input.count + 1), "fewer bytes than stated")
        // The last four bytes are zlib's Adler-32 of the payload: a wrong one is refused even
        // though the deflate data itself is whole.
        var badSum = stored
        badSum[badSum.count - 1] ^= 0x01
        XCTAssertNil(Deflate.decompress(badSum, expectedSize: input.count))
        XCTAssertNil(Deflate.decompress(Array(stored.dropLast(5)), expectedSize: input.count), "cut short")
        XCTAssertNil(Deflate.decompress([], expectedSize: 1), "nothing at all")
    }
}
