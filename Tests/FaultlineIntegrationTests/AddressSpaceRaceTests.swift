// The recorder's mapping table against a race no sample can time: thread 1 unmaps a range,
// and before its munmap returns, thread 2 maps the same addresses again and writes there.
// The events are fed to the assembler by hand in the order the kernel would time them.

import XCTest
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis
@testable import FaultlineTracer

final class AddressSpaceRaceTests: XCTestCase {
    let pid: Int32 = Int32.max - 7   // no such process: the assembler reads no /proc counts
    let range: UInt64 = 0x7f00_0000_0000
    let length: UInt64 = 0x4000

    private func event(_ time: UInt64, tid: Int32, _ body: TraceEvent.Body) -> TraceEvent {
        TraceEvent(time: time, pid: pid, tid: tid, sequence: time, body: body)
    }

    private func anonymous(_ start: UInt64, _ length: UInt64) -> TraceEvent.Body {
        .mmap(MappingRecord(start: start, end: start + length, pageOffset: 0, prot: 3, flags: 2, inode: 0,
                            name: "//anon", buildID: []))
    }

    /// A first write to `address` by `tid`: its entry, then its completion.
    private func write(_ time: UInt64, tid: Int32, _ address: UInt64) -> [TraceEvent] {
        [event(time, tid: tid, .faultEntry(address: address, ip: 0x40_1000, errorCode: 0x6, kernelMode: false, chain: 0..<0)),
         event(time + 1, tid: tid, .faultCompletion(address: address, major: false, pageSize: 4096))]
    }

