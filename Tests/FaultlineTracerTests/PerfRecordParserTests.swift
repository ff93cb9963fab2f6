// PerfRecordParser on records the kernel wrote (Fixtures/, captured once from samples run
// under the recorder's events): every fault entry and completion the sample announced, with
// its error code, thread and page size; the side records (fork, exec, mmap with build-ids)
// and the address-space calls with their arguments; times from the sample_id trailer. No
// root needed. The same checks run on a fresh capture where perf is at hand, so a kernel
// that changed a layout fails here; FAULTLINE_CAPTURE_PERF_FIXTURES=1 also rewrites the
// fixtures from that capture.

import Foundation
import XCTest
import FaultlineTestSupport
@testable import FaultlineTracer

final class PerfRecordParserTests: XCTestCase {
    /// What a sample's decoded records must show.
    struct Decoded {
        var events: [TraceEvent]
        var chains: [UInt64]

        var entries: [(e: TraceEvent, address: UInt64, ip: UInt64, code: UInt64, kernel: Bool, chain: Range<Int>)] {
            events.compactMap {
                if case .faultEntry(let a, let ip, let code, let k, let chain) = $0.body { return ($0, a, ip, code, k, chain) }
                return nil
            }
        }
        var completions: [(e: TraceEvent, address: UInt64, major: Bool, pageSize: UInt64)] {
            events.compactMap {
                if case .faultCompletion(let a, let major, let size) = $0.body { return ($0, a, major, size) }
                return nil
            }
        }
        var mmaps: [(e: TraceEvent, m: MappingRecord)] {
            events.compactMap { if case .mmap(let m) = $0.body { return ($0, m) }; return nil }
        }
    }

    func decode(_ fixture: PerfFixture, file: StaticString = #filePath, line: UInt = #line) -> Decoded {
        let (events, chains, unknown) = fixture.parse()
        XCTAssertEqual(unknown, 0, "records of no known event", file: file, line: line)
        XCTAssertEqual(fixture.recordSpans.map(\.count).reduce(0, +), fixture.records.count, "records tile the stream",
                       file: file, line: line)
        return Decoded(events: events, chains: chains)
    }

    // MARK: cow_fork: anonymous first writes, a fork, copy-on-write in the child

    func testCowForkFromTheFixture() throws {
        try checkCowFork(try PerfFixture.load("cow_fork"))
    }

