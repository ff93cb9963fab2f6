// The replay model's self-check on real recordings: replayed at the configuration they were
// recorded with, samples and a real program must come out with the recorded anon, zero and
// cow counts exactly. A failure prints the model's own account of the difference.

import XCTest
import FaultlineCore
import FaultlineLog
import FaultlineReplay

final class ReplaySelfCheckTests: XCTestCase {
    func selfCheck(_ run: SampleRun, file: StaticString = #filePath, line: UInt = #line) throws -> (SelfCheck, ReplayReport) {
        let input = ReplayInput(log: run.log)
        let recorded = try XCTUnwrap(SelfCheck.recordedConfig(of: input), "host configuration not modelled", file: file, line: line)
        let report = try ReplaySweep.run(input: input, configs: [recorded, ReplayConfig(pageSize: .k16, thp: .never)],
                                         tlb: TLBPresets.skylake, source: .recordedFaults, selfCheck: true, log: true)
        let check = try XCTUnwrap(report.selfCheck, file: file, line: line)
        XCTAssertTrue(check.matches, "self-check differs:\n" + report.renderText(), file: file, line: line)
        XCTAssertEqual(report.recordedIndex, 0, file: file, line: line)
        return (check, report)
    }

    func testFirstTouch() throws {
        let run = try Samples.record("first_touch")
        let (check, report) = try selfCheck(run)
        XCTAssertGreaterThanOrEqual(check.comparedRecorded[Int(FaultKind.anon.rawValue)], 1000)
        // At 16 KiB every recorded 4 KiB first touch becomes the first touch of its 16 KiB page.
        // The sample's 1000 pages cover 250 of them, or 251 when the range is not 16 KiB aligned.
        // The sample's MADV_NOHUGEPAGE makes its range a VMA of its own, even where the kernel
        // first merged the mmap with an anonymous neighbour (ld.so's TLS block); at 16 KiB a
        // VMA has its own pages, so the mapping's count is the distinct 16 KiB pages its
        // recorded first touches hit.
        let expect = try XCTUnwrap(run.expectations.first)
        let granule: UInt64 = 16 << 10
        let samplePages = ((expect.end + granule - 1) / granule) - expect.start / granule
        XCTAssertTrue((250...251).contains(samplePages), "\(samplePages)")
        let region = try XCTUnwrap(report.configs[1].mappings.first { $0.pid == expect.pid && $0.start <= expect.start && $0.end >= expect.end })
        let touched = Set(run.faults(pid: expect.pid, in: expect.start..<expect.end).filter { $0.kind == .anon }.map { $0.address / granule }).count
        XCTAssertEqual(UInt64(touched), samplePages)
        XCTAssertEqual(region.faults, UInt64(touched), "mapping \(region)")
    }

    /// mapping_churn's buffer grows a page at a time by mremap, each growth blocked in place
    /// so that the buffer moves, most often down (mmap hands out addresses top down). Its
    /// 2,001 pages are all resident at the end, whatever the moves: the model must carry
    /// them along. (A move down once sent them 2^52 pages away, where nothing found or freed
    /// them: the buffer's row held more than all anonymous memory.)
    func testABufferMovedByMremapKeepsItsPages() throws {
        let run = try Samples.record("mapping_churn", ["0", "2000"])
        let (_, report) = try selfCheck(run)
        let model = report.configs[0]
        let buffer = try XCTUnwrap(model.mappings.max { $0.faults < $1.faults })
        XCTAssertEqual(buffer.faults, 2001)
        XCTAssertEqual(buffer.peakResidentBytes, 2001 * 4096)
        XCTAssertGreaterThanOrEqual(model.peakAnonBytes, buffer.peakResidentBytes,
                                    "a mapping cannot hold more than all anonymous memory")
    }

    func testZeroThenWrite() throws {
        let (check, _) = try selfCheck(try Samples.record("zero_then_write"))
        XCTAssertGreaterThanOrEqual(check.comparedRecorded[Int(FaultKind.zero.rawValue)], 500)
        XCTAssertGreaterThanOrEqual(check.comparedRecorded[Int(FaultKind.cow.rawValue)], 500)
    }

    func testCowAfterFork() throws {
        let run = try Samples.record("cow_fork")
        let (check, _) = try selfCheck(run)
        XCTAssertGreaterThanOrEqual(check.comparedRecorded[Int(FaultKind.cow.rawValue)], 250)
        XCTAssertEqual(run.log.processes.count, 2)
    }

