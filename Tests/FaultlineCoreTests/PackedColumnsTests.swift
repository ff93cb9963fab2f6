// PackedColumns keeps every value it is given: blocks of every width from 0 (a constant
// column) to 64 bits, short blocks, and values at both ends of UInt64, read back by block,
// by column and one at a time.

import XCTest
import FaultlineTestSupport
@testable import FaultlineCore

final class PackedColumnsTests: XCTestCase {
    /// Rows of `columns` values, a column at a time: column c of row r at [c][r].
    private func roundTrip(_ table: [[UInt64]], file: StaticString = #filePath, line: UInt = #line) {
        let columns = table.count, rows = table[0].count
        var packed = PackedColumns(columns: columns)
        var start = 0
        var blockStarts: [Int] = []
        while start < rows {
            let n = min(PackedColumns.blockRows, rows - start)
            // Column-major with a stride larger than the block, as the decoders hand them over.
            let stride = n + 3
            var flat = [UInt64](repeating: 0xDEAD, count: columns * stride)
            for c in 0..<columns { for r in 0..<n { flat[c * stride + r] = table[c][start + r] } }
            flat.withUnsafeBufferPointer { packed.appendBlock($0.baseAddress!, stride: stride, rows: n) }
            blockStarts.append(start)
            start += n
        }
        XCTAssertEqual(packed.count, rows, file: file, line: line)
        XCTAssertEqual(packed.blockCount, blockStarts.count, file: file, line: line)
        let out = UnsafeMutablePointer<UInt64>.allocate(capacity: PackedColumns.blockRows)
        defer { out.deallocate() }
        for (b, first) in blockStarts.enumerated() {
            let n = packed.rows(ofBlock: b).count
            for c in 0..<columns {
                packed.decode(block: b, column: c, into: out)
                let got = Array(UnsafeBufferPointer(start: out, count: n))
                XCTAssertEqual(got, Array(table[c][first..<(first + n)]), "block \(b) column \(c)", file: file, line: line)
            }
        }
        for r in Swift.stride(from: 0, to: rows, by: 37) {
            for c in 0..<columns {
                XCTAssertEqual(packed.value(row: r, column: c), table[c][r], "row \(r) column \(c)", file: file, line: line)
            }
        }
    }

    /// Every width: column w holds values spread over exactly w bits above a base.
    func testEveryWidthFromZeroToSixtyFourBits() {
        var rng = SeededGenerator(seed: 64)
        for rows in [1, 2, 255, 256, 257, 3 * 256 + 77] {
            var table: [[UInt64]] = []
            for width in 0...64 {
                let base: UInt64 = width == 64 ? 0 : UInt64.random(in: 0...(UInt64.max >> UInt64(width)), using: &rng)
                let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
                var column = (0..<rows).map { _ in base &+ (UInt64.random(in: 0...UInt64.max, using: &rng) & mask) }
                // Both ends of the width, so it is exactly `width` bits.
                if rows > 1 && width > 0 { column[0] = base; column[rows - 1] = base &+ mask }
                table.append(column)
            }
            roundTrip(table)
        }
    }

    func testTheEndsOfUInt64AndConstantColumns() {
        let rows = 300
        roundTrip([
            (0..<rows).map { $0 % 2 == 0 ? 0 : UInt64.max },
            [UInt64](repeating: UInt64.max, count: rows),
            [UInt64](repeating: 0, count: rows),
            (0..<rows).map { UInt64.max - UInt64($0) },
            (0..<rows).map { UInt64($0) << 40 },
        ])
    }
}