    func checkCowFork(_ fixture: PerfFixture, file: StaticString = #filePath, line: UInt = #line) throws {
        let d = decode(fixture, file: file, line: line)
        let expect = fixture.expectations
        let anon = try XCTUnwrap(expect.first { $0.kind == "anon" }, file: file, line: line)
        let cow = try XCTUnwrap(expect.first { $0.kind == "cow" }, file: file, line: line)
        XCTAssertEqual(anon.count, 1000, file: file, line: line)
        XCTAssertEqual(cow.count, 250, file: file, line: line)
        let parent = anon.pid, child = cow.pid

        // Entries: 1000 user writes to absent pages (0x6) in the parent; 250 user writes to
        // present, write-protected pages (0x7) in the child. Each in its own page, in order.
        let parentEntries = d.entries.filter { $0.e.pid == parent && (anon.start..<anon.end).contains($0.address) }
        XCTAssertEqual(parentEntries.count, 1000, file: file, line: line)
        XCTAssertEqual(parentEntries.map { $0.address & ~4095 }, (0..<1000).map { anon.start + UInt64($0) * 4096 },
                       file: file, line: line)
        XCTAssertTrue(parentEntries.allSatisfy { $0.code == 0x6 && !$0.kernel && $0.e.tid == parent }, file: file, line: line)
        let childEntries = d.entries.filter { $0.e.pid == child && (cow.start..<cow.end).contains($0.address) }
        XCTAssertEqual(childEntries.count, 250, file: file, line: line)
        XCTAssertTrue(childEntries.allSatisfy { $0.code == 0x7 && !$0.kernel && $0.e.tid == child }, file: file, line: line)
        XCTAssertEqual(d.entries.filter { $0.e.pid == child && (cow.end..<anon.end).contains($0.address) }.count, 0,
                       file: file, line: line)

        // Completions: one minor fault per entry, each mapping a 4 KiB page.
        let parentDone = d.completions.filter { $0.e.pid == parent && (anon.start..<anon.end).contains($0.address) }
        XCTAssertEqual(parentDone.count, 1000, file: file, line: line)
        XCTAssertEqual(Set(parentDone.map { $0.address & ~4095 }), Set(parentEntries.map { $0.address & ~4095 }), file: file, line: line)
        let childDone = d.completions.filter { $0.e.pid == child && (cow.start..<cow.end).contains($0.address) }
        XCTAssertEqual(childDone.count, 250, file: file, line: line)
        // None of the region's faults is major (anonymous memory, no swap). Elsewhere one may
        // be: a page of the program or of libc that memory pressure took from the page cache
        // (seen in CI while another job filled memory), so the whole run is not held to none.
        XCTAssertTrue((parentDone + childDone).allSatisfy { !$0.major && $0.pageSize == (fixture.completionsHavePageSize ? 4096 : 0) },
                      file: file, line: line)

        // Each entry's stack: the user ip first, then main's caller in libc; the same caller
        // for all 1000 writes of main's loop.
        for entry in parentEntries + childEntries {
            let chain = Array(d.chains[entry.chain])
            XCTAssertEqual(chain.count, 2, "main and __libc_start_call_main: \(chain.map { String($0, radix: 16) })", file: file, line: line)
            XCTAssertEqual(chain.first, entry.ip, file: file, line: line)
        }
        XCTAssertEqual(Set(parentEntries.compactMap { d.chains[checked: $0.chain.lowerBound + 1] }).count, 1, file: file, line: line)

        // Side records: the fork (a process, not a thread), the exec of the sample (the shell's
        // pid became it), and the sample's mappings with their build-ids and protections.
        let forks = d.events.compactMap { e -> (Int32, Int32)? in if case .fork(let p) = e.body { return (e.pid, p) }; return nil }
        XCTAssertEqual(forks.map { $0.0 }, [child], file: file, line: line)
        XCTAssertEqual(forks.map { $0.1 }, [parent], file: file, line: line)
        let execs = d.events.compactMap { e -> (Int32, String)? in if case .exec(let c) = e.body { return (e.pid, c) }; return nil }
        XCTAssertEqual(execs.map { $0.0 }, [parent], file: file, line: line)
        XCTAssertEqual(execs.map { $0.1 }, ["cow_fork"], file: file, line: line)
        let text = d.mmaps.filter { $0.m.name.hasSuffix("/samples/bin/cow_fork") && $0.m.prot == UInt32(PROT_READ | PROT_EXEC) }
        XCTAssertEqual(text.count, 1, "\(d.mmaps.map { ($0.m.name, $0.m.prot) })", file: file, line: line)
        XCTAssertEqual(text.first?.m.buildID.count, 20, "the kernel's build-id", file: file, line: line)
        XCTAssertTrue(d.mmaps.filter { $0.m.name.hasSuffix("/libc.so.6") }.allSatisfy { $0.m.buildID.count == 20 },
                      file: file, line: line)
        // The region's mmap (the kernel reports the VMA, which may have merged with an
        // anonymous neighbour): private, read-write, anonymous.
        let region = d.mmaps.filter { $0.e.pid == parent && $0.m.start <= anon.start && anon.end <= $0.m.end }
        XCTAssertEqual(region.count, 1, "\(region.map { $0.m })", file: file, line: line)
        XCTAssertEqual(region.map { $0.m.prot }, [UInt32(PROT_READ | PROT_WRITE)], file: file, line: line)
        XCTAssertEqual(region.map { $0.m.flags }, [UInt32(MAP_PRIVATE)], file: file, line: line)
        XCTAssertEqual(region.map { $0.m.name }, ["//anon"], file: file, line: line)
        XCTAssertEqual(region.map { $0.m.pageOffset }, [region.first?.m.start ?? 1], "anonymous: the offset is the address (vm_pgoff, in bytes)",
                       file: file, line: line)

        // The sample's madvise(MADV_NOHUGEPAGE) on its region, arguments and result.
        let madvise = d.events.compactMap { e -> [UInt64]? in
            if case .syscallEnter(.madvise, let args, _) = e.body, e.pid == parent { return args }
            return nil
        }
        XCTAssertTrue(madvise.contains { Array($0.prefix(3)) == [anon.start, anon.end - anon.start, 15] }, "\(madvise)",
                      file: file, line: line)
        let results = d.events.compactMap { e -> Int64? in
            if case .syscallExit(.madvise, let r) = e.body, e.pid == parent { return r }
            return nil
        }
        XCTAssertEqual(results.count, madvise.count, file: file, line: line)
        XCTAssertTrue(results.allSatisfy { $0 == 0 }, file: file, line: line)

        // Times: side records take theirs from the sample_id trailer. Each lies in the run,
        // measured by the run's own span of sample times; the exec precedes the parent's
        // first write, the fork the child's.
        let sampleTimes = (d.entries.map { $0.e.time } + d.completions.map { $0.e.time }).sorted()
        let first = try XCTUnwrap(sampleTimes.first, file: file, line: line), last = try XCTUnwrap(sampleTimes.last, file: file, line: line)
        let run = (first - min(first, last - first))...last
        let exec = try XCTUnwrap(d.events.first { if case .exec = $0.body { return true }; return false }, file: file, line: line)
        let fork = try XCTUnwrap(d.events.first { if case .fork = $0.body { return true }; return false }, file: file, line: line)
        for e in [exec, fork] + d.mmaps.map({ $0.e }) {
            XCTAssertTrue(run.contains(e.time), "\(e.body) at \(e.time), run \(run)", file: file, line: line)
        }
        XCTAssertLessThan(exec.time, try XCTUnwrap(parentEntries.first, file: file, line: line).e.time, file: file, line: line)
        XCTAssertLessThan(fork.time, try XCTUnwrap(childEntries.first, file: file, line: line).e.time, file: file, line: line)
        for (entry, done) in zip(parentEntries, parentDone) {
            XCTAssertLessThanOrEqual(entry.e.time, done.e.time, "a fault completes after it begins", file: file, line: line)
        }
    }

