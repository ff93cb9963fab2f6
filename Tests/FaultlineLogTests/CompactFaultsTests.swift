// CompactFaults: every field comes back exactly, and the time-order sweep gives a stable
// sort by time while handing on whole only the blocks that need no reordering (a block
// taken whole in the wrong place, or with faults still waiting, breaks the order here).

import XCTest
import FaultlineTestSupport
import FaultlineCore
@testable import FaultlineLog

final class CompactFaultsTests: XCTestCase {
    func testEveryFieldRoundTrips() {
        var rng = SeededGenerator(seed: 41)
        let extremes: [UInt64] = [0, 1, 0xfff, 0x1000, UInt64.max, UInt64.max - 1, 1 << 63]
        var rows: [CompactFaults.Row] = []
        for i in 0..<(2 * CompactFaults.rows + 77) {
            rows.append(CompactFaults.Row(
                address: i % 3 == 0 ? extremes[i % extremes.count] : UInt64.random(in: 0...UInt64.max, using: &rng),
                time: i % 3 == 1 ? extremes[i % extremes.count] : UInt64(i) * 1000,
                pid: [0, 1, Int32.max, -1, Int32.min][i % 5],
                flags: CompactFaults.flags(access: Access.allCases[i % Access.allCases.count],
                                           kind: FaultKind.allCases[i % FaultKind.allCases.count],
                                           kernelMode: i % 7 == 0, pageShift: [0, 12, 21, 30, 255][i % 5])))
        }
        var c = CompactFaults()
        for r in rows { c.append(r) }
        XCTAssertEqual(c.count, rows.count)
        XCTAssertTrue(c.knowsPageSizes)
        for i in rows.indices { XCTAssertEqual(c.row(at: i), rows[i], "row \(i)") }
        let r = rows[5]
        XCTAssertEqual(r.access, Access.allCases[5 % Access.allCases.count])
        XCTAssertEqual(r.kind, FaultKind.allCases[5 % FaultKind.allCases.count])
        XCTAssertEqual(r.pageShift, 0)
        XCTAssertEqual(rows[7].kernelMode, true)
    }

    /// Blocks of every shape: in order and of one pid, in order with two pids, out of order,
    /// in order but overtaken by a later block, and equal times.
    static func shapes(seed: UInt64) -> [CompactFaults.Row] {
        var rng = SeededGenerator(seed: seed)
        var rows: [CompactFaults.Row] = []
        var time: UInt64 = 10_000
        func add(_ t: UInt64, _ pid: Int32) {
            rows.append(CompactFaults.Row(address: UInt64(rows.count) << 12, time: t, pid: pid, flags: 2))
        }
        for segment in 0..<48 {
            let n = CompactFaults.rows
            switch segment % 6 {
            case 0, 4:
                for _ in 0..<n { time += 10; add(time, 7) }
            case 1:
                for i in 0..<n { time += 10; add(time, i % 2 == 0 ? 7 : 8) }
            case 2:
                for _ in 0..<n { time += 10; add(time - UInt64.random(in: 0...60, using: &rng), 7) }
            case 3:
                // In order, but the next block starts earlier than this one ends.
                for _ in 0..<n { time += 10; add(time, 8) }
                time -= 300
            default:
                for i in 0..<n { if i % 4 == 0 { time += 10 }; add(time, 9) }
            }
        }
        return rows
    }

