// An attach reaches a thread created while events were being opened twice: through the
// events it inherited and through its own (EventLineage). Records built here as the kernel
// wrote them in such a run (thread_swarm 1000 300 staggered, attached 50 ms in): the
// tracepoints' copies came through the leader's events, the completion twice through the
// thread's own, at one time. Each fault must come out once. No privileges needed.

import XCTest
import CFaultlineLinux
@testable import FaultlineTracer

final class EventLineageTests: XCTestCase {
    let leader: Int32 = 2232, thread: Int32 = 2413
    // Per task, the identifiers of its minor-fault event and its page_fault_user tracepoint.
    let leaderMinor: UInt64 = 100, leaderEntry: UInt64 = 101
    let threadMinor: UInt64 = 200, threadEntry: UInt64 = 201
    let tracepoint = PageFaultTracepoint(id: 7, addressOffset: 8, ipOffset: 16, errorCodeOffset: 24)

    func lineage(attached: Bool) -> EventLineage {
        var l = EventLineage()
        l.openedOn = [leaderMinor: leader, leaderEntry: leader, threadMinor: thread, threadEntry: thread]
        l.hasThreadEvents = attached
        return l
    }

    func parser(attached: Bool) -> PerfRecordParser {
        PerfRecordParser(sources: [leaderMinor: .minor, leaderEntry: .entryUser, threadMinor: .minor, threadEntry: .entryUser],
                         userTracepoint: tracepoint, kernelTracepoint: tracepoint, callGraph: .none,
                         completionsHavePageSize: false, unwinds: false, lineage: lineage(attached: attached))
    }

    /// A PERF_RECORD_SAMPLE: identifier, pid/tid, time, then `body`.
    func sample(id: UInt64, tid: Int32, time: UInt64, _ body: [UInt64]) -> [UInt8] {
        var words: [UInt8] = []
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { words += $0 } }
        u64(id)
        withUnsafeBytes(of: leader.littleEndian) { words += $0 }
        withUnsafeBytes(of: tid.littleEndian) { words += $0 }
        u64(time)
        for v in body { u64(v) }
        var header: [UInt8] = []
        withUnsafeBytes(of: PERF_RECORD_SAMPLE.rawValue.littleEndian) { header += $0 }
        withUnsafeBytes(of: UInt16(0)) { header += $0 }
        withUnsafeBytes(of: UInt16(8 + words.count).littleEndian) { header += $0 }
        return header + words
    }

    func completion(id: UInt64, time: UInt64, address: UInt64) -> [UInt8] {
        sample(id: id, tid: thread, time: time, [address])
    }

    /// A page_fault_user sample: the raw size (u32, padded to 8 with the first 4 bytes of
    /// the raw data) then the fields at the tracepoint's offsets.
    func entry(id: UInt64, time: UInt64, address: UInt64) -> [UInt8] {
        // raw: u32 size, then 32 bytes (common fields, address, ip, error code), then 4 of padding.
        var raw: [UInt8] = []
        withUnsafeBytes(of: UInt32(36).littleEndian) { raw += $0 }
        raw += [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: address.littleEndian) { raw += $0 }
        withUnsafeBytes(of: UInt64(0x401000).littleEndian) { raw += $0 }
        withUnsafeBytes(of: UInt64(6).littleEndian) { raw += $0 }
        raw += [0, 0, 0, 0]
        var r = sample(id: id, tid: thread, time: time, [])
        r += raw
        let size = UInt16(r.count)
        r[6] = UInt8(size & 0xFF)
        r[7] = UInt8(size >> 8)
        return r
    }

    /// The thread's three faults as the kernel wrote them: each entry through both tasks'
    /// tracepoints (the leader's copy a little later), each completion twice through the
    /// thread's own event.
    var doubledRun: [[UInt8]] {
        var records: [[UInt8]] = []
        for (i, address) in [UInt64(0x7f00_0000_0000), 0x7f00_0000_1000, 0x7f00_0000_2000].enumerated() {
            let t = 1_000_000 + UInt64(i) * 50_000
            records.append(entry(id: threadEntry, time: t, address: address))
            records.append(entry(id: leaderEntry, time: t + 16_000, address: address))
            records.append(completion(id: threadMinor, time: t + 30_000, address: address))
            records.append(completion(id: threadMinor, time: t + 30_000, address: address))
        }
        return records
    }

    func parse(_ records: [[UInt8]], attached: Bool) -> [TraceEvent] {
        var p = parser(attached: attached)
        var events: [TraceEvent] = []
        for record in records { record.withUnsafeBytes { p.parse($0, into: &events) } }
        return events
    }

    func testAThreadReachedTwiceYieldsEachEntryAndCompletionOnce() throws {
        let events = parse(doubledRun, attached: true)
        var entries: [(UInt64, UInt64)] = [], completions: [(UInt64, UInt64)] = []
        for e in events {
            switch e.body {
            case .faultEntry(let address, _, _, _, _): entries.append((e.time, address))
            case .faultCompletion(let address, _, _): completions.append((e.time, address))
            default: XCTFail("unexpected event \(e.body)")
            }
        }
        // The entries kept are the first seen (the thread's own, 16 us before the copies).
        XCTAssertEqual(entries.map(\.0), [1_000_000, 1_050_000, 1_100_000])
        XCTAssertEqual(entries.map(\.1), [0x7f00_0000_0000, 0x7f00_0000_1000, 0x7f00_0000_2000])
        XCTAssertEqual(completions.map(\.0), [1_030_000, 1_080_000, 1_130_000])
        XCTAssertEqual(completions.map(\.1), [0x7f00_0000_0000, 0x7f00_0000_1000, 0x7f00_0000_2000])
    }

    func testALaunchKeepsEveryRecord() {
        // A launched command's events are all inherited from one task: nothing is a copy, and
        // the parser must not pay for the check (nor drop anything if the kernel repeats).
        XCTAssertEqual(parse(doubledRun, attached: false).count, 12)
    }

    func testAThreadFollowsOneTasksEventsUntilItsIdIsReused() {
        var l = lineage(attached: true)
        XCTAssertFalse(l.isCopy(id: leaderEntry, tid: thread), "the first record names the task followed")
        XCTAssertTrue(l.isCopy(id: threadEntry, tid: thread))
        XCTAssertFalse(l.isCopy(id: leaderMinor, tid: thread))
        XCTAssertFalse(l.isCopy(id: 999, tid: thread), "an event no one opened is not judged here")
        l.forget(tid: thread)
        XCTAssertFalse(l.isCopy(id: threadEntry, tid: thread), "a new thread with the old id follows its own")
        XCTAssertTrue(l.isCopy(id: leaderEntry, tid: thread))
    }

    func testTwoFaultsAtDifferentTimesOrPlacesAreBothKept() {
        var l = lineage(attached: true)
        XCTAssertFalse(l.isRepeatedCompletion(tid: thread, time: 10, address: 0x1000))
        XCTAssertTrue(l.isRepeatedCompletion(tid: thread, time: 10, address: 0x1000))
        XCTAssertFalse(l.isRepeatedCompletion(tid: thread, time: 10, address: 0x2000))
        XCTAssertFalse(l.isRepeatedCompletion(tid: thread, time: 11, address: 0x2000))
        XCTAssertFalse(l.isRepeatedCompletion(tid: leader, time: 11, address: 0x2000), "another thread's fault")
    }
}
