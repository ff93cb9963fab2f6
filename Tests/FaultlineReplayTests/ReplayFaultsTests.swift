// The replay's packed faults: every field the model reads comes back exactly, a log's
// faults arrive in stable time order however the recorder interleaved threads, and a storm
// takes few bytes a fault, counted by the allocator (issue 9: at most 24 when reading).

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest
import FaultlineTestSupport
import FaultlineCore
import FaultlineLog
@testable import FaultlineReplay

final class ReplayFaultsTests: XCTestCase {

    private func same(_ a: ReplayInput.Fault, _ b: ReplayInput.Fault) -> Bool {
        a.address == b.address && a.time == b.time && a.process == b.process && a.access == b.access
            && a.kernelMode == b.kernelMode && a.recorded == b.recorded && a.pageShift == b.pageShift
    }

    func testEveryFieldRoundTrips() {
        var rng = SeededGenerator(seed: 31)
        let extremes: [UInt64] = [0, 1, 0xfff, 0x1000, UInt64.max, UInt64.max - 1, 1 << 63]
        var all: [ReplayInput.Fault] = []
        for i in 0..<(2 * PackedColumns.blockRows + 99) {
            let roll = i % 3
            all.append(ReplayInput.Fault(
                address: roll == 0 ? extremes[i % extremes.count] : UInt64.random(in: 0...UInt64.max, using: &rng),
                time: roll == 1 ? extremes[i % extremes.count] : UInt64(i) * 1000,
                process: [0, 1, Int32.max, -1][i % 4],
                access: Access.allCases[i % Access.allCases.count], kernelMode: i % 5 == 0,
                recorded: FaultKind.allCases[i % FaultKind.allCases.count], pageShift: [0, 12, 21, 30, 255][i % 5]))
        }
        var packed = ReplayFaults()
        for f in all { packed.append(f) }
        XCTAssertEqual(packed.count, all.count)
        var back: [ReplayInput.Fault] = []
        packed.forEachBlock { back += $0; return true }
        XCTAssertEqual(back.count, all.count)
        XCTAssertTrue(zip(back, all).allSatisfy(same), "blocks")
        for i in stride(from: 0, to: all.count, by: 7) {
            XCTAssertTrue(same(try XCTUnwrap(packed.fault(at: i), "fault \(i)"), all[i]), "fault \(i)")
            XCTAssertEqual(packed.time(at: i), all[i].time, "time \(i)")
            var from: [ReplayInput.Fault] = []
            packed.forEachBlock(from: i) { from += $0; return true }
            XCTAssertEqual(from.count, all.count - i)
            XCTAssertTrue(same(try XCTUnwrap(from.first, "from \(i)"), all[i]), "from \(i)")
        }
        XCTAssertNil(packed.fault(at: all.count))
    }

    /// Two threads whose faults the recorder wrote a little out of time order, and a fork.
    private func stormLog(_ count: Int, seed: UInt64) -> LoadedLog {
        var rng = SeededGenerator(seed: seed)
        var log = LoadedLog()
        log.apply(.header(LogHeader(pageSize: 4096, thpMode: "never")))
        log.apply(.string(StringID(rawValue: 0), "storm"))
        log.apply(.process(ProcessEvent(pid: 7, ppid: 1, timeNs: 1, command: StringID(rawValue: 0))))
        var time: UInt64 = 1000
        for i in 0..<count {
            if i == count / 2 { log.apply(.process(ProcessEvent(pid: 8, ppid: 7, timeNs: time, command: StringID(rawValue: 0)))) }
            time += UInt64.random(in: 100...900, using: &rng)
            let pid: Int32 = i > count / 2 && i % 3 == 0 ? 8 : 7
            log.apply(.fault(FaultEvent(pid: pid, tid: pid * 10 + Int32(i % 2), timeNs: time - UInt64.random(in: 0...700, using: &rng),
                                        address: 0x7f00_0000_0000 + UInt64(i % 2) << 32 + UInt64(i / 2) << 12, ip: 0,
                                        kind: .anon, access: .write, kernelMode: false, errorCode: 6,
                                        serviceNs: 1000, stack: .empty)))
        }
        return log
    }

