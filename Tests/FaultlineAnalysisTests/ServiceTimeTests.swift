// Service times in the report: statistics, histograms, time share per thread, the slowest
// faults, and groupings weighed by time, checked against TimedLog's hand-counted numbers.

import Foundation
import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class ServiceTimeTests: FixtureTestCase {
    private func report(_ log: LoadedLog, _ groupings: [Grouping] = [.function], selection: FaultSelection = .everything,
                        weight: Weight = .faults, children: Bool = false, slowest: Int = 3) -> FaultReport {
        FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer()),
                    options: ReportOptions(groupings: groupings, selection: selection, weight: weight,
                                           children: children, top: 10, slowest: slowest))
    }

    func testPercentilesAreNearestRankOverTheSortedTimes() throws {
        let r = report(try TimedLog.load())
        let anon = r.time.summary[.anon]
        // 1, 2, …, 100 µs: the k-th percentile is k µs.
        XCTAssertEqual(anon, ServiceStatsExpectation(count: 100, total: 5_050_000, p50: 50_000, p90: 90_000,
                                                     p99: 99_000, max: 100_000).stats)
        XCTAssertEqual(r.time.summary[.major].p50Ns, 2_000_000)
        XCTAssertEqual(r.time.summary[.major].totalNs, 8_000_000)
        XCTAssertEqual(r.time.summary[.file].totalNs, 30_000)
        XCTAssertEqual(r.time.summary[.segv].count, 0, "a segv has no service time")
        // All 114 timed faults, sorted: 1 µs, 2 µs, eleven of 3 µs (anon and file), 4 µs … 100 µs,
        // four of 2 ms. Rank 57 is anon 47 µs, rank 103 anon 93 µs, rank 113 a major fault.
        XCTAssertEqual(r.time.summary.all, ServiceStatsExpectation(count: 114, total: 13_080_000, p50: 47_000,
                                                                   p90: 93_000, p99: 2_000_000, max: 2_000_000).stats)
        // Per process.
        let cc1 = try XCTUnwrap(r.processes.first { $0.pid == TimedLog.cc1 })
        XCTAssertEqual(cc1.service.all.totalNs, 13_050_000)
        XCTAssertEqual(cc1.service[.major].count, 4)
        let assembler = try XCTUnwrap(r.processes.first { $0.pid == TimedLog.assembler })
        XCTAssertEqual(assembler.service.all.totalNs, 30_000)
        XCTAssertEqual(assembler.service.all.count, 10)
    }

    func testPercentileRanks() {
        XCTAssertEqual(ServiceStats.percentile(50, of: [7]), 7)
        XCTAssertEqual(ServiceStats.percentile(99, of: [1, 2]), 2)
        XCTAssertEqual(ServiceStats.percentile(50, of: [1, 2]), 1)
        XCTAssertEqual(ServiceStats.percentile(90, of: Array(1...10)), 9)
        XCTAssertEqual(ServiceStats(sorted: []), ServiceStats())
    }

    /// Two threads whose faults take turns: each thread's faults and time are the sums of
    /// all its faults, not of its last run of them.
    func testThreadsTakingTurnsAreEachSummedWhole() throws {
        let path = FixtureLog.temporaryPath("timed-turns.flt")
        let w = try LogWriter(path: path, header: LogHeader(
            kernelRelease: "6.18.0-test", machine: "x86_64", hostname: "testhost", pageSize: 4096,
            thpMode: "never", command: ["turns"], startTimeNs: 1_000, startWallSeconds: 1_700_000_000,
            callGraph: "fp", recorderVersion: "faultline-test"))
        let module = w.module(path: "//anon", buildID: [])
        let main = w.frame(Frame(module: module, offset: 0x1000))
        let stack = w.stack(leafFirst: [main])
        w.append(.process(ProcessEvent(pid: 30, ppid: 1, timeNs: 1_000, command: w.intern("turns"))))
        w.append(.mmap(MmapEvent(pid: 30, timeNs: 1_100, start: 0x7f00_0000_0000, length: 0x10_0000, pageOffset: 0,
                                 prot: 3, flags: 2, inode: 0, module: module)))
        // tid 30 takes 1 µs a fault and tid 31 3 µs, five each, in turns, three at a time.
        let tids: [Int32] = [30, 30, 30, 31, 31, 31, 30, 30, 31, 31]
        for (i, tid) in tids.enumerated() {
            w.append(.fault(FaultEvent(pid: 30, tid: tid, timeNs: 2_000 + UInt64(i) * 1_000,
                                       address: 0x7f00_0000_0000 + UInt64(i) * 4096, ip: 0x401000, kind: .anon,
                                       access: .write, kernelMode: false, errorCode: 6,
                                       serviceNs: tid == 30 ? 1_000 : 3_000, signal: 0, signalCode: 0, stack: stack)))
        }
        w.append(.exit(ExitEvent(pid: 30, timeNs: 20_000, exitCode: 0, signal: 0)))
        try w.finish(LogSummary(endTimeNs: 21_000, faults: 10, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let r = report(try LoadedLog.load(path: path))
        XCTAssertEqual(r.time.threads.map(\.tid), [31, 30])
        XCTAssertEqual(r.time.threads.map(\.faults), [5, 5])
        XCTAssertEqual(r.time.threads.map(\.timeNs), [15_000, 5_000])
    }

    /// Times sorted a byte at a time come out as a comparison sort puts them: long lists and
    /// short, small times and times using all 64 bits, bytes every time shares, ties.
    func testTimesSortAsAComparisonSortSortsThem() {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x }
        let shapes: [(count: Int, mask: UInt64, fixed: UInt64)] = [
            (300, 0xFF, 0), (257, 1, 0), (256, 0xFFFF, 0), (5_000, 0xF_FFFF, 0),
            (3_000, .max, 0), (2_000, 0xFF_FF00, 0x3C), (1_000, 0x7, 0x1_0000_0000)]
        for shape in shapes {
            let times = (0..<shape.count).map { _ in next() & shape.mask | shape.fixed }
            var sorted = times
            sorted.sortTimes()
            XCTAssertEqual(sorted, times.sorted(), "\(shape.count) times under \(shape.mask)")
        }
    }

    /// The percentiles of several sorted lists are those of the lists joined and sorted,
    /// with ties, empty lists and lists of one.
    func testPercentilesOfSeveralListsAreThoseOfTheListsJoined() {
        var x: UInt64 = 20_261_206
        func next() -> UInt64 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x }
        for trial in 0..<200 {
            let lists = (0..<Int(next() % 6 + 1)).map { _ in
                (0..<Int(next() % 40)).map { _ in next() % (trial % 2 == 0 ? 10 : 1_000_000) }.sorted()
            }
            let joined = lists.flatMap { $0 }.sorted()
            XCTAssertEqual(ServiceStats(sortedLists: lists), ServiceStats(sorted: joined), "trial \(trial): \(lists)")
        }
    }

    /// The segv has no time: HTML shows none rather than 0 ns, and says why.
    func testSegvHasNoTimeInHTML() throws {
        let r = report(try TimedLog.load())
        let html = HTMLReport.render(report: r, flameGraph: "", heatmap: "")
        // The segv: no time rather than 0 ns, and why.
        XCTAssertTrue(html.contains("segv</td><td class=\"n\">1</td><td class=\"n\">0.9%</td><td class=\"n\">-</td><td class=\"n\">-</td>"), html)
        XCTAssertTrue(html.contains("1 fault has no service time (a segv never completes)"), html)
    }

    func testLatencyHistogramBucketsArePowersOfTwo() throws {
        let r = report(try TimedLog.load())
        let anon = try XCTUnwrap(r.time.summary.histograms[.anon])
        // 1 µs in [512, 1024), 2 µs in [1K, 2K), 3–4 µs in [2K, 4K), 5–8, 9–16, 17–32, 33–65 and 66–100 µs.
        XCTAssertEqual(anon.occupied, 10...17)
        XCTAssertEqual(Array(anon.buckets[10...17]), [1, 1, 2, 4, 8, 16, 33, 35])
        let major = try XCTUnwrap(r.time.summary.histograms[.major])
        XCTAssertEqual(major.occupied, 21...21, "2 ms is in [1M, 2M) ns")
        XCTAssertEqual(major.buckets[21], 4)
        XCTAssertEqual(LatencyHistogram.bucket(of: 0), 0)
        XCTAssertEqual(LatencyHistogram.bucket(of: 1), 1)
        XCTAssertEqual(LatencyHistogram.bucket(of: .max), 64)

        let text = r.renderText(TextReportOptions(histograms: true))
        XCTAssertTrue(text.contains("""
            anon service time, ns (100 faults)
            [512, 1K)     1 |@                                                   |
            [1K, 2K)      1 |@                                                   |
            [2K, 4K)      2 |@@                                                  |
            [4K, 8K)      4 |@@@@@                                               |
            [8K, 16K)     8 |@@@@@@@@@@@                                         |
            [16K, 32K)   16 |@@@@@@@@@@@@@@@@@@@@@@@                             |
            [32K, 64K)   33 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@   |
            [64K, 128K)  35 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
            """), text)
        XCTAssertTrue(text.contains("major service time, ns (4 faults)\n[1M, 2M)  4 |"), text)

        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try r.renderJSON().utf8)) as? [String: Any])
        let histograms = try XCTUnwrap(json["latency_histograms"] as? [String: [[String: Int]]])
        XCTAssertEqual(histograms["anon"]?.map { $0["count"]! }, [1, 1, 2, 4, 8, 16, 33, 35])
        XCTAssertEqual(histograms["anon"]?.first?["low_ns"], 512)
        XCTAssertEqual(histograms["major"]?.map { $0["low_ns"]! }, [1 << 20])
    }

    func testTimeShareOfEachThreadAndOfTheRun() throws {
        let r = report(try TimedLog.load())
        // Longest first: the reader's 8 ms, then cc1's main thread 5.05 ms, then as.
        XCTAssertEqual(r.time.threads.map(\.tid), [TimedLog.reader, TimedLog.cc1, TimedLog.assembler])
        XCTAssertEqual(r.time.threads.map(\.timeNs), [8_000_000, 5_050_000, 30_000])
        XCTAssertEqual(r.time.threads.map(\.faults), [4, 100, 11])
        // A thread's share is of its process's life: cc1 100 ms, as 10 ms.
        XCTAssertEqual(r.time.threads.map(\.wallNs), [100_000_000, 100_000_000, 10_000_000])
        let text = r.renderText()
        XCTAssertTrue(text.contains("  200.00 ms, 2 processes, 115 faults; 13.1 ms in faults (6.5% of the run's wall time, summed over threads)\n"), text)
        XCTAssertTrue(text.contains("   12   10       4  8.00 ms   8.0%  /usr/bin/cc1 -quiet x.c\n"), text)
        XCTAssertTrue(text.contains("   10   10     100  5.05 ms   5.1%  /usr/bin/cc1 -quiet x.c\n"), text)
        XCTAssertTrue(text.contains("   11   11      11  30.0 µs   0.3%  as\n"), text)

        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try r.renderJSON().utf8)) as? [String: Any])
        XCTAssertEqual(json["fault_time_ns"] as? Int, 13_080_000)
        let service = try XCTUnwrap(json["service"] as? [String: [String: Int]])
        XCTAssertEqual(service["anon"], ["count": 100, "total_ns": 5_050_000, "p50_ns": 50_000, "p90_ns": 90_000,
                                         "p99_ns": 99_000, "max_ns": 100_000])
        XCTAssertEqual(service["all"]?["p99_ns"], 2_000_000)
        let processes = try XCTUnwrap(json["processes"] as? [[String: Any]])
        let assembler = try XCTUnwrap(processes.first { $0["pid"] as? Int == 11 })
        XCTAssertEqual((assembler["service"] as? [String: [String: Int]])?["file"]?["total_ns"], 30_000)
    }

    /// Each process's service-time percentiles, as JSON's processes[].service.all has them,
    /// in a table of their own in text and HTML. cc1: 1…100 µs and four of 2 ms (104 timed,
    /// rank 52 is 52 µs, rank 94 is 94 µs, rank 103 a major); as: ten of 3 µs and a segv.
    func testProcessesHaveTheirPercentilesInTextAndHTML() throws {
        let r = report(try TimedLog.load())
        let cc1 = try XCTUnwrap(r.processes.first { $0.pid == TimedLog.cc1 })
        XCTAssertEqual(cc1.service.all, ServiceStatsExpectation(count: 104, total: 13_050_000, p50: 52_000, p90: 94_000,
                                                                p99: 2_000_000, max: 2_000_000).stats)
        let text = r.renderText()
        XCTAssertTrue(text.contains("""
            time in faults by process
              pid  faults     time      p50      p90      p99      max  command
               10     104  13.1 ms  52.0 µs  94.0 µs  2.00 ms  2.00 ms  /usr/bin/cc1 -quiet x.c
               11      11  30.0 µs  3.00 µs  3.00 µs  3.00 µs  3.00 µs  as

            """), text)
        // The top N, and how many more.
        let top = r.renderText(TextReportOptions(processes: 1))
        XCTAssertTrue(top.contains("time in faults by process, top 1, 1 more not shown\n"
                                   + "  pid  faults     time      p50      p90      p99      max  command\n"
                                   + "   10     104  13.1 ms  52.0 µs  94.0 µs  2.00 ms  2.00 ms  /usr/bin/cc1 -quiet x.c\n\n"), top)

        let html = HTMLReport.render(report: r, flameGraph: "", heatmap: "")
        XCTAssertTrue(html.contains("<tr><td class=\"n\">10</td><td class=\"n\">1</td><td class=\"n\">104</td>"
                                    + "<td class=\"n\">13.1 ms</td><td class=\"n\">52.0 µs</td><td class=\"n\">94.0 µs</td>"
                                    + "<td class=\"n\">2.00 ms</td><td class=\"n\">2.00 ms</td>"), html)
        XCTAssertTrue(html.contains("<td class=\"n\">30.0 µs</td><td class=\"n\">3.00 µs</td><td class=\"n\">3.00 µs</td>"
                                    + "<td class=\"n\">3.00 µs</td><td class=\"n\">3.00 µs</td>"), html)

        // With one major fault, cc1's p99 (rank 100 of 101: 100 µs) is not its max (2 ms),
        // nor its p90 (rank 91) its p50 (rank 51): each column is its own.
        let one = report(try TimedLog.load(majors: 1))
        let lines = one.renderText().split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        XCTAssertTrue(lines.contains("10 101 7.05 ms 51.0 µs 91.0 µs 100 µs 2.00 ms /usr/bin/cc1 -quiet x.c"), one.renderText())
        XCTAssertTrue(HTMLReport.render(report: one, flameGraph: "", heatmap: "").contains(
            "<td class=\"n\">7.05 ms</td><td class=\"n\">51.0 µs</td><td class=\"n\">91.0 µs</td><td class=\"n\">100 µs</td>"
                + "<td class=\"n\">2.00 ms</td>"))
    }

    /// The slowest faults' addresses stay on one line in HTML, and their ratio to the median
    /// is rounded (100 µs against 50 µs: 2.0×).
    func testSlowestFaultsInHTML() throws {
        let r = report(try TimedLog.load(), selection: FaultSelection(kind: .kind(.anon)))
        let html = HTMLReport.render(report: r, flameGraph: "", heatmap: "")
        XCTAssertTrue(html.contains("<td class=\"n\">100 µs</td><td class=\"n\">2.0×</td><td>anon</td>"), html)
        XCTAssertTrue(html.contains("<td class=\"addr\">read 0x7f1000064000</td>"), html)
        XCTAssertTrue(html.contains("td.addr {") && html.contains("white-space: nowrap"), html)
    }

    /// HTML's first line is the text's: three threads, so the time is summed over them.
    func testHTMLHeadlineIsTheTexts() throws {
        let r = report(try TimedLog.load())
        let html = HTMLReport.render(report: r, flameGraph: "", heatmap: "")
        // The page's first line is the text's: three threads, so the time is summed over them.
        XCTAssertTrue(html.contains("200.00 ms, 2 processes, 115 faults; 13.1 ms in faults (6.5% of the run&#39;s wall time, "
                                    + "summed over threads)</p>"), html)
    }

    func testSlowestFaultsAreTheLongestInLogOrderWithTheirStacks() throws {
        let r = report(try TimedLog.load())
        XCTAssertEqual(r.time.slowest.map(\.kind), [.major, .major, .major])
        XCTAssertEqual(r.time.slowest.map(\.address), [0x7f20_0000_0000, 0x7f20_0000_1000, 0x7f20_0000_2000])
        XCTAssertEqual(r.time.slowest.first?.stack, "read_page ← load ← main")
        XCTAssertEqual(r.time.slowest.first?.mapping, "/usr/lib/libfoo.so")
        XCTAssertEqual(r.time.slowest.first?.tid, TimedLog.reader)

        // Of anonymous faults only: 100, 99 and 98 µs; 100 µs is twice the median (50 µs).
        let anon = report(try TimedLog.load(), selection: FaultSelection(kind: .kind(.anon)))
        XCTAssertEqual(anon.time.slowest.map(\.serviceNs), [100_000, 99_000, 98_000])
        XCTAssertEqual(anon.time.slowest.map(\.mapping), ["[anon]", "[anon]", "[anon]"])
        let text = anon.renderText()
        XCTAssertTrue(text.contains("slowest 3 anon faults\n  100 µs anon (2.0× its kind's median), pid 10/10 cc1 at 11.00 ms, "
                                    + "read of 0x7f1000064000 in [anon]\n    alloc ← main\n  99.0 µs anon, pid 10/10"), text)
    }

    func testFunctionsWeighedByTime() throws {
        let r = report(try TimedLog.load(), weight: .time)
        let section = r.sections[0]
        XCTAssertEqual(section.rows.map(\.name), ["read_page", "alloc", "emit"])
        XCTAssertEqual(section.rows.map(\.timeNs), [8_000_000, 5_050_000, 30_000])
        XCTAssertEqual(section.rows.map(\.count), [4, 100, 11])
        let text = r.renderText()
        XCTAssertTrue(text.contains("functions by time in faults of 115 faults (13.1 ms)\n"
                                    + "     time      %  faults  kinds            function\n"
                                    + "  8.00 ms  61.2%       4  major 4          read_page\n"
                                    + "  5.05 ms  38.6%     100  anon 100         alloc\n"
                                    + "  30.0 µs   0.2%      11  file 10, segv 1  emit\n"), text)
        // Faults, the default, rank the other way round.
        XCTAssertEqual(report(try TimedLog.load()).sections[0].rows.map(\.name), ["alloc", "emit", "read_page"])
    }

    func testChildrenCountEachFunctionWithItsCallees() throws {
        let r = report(try TimedLog.load(), children: true)
        let section = r.sections[0]
        XCTAssertTrue(section.children)
        // main is on every stack (in both programs: merged by name); load only above read_page.
        XCTAssertEqual(section.rows.map(\.name), ["main", "alloc", "emit", "load", "read_page"])
        XCTAssertEqual(section.rows.map { $0.inclusive?.faults }, [115, 100, 11, 4, 4])
        XCTAssertEqual(section.rows.map(\.count), [0, 100, 11, 0, 4], "self: faults with the function as leaf")
        XCTAssertEqual(section.rows.first?.inclusive?.timeNs, 13_080_000)
        let byTime = report(try TimedLog.load(), weight: .time, children: true).sections[0]
        XCTAssertEqual(byTime.rows.map(\.name), ["main", "load", "read_page", "alloc", "emit"])

        let text = r.renderText()
        XCTAssertTrue(text.contains("functions with their callees (children) of 115 faults\n"), text)
        XCTAssertTrue(text.contains("       115  100.0%     0   0.0%  13.1 ms  anon 100, file 10, major 4, segv 1  main\n"), text)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try r.renderJSON().utf8)) as? [String: Any])
        XCTAssertEqual(json["children"] as? Bool, true)
        let top = try XCTUnwrap(json["top"] as? [[String: Any]])
        XCTAssertEqual(top.first?["inclusive_count"] as? Int, 115)
        XCTAssertEqual(top.first?["inclusive_time_ns"] as? Int, 13_080_000)
        XCTAssertEqual(top.first?["count"] as? Int, 0)
    }

    func testProcessesPickedByPidOrProgramName() throws {
        let log = try TimedLog.load()
        // cc1 by its program name, though its command line has a directory and arguments.
        let byName = try XCTUnwrap(FaultSelection.processes(in: log, pids: [], commands: ["cc1"]))
        XCTAssertEqual(byName, [TimedLog.cc1])
        XCTAssertNil(FaultSelection.processes(in: log, pids: [], commands: []))
        let r = report(log, [.function, .mapping], selection: FaultSelection(pids: byName, label: "cc1"))
        XCTAssertEqual(r.totals.faults, 104)
        XCTAssertEqual(r.processes.map(\.pid), [TimedLog.cc1])
        XCTAssertEqual(r.time.summary.all.totalNs, 13_050_000)
        XCTAssertEqual(r.sections[1].rows.map(\.name), ["[anon]", "/usr/lib/libfoo.so"])
        XCTAssertTrue(r.crashes.isEmpty, "the segv is the assembler's")
        XCTAssertTrue(r.renderText().hasPrefix("faultline report: make (cc1: 1 process)\n"), r.renderText())

        // Without a segv or a mapping section, the slowest faults' mappings come from an index
        // of those faults alone: the same names.
        let cc1Anon = report(log, selection: FaultSelection(kind: .kind(.anon), pids: byName), slowest: 2)
        XCTAssertEqual(cc1Anon.time.slowest.map(\.mapping), ["[anon]", "[anon]"])
        XCTAssertEqual(report(log, selection: FaultSelection(pids: byName), slowest: 1).time.slowest.map(\.mapping),
                       ["/usr/lib/libfoo.so"])

        let assembler = report(log, selection: FaultSelection(pids: [TimedLog.assembler]))
        XCTAssertEqual(assembler.totals.faults, 11)
        XCTAssertEqual(assembler.crashes.count, 1)
        XCTAssertTrue(assembler.renderText().hasPrefix("faultline report: make (pid 11)\n"))
    }

    /// `info --pid/--comm`: the selected processes and their counts; the header stays whole.
    func testInfoOfSelectedProcesses() throws {
        let log = try TimedLog.load()
        let text = LogInfo.render(log, selection: FaultSelection(pids: [TimedLog.assembler], label: "as"))
        XCTAssertTrue(text.contains("  selected    pid 11 (as); the processes and faults by kind below are theirs only\n"), text)
        XCTAssertTrue(text.contains("faults by kind (the selected processes')\n"), text)
        XCTAssertTrue(text.contains("  total             11\n"), text)
        XCTAssertTrue(text.contains("   11     1      11               -            -  exit 0  as\n"), text)
        XCTAssertFalse(text.contains("/usr/bin/cc1"), "cc1 is not listed: \(text)")
        XCTAssertTrue(LogInfo.render(log).contains("  total             115\n"))
    }

    /// A pid given that the log knows nothing of (no process, no fault) is warned about.
    func testUnknownPidsAreThoseWithNoProcessAndNoFault() throws {
        XCTAssertEqual(FaultSelection.unknownPids([TimedLog.cc1, 99_999], in: try TimedLog.load()), [99_999])
    }

    func testShortDurations() {
        XCTAssertEqual(TextFormat.shortDuration(ns: 0), "0 ns")
        XCTAssertEqual(TextFormat.shortDuration(ns: 999), "999 ns")
        XCTAssertEqual(TextFormat.shortDuration(ns: 1_234), "1.23 µs")
        XCTAssertEqual(TextFormat.shortDuration(ns: 12_345), "12.3 µs")
        XCTAssertEqual(TextFormat.shortDuration(ns: 138_400), "138 µs")
        XCTAssertEqual(TextFormat.shortDuration(ns: 999_600), "1.00 ms")
        XCTAssertEqual(TextFormat.shortDuration(ns: 4_020_000_000), "4.02 s")
        XCTAssertEqual(TextFormat.shortDuration(ns: 5_000_000_000_000), "5,000 s")
        XCTAssertEqual(TextFormat.shortDuration(ns: .max), "18,446,744,073 s")
        XCTAssertEqual(TextFormat.percent(.max, of: .max), "100.0%")
        XCTAssertEqual(TextFormat.percent(.max / 2, of: .max), "50.0%")
        XCTAssertEqual(TextFormat.percent(2, of: 3), "66.7%")
        XCTAssertEqual(TextFormat.percent(214_000, of: 8_000), "2,675.0%")
    }
}

/// ServiceStats written out by field, so a failing comparison names what it expected.
private struct ServiceStatsExpectation {
    var count: UInt64, total: UInt64, p50: UInt64, p90: UInt64, p99: UInt64, max: UInt64
    var stats: ServiceStats {
        var s = ServiceStats()
        s.count = count; s.totalNs = total; s.p50Ns = p50; s.p90Ns = p90; s.p99Ns = p99; s.maxNs = max
        return s
    }
}
