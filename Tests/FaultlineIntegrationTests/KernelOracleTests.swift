// The replay model against the kernel itself. Each shape of samples/thp_shapes is recorded
// with THP off for it (`record --no-thp`: every fault at base-page size), replayed at this
// machine's THP mode, and then run natively under that mode; the region's faults and huge
// pages must come out as the kernel counted them (/proc/thread-self/stat's minflt over the
// touching loop, smaps' AnonHugePages or Private_Hugetlb). No global setting changes, but
// nr_hugepages for the hugetlb case, restored afterwards.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineAddressSpace
import FaultlineCore
import FaultlineLog
import FaultlineReplay

final class KernelOracleTests: XCTestCase {
    /// One ORACLE line of the sample.
    struct Oracle {
        var role: String
        var start: UInt64
        var minflt: UInt64
        var hugeKB: UInt64
        var fallback: UInt64
        /// khugepaged's collapses during the run, anywhere on the machine.
        var khugepaged: UInt64
        /// Where the region was first mapped, when it moved (mremap_grow).
        var mapped: UInt64?

        init?(_ line: Substring) {
            guard line.hasPrefix("ORACLE ") else { return nil }
            var f: [String: Substring] = [:]
            for part in line.split(separator: " ").dropFirst() {
                let kv = part.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { f[String(kv[0])] = kv[1] }
            }
            guard let role = f["role"], let start = f["start"].flatMap({ UInt64($0.dropFirst(2), radix: 16) }),
                  let minflt = f["minflt"].flatMap({ UInt64($0) }), let huge = f["huge_kb"].flatMap({ UInt64($0) }),
                  let fallback = f["fallback"].flatMap({ UInt64($0) }) else { return nil }
            self.role = String(role); self.start = start; self.minflt = minflt; self.hugeKB = huge; self.fallback = fallback
            mapped = f["mapped"].flatMap { UInt64($0.dropFirst(2), radix: 16) }
            khugepaged = f["khugepaged"].flatMap { UInt64($0) } ?? 0
        }
    }

    /// The machine's THP mode: what the native run gets, and so what the model predicts.
    let hostMode: THPMode = {
        let text = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? ""
        let selected = text.split(separator: "[").dropFirst().first?.split(separator: "]").first
        return selected.flatMap { THPMode(rawValue: String($0)) } ?? .never
    }()