    func testLogFaultsArriveInStableTimeOrder() {
        // Several of the segments the sorting thread hands over (FaultFeed.segmentFaults).
        let log = stormLog(3 * FaultFeed.segmentFaults + 999, seed: 32)
        let faults = Array(log.faults)
        let order = faults.indices.sorted { faults[$0].timeNs != faults[$1].timeNs ? faults[$0].timeNs < faults[$1].timeNs : $0 < $1 }
        let input = ReplayInput(log: log)
        var got: [ReplayInput.Fault] = []
        input.faults.forEachBlock { got += $0; return true }
        XCTAssertEqual(got.map(\.time), order.map { faults[$0].timeNs })
        XCTAssertEqual(got.map(\.address), order.map { faults[$0].address }, "equal times keep log order")
        // Processes are numbered in the order of their first fault: 7, then 8.
        XCTAssertEqual(got.map(\.process), order.map { faults[$0].pid == 7 ? 0 : 1 })
        XCTAssertEqual(input.faultsPerProcess, [faults.filter { $0.pid == 7 }.count, faults.filter { $0.pid == 8 }.count])
    }

    /// The faults are sorted on a thread of their own while they are read: every way of
    /// reading them, asked at once, gives what the whole sorted list gives, across the
    /// segments the sorting thread hands over.
    func testFaultsReadWhileTheyAreSortedAreTheSortedFaults() {
        let n = 3 * FaultFeed.segmentFaults + 500
        let log = stormLog(n, seed: 35)
        let faults = Array(log.faults)
        let sorted = faults.indices.sorted { faults[$0].timeNs != faults[$1].timeNs ? faults[$0].timeNs < faults[$1].timeNs : $0 < $1 }
            .map { faults[$0] }
        let times = sorted.map(\.timeNs)
        let input = ReplayInput(log: log)
        // Before the sorting is done: a search near the start waits only for its segment.
        let early = times[100] + 1
        XCTAssertEqual(input.faults.firstIndex(atOrAfter: early), times.firstIndex { $0 >= early })
        let edge = FaultFeed.segmentFaults
        for start in [0, edge - 1, edge, edge + 1, 2 * edge, n - 1, n] {
            var from: [ReplayInput.Fault] = []
            input.faults.forEachBlock(from: start) { from += $0; return true }
            XCTAssertEqual(from.map(\.time), Array(times[start...]), "from \(start)")
            XCTAssertEqual(from.map(\.address), sorted[start...].map(\.address), "from \(start)")
        }
        // One at a time from a start in any segment (each exec's search for its stack).
        for start in [0, edge - 1, edge, edge + 1, 2 * edge, n - 1] {
            let f = input.faults.first(from: start, limit: 3) { _ in true }
            XCTAssertEqual(f?.time, times[start], "first from \(start)")
            XCTAssertEqual(f?.address, sorted[start].address, "first from \(start)")
        }
        XCTAssertNil(input.faults.first(from: n, limit: 3) { _ in true })
        let across = sorted[edge + 1]
        let found = input.faults.first(from: edge - 2, limit: 4) { $0.time == across.timeNs && $0.address == across.address }
        XCTAssertEqual(found?.time, across.timeNs, "a search that crosses into the next segment")
        XCTAssertNil(input.faults.first(from: edge - 2, limit: 3) { $0.time == across.timeNs && $0.address == across.address },
                     "a search stops at its limit")
        var firstTwo: [ReplayInput.Fault] = []
        input.faults.forEachBlock(from: edge - 1) { firstTwo += $0; return firstTwo.count < 2 }
        XCTAssertEqual(firstTwo.first?.time, times[edge - 1], "stopping early")
        XCTAssertEqual(input.faults.count, n)
        for i in [0, 1, edge - 1, edge, edge + 1, 2 * edge + 7, n - 1] {
            XCTAssertEqual(input.faults.time(at: i), times[i], "time \(i)")
            XCTAssertEqual(input.faults.fault(at: i)?.address, sorted[i].address, "fault \(i)")
        }
        XCTAssertNil(input.faults.fault(at: n))
        for t in [0, times[0], times[edge] - 1, times[edge], times[edge] + 1, times[n - 1], times[n - 1] + 1] {
            XCTAssertEqual(input.faults.firstIndex(atOrAfter: t), times.firstIndex { $0 >= t } ?? n, "at or after \(t)")
        }
        XCTAssertEqual(input.firstTime, min(times[0], input.changes.first?.time ?? .max))
        XCTAssertEqual(input.lastTime, max(times[n - 1], input.changes.last?.time ?? 0))
        // `replay --jobs 1` sorts them before it starts, on its one thread: the same faults.
        let serial = ReplayInput(log: log, sortAlongside: false)
        var all: [ReplayInput.Fault] = []
        serial.faults.forEachBlock { all += $0; return true }
        XCTAssertEqual(all.map(\.time), times)
        XCTAssertEqual(all.map(\.address), sorted.map(\.address))
    }