    func testTimeOrderIsAStableSortAndKeepsOrderedBlocksWhole() {
        let rows = Self.shapes(seed: 42)
        var c = CompactFaults()
        for r in rows { c.append(r) }
        let expected = rows.indices.sorted { rows[$0].time != rows[$1].time ? rows[$0].time < rows[$1].time : $0 < $1 }
        var got: [Int] = []
        var whole = 0
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: CompactFaults.scratchCount)
        defer { scratch.deallocate() }
        c.forEachInTimeOrder(unit: { u in
            whole += 1
            let n = c.decode(unit: u, into: scratch), first = c.firstIndex(ofUnit: u)
            for r in 0..<n {
                XCTAssertEqual(CompactFaults.row(scratch, r), rows[first + r])
                got.append(first + r)
            }
        }, row: { i, row in
            XCTAssertEqual(row, rows[i])
            got.append(i)
        })
        XCTAssertEqual(got, expected)
        XCTAssertGreaterThan(whole, 10, "ordered blocks go whole")
        XCTAssertLessThan(whole, c.unitCount, "disordered ones do not")
    }

    func testTimeOrderFarOutOfOrderFallsBackToASort() {
        var rng = SeededGenerator(seed: 43)
        var rows: [CompactFaults.Row] = []
        for i in 0..<(TimeOrderMerge<CompactFaults.Row>.maxWaiting + 9000) {
            rows.append(CompactFaults.Row(address: UInt64(i), time: i < 300 ? 5 : UInt64.random(in: 0...1_000_000, using: &rng), pid: 1, flags: 0))
        }
        var c = CompactFaults()
        for r in rows { c.append(r) }
        let expected = rows.indices.sorted { rows[$0].time != rows[$1].time ? rows[$0].time < rows[$1].time : $0 < $1 }
        var got: [Int] = []
        c.forEachInTimeOrder(unit: { u in got += c.firstIndex(ofUnit: u)..<(c.firstIndex(ofUnit: u) + c.rowCount(ofUnit: u)) },
                             row: { i, _ in got.append(i) })
        XCTAssertEqual(got, expected)
    }

    /// A wall of faults late in time, just fewer than `maxWaiting`, then one-fault units
    /// in pairs out of order (1, 0, 3, 2, ...): each first of a pair must wait, in front of
    /// the wall, so each moved the whole wall. The sweep gives up and sorts the rest whole
    /// once the moves pass `maxCarriedPerFault` a fault, and the order is still right.
    func testOneFaultUnitsBehindAWallOfLateFaultsAreSortedWhole() {
        typealias Merge = TimeOrderMerge<Int>
        let wall = Merge.maxWaiting - 10, singles = 20_000
        let times = (0..<wall).map { _ in UInt64(1_000_000) } + (0..<singles).map { UInt64($0 ^ 1) }
        // Units: the wall as one, then one fault each.
        let units = 1 + singles
        func faults(_ u: Int) -> Range<Int> { u == 0 ? 0..<wall : (wall + u - 1)..<(wall + u) }
        let (order, sortedFrom) = Self.sweep(units: units, times: times, faults: faults)
        let from = try? XCTUnwrap(sortedFrom, "the sweep merged every unit, moving the wall each time")
        XCTAssertLessThan(from ?? units, units / 2)
        XCTAssertEqual(order, times.indices.sorted { times[$0] != times[$1] ? times[$0] < times[$1] : $0 < $1 })
    }

    /// Many threads on few CPUs: a thread preempted inside a fault writes it far behind
    /// its time, and every fault after that time waits for it. A few such stragglers, each
    /// with more faults waiting for it than the old limit of 16,384, are merged in order,
    /// not sorted with the rest of the log (a 128-thread recording sorted 1.25M faults
    /// whole for 54 late ones). Units of 256, as a log's.
    func testAFewFaultsFarLateAreMergedWithoutSortingTheRest() {
        let count = 1600 * 256
        var times = (0..<count).map { UInt64($0) * 10 }
        // Faults 60,000, 150,000, ... were written 40,000 faults after their time.
        for late in stride(from: 100_000, to: count, by: 90_000) {
            let fault = times.remove(at: late - 40_000)
            times.insert(fault, at: late)
        }
        let units = count / 256
        let (order, sortedFrom) = Self.sweep(units: units, times: times, faults: { $0 * 256..<($0 + 1) * 256 })
        XCTAssertNil(sortedFrom, "the sweep sorted the rest whole from unit \(sortedFrom ?? 0) for a few late faults")
        let expected = times.indices.sorted { times[$0] != times[$1] ? times[$0] < times[$1] : $0 < $1 }
        XCTAssertEqual(order.count, expected.count)
        XCTAssertNil(order.indices.first { order[$0] != expected[$0] }, "the first handed on out of order")
    }

    /// TimeOrderMerge.sweep over faults with `times`, in `units` (none handed whole): the
    /// indices handed on, and the unit the sweep sorted the rest whole from, if it did.
    private static func sweep(units: Int, times: [UInt64], faults: (Int) -> Range<Int>) -> (order: [Int], sortedFrom: Int?) {
        var order: [Int] = [], sortedFrom: Int?
        TimeOrderMerge<Int>.sweep(units: units, minimumTime: { u in faults(u).map { times[$0] }.min()! },
                                  handWhole: { _, _ in false },
                                  add: { u, merge in for i in faults(u) { merge.add(time: times[i], index: i, i) } },
                                  sortRest: { waiting, from in
                                      sortedFrom = from
                                      var rest = waiting.map { ($0.time, $0.index) }
                                      for u in from..<units { rest += faults(u).map { (times[$0], $0) } }
                                      order += rest.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.1)
                                  }, { index, _ in order.append(index) })
        return (order, sortedFrom)
    }

    /// `rows` cut into parts at `cuts` (indices), swept part by part with each part's
    /// earliest time given ahead: the indices handed on, in order, and whether it ended.
    private func orderInParts(_ rows: [CompactFaults.Row], cuts: [Int], failing: Int? = nil) -> (order: [Int], complete: Bool, wholeUnits: Int) {
        let bounds = [0] + cuts + [rows.count]
        let parts: [CompactFaults] = zip(bounds, bounds.dropFirst()).map { from, to in
            var c = CompactFaults()
            for r in rows[from..<to] { c.append(r) }
            c.seal()
            return c
        }
        let earliest = zip(bounds, bounds.dropFirst()).map { from, to in rows[from..<to].map(\.time).min() ?? .max }
        var got: [Int] = [], asked: [Int] = [], wholeUnits = 0
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: CompactFaults.scratchCount)
        defer { scratch.deallocate() }
        let complete = CompactFaults.forEachInTimeOrder(parts: parts.count, earliest: earliest, counts: parts.map(\.count), part: { k in
            asked.append(k)
            return k == failing ? nil : parts[k]
        }, unit: { part, u in
            let k = asked.last!   // a whole unit is the current part's
            wholeUnits += 1
            XCTAssertEqual(part.count, parts[k].count)
            let n = part.decode(unit: u, into: scratch), first = bounds[k] + part.firstIndex(ofUnit: u)
            for r in 0..<n {
                XCTAssertEqual(CompactFaults.row(scratch, r), rows[first + r])
                got.append(first + r)
            }
        }, row: { i, row in
            XCTAssertEqual(row, rows[i], "fault \(i)")
            got.append(i)
        })
        XCTAssertEqual(asked.count, Set(asked).count, "each part asked for once")
        if complete { XCTAssertEqual(asked.sorted(), Array(parts.indices)) }
        return (got, complete, wholeUnits)
    }

    /// Replay decodes a log's chunks while the model already reads the first ones
    /// (LogScan.swift): the faults swept a part at a time, each part's earliest time known
    /// ahead, come in the order of the whole (a stable sort by time), wherever the parts
    /// are cut: through disordered blocks, between a block and the later one that
    /// overtakes it, into parts shorter than a block.
    func testTimeOrderInPartsIsTheWholeOrder() {
        let rows = Self.shapes(seed: 44)
        let expected = rows.indices.sorted { rows[$0].time != rows[$1].time ? rows[$0].time < rows[$1].time : $0 < $1 }
        let n = CompactFaults.rows
        for cuts in [[n / 2], [3 * n + 1, 4 * n, 4 * n + 3], Array(stride(from: 100, to: rows.count, by: 777)),
                     Array(stride(from: n, to: rows.count, by: n))] {
            let (got, complete, _) = orderInParts(rows, cuts: cuts)
            XCTAssertTrue(complete)
            XCTAssertEqual(got, expected, "cut at \(cuts.prefix(5))...")
        }
    }

    /// A part whose faults all come before the previous part's (a chunk written late): the
    /// earliest times given ahead hold the earlier part back until it can go.
    func testTimeOrderInPartsWaitsForALaterPartsEarlierFaults() {
        let first = (0..<300).map { CompactFaults.Row(address: UInt64($0), time: 1_000 + UInt64($0), pid: 1, flags: 0) }
        let second = (0..<300).map { CompactFaults.Row(address: UInt64(1_000 + $0), time: 500 + UInt64($0) * 2, pid: 2, flags: 0) }
        let rows = first + second
        let expected = rows.indices.sorted { rows[$0].time != rows[$1].time ? rows[$0].time < rows[$1].time : $0 < $1 }
        XCTAssertEqual(orderInParts(rows, cuts: [300]).order, expected)
    }

    /// Faults written parts behind their time (a thread preempted inside a fault; many
    /// threads on few CPUs): each later fault of the parts between waited for the late
    /// one's part, unpacked and merged, where the parts around them are in order. The late
    /// one's part is taken early: the order is the whole's, and nearly every block still
    /// goes on whole.
    func testAPartHoldingAFaultWrittenPartsLateIsTakenEarly() {
        let partRows = 4 * CompactFaults.rows, parts = 120
        var times = (0..<(parts * partRows)).map { UInt64($0) * 10 }
        // Five faults, each written 20 parts after its time.
        for late in stride(from: 10, to: 110, by: 20) {
            let fault = times.remove(at: late * partRows + 100)
            times.insert(fault, at: (late + 20) * partRows + 100)
        }
        let rows = times.enumerated().map { CompactFaults.Row(address: UInt64($0.offset), time: $0.element, pid: 1, flags: 0) }
        let expected = rows.indices.sorted { rows[$0].time != rows[$1].time ? rows[$0].time < rows[$1].time : $0 < $1 }
        let (got, complete, whole) = orderInParts(rows, cuts: Array(stride(from: partRows, to: rows.count, by: partRows)))
        XCTAssertTrue(complete)
        XCTAssertEqual(got.count, expected.count)
        XCTAssertNil(got.indices.first { got[$0] != expected[$0] }, "the first handed on out of order")
        XCTAssertGreaterThan(whole, parts * 4 * 8 / 10, "blocks handed on whole, of \(parts * 4)")
    }

    /// Far out of order across parts: the sort of what is left takes in every later part.
    /// A part that cannot be had ends the sweep, and says so.
    func testTimeOrderInPartsFarOutOfOrderSortsTheRestAndStopsAtAMissingPart() {
        var rng = SeededGenerator(seed: 45)
        let count = TimeOrderMerge<CompactFaults.Row>.maxWaiting + 9000
        let rows = (0..<count).map { i in
            CompactFaults.Row(address: UInt64(i), time: i < 300 ? 5 : UInt64.random(in: 0...1_000_000, using: &rng), pid: 1, flags: 0)
        }
        let expected = rows.indices.sorted { rows[$0].time != rows[$1].time ? rows[$0].time < rows[$1].time : $0 < $1 }
        // The waiting overflows in the first part, and (cut at a block's end) at the last
        // block of a part that is not the last.
        for cuts in [[5_000, 20_000, 21_000], [TimeOrderMerge<CompactFaults.Row>.maxWaiting + 2 * CompactFaults.rows]] {
            let (got, complete, _) = orderInParts(rows, cuts: cuts)
            XCTAssertTrue(complete)
            XCTAssertEqual(got, expected, "cut at \(cuts)")
        }
        XCTAssertFalse(orderInParts(rows, cuts: [5_000, 20_000, 21_000], failing: 2).complete)
        let mild = Self.shapes(seed: 46)
        XCTAssertFalse(orderInParts(mild, cuts: [1000, 2000], failing: 1).complete)
    }

    /// A block moved whole keeps its packed values, with its pid replaced.
    func testAppendUnitReplacesThePid() {
        var c = CompactFaults()
        for i in 0..<(CompactFaults.rows + 10) {
            c.append(CompactFaults.Row(address: UInt64(i) << 12 | 5, time: UInt64(i), pid: i < CompactFaults.rows ? 4242 : i % 2 == 0 ? 1 : 2, flags: 6))
        }
        c.seal()
        XCTAssertEqual(c.constantPid(ofUnit: 0), 4242)
        XCTAssertNil(c.constantPid(ofUnit: 1))
        var d = CompactFaults()
        d.append(CompactFaults.Row(address: 1, time: 0, pid: 0, flags: 0))   // a staged fault first: sealed short
        XCTAssertTrue(d.appendUnit(0, of: c, pid: 3))
        XCTAssertFalse(d.appendUnit(1, of: c, pid: 3))
        XCTAssertEqual(d.count, 1 + CompactFaults.rows)
        for i in 0..<CompactFaults.rows {
            XCTAssertEqual(d.row(at: 1 + i), CompactFaults.Row(address: UInt64(i) << 12 | 5, time: UInt64(i), pid: 3, flags: 6))
        }
    }
}