    // MARK: read_into_fresh: the kernel's copy_to_user inside read()

    func testReadIntoFreshFromTheFixture() throws {
        try checkReadIntoFresh(try PerfFixture.load("read_into_fresh"))
    }

    func checkReadIntoFresh(_ fixture: PerfFixture, file: StaticString = #filePath, line: UInt = #line) throws {
        let d = decode(fixture, file: file, line: line)
        let anon = try XCTUnwrap(fixture.expectations.first { $0.kind == "anon" }, file: file, line: line)
        XCTAssertEqual(anon.count, 100, file: file, line: line)
        let entries = d.entries.filter { $0.e.pid == anon.pid && (anon.start..<anon.end).contains($0.address) }
        XCTAssertEqual(entries.count, 100, file: file, line: line)
        XCTAssertEqual(entries.map { $0.address & ~4095 }, (0..<100).map { anon.start + UInt64($0) * 4096 }, file: file, line: line)
        // Kernel mode, a write to an absent page: error code 0x2, from the kernel tracepoint.
        XCTAssertTrue(entries.allSatisfy { $0.kernel && $0.code == 0x2 }, file: file, line: line)
        // The user stack is the one at the system call: the same for every page of the read.
        XCTAssertEqual(Set(entries.map { Array(d.chains[$0.chain]) }).count, 1, file: file, line: line)
        XCTAssertGreaterThanOrEqual(entries.first.map { $0.chain.count } ?? 0, 2, "read's wrapper and main at least", file: file, line: line)
        let done = d.completions.filter { $0.e.pid == anon.pid && (anon.start..<anon.end).contains($0.address) }
        XCTAssertEqual(done.count, 100, file: file, line: line)
    }

    // MARK: the same on this kernel, now

    func testLiveRecordsOfThisKernelDecodeTheSame() throws {
        try Skip.unless(geteuid() == 0, "opening the tracepoints (tracefs) and kernel-mode fault events needs root")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        make.arguments = ["-s", "-C", root.appendingPathComponent("samples").path]
        try make.run()
        make.waitUntilExit()
        XCTAssertEqual(make.terminationStatus, 0, "make -C samples")
        let cow = try PerfFixture.capture(sample: "cow_fork", packageRoot: root)
        try checkCowFork(cow)
        let read = try PerfFixture.capture(sample: "read_into_fresh", packageRoot: root)
        try checkReadIntoFresh(read)
        if ProcessInfo.processInfo.environment["FAULTLINE_CAPTURE_PERF_FIXTURES"] == "1" {
            try cow.save(as: "cow_fork")
            try read.save(as: "read_into_fresh")
        }
    }
}