    /// Runs the sample natively, a few times if the kernel could not allocate huge pages
    /// or khugepaged collapsed pages meanwhile (the prediction plays no khugepaged). Run
    /// after run, khugepaged collapsed some of a locked 64 MiB region given MADV_HUGEPAGE
    /// in 7 runs of 40 (mlockall_future).
    func native(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [Oracle] {
        for _ in 0..<5 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Samples.path("thp_shapes"))
            p.arguments = args
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "thp_shapes \(args) failed natively", file: file, line: line)
            let oracles = text.split(separator: "\n").compactMap(Oracle.init)
            if oracles.allSatisfy({ $0.fallback == 0 && $0.khugepaged == 0 }) { return oracles }
        }
        XCTFail("the kernel could not allocate huge pages for thp_shapes \(args) five times running (thp_fault_fallback), or khugepaged collapsed pages during each run: not comparable", file: file, line: line)
        return []
    }

    /// What the model predicts for the region: its faults (all processes) and huge bytes.
    func predicted(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> (faults: UInt64, hugeBytes: UInt64) {
        let run = try Samples.record("thp_shapes", args, disableTHP: true, file: file, line: line)
        XCTAssertTrue(run.log.header.thpDisabledByRecorder, file: file, line: line)
        // The mapping row is the recorded mapping's, where it was first mapped.
        let oracle = try XCTUnwrap(run.stdout.split(separator: "\n").compactMap(Oracle.init).first, "no ORACLE line: \(run.stdout)",
                                   file: file, line: line)
        let start = oracle.mapped ?? oracle.start
        let input = ReplayInput(log: run.log)
        let result = ReplayEngine(config: ReplayConfig(pageSize: .k4, thp: hostMode), input: input).run()
        XCTAssertFalse(result.lowerBound, "recorded with THP off: nothing is coarser than 4k", file: file, line: line)
        let rows = result.mappings.filter { $0.start <= start && start < $0.end }
        XCTAssertEqual(rows.count, 1, "the region's mapping: \(result.mappings)", file: file, line: line)
        return (rows.map(\.faults).reduce(0, +), rows.map(\.peakHugeBytes).reduce(0, +))
    }

    func check(_ args: String..., file: StaticString = #filePath, line: UInt = #line) throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let model = try predicted(args, file: file, line: line)
        let kernel = try native(args, file: file, line: line)
        XCTAssertFalse(kernel.isEmpty, file: file, line: line)
        XCTAssertEqual(model.faults, kernel.map(\.minflt).reduce(0, +), "faults for thp_shapes \(args) at THP \(hostMode)",
                       file: file, line: line)
        // The parent's huge pages: a fork child's copies are base pages (5.8+).
        let parent = kernel.first { $0.role == "parent" }
        XCTAssertEqual(model.hugeBytes, (parent?.hugeKB ?? 0) * 1024, "huge pages for thp_shapes \(args) at THP \(hostMode)",
                       file: file, line: line)
    }

    func testSequential() throws {
        try check("sequential", "64", "aligned")
        try check("sequential", "64", "unaligned")
        try check("sequential", "3", "aligned")
        try check("sequential", "5", "unaligned")
    }

    func testSparse() throws {
        try check("sparse", "1024", "aligned")
        try check("sparse", "64", "unaligned")
    }

    func testReadThenWriteFollowsTheHugeZeroPageRuleOfThisKernel() throws {
        try check("read_then_write", "64", "aligned")
        try check("read_then_write", "5", "unaligned")
    }

    func testForkWithTheChildWritingHalf() throws {
        try check("fork_cow", "64", "aligned")
        try check("fork_cow", "5", "unaligned")
    }

    /// Shared anonymous memory starts empty and has no zero page: a read of a fresh page
    /// allocates it, and fault-around maps only pages already in the page cache, so the
    /// parent's reads take a fault each and its child's reads take one a window only over
    /// the pages the parent touched (8 MiB: 1,024 and 1,088 faults).
    func testSharedMemoryFaultAroundMapsOnlyPagesThatExist() throws {
        try check("shared_reads", "8", "aligned")
        try check("shared_reads", "8", "unaligned")
    }

    /// Four threads touch their own huge pages' worth of the region in a shuffled order, a
    /// third of the pages read first: every 2 MiB range's first touch decides a THP or the
    /// huge zero page, whichever thread and order.
    func testThreadsTouchingInAShuffledOrder() throws {
        try check("threads_random", "64", "aligned")
        try check("threads_random", "64", "unaligned")
    }

    /// Locked memory is filled by the call that locks it (mlock now; under mlockall's
    /// MCL_FUTURE, the mmap that maps it), without faults; locked on fault, nothing is.
    func testLockedMemoryIsFilledWithoutFaults() throws {
        try check("mlock_half", "64", "aligned")
        try check("mlock_half", "5", "unaligned")
        try check("mlock_onfault", "64", "aligned")
        try check("mlockall_future", "64", "aligned")
    }

    /// A program that turns THP off for itself (PR_SET_THP_DISABLE) gets base pages in its
    /// MADV_HUGEPAGE region: the model must follow its call, seen on the whole machine.
    func testAProgramsOwnTHPPrctlIsFollowed() throws {
        try check("thp_disabled", "64", "aligned")
    }

    /// Part of every 4 MiB given back (MADV_DONTNEED), unmapped, or made read-only and
    /// writable again, then every page written again: the huge pages the part falls in
    /// split, and its pages come back as base pages.
    func testHugePagesSplitByACutInTheirRange() throws {
        for shape in ["dontneed_partial", "munmap_partial", "mprotect_split"] {
            try check(shape, "16", "aligned")
            try check(shape, "16", "unaligned")
        }
    }

    /// A fork child that has exited shares none of its parent's huge pages any more: the
    /// parent's next write to one is one fault that makes it writable whole
    /// (do_huge_pmd_wp_page reuses it), not a split and a fault a page. A huge page that a
    /// VMA boundary cuts (one page of it made read-only) was split when the boundary was
    /// made, and its pages, shared a page at a time, take a fault each. The model had split
    /// every write-protected huge page at a write (4,092 faults in the parent's second
    /// pass where the kernel took 2,048), and left the cut ones whole.
    ///
    /// Not compared with the native count: a huge page made writable leaves read-only TLB
    /// entries behind for its other 4 KiB parts, whose spurious faults the kernel counts
    /// too (tens a huge page on this VM, differing from run to run). The recorder tells
    /// those apart (`other`), so the oracle is the program recorded with THP on: its
    /// faults must be what the model predicts from the program recorded in base pages,
    /// and what it replays from the recording itself (the self-check).
    func testAParentsHugePagesAreItsOwnAgainOnceItsChildHasGone() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        guard hostMode != .never else {
            throw Skip.because("THP is off on this machine ([never]), and the tests do not change the global THP mode")
        }
        let args = ["fork_rewrite", "16", "aligned"]
        var withTHP: SampleRun?
        for _ in 0..<3 {
            let run = try Samples.record("thp_shapes", args)
            if run.stdout.split(separator: "\n").compactMap(Oracle.init).allSatisfy({ $0.fallback == 0 }) { withTHP = run; break }
        }
        let run = try XCTUnwrap(withTHP, "the kernel could not allocate huge pages for thp_shapes \(args) three times running (thp_fault_fallback)")
        let oracle = try XCTUnwrap(run.stdout.split(separator: "\n").compactMap(Oracle.init).first, "no ORACLE line: \(run.stdout)")
        let region = oracle.start..<(oracle.start + 16 << 20)
        let inRegion = run.log.faults.filter { region.contains($0.address) }.sorted { $0.timeNs < $1.timeNs }
        // A write fault inside a huge page that its process had made writable whole (a
        // `cow` of 2 MiB) is spurious however late it comes, and the recorder calls it
        // `other` (FaultAssembler.noteWholeWrite; within raceSlackNs of the fill only, one
        // in about six runs came 54 µs after, and was called `cow`).
        let faults = inRegion.filter { $0.kind != .other }.count
        // First touches: 8 huge pages. The child: one write in each, a fault each. The
        // parent's second pass: 4 huge pages cut (511 writable pages each) and 4 whole.
        XCTAssertEqual(faults, 8 + 8 + 4 * 511 + 4, "the kernel's faults, spurious ones aside: \(Dictionary(grouping: inRegion, by: \.kind).mapValues(\.count))")

        let input = ReplayInput(log: run.log)
        let recorded = try XCTUnwrap(SelfCheck.recordedConfig(of: input))
        let check = SelfCheck(result: ReplayEngine(config: recorded, input: input).run(), input: input)
        XCTAssertTrue(check.matches, "the recording with THP on, replayed: \(check.comparedRecorded) vs \(check.comparedReplayed) \(check.examples)")
        XCTAssertEqual(try predicted(args).faults, UInt64(faults), "predicted from the recording in base pages, at THP \(hostMode)")
    }

    /// A region grown a page at a time by mprotect (base pages), then given back by
    /// MADV_DONTNEED from 1 MiB in and written again, as glibc's thread arenas shrink and
    /// grow: since Linux 6.14 the call frees the page tables it empties, and a whole 2 MiB
    /// given back comes back as a huge page (Python's threads under `always` took 660).
    /// The model kept the tables: 7,936 faults and no huge pages where the kernel took 4,359
    /// and 14 MiB (16 MiB aligned).
    func testPageTablesEmptiedByDontNeedAreFreed() throws {
        try check("arena_regrow", "16", "aligned")
        try check("arena_regrow", "16", "unaligned")
    }

    /// mremap moves the region to grow it: its huge pages move whole where the old and the
    /// new place are alike within 2 MiB, and split where not (the peak then counts them
    /// once, not as huge pages at both places).
    func testMremapMovesHugePagesWholeOrSplitsThem() throws {
        try check("mremap_grow", "16", "aligned")
        try check("mremap_grow", "16", "unaligned")
    }

    /// MADV_COLLAPSE of sparsely written memory, then every page written. `record --no-thp`'s
    /// PR_SET_THP_DISABLE makes the kernel refuse the call (EINVAL), which the program
    /// untraced has: the log keeps the call, the prediction collapses as the kernel does
    /// (whatever the THP mode), and the self-check, which replays the recording as it ran,
    /// refuses it.
    func testMadviseCollapseThatOnlyTheRecordersPrctlRefused() throws {
        try check("collapse", "16", "aligned")
        try check("collapse", "16", "unaligned")

        let run = try Samples.record("thp_shapes", ["collapse", "16", "aligned"], disableTHP: true)
        let input = ReplayInput(log: run.log)
        let recorded = try XCTUnwrap(SelfCheck.recordedConfig(of: input))
        XCTAssertEqual(recorded.thp, .never)
        let report = try ReplaySweep.run(input: input, configs: [recorded], tlb: nil, source: .recordedFaults,
                                         selfCheck: true, log: true)
        let selfCheck = try XCTUnwrap(report.selfCheck)
        XCTAssertTrue(selfCheck.matches, "the recording as it ran collapsed nothing:\n" + report.renderText())
        XCTAssertEqual(report.configs[0].collapses, 8, "16 MiB at `never`: MADV_COLLAPSE ignores the THP mode")
    }

    /// A recursion grows the main stack down a page a frame, under mlockall(MCL_CURRENT),
    /// which locks the stack too. Each growth is reported to perf as a mapping the kernel
    /// made: the stack grows, keeping its pages (resident as the kernel's Rss of [stack] at
    /// the deepest frame, in one row); the faults are first touches, not swap-ins of pages a
    /// locked mapping filled; and at 64 KiB the stack grows a 64 KiB page at a time.
    func testAStackGrownByFaultsKeepsItsPagesInOneRow() throws {
        let run = try Samples.record("stack_growth", ["1500"])
        let line = try XCTUnwrap(run.stdout.split(separator: "\n").compactMap { sampleLineFields($0, tag: "ORACLE") }.first,
                                 "no ORACLE line: \(run.stdout)")
        let minflt = try XCTUnwrap(line["minflt"].flatMap { Int($0) }), rssKB = try XCTUnwrap(line["stack_rss_kb"].flatMap { UInt64($0) })
        let start = try XCTUnwrap(hexField(line, "start")), end = try XCTUnwrap(hexField(line, "end"))
        let frames = try XCTUnwrap(line["frames"].flatMap { Int($0) })
        XCTAssertGreaterThanOrEqual(frames, 200, "the stack rlimit leaves room for a recursion")
        XCTAssertGreaterThanOrEqual(minflt, frames - 40, "a fault for each frame's page, but those of the stack as exec left it")

        let stackFaults = run.log.faults.filter { start <= $0.address && $0.address < end }
        XCTAssertEqual(stackFaults.filter { $0.kind == .swap }.count, 0, "growth fills nothing, locked or not")
        XCTAssertGreaterThanOrEqual(stackFaults.filter { $0.kind == .anon }.count, minflt)

        let input = ReplayInput(log: run.log)
        // (The shell that exec'd the sample had a stack of its own.)
        func stackRows(_ size: PageSizeChoice) -> [MappingResult] {
            ReplayEngine(config: ReplayConfig(pageSize: size, thp: .never), input: input).run().mappings
                .filter { $0.name == "[stack]" && $0.start < end && $0.end > start }
        }
        let rows = stackRows(.k4)
        XCTAssertEqual(rows.count, 1, "one row for the sample's stack: \(rows)")
        XCTAssertEqual(rows.first?.peakResidentBytes, rssKB * 1024, "the kernel's Rss of [stack] at the deepest frame")
        XCTAssertEqual(rows.first.map { $0.start...$0.end }, start...end, "the row spans the grown stack")
        // And the pages mlockall(MCL_CURRENT) and execve filled, which the kernel counted and
        // perf did not see: at most the stack as exec left it (33 pages, 132 KiB).
        let filled = try XCTUnwrap(rows.first?.faults).subtractingReportingOverflow(UInt64(stackFaults.count))
        XCTAssertFalse(filled.overflow, "every recorded stack fault in the row")
        XCTAssertLessThanOrEqual(filled.partialValue, 33)

        let coarse = try XCTUnwrap(stackRows(.k64).first)
        let pages64K = (end - (start & ~0xFFFF) + 0xFFFF) >> 16
        XCTAssertLessThanOrEqual(coarse.faults, pages64K, "a fault per 64 KiB page of the stack at most")
        XCTAssertLessThanOrEqual(coarse.peakResidentBytes, pages64K << 16)
        XCTAssertGreaterThanOrEqual(coarse.peakResidentBytes, rssKB * 1024)
    }

    /// The model at the recorded configuration against the kernel's own count for the whole
    /// process (its minflt, which the log keeps): the faults perf saw, and those it did not,
    /// where the kernel fills memory through get_user_pages (mlock, mlockall(MCL_FUTURE),
    /// execve's copy of the arguments), which the model counts as filled faults. Within
    /// the few an exec takes that the model cannot place.
    func testTheModelCountsWhatTheKernelCountsForAWholeProcess() throws {
        for args in [["mlockall_future", "64", "aligned"], ["mlock_half", "64", "aligned"], ["sequential", "16", "aligned"]] {
            let run = try Samples.record("thp_shapes", args, disableTHP: true)
            let input = ReplayInput(log: run.log)
            let result = ReplayEngine(config: try XCTUnwrap(SelfCheck.recordedConfig(of: input)), input: input).run()
            let kernel = try XCTUnwrap(run.log.processes.values.compactMap(\.kernelCountedMinor).first, "\(args): no kernel count")
            XCTAssertEqual(run.log.processes.count, 1)
            XCTAssertLessThanOrEqual(result.totalFaults, kernel, "\(args)")
            XCTAssertLessThanOrEqual(kernel - min(kernel, result.totalFaults), 4,
                                     "\(args): the model \(result.totalFaults) (\(result.filledFaults) filling memory), the kernel \(kernel)")
        }
    }

    func testHugetlb() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        try HugePagePool.withExtraPages(32) { try check("hugetlb", "64") }
    }
}
