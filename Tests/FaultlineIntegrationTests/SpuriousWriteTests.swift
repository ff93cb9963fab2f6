// A write fault that looks like a copy-on-write but is spurious: after a parent's child has
// gone, its first write to a huge page they shared makes the whole huge page its own and
// writable (do_huge_pmd_wp_page reuses it), and a thread on another CPU whose TLB still
// holds the page read-only faults when it writes; the kernel finds the page writable and
// does nothing. The events are fed to the assembler by hand, in the order the kernel timed
// them.

import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineTracer
import FaultlineTestSupport

final class SpuriousWriteTests: XCTestCase {
    let pid: Int32 = Int32.max - 19   // no such process: the assembler reads no /proc counts
    let heap: UInt64 = 0x7f00_0000_0000
    let huge: UInt64 = 2 << 20

    private func event(_ time: UInt64, pid: Int32? = nil, _ body: TraceEvent.Body) -> TraceEvent {
        TraceEvent(time: time, pid: pid ?? self.pid, tid: pid ?? self.pid, sequence: time, body: body)
    }

    /// A user write to `page` of the heap at `time`: error code 6 (write, not present) or 7
    /// (write to a present page), completed 100 ns later mapping `size`.
    private func write(_ time: UInt64, page: UInt64, present: Bool, size: UInt64) -> [TraceEvent] {
        [event(time, .faultEntry(address: heap + page * 4096, ip: 0x40_1000, errorCode: present ? 0x7 : 0x6,
                                 kernelMode: false, chain: 0..<0)),
         event(time + 100, .faultCompletion(address: heap + page * 4096, major: false, pageSize: size))]
    }

    /// The kinds of the faults the assembler logs of `events`, after a 64 MiB private
    /// anonymous mapping.
    private func kinds(_ events: [TraceEvent]) throws -> [FaultKind] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-spurious-\(getpid()).flt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try LogWriter(path: path, header: LogHeader(pageSize: 4096, thpMode: "always"))
        let assembler = FaultAssembler(writer: writer, pageSize: 4096)
        assembler.begin(pid: pid, ppid: 1, command: "spurious", time: 1, awaitingExec: false)
        assembler.process(event(5, .mmap(MappingRecord(start: heap, end: heap + 64 << 20, pageOffset: 0, prot: 3,
                                                       flags: 2, inode: 0, name: "//anon", buildID: []))), chains: [])
        for e in events { assembler.process(e, chains: []) }
        assembler.finish()
        try writer.finish(LogSummary(endTimeNs: 10_000_000, faults: 0, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        return try LoadedLog.load(path: path).faults.filter { $0.pid == pid }.map(\.kind)
    }

    func testAWriteToAHugePageItsOwnWriteMadeWritableWholeIsSpurious() throws {
        let events = write(10, page: 0, present: false, size: huge)           // the THP, first touch
            + [event(1000, .fork(parent: pid)).withPid(pid - 1)]               // a child shares it...
            + write(1_000_000, page: 5, present: true, size: huge)            // ...and is gone: reused whole
            + write(2_000_000, page: 9, present: true, size: huge)            // 1 ms on, a stale TLB entry
            + write(2_500_000, page: 600, present: true, size: 4096)          // (another huge page: still shared)
        XCTAssertEqual(try kinds(events), [.anon, .cow, .other, .cow])
    }

    func testAForkOrAnUnmapMakesTheNextWriteThereACopyAgain() throws {
        let reused = write(10, page: 0, present: false, size: huge)
            + [event(1000, .fork(parent: pid)).withPid(pid - 1)]
            + write(1_000_000, page: 5, present: true, size: huge)
        // Forked again: the parent's pages are write-protected, and its next write copies.
        let forked = reused + [event(2_000_000, .fork(parent: pid)).withPid(pid - 2)]
            + write(3_000_000, page: 9, present: true, size: 4096)
        XCTAssertEqual(try kinds(forked), [.anon, .cow, .cow])
        // The huge page unmapped and mapped again, read (the zero page) and written: a copy.
        let remapped = reused
            + [event(2_000_000, .syscallEnter(.munmap, arguments: [heap, huge], chain: 0..<0)),
               event(2_000_100, .syscallExit(.munmap, result: 0)),
               event(2_000_200, .mmap(MappingRecord(start: heap, end: heap + huge, pageOffset: 0, prot: 3, flags: 0x12,
                                                    inode: 0, name: "//anon", buildID: []))),
               event(3_000_000, .faultEntry(address: heap + 9 * 4096, ip: 0x40_1000, errorCode: 0x4, kernelMode: false, chain: 0..<0)),
               event(3_000_100, .faultCompletion(address: heap + 9 * 4096, major: false, pageSize: 4096))]
            + write(4_000_000, page: 9, present: true, size: 4096)
        XCTAssertEqual(try kinds(remapped), [.anon, .cow, .zero, .cow])
        // Unmapped and a private file mapped there: its first write copies the file's page
        // (do_cow_fault), a copy like any other, in memory the huge page no longer is.
        let fileThere = reused
            + [event(2_000_000, .syscallEnter(.munmap, arguments: [heap, huge], chain: 0..<0)),
               event(2_000_100, .syscallExit(.munmap, result: 0)),
               event(2_000_200, .mmap(MappingRecord(start: heap, end: heap + huge, pageOffset: 0, prot: 3, flags: 0x12,
                                                    inode: 77, name: "/usr/lib/libdata.so", buildID: [])))]
            + write(3_000_000, page: 9, present: false, size: 4096)
        XCTAssertEqual(try kinds(fileThere), [.anon, .cow, .cow])
    }
}

private extension TraceEvent {
    /// The same event, of process (and thread) `pid`.
    func withPid(_ pid: Int32) -> TraceEvent { TraceEvent(time: time, pid: pid, tid: pid, sequence: sequence, body: body) }
}