    /// Four threads' faults on shuffled pages, a few places out of time order in the log
    /// (the shape replay's reading sorts window by window): reproduced exactly, and at
    /// 16 KiB the mapping takes one fault for each 16 KiB page its pages fall in.
    func testFourThreadsOnShuffledPages() throws {
        let run = try Samples.record("random_touch", ["64", "4"])
        let (check, report) = try selfCheck(run)
        XCTAssertEqual(check.comparedRecorded[Int(FaultKind.anon.rawValue)], UInt64(run.log.faults.filter { $0.kind == .anon }.count))
        let e = try XCTUnwrap(run.expectations.first)
        let granule: UInt64 = 16 << 10
        let region = try XCTUnwrap(report.configs[1].mappings.first { $0.pid == e.pid && $0.start <= e.start && $0.end >= e.end })
        let pages16k = ((e.end + granule - 1) / granule) - e.start / granule
        XCTAssertEqual(region.faults, pages16k, "mapping \(region)")
        XCTAssertEqual(report.configs[0].mappings.first { $0.pid == e.pid && $0.start <= e.start && $0.end >= e.end }?.faults, 16_384)
    }

    /// File pages, which the self-check leaves out (the page cache decides them): at the
    /// recorded configuration the model must still take the kernel's faults on a file
    /// mapping. Cold pages read at random (major_faults: MADV_RANDOM, evicted first) take
    /// one major fault each, as no neighbour is cached for fault-around to map; cached
    /// pages (page_cache) take one fault per 64 KiB window, fault-around mapping the rest.
    func testFileFaultsAtTheRecordedConfiguration() throws {
        for (sample, kind) in [("major_faults", FaultKind.major), ("page_cache", .file)] {
            let run = try Samples.record(sample)
            let e = try XCTUnwrap(run.expectations.first { $0.kind == kind }, "\(sample): \(run.stdout)")
            let recorded = run.faults(pid: e.pid, in: e.start..<e.end)
            XCTAssertEqual(recorded.filter { $0.kind == kind }.count, e.count, "\(sample): the kernel's count")
            let (_, report) = try selfCheck(run)
            let region = try XCTUnwrap(report.configs[0].mappings.first { $0.pid == e.pid && $0.start <= e.start && $0.end >= e.end },
                                       "\(sample): no mapping row over the region")
            XCTAssertEqual(region.faults, UInt64(recorded.count), "\(sample): replayed at the recorded configuration, mapping \(region)")
        }
    }

    /// MADV_PAGEOUT unmaps file pages (samples/page_out): the kernel faults on every window
    /// again after it, and the model must too, or it calls the second reads "mapped
    /// already" (a 64 MiB file read twice around MADV_PAGEOUT: 440 of 911 faults missing).
    func testFilePagesPagedOutFaultAgain() throws {
        let run = try Samples.record("page_out")
        let line = try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("PAGEOUT ") }, run.stdout)
        let fields = try XCTUnwrap(sampleLineFields(line, tag: "PAGEOUT"))
        let pid = try XCTUnwrap(fields["pid"].flatMap { Int32($0) })
        let start = try XCTUnwrap(hexField(fields, "start")), end = try XCTUnwrap(hexField(fields, "end"))
        let first = try XCTUnwrap(fields["first"].flatMap { UInt64($0) }), second = try XCTUnwrap(fields["second"].flatMap { UInt64($0) })
        XCTAssertEqual(second, 16, "the kernel's faults on the 16 windows after MADV_PAGEOUT")
        XCTAssertEqual(UInt64(run.faults(pid: pid, in: start..<end).count), first + second, "recorded against the kernel's counts")
        let (_, report) = try selfCheck(run)
        let region = try XCTUnwrap(report.configs[0].mappings.first { $0.pid == pid && $0.start <= start && $0.end >= end })
        XCTAssertEqual(region.faults, first + second, "replayed at the recorded configuration, mapping \(region)")
    }

    func testThreads() throws {
        _ = try selfCheck(try Samples.record("threads"))
    }

    func testARealProgram() throws {
        let run = try Samples.recordCommand(["/bin/sh", "-c", "ls -l /usr/lib > /dev/null"])
        let (check, report) = try selfCheck(run)
        XCTAssertGreaterThan(check.comparedRecorded.reduce(0, +), 50)
        // sh forked ls: both processes were replayed, the child's exec reset its address space.
        XCTAssertGreaterThanOrEqual(run.log.processes.count, 2)
        XCTAssertNotNil(report.configs[0].tlb)
    }
}