    /// A log without faults: the sorting thread hands over nothing, and no reader waits.
    /// Faults appended by hand after a log's (the log's come first) are read after them.
    func testNoFaultsAndFaultsAddedAfterALogs() {
        var empty = LoadedLog()
        empty.apply(.header(LogHeader(pageSize: 4096, thpMode: "never")))
        let none = ReplayInput(log: empty)
        var seen = 0
        none.faults.forEachBlock { seen += $0.count; return true }
        XCTAssertEqual(seen, 0)
        XCTAssertEqual(none.faults.firstIndex(atOrAfter: 5), 0)
        XCTAssertEqual(none.faultCount, 0)
        XCTAssertNil(none.faults.first)

        let log = stormLog(FaultFeed.segmentFaults + 10, seed: 36)
        var input = ReplayInput(log: log)
        input.appendAccess(0x1000, .write)
        XCTAssertEqual(input.faultCount, FaultFeed.segmentFaults + 11)
        XCTAssertEqual(input.faults.last?.address, 0x1000)
        XCTAssertEqual(input.faults.fault(at: 0)?.time, input.firstTime)
        XCTAssertEqual(input.faults.fault(at: FaultFeed.segmentFaults + 9)?.time, ReplayInput(log: log).lastTime)
    }

    /// Issue 9: the replay's copy of a storm's faults takes at most a few bytes each; a
    /// 24-byte Fault per fault (or anything larger) fails.
    func testStormTakesFewBytesAFault() {
        let count = 400_000
        let log = stormLog(count, seed: 33)
        let before = residentBytes()
        let input = ReplayInput(log: log)
        XCTAssertEqual(input.faultCount, count)   // waits for the sort: all of it is held
        let held = residentBytes() - before
        XCTAssertLessThanOrEqual(held, 16 * count + (4 << 20), "\(Double(held) / Double(count)) bytes a fault")
        withExtendedLifetime(input) {}
    }

