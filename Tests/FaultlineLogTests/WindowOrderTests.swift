// Replay's reading puts a window of one process's faults in time order as it decodes it
// (CompactFaults.sortWindowByTime), so that the time-order sweep can move its blocks whole.
// It must be a stable sort, leave a window of several processes and a window far out of
// order as the log has them, and change nothing replay reads in time order.

import XCTest
import FaultlineTestSupport
import FaultlineCore
@testable import FaultlineLog

final class WindowOrderTests: XCTestCase {
    /// Columns in CompactFaults' field order (page, inPage, time, pid, flags), stride `rows`:
    /// each row's inPage is its index, so a row's origin can be read after sorting.
    private func columns(times: [UInt64], pids: [UInt64]) -> [UInt64] {
        let n = times.count
        var c = [UInt64](repeating: 0, count: 5 * n)
        for r in 0..<n {
            c[r] = 0x7f00_0000 + UInt64(r)
            c[n + r] = UInt64(r)
            c[2 * n + r] = times[r]
            c[3 * n + r] = pids[r]
            c[4 * n + r] = UInt64(r % 3)
        }
        return c
    }

    private func sorted(_ c: [UInt64], rows: Int) -> [UInt64] {
        var c = c
        let order = UnsafeMutablePointer<Int32>.allocate(capacity: rows)
        let spare = UnsafeMutablePointer<UInt64>.allocate(capacity: rows)
        defer { order.deallocate(); spare.deallocate() }
        c.withUnsafeMutableBufferPointer {
            CompactFaults.sortWindowByTime($0.baseAddress!, stride: rows, rows: rows, order: order, spare: spare)
        }
        return c
    }

    func testAWindowOfOneProcessComesOutInTimeOrderWithEqualTimesInLogOrder() {
        let times: [UInt64] = [50, 30, 30, 90, 10, 50, 30]
        let c = sorted(columns(times: times, pids: Array(repeating: 7, count: 7)), rows: 7)
        let n = 7
        XCTAssertEqual(Array(c[(2 * n)..<(3 * n)]), [10, 30, 30, 30, 50, 50, 90])
        // Each row moved whole, and rows at the same time kept their log order.
        XCTAssertEqual(Array(c[n..<(2 * n)]), [4, 1, 2, 6, 0, 5, 3])
        XCTAssertEqual(Array(c[0..<n]), [4, 1, 2, 6, 0, 5, 3].map { 0x7f00_0000 + $0 })
        XCTAssertEqual(Array(c[(4 * n)..<(5 * n)]), [4, 1, 2, 6, 0, 5, 3].map { $0 % 3 })
        XCTAssertEqual(Array(c[(3 * n)..<(4 * n)]), Array(repeating: 7, count: 7))
    }

    /// Sorting across processes could change which process faults first, which numbers them.
    func testAWindowOfTwoProcessesStaysInLogOrder() {
        let c = columns(times: [50, 30, 90, 10], pids: [7, 7, 8, 7])
        XCTAssertEqual(sorted(c, rows: 4), c)
    }

    /// A hostile log must not make the decoder quadratic: past its budget of moves the
    /// window is left as it is, for the sweep to sort.
    func testAWindowFarOutOfOrderIsLeftForTheSweep() {
        let n = 4 * CompactFaults.windowSortMovesPerFault
        let reversed = columns(times: (0..<UInt64(n)).reversed().map { $0 * 10 }, pids: Array(repeating: 7, count: n))
        XCTAssertEqual(sorted(reversed, rows: n), reversed)
        // Within the budget the same shape is sorted.
        let short = CompactFaults.windowSortMovesPerFault
        let fits = columns(times: (0..<UInt64(short)).reversed().map { $0 * 10 }, pids: Array(repeating: 7, count: short))
        XCTAssertEqual(Array(sorted(fits, rows: short)[(2 * short)..<(3 * short)]), (0..<UInt64(short)).map { $0 * 10 })
    }

    /// A log of one process's two threads, whose faults the recorder wrote a few places
    /// out of time order, read for the model (by field, windows sorted) and read whole:
    /// the model's columns hold the same faults, each window in time order, and the time
    /// order of the two readings is the same, fault for fault.
    func testTwoThreadsOutOfOrderReadAsTheFullReadingOrdersThem() throws {
        let dir = try TempDirectory()
        let n = LogReader.faultColumnWindow + 900
        var rng = SeededGenerator(seed: 91)
        var records: [LogRecord] = []
        for i in 0..<n {
            // Thread 2's faults complete late: written up to 6 places after their time.
            let lag = i % 2 == 1 ? UInt64.random(in: 0...6, using: &rng) * 1_000 : 0
            let time = 1_000_000 + UInt64(i / 4) * 4_000 - lag   // runs of four at one time
            records.append(.fault(FaultEvent(pid: 40, tid: 40 + Int32(i % 2), timeNs: time,
                                             address: 0x7f00_0000_0000 + UInt64(i) << 12 | UInt64(i % 5) * 8, ip: 0x1000,
                                             kind: .anon, access: .write, kernelMode: false, errorCode: 6,
                                             serviceNs: 900, stack: .empty, pageShift: 12)))
        }
        var bytes = LogFormat.magic + [UInt8(LogFormat.version & 0xFF), UInt8(LogFormat.version >> 8), 0, 0]
        bytes += LogChunks.seal(payload: LogChunks.payload([.header(LogHeader(pageSize: 4096, thpMode: "never"))]), count: 1, deflate: true)
        bytes += LogChunks.seal(payload: LogChunks.payload(records), count: UInt32(n), deflate: true)
        let path = dir.file("lag.flt")
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let every = try LoadedLog.load(path: path, parallel: false, faults: .every)
        let model = try LoadedLog.load(path: path, parallel: false, faults: .compact)
        XCTAssertNil(model.damage)
        XCTAssertEqual(model.compactFaults.count, n)
        let logTimes = every.faults.map(\.timeNs)
        XCTAssertNotEqual(logTimes, logTimes.sorted(), "the log is out of time order, or this tests nothing")

        let modelRows = (0..<n).map { model.compactFaults.row(at: $0) }
        let window = LogReader.faultColumnWindow
        for start in stride(from: 0, to: n, by: window) {
            let times = modelRows[start..<min(start + window, n)].map(\.time)
            XCTAssertEqual(times, times.sorted(), "the window at \(start) is in time order")
        }
        // The full reading's rows in its stable time order: what the sweep must hand on.
        let everyRows = CompactFaults(every.faults)
        let expected = (0..<n).map { everyRows.row(at: $0) }.enumerated()
            .sorted { $0.element.time != $1.element.time ? $0.element.time < $1.element.time : $0.offset < $1.offset }
            .map(\.element)
        var swept: [CompactFaults.Row] = []
        model.compactFaults.forEachInTimeOrder(unit: { u in
            let first = model.compactFaults.firstIndex(ofUnit: u)
            for i in first..<(first + model.compactFaults.rowCount(ofUnit: u)) { swept.append(model.compactFaults.row(at: i)) }
        }, row: { _, row in swept.append(row) })
        XCTAssertEqual(swept, expected)
    }
}