    private func record(_ events: [TraceEvent]) throws -> LoadedLog {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-race-\(getpid()).flt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try LogWriter(path: path, header: LogHeader(pageSize: 4096, thpMode: "never"))
        let assembler = FaultAssembler(writer: writer, pageSize: 4096)
        assembler.begin(pid: pid, ppid: 1, command: "race", time: 1, awaitingExec: false)
        for e in events { assembler.process(e, chains: []) }
        assembler.finish()
        try writer.finish(LogSummary(endTimeNs: 1000, faults: 0, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        return try LoadedLog.load(path: path)
    }

    func testAMappingMadeWhileAnotherThreadsMunmapRunsSurvivesIt() throws {
        let log = try record([
            event(10, tid: pid, anonymous(range, length)),
            event(20, tid: pid, .syscallEnter(.munmap, arguments: [range, length], chain: 0..<0)),
            event(25, tid: pid + 1, anonymous(range, length)),       // thread 2's mmap got the same range
            event(30, tid: pid, .syscallExit(.munmap, result: 0)),
        ] + write(40, tid: pid + 1, range + 0x1000))
        XCTAssertEqual(log.faults.map(\.kind), [.anon], "thread 2's write, in its own new mapping")
        let munmap = try XCTUnwrap(log.addressSpaceEvents.first)
        XCTAssertEqual(munmap.timeNs, 20, "logged when it began, before the new mapping")
        // Analysis agrees: the fault is in thread 2's mapping, not unmapped.
        let index = MappingIndex(log: log)
        XCTAssertEqual(index.mapping(ofFault: 0), 1)
    }

    /// Two threads write one absent page at once: both fault, the second finds the page the
    /// first filled. Seen on node (its collector's threads) on a machine without swap, where
    /// the second came out a swap-in.
    func testTwoThreadsFaultingOnePageAtOnceTakeNoSwapIn() throws {
        let page = range + 0x1000
        let log = try record([
            event(10, tid: pid, anonymous(range, length)),
            event(20, tid: pid, .faultEntry(address: page, ip: 0x40_1000, errorCode: 0x6, kernelMode: false, chain: 0..<0)),
            event(21, tid: pid + 1, .faultEntry(address: page + 8, ip: 0x40_1000, errorCode: 0x6, kernelMode: false, chain: 0..<0)),
            event(25, tid: pid, .faultCompletion(address: page, major: false, pageSize: 4096)),
            event(26, tid: pid + 1, .faultCompletion(address: page + 8, major: false, pageSize: 4096)),
        ])
        XCTAssertEqual(log.faults.map(\.kind), [.anon, .other])
        // The same page missing again well after the first fault completed is still a swap-in.
        let slack = FaultAssembler.raceSlackNs
        let later = try record([event(10, tid: pid, anonymous(range, length))] + write(20, tid: pid, page)
                               + write(21 + slack + 1, tid: pid + 1, page))
        XCTAssertEqual(later.faults.map(\.kind), [.anon, .swap])
    }

    func testAFaultBeginningJustAfterItsPageWasFilledRacedTheFiller() throws {
        // node, 1 run in 4: the second thread's entry was stamped 110 ns after the first
        // thread's fault completed; its access came before the page was there.
        let page = range + 0x1000
        let log = try record([event(10, tid: pid, anonymous(range, length))]
                             + [event(1_000, tid: pid, .faultEntry(address: page, ip: 0x40_1000, errorCode: 0x6, kernelMode: false, chain: 0..<0)),
                                event(7_763, tid: pid, .faultCompletion(address: page, major: false, pageSize: 4096))]
                             + write(7_873, tid: pid + 1, page + 8))
        XCTAssertEqual(log.faults.map(\.kind), [.anon, .other])
    }

    func testAFailedMunmapLeavesTheRangeMapped() throws {
        let log = try record([
            event(10, tid: pid, anonymous(range, length)),
            event(20, tid: pid, .syscallEnter(.munmap, arguments: [range, length], chain: 0..<0)),
            event(30, tid: pid, .syscallExit(.munmap, result: -12)),  // ENOMEM: nothing unmapped
        ] + write(40, tid: pid, range))
        XCTAssertEqual(log.faults.map(\.kind), [.anon])
        XCTAssertTrue(log.addressSpaceEvents.isEmpty)
    }

    func testThreadsRacingIntoOneHugePageTakeNoSwapIn() throws {
        // 64 threads writing at random over THP memory: while one thread's fault allocated
        // a huge page (124 ms, compaction), another faulted at another base page of it and
        // found the huge page there when its own fault ended.
        let huge: UInt64 = 2 << 20
        let first = range, second = range + 0x5_3000
        let log = try record([
            event(10, tid: pid, anonymous(range, huge)),
            event(1_000, tid: pid, .faultEntry(address: first, ip: 0x40_1000, errorCode: 0x6, kernelMode: false, chain: 0..<0)),
            event(2_000, tid: pid + 1, .faultEntry(address: second, ip: 0x40_1000, errorCode: 0x6, kernelMode: false, chain: 0..<0)),
            event(124_000_000, tid: pid, .faultCompletion(address: first, major: false, pageSize: huge)),
            event(131_000_000, tid: pid + 1, .faultCompletion(address: second, major: false, pageSize: huge)),
        ])
        XCTAssertEqual(log.faults.map(\.kind), [.anon, .other])
        XCTAssertEqual(log.faults.map(\.pageShift), [21, 21])
    }

    /// Two threads write one huge zero page at once (32 threads at random over
    /// MADV_HUGEPAGE memory, compaction stalling one allocation for 4 ms): both allocate a
    /// THP, the first to take the lock maps it, the other frees its own and has copied
    /// nothing (do_huge_zero_wp_pmd). Both had come out `cow`.
    func testThreadsCopyingOneHugeZeroPageAtOnceCopyItOnce() throws {
        let huge: UInt64 = 2 << 20
        func entry(_ time: UInt64, _ tid: Int32, _ address: UInt64, _ code: UInt64) -> TraceEvent {
            event(time, tid: tid, .faultEntry(address: address, ip: 0x40_1000, errorCode: code, kernelMode: false, chain: 0..<0))
        }
        func done(_ time: UInt64, _ tid: Int32, _ address: UInt64, _ size: UInt64) -> TraceEvent {
            event(time, tid: tid, .faultCompletion(address: address, major: false, pageSize: size))
        }
        let log = try record([
            event(10, tid: pid, anonymous(range, huge)),
            entry(1_000, pid, range + 0xf_0000, 0x4), done(4_575, pid, range + 0xf_0000, huge),    // the huge zero page
            entry(8_800_000, pid + 1, range + 0x2_a000, 0x7),      // stalls in compaction
            entry(12_500_000, pid, range + 0x11_f000, 0x7),
            done(12_746_000, pid, range + 0x11_f000, huge),        // maps its THP first
            done(13_184_000, pid + 1, range + 0x2_a000, huge),     // finds it there
        ])
        XCTAssertEqual(log.faults.map(\.kind), [.zero, .cow, .other])
        XCTAssertEqual(log.faults.map(\.tid), [pid, pid, pid + 1])

        // Base pages: two threads that copy one zero page at once copy it once; two that copy
        // two pages of it each copy their own.
        let page = range + 0x1000
        let same = try record([event(10, tid: pid, anonymous(range, length))] + [
            entry(100, pid, page, 0x4), done(200, pid, page, 4096),
            entry(1_000, pid, page, 0x7), entry(1_010, pid + 1, page + 8, 0x7),
            done(1_500, pid, page, 4096), done(1_600, pid + 1, page + 8, 4096),
            entry(2_000, pid, range, 0x4), done(2_100, pid, range, 4096),
            entry(3_000, pid, range, 0x7), entry(3_010, pid + 1, page + 0x1000, 0x4),
            done(3_400, pid + 1, page + 0x1000, 4096), entry(3_420, pid + 1, page + 0x1000, 0x7),
            done(3_500, pid, range, 4096), done(3_900, pid + 1, page + 0x1000, 4096),
        ])
        XCTAssertEqual(same.faults.map(\.kind), [.zero, .cow, .other, .zero, .zero, .cow, .cow])
    }

    /// A write that lost its page to another thread's read of it: the page holds the zero
    /// page when the write's handler looks. It either copied it in its own fault (a cow: 32
    /// threads at random, once in 98,129 faults), or lost the page and retried, the retry
    /// being the cow; the thread's next fault says which.
    func testAWriteThatLostToAReadOfTheZeroPageCopiedItUnlessItRetried() throws {
        let page = range + 0x1000
        func entry(_ time: UInt64, _ tid: Int32, _ address: UInt64, _ code: UInt64) -> TraceEvent {
            event(time, tid: tid, .faultEntry(address: address, ip: 0x40_1000, errorCode: code, kernelMode: false, chain: 0..<0))
        }
        func done(_ time: UInt64, _ tid: Int32, _ address: UInt64) -> TraceEvent {
            event(time, tid: tid, .faultCompletion(address: address, major: false, pageSize: 4096))
        }
        let race = [event(10, tid: pid, anonymous(range, length)),
                    entry(1_000, pid, page, 0x4), entry(2_983, pid + 1, page + 8, 0x6),
                    done(3_093, pid, page), done(35_551, pid + 1, page + 8)]
        // Its next fault is elsewhere: it copied the zero page.
        let copied = try record(race + [entry(40_000, pid + 1, range, 0x6), done(41_000, pid + 1, range)])
        XCTAssertEqual(copied.faults.map(\.kind), [.zero, .cow, .anon])
        // Its next fault writes the page again: that was the copy.
        let retried = try record(race + [entry(35_700, pid + 1, page + 8, 0x7), done(37_000, pid + 1, page + 8)])
        XCTAssertEqual(retried.faults.map(\.kind), [.zero, .other, .cow])
        // The recording ends first: it copied.
        XCTAssertEqual(try record(race).faults.map(\.kind), [.zero, .cow])
    }

    func testMremapMovesOnlyWhatWasThereWhenItBegan() throws {
        let moved: UInt64 = 0x7f10_0000_0000
        let log = try record([
            event(10, tid: pid, anonymous(range, length)),
            event(20, tid: pid, .syscallEnter(.mremap, arguments: [range, length, 2 * length, 1], chain: 0..<0)),
            event(25, tid: pid + 1, .mmap(MappingRecord(start: range, end: range + length, pageOffset: 0, prot: 1,
                                                        flags: 2, inode: 42, name: "/data/file", buildID: []))),
            event(30, tid: pid, .syscallExit(.mremap, result: Int64(bitPattern: moved))),
        ] + write(40, tid: pid, moved + length) + [
            event(50, tid: pid + 1, .faultEntry(address: range, ip: 0x40_1000, errorCode: 0x4, kernelMode: false, chain: 0..<0)),
            event(51, tid: pid + 1, .faultCompletion(address: range, major: false, pageSize: 4096)),
        ])
        // The buffer's new page is anonymous memory; the file thread 2 mapped at the old
        // place is still a file there.
        XCTAssertEqual(log.faults.map(\.kind), [.anon, .file])
    }

    func testAnMremapShrinkingInPlaceKeepsItsHeadMappedThroughout() throws {
        // The head stays mapped while the tail is unmapped: another thread's write there,
        // before the call returns, is a first touch of the head.
        let log = try record([
            event(10, tid: pid, anonymous(range, 4 * length)),
            event(20, tid: pid, .syscallEnter(.mremap, arguments: [range, 4 * length, length, 0], chain: 0..<0)),
        ] + write(25, tid: pid + 1, range + 0x1000) + [
            event(30, tid: pid, .syscallExit(.mremap, result: Int64(bitPattern: range))),
        ] + write(40, tid: pid + 1, range + 0x2000) + write(50, tid: pid + 1, range + length))
        // Head writes are anon; the write past the new end finds nothing mapped.
        XCTAssertEqual(log.faults.map(\.kind), [.anon, .anon, .other])
    }

    func testAnMremapOfLengthZeroDuplicatesASharedMapping() throws {
        let copy: UInt64 = 0x7f20_0000_0000
        let log = try record([
            event(10, tid: pid, .mmap(MappingRecord(start: range, end: range + length, pageOffset: 0, prot: 3,
                                                    flags: 1, inode: 42, name: "/dev/shm/ring", buildID: []))),
            event(20, tid: pid, .syscallEnter(.mremap, arguments: [range, 0, length, 1], chain: 0..<0)),
            event(30, tid: pid, .syscallExit(.mremap, result: Int64(bitPattern: copy))),
            event(40, tid: pid, .faultEntry(address: copy, ip: 0x40_1000, errorCode: 0x4, kernelMode: false, chain: 0..<0)),
            event(41, tid: pid, .faultCompletion(address: copy, major: false, pageSize: 4096)),
            event(50, tid: pid, .faultEntry(address: range, ip: 0x40_1000, errorCode: 0x4, kernelMode: false, chain: 0..<0)),
            event(51, tid: pid, .faultCompletion(address: range, major: false, pageSize: 4096)),
        ])
        // Both the duplicate and the original are the shared file.
        XCTAssertEqual(log.faults.map(\.kind), [.file, .file])
    }

    func testAReallocThatMovesAndGrowsAgainAndAgainKeepsEveryPageMapped() throws {
        // sqlite's realloc of a growing buffer: each mremap moves the mapping to just below
        // itself and grows it; what the previous one grew by moves along with the rest.
        var events = [event(10, tid: pid, anonymous(range, 0x21000))]
        var old = range, oldLength: UInt64 = 0x21000, time: UInt64 = 20
        var newPages: [UInt64] = []
        for _ in 0..<3 {
            let newLength = 2 * oldLength
            let new = old - newLength
            events.append(event(time, tid: pid, .syscallEnter(.mremap, arguments: [old, oldLength, newLength, 1], chain: 0..<0)))
            events.append(event(time + 1, tid: pid, .syscallExit(.mremap, result: Int64(bitPattern: new))))
            events += write(time + 2, tid: pid, new + oldLength - 0x1000)   // the last page that moved
            newPages.append(new + oldLength - 0x1000)
            old = new
            oldLength = newLength
            time += 10
        }
        let log = try record(events)
        // Pages that moved with their mapping are mapped (the first one never was touched).
        XCTAssertEqual(log.faults.map(\.kind), [.anon, .anon, .anon], "\(newPages.map { String($0, radix: 16) })")
    }
}