    /// Two processes (the second forked after a third of the faults), blocks of one and of
    /// both, some a little out of order, and one segment written far too late (its faults
    /// precede several chunks before it); a fault count.
    private func writeTwoProcessLog(_ path: String) throws -> Int {
        let w = try LogWriter(path: path, header: LogHeader(pageSize: 4096, thpMode: "never"))
        let name = w.intern("storm")
        w.append(.process(ProcessEvent(pid: 70, ppid: 1, timeNs: 1, command: name)))
        var rng = SeededGenerator(seed: 34)
        var time: UInt64 = 1000
        var count = 0
        for segment in 0..<300 {
            if segment == 100 { w.append(.process(ProcessEvent(pid: 80, ppid: 70, timeNs: time, command: name))) }
            for i in 0..<200 {
                time += 50
                let pid: Int32 = segment >= 100 && (segment % 3 == 0 || (segment % 3 == 1 && i % 2 == 0)) ? 80 : 70
                let late = segment == 200 ? 400_000 : segment % 5 == 2 ? UInt64.random(in: 0...120, using: &rng) : 0
                w.append(.fault(FaultEvent(pid: pid, tid: pid + Int32(i % 2), timeNs: time - late,
                                           address: 0x7f00_0000_0000 + UInt64(count) << 12 | UInt64(i % 3) * 8, ip: 0x1000,
                                           kind: i % 7 == 0 ? .zero : .anon, access: i % 7 == 0 ? .read : .write, kernelMode: i % 11 == 0,
                                           errorCode: 6, serviceNs: 900, stack: .empty, pageShift: segment == 250 ? 21 : 0)))
                count += 1
            }
        }
        try w.finish(LogSummary(endTimeNs: time + 1, faults: UInt64(count), lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        return count
    }

    /// `replay` reads a log in two passes and starts the models while the faults are still
    /// decoded (LogScan.swift): the input, and what the models make of it, are exactly
    /// those of the log loaded whole.
    func testScannedLogGivesTheInputOfTheWholeLoad() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scanned-\(getpid()).flt").path
        defer { unlink(path) }
        let count = try writeTwoProcessLog(path)
        let scanned = try XCTUnwrap(ScannedLog.scan(path: path))
        XCTAssertGreaterThan(scanned.faults.chunkCount, 4, "faults in many chunks")
        let whole = ReplayInput(log: try LoadedLog.load(path: path, parallel: true, faults: .compact))
        let streamed = ReplayInput(scanned: scanned)
        var fw: [ReplayInput.Fault] = [], fs: [ReplayInput.Fault] = []
        whole.faults.forEachBlock { fw += $0; return true }
        streamed.faults.forEachBlock { fs += $0; return true }
        XCTAssertEqual(fs.count, count)
        XCTAssertFalse(streamed.faults.isIncomplete)
        XCTAssertTrue(fw.count == fs.count && zip(fw, fs).allSatisfy(same), "same faults in the same order")
        XCTAssertEqual(fs.map(\.time), fs.map(\.time).sorted(), "the late segment waited for")
        XCTAssertEqual(streamed.pids, whole.pids)
        XCTAssertEqual(streamed.faultsPerProcess, whole.faultsPerProcess)
        XCTAssertEqual(streamed.knowsPageSizes, whole.knowsPageSizes)
        XCTAssertEqual(streamed.changes.map(\.time), whole.changes.map(\.time))
        XCTAssertEqual(streamed.firstTime, whole.firstTime)
        XCTAssertEqual(streamed.lastTime, whole.lastTime)
        XCTAssertEqual(streamed.mappings.count, whole.mappings.count)
        let configs = [ReplayConfig(pageSize: .k4, thp: .never), ReplayConfig(pageSize: .k64, thp: .always)]
        func json(_ input: ReplayInput) throws -> String {
            try ReplaySweep.run(input: input, configs: configs, tlb: nil, source: .recordedFaults, selfCheck: true, log: true).renderJSON()
        }
        XCTAssertEqual(try json(ReplayInput(scanned: try XCTUnwrap(ScannedLog.scan(path: path)))), try json(whole))
    }

    /// Replay loads a log with only the model's fields (LoadedLog.load with `.compact`),
    /// moving blocks that need no reordering over packed: the input must be exactly what
    /// loading every field gives. Blocks of one process in order (moved whole, their pid
    /// replaced by the process's index), of two processes, and out of order.
    func testCompactLoadGivesTheInputOfAFullLoad() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("compact-\(getpid()).flt").path
        defer { unlink(path) }
        let count = try writeTwoProcessLog(path)
        let every = try LoadedLog.load(path: path, parallel: true, faults: .every)
        let compact = try LoadedLog.load(path: path, parallel: true, faults: .compact)
        XCTAssertEqual(compact.faults.count, 0)
        XCTAssertEqual(compact.compactFaults.count, count)
        let a = ReplayInput(log: every), b = ReplayInput(log: compact)
        var fa: [ReplayInput.Fault] = [], fb: [ReplayInput.Fault] = []
        a.faults.forEachBlock { fa += $0; return true }
        b.faults.forEachBlock { fb += $0; return true }
        XCTAssertEqual(fa.count, count)
        XCTAssertEqual(fb.count, count)
        XCTAssertTrue(zip(fa, fb).allSatisfy(same), "same faults in the same order")
        XCTAssertEqual(b.pids, a.pids)
        XCTAssertEqual(b.pids, [70, 80])
        XCTAssertEqual(b.faultsPerProcess, a.faultsPerProcess)
        XCTAssertTrue(b.knowsPageSizes)
        XCTAssertEqual(b.changes.count, a.changes.count)
        // Stable time order, whichever way it was loaded.
        let times = fb.map(\.time)
        XCTAssertEqual(times, times.sorted())
        XCTAssertEqual(fb.filter { $0.process == 1 }.count, a.faultsPerProcess[1])
    }
}
