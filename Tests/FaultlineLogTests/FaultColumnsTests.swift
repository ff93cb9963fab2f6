// FaultColumns holds a loaded log's faults packed by column: every field must come back
// exactly (extreme values included), and time order must be a stable sort by time whatever
// the log's order.

import Foundation
import XCTest
import FaultlineTestSupport
import FaultlineCore
@testable import FaultlineLog

final class FaultColumnsTests: XCTestCase {
    /// awkwardFaults with every page shift and both swap sources too; a count that leaves a
    /// short last block.
    private func faults(_ count: Int, seed: UInt64) -> [FaultEvent] {
        let shifts: [UInt8] = [0, 12, 21, 30, 255]
        return awkwardFaults(count: count, seed: seed).enumerated().map { i, f in
            var f = f
            f.pageShift = shifts[i % shifts.count]
            f.swapFromDisk = i % 7 == 3
            return f
        }
    }

    func testEveryFieldRoundTrips() {
        let all = faults(3 * PackedColumns.blockRows + 77, seed: 11)
        let columns = FaultColumns(all)
        XCTAssertEqual(columns.count, all.count)
        XCTAssertEqual(Array(columns), all, "iteration")
        for i in stride(from: 0, to: all.count, by: 13) {
            XCTAssertEqual(columns[i], all[i], "subscript \(i)")
            XCTAssertEqual(columns.timeNs(at: i), all[i].timeNs, "time \(i)")
        }
        var visited: [FaultEvent] = []
        columns.forEachBlock { first, block in
            XCTAssertEqual(first, visited.count)
            visited += block
        }
        XCTAssertEqual(visited, all, "blocks")
    }

    func testAppendingColumnsKeepsOrder() {
        let all = faults(1000, seed: 12)
        // Split off the middle of a block, as chunks do: the staged rest becomes a short block.
        var columns = FaultColumns(all[..<300])
        columns.append(contentsOf: FaultColumns(all[300..<301]))
        columns.append(contentsOf: FaultColumns(all[301...]))
        columns.append(FaultEvent(pid: 1, tid: 1, timeNs: 1, address: 1, ip: 1, kind: .anon, access: .write,
                                  kernelMode: false, errorCode: nil, serviceNs: nil, signal: 0, signalCode: 0,
                                  stack: .empty))
        XCTAssertEqual(Array(columns.prefix(all.count)), all)
        XCTAssertEqual(columns.count, all.count + 1)
        XCTAssertEqual(columns[all.count].timeNs, 1)
        XCTAssertEqual(columns[all.count - 1], all[all.count - 1])
    }

    func testPidsInOrderOfTheirFirstFault() {
        let all = faults(2000, seed: 13)
        var expected: [Int32] = []
        for f in all where !expected.contains(f.pid) { expected.append(f.pid) }
        XCTAssertEqual(FaultColumns(all).pidsInOrderOfAppearance(), expected)
    }

    /// The order forEachInTimeOrder must give: a stable sort by time.
    private func timeOrder(_ faults: [FaultEvent]) -> [Int] {
        faults.indices.sorted { faults[$0].timeNs != faults[$1].timeNs ? faults[$0].timeNs < faults[$1].timeNs : $0 < $1 }
    }

    private func assertTimeOrder(_ faults: [FaultEvent], _ note: String, file: StaticString = #filePath, line: UInt = #line) {
        var indices: [Int] = []
        var ok = true
        FaultColumns(faults).forEachInTimeOrder { i, f in
            indices.append(i)
            if f != faults[i] { ok = false }
        }
        XCTAssertTrue(ok, "\(note): a fault came with another's index", file: file, line: line)
        XCTAssertEqual(indices, timeOrder(faults), note, file: file, line: line)
    }

    func testTimeOrderIsAStableSortByTime() {
        var rng = SeededGenerator(seed: 14)
        let base = faults(10_000, seed: 15)
        func retimed(_ time: (Int) -> UInt64) -> [FaultEvent] {
            base.enumerated().map { i, f in var f = f; f.timeNs = time(i); return f }
        }
        assertTimeOrder(retimed { UInt64($0) * 10 }, "sorted")
        // Two threads whose completions interleave a little out of entry order, across blocks.
        let jitter = (0..<base.count).map { _ in UInt64.random(in: 0...3000, using: &rng) }
        assertTimeOrder(retimed { 1_000_000 + UInt64($0) * 100 - jitter[$0] }, "nearly sorted")
        // Many equal times: order among them is log order.
        assertTimeOrder(retimed { UInt64($0 / 700) }, "runs of equal times")
        assertTimeOrder(retimed { UInt64(base.count - $0 / 300) }, "blocks in reverse")
        // Far out of order: more faults wait than the sweep keeps, so the rest is sorted whole.
        let random = (0..<base.count).map { _ in UInt64.random(in: 0...50, using: &rng) << 58 }
        assertTimeOrder(retimed { random[$0] }, "random")
        var many = retimed { UInt64.max - UInt64($0) }
        many += faults(FaultColumns.maxWaiting + 5000, seed: 16)
        assertTimeOrder(many, "more waiting than maxWaiting")
        assertTimeOrder(faults(3000, seed: 17), "awkward")
        assertTimeOrder([], "empty")
    }
}
