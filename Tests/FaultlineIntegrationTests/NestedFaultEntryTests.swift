// A fault entry the kernel raises while another fault is being handled, and never accounts:
// a profiler's interrupt (perf's frame-pointer walk, a BPF probe) reads user memory with
// page faults disabled, and the kernel fixes the fault up without handling it. The events
// are fed to the assembler by hand in the order the kernel timed them; the test after it
// makes the same happen with a real profiler.

import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineTracer
import FaultlineTestSupport

final class NestedFaultEntryTests: XCTestCase {
    let pid: Int32 = Int32.max - 9   // no such process: the assembler reads no /proc counts
    let heap: UInt64 = 0x7f00_0000_0000

    private func event(_ time: UInt64, tid: Int32? = nil, _ body: TraceEvent.Body) -> TraceEvent {
        TraceEvent(time: time, pid: pid, tid: tid ?? pid, sequence: time, body: body)
    }

    /// The log the assembler writes of `events`, after a 256 MiB anonymous mapping, and the
    /// assembler (its counts, its tables).
    private func record(_ events: [TraceEvent]) throws -> (LoadedLog, FaultAssembler) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-nested-\(getpid()).flt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try LogWriter(path: path, header: LogHeader(pageSize: 4096, thpMode: "never"))
        let assembler = FaultAssembler(writer: writer, pageSize: 4096)
        assembler.begin(pid: pid, ppid: 1, command: "nested", time: 1, awaitingExec: false)
        assembler.process(event(5, .mmap(MappingRecord(start: heap, end: heap + 0x1000_0000, pageOffset: 0, prot: 3,
                                                       flags: 2, inode: 0, name: "//anon", buildID: []))), chains: [])
        for e in events { assembler.process(e, chains: []) }
        assembler.finish()
        try writer.finish(LogSummary(endTimeNs: 1000, faults: 0, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        return (try LoadedLog.load(path: path), assembler)
    }

    /// A user write fault (error code 6: write, user) on `page`, with a read the profiler
    /// made of `probed` (error code 0: read, kernel) taken in the middle of its handling.
    private func writeInterruptedByProbe(_ time: UInt64, page: UInt64, probed: UInt64) -> [TraceEvent] {
        [event(time, .faultEntry(address: heap + page * 4096, ip: 0x40_1000, errorCode: 0x6, kernelMode: false, chain: 0..<0)),
         event(time + 1, .faultEntry(address: heap + probed * 4096 + 8, ip: 0xffff_ffff_8100_0000, errorCode: 0x0,
                                     kernelMode: true, chain: 0..<0)),
         event(time + 2, .faultCompletion(address: heap + page * 4096, major: false, pageSize: 4096))]
    }

    func testACompletionPairsWithTheEntryOfItsOwnPageNotTheLatest() throws {
        let (log, assembler) = try record(writeInterruptedByProbe(10, page: 0, probed: 40)
                                       + writeInterruptedByProbe(20, page: 1, probed: 41))
        XCTAssertEqual(log.faults.map(\.kind), [.anon, .anon], "two first writes, whatever the probe read")
        XCTAssertEqual(log.faults.map(\.access), [.write, .write])
        XCTAssertEqual(log.faults.map(\.kernelMode), [false, false])
        XCTAssertEqual(log.faults.map(\.timeNs), [10, 20], "the time of the write's own entry")
        XCTAssertEqual(log.faults.map(\.serviceNs), [2, 2])
        XCTAssertEqual(assembler.counts.unaccountedEntries, 2, "each probe's read was entered and never accounted")
    }

    func testAProbeOfTheVeryPageBeingFaultedDoesNotTakeItsPlace() throws {
        // The frame pointer points at the page being written: the probe reads it too.
        let (log, assembler) = try record(writeInterruptedByProbe(10, page: 5, probed: 5)
                                       + writeInterruptedByProbe(20, page: 6, probed: 6))
        XCTAssertEqual(log.faults.map(\.kind), [.anon, .anon])
        XCTAssertEqual(log.faults.map(\.access), [.write, .write])
        XCTAssertEqual(log.faults.map(\.timeNs), [10, 20])
        XCTAssertEqual(assembler.counts.unaccountedEntries, 2)
    }

    func testAProbeWhileTheProgramRanDoesNotTakeTheNextFaultsPlace() throws {
        // The profiler's interrupt came in user mode and read the page the program then wrote.
        let (log, assembler) = try record([
            event(10, .faultEntry(address: heap + 7 * 4096, ip: 0xffff_ffff_8100_0000, errorCode: 0x0, kernelMode: true,
                                  chain: 0..<0)),
            event(20, .faultEntry(address: heap + 7 * 4096, ip: 0x40_1000, errorCode: 0x6, kernelMode: false, chain: 0..<0)),
            event(21, .faultCompletion(address: heap + 7 * 4096, major: false, pageSize: 4096)),
        ])
        XCTAssertEqual(log.faults.map(\.kind), [.anon])
        XCTAssertEqual(log.faults.map(\.access), [.write])
        XCTAssertEqual(log.faults.map(\.timeNs), [20])
        XCTAssertEqual(assembler.counts.unaccountedEntries, 1)
    }

    func testAFaultThatWaitsThroughManyProbesKeepsItsEntry() throws {
        // Seen under perf record -g at 20 kHz: a copy that waited 0.8 ms met 16 of perf's
        // interrupts, each one's read an entry of its own.
        let probes = (0..<20).map { i in
            event(11 + UInt64(i), .faultEntry(address: heap + UInt64(100 + i) * 4096, ip: 0xffff_ffff_8100_0000, errorCode: 0x0,
                                              kernelMode: true, chain: 0..<0))
        }
        let (log, assembler) = try record(
            [event(10, .faultEntry(address: heap + 3 * 4096, ip: 0x40_1000, errorCode: 0x6, kernelMode: false, chain: 0..<0))]
            + probes + [event(40, .faultCompletion(address: heap + 3 * 4096, major: false, pageSize: 4096))])
        XCTAssertEqual(log.faults.map(\.kind), [.anon])
        XCTAssertEqual(log.faults.map(\.timeNs), [10])
        XCTAssertEqual(assembler.counts.unaccountedEntries, 20)
    }

    func testThreadsThatCameAndWentLeaveNoEntrySlotsBehind() throws {
        // A program churning through threads: 10,000 of them, one fault each.
        let faults = (0..<10_000).flatMap { i -> [TraceEvent] in
            let tid = pid - 1 - Int32(i), time = 10 + UInt64(i) * 2, address = heap + UInt64(i) * 4096
            return [event(time, tid: tid, .faultEntry(address: address, ip: 0x40_1000, errorCode: 0x6, kernelMode: false,
                                                      chain: 0..<0)),
                    event(time + 1, tid: tid, .faultCompletion(address: address, major: false, pageSize: 4096))]
        }
        let (log, assembler) = try record(faults)
        XCTAssertLessThanOrEqual(assembler.threadsWithEntrySlots, 4097)
        XCTAssertEqual(log.faults.count, 10_000)
        XCTAssertEqual(assembler.counts.byKind[.anon], 10_000)
    }

    func testAProbedPageFaultsLaterAsTheFirstTouchItIs() throws {
        // The probe read page 40 (fixed up: nothing was mapped); the program then writes it.
        let (log, _) = try record(writeInterruptedByProbe(10, page: 0, probed: 40) + [
            event(30, .faultEntry(address: heap + 40 * 4096, ip: 0x40_1000, errorCode: 0x6, kernelMode: false, chain: 0..<0)),
            event(31, .faultCompletion(address: heap + 40 * 4096, major: false, pageSize: 4096)),
        ])
        XCTAssertEqual(log.faults.map(\.kind), [.anon, .anon])
    }

    func testACompletionWithNoEntryForItsPageLeavesTheOpenEntryAlone() throws {
        // get_user_pages faults page 2 in (accounted, no entry) while the thread's entry for
        // page 3 is still open; page 3's completion then takes its own entry.
        let (log, assembler) = try record([
            event(10, .faultEntry(address: heap + 3 * 4096, ip: 0x40_1000, errorCode: 0x6, kernelMode: false, chain: 0..<0)),
            event(11, .faultCompletion(address: heap + 2 * 4096, major: false, pageSize: 4096)),
            event(12, .faultCompletion(address: heap + 3 * 4096, major: false, pageSize: 4096)),
        ])
        XCTAssertEqual(log.faults.map(\.address), [heap + 2 * 4096, heap + 3 * 4096])
        XCTAssertEqual(log.faults.map(\.timeNs), [11, 10])
        XCTAssertEqual(log.faults.last?.access, .write)
        XCTAssertEqual(assembler.counts.unaccountedEntries, 0)
    }
}

/// The same with a real profiler: `perf record -g` samples fault_storm's user stack on a
/// timer while it writes 64 MiB page by page; the storm keeps the page it is about to write
/// in a register perf's frame-pointer walk follows, so perf's reads fault on that very page,
/// often in the middle of the storm's own fault. Before the fix, at 20,000 samples a second,
/// 12,193 of the 16,384 first writes came out `anon` (the rest `zero` or `swap`) and 3,157 of
/// the child's 4,096 copies `cow`.
final class ProfiledProgramTests: XCTestCase {
    func testFaultsUnderAFramePointerProfilerKeepTheirKinds() throws {
        guard let perf = ["/usr/bin/perf", "/usr/local/bin/perf", "/usr/sbin/perf"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else { throw Skip.because("perf is not installed (apt-get install linux-perf): the profiler this test runs") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-profiled-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout").path
        // The highest rate perf is allowed, so its walks meet many of the storm's faults.
        let rate = (try? String(contentsOfFile: "/proc/sys/kernel/perf_event_max_sample_rate", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 4000
        var run = try Samples.recordCommand(["/bin/sh", "-c", "exec \"$1\" record -q -g -F \"$2\" -o \"$3\" -- \"$4\" 64 > \"$0\"",
                                             out, perf, String(min(rate, 20_000)), dir.appendingPathComponent("perf.data").path,
                                             Samples.path("fault_storm")],
                                            logPath: dir.appendingPathComponent("run.flt").path)
        run.stdout = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        run.expectations = run.stdout.split(separator: "\n").compactMap(Expectation.init(line:))
        XCTAssertEqual(run.expectations.map(\.count), [16384, 4096], run.stdout)
        assertExpectations(run)
    }
}
