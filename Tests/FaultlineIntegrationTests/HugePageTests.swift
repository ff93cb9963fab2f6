// Huge pages as they are: hugetlb faults get the kind their access makes and the 2 MiB page
// they mapped (samples/hugetlb_kinds: MAP_HUGETLB, a shared hugetlbfs file, private
// mappings of it and of a fresh file), and a fault that mapped a THP carries its size into
// the log, `export jsonl` and the reports (samples/thp_shapes, checked against the kernel's
// own counters and smaps).

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis

final class HugePageTests: XCTestCase {
    static let twoMiB: UInt64 = 2 << 20

    func testHugetlbFaultsHaveTheKindOfTheirAccessAndTheirPageSize() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let n = 4
        // Seven shapes of n pages; the private copies and the shared file's pages each hold one.
        try HugePagePool.withExtraPages(5 * n + 4) {
            try HugetlbfsMount.with { dir in
                let run = try Samples.record("hugetlb_kinds", [dir, "\(n)"])
                XCTAssertTrue(run.stdout.contains("done \(n)"), run.stdout)
                XCTAssertEqual(run.expectations.count, 7)
                assertExpectations(run)
                assertRecordedMatchesKernel(run)

                let huge = run.log.faults.filter { $0.mappedPageBytes == Self.twoMiB }
                XCTAssertEqual(huge.count, 7 * n, "one 2 MiB fault per huge page and access: \(huge.map(\.kind))")
                let report = FaultReport(log: run.log, namer: FrameNamer(log: run.log, symbolizer: NullSymbolizer()))
                let row = report.pageSizes.rows.first { $0.pageBytes == Self.twoMiB }
                XCTAssertEqual(row?.faults, UInt64(7 * n))
                XCTAssertEqual(row?.mappedBytes, UInt64(7 * n) * Self.twoMiB)
                XCTAssertTrue(report.renderText().contains("2 MiB 28 faults (56 MiB)"), report.renderText())
                let sizes = report.jsonObject["page_sizes"] as? [[String: Any]] ?? []
                XCTAssertTrue(sizes.contains { ($0["page_size"] as? UInt64) == Self.twoMiB && ($0["faults"] as? UInt64) == 28 },
                              "\(sizes)")
                let html = HTMLReport.render(report: report, flameGraph: "", heatmap: "")
                XCTAssertTrue(html.contains("Page sizes mapped"))
                XCTAssertEqual(try jsonlPageSizes(run.logPath).filter { $0 == Self.twoMiB }.count, 7 * n)
            }
        }
    }

    /// 64 threads write and read at random over MADV_HUGEPAGE memory (samples/huge_race):
    /// they race into the same huge pages, and a fault that found the huge page another
    /// thread's fault mapped while it waited is no swap-in. The kernel is the oracle: no page
    /// of the machine went out to swap during the run (/proc/vmstat), so none came back.
    /// Before the fix, 5 runs in 6 had 1-3 "swap" faults.
    func testThreadsRacingIntoHugePagesTakeNoSwapIn() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let mode = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? ""
        guard mode.contains("[always]") || mode.contains("[madvise]") else {
            throw Skip.because("THP is off on this machine ([never]), and the tests do not change the global THP mode")
        }
        for _ in 0..<3 {
            let swappedOutBefore = Self.pagesSwappedOut()
            let fallbackBefore = vmstat("thp_fault_fallback") ?? 0
            let run = try Samples.record("huge_race", ["64", "64", "4000"])
            let swappedOut = Self.pagesSwappedOut() - swappedOutBefore
            let fellBack = (vmstat("thp_fault_fallback") ?? 0) - fallbackBefore
            let fields = run.stdout.split(separator: "\n").first { $0.hasPrefix("RANGE ") }?.split(separator: " ") ?? []
            guard fields.count == 3, let start = UInt64(fields[1].dropFirst(2), radix: 16),
                  let end = UInt64(fields[2].dropFirst(2), radix: 16) else { return XCTFail("no RANGE line: \(run.stdout)") }
            let region = run.log.faults.filter { $0.address >= start && $0.address < end }
            // 64 MiB from a 2 MiB boundary: 32 huge pages, each hit by some 8,000 of the
            // 256,000 random accesses. Each is mapped whole by a fault that says 2 MiB (a
            // THP, or the huge zero page for a read first), unless the kernel could not
            // allocate it (thp_fault_fallback, counted machine-wide: a stricter condition).
            let hugePages = Set(region.filter { $0.mappedPageBytes == Self.twoMiB }.map { $0.address / Self.twoMiB })
            XCTAssertEqual(end - start, 64 << 20)
            if fellBack == 0 {
                XCTAssertEqual(hugePages.count, 32, "each huge page of the region mapped by a 2 MiB fault")
            } else {
                XCTAssertLessThanOrEqual(hugePages.count, 32, "\(fellBack) THP allocations fell back machine-wide")
            }
            let swapIns = region.filter { $0.kind == .swap }.count
            XCTAssertLessThanOrEqual(UInt64(swapIns), swappedOut, "swap-ins, with \(swappedOut) pages swapped out machine-wide")
            XCTAssertEqual(Set(region.map(\.kind)).subtracting([.anon, .zero, .cow, .other, .swap]), [])
            assertRecordedMatchesKernel(run)
        }
    }

    /// Pages the machine has written to swap (and to zswap) since boot.
    static func pagesSwappedOut() -> UInt64 {
        let text = (try? String(contentsOfFile: "/proc/vmstat", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").reduce(0) { sum, line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, parts[0] == "pswpout" || parts[0] == "zswpout", let n = UInt64(parts[1]) else { return sum }
            return sum + n
        }
    }

    /// THP faults (MADV_HUGEPAGE, in the machine's own THP mode, which is not changed): each
    /// fault that mapped a THP says so, and there are as many as smaps' AnonHugePages counts.
    func testFaultsThatMappedATransparentHugePageCarryItsSize() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let mode = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? ""
        guard mode.contains("[always]") || mode.contains("[madvise]") else {
            throw Skip.because("THP is off on this machine ([never]), and the tests do not change the global THP mode")
        }
        for alignment in ["aligned", "unaligned"] {
            var checked = false
            for attempt in 0..<5 where !checked {
                // The kernel could not allocate THPs last time (fragmented memory, a passing
                // state): compact it before trying again.
                if attempt > 0 { _ = MachineSettings.write("1", to: "/proc/sys/vm/compact_memory") }
                let run = try Samples.record("thp_shapes", ["sequential", "16", alignment])
                guard let oracle = run.stdout.split(separator: "\n").compactMap(KernelOracleTests.Oracle.init).first else {
                    return XCTFail("no ORACLE line: \(run.stdout)")
                }
                if oracle.fallback > 0 { continue } // the kernel could not allocate THPs: not comparable
                checked = true
                let end = oracle.start + (16 << 20)
                let region = run.log.faults.filter { $0.pid == run.log.processes.keys.min() ?? 0 }
                    .filter { $0.address >= oracle.start && $0.address < end }
                let huge = region.filter { $0.mappedPageBytes == Self.twoMiB }
                XCTAssertEqual(UInt64(region.count), oracle.minflt, "\(alignment): faults against the kernel's count")
                XCTAssertEqual(UInt64(huge.count) * 2048, oracle.hugeKB, "\(alignment): THP faults against AnonHugePages")
                // With no fallback, every 2 MiB-aligned stretch inside the region is one THP
                // (8 aligned, 7 unaligned), and its first write the one fault there; the rest
                // of the region (none aligned, 511 + 1 pages unaligned) takes base pages.
                let firstHuge = (oracle.start + Self.twoMiB - 1) / Self.twoMiB * Self.twoMiB, lastHuge = end / Self.twoMiB * Self.twoMiB
                let hugePages = Int((lastHuge - firstHuge) / Self.twoMiB)
                XCTAssertEqual(hugePages, alignment == "aligned" ? 8 : 7)
                XCTAssertEqual(huge.count, hugePages, "\(alignment): one THP fault per huge page")
                XCTAssertEqual(Set(huge.map { $0.address / Self.twoMiB }).count, hugePages, "\(alignment): each huge page once")
                XCTAssertEqual(region.count - huge.count, Int((firstHuge - oracle.start + end - lastHuge) / 4096),
                               "\(alignment): a base-page fault for each page outside the huge pages")
                XCTAssertTrue(huge.allSatisfy { $0.kind == .anon }, "first writes: \(huge.map(\.kind))")
                XCTAssertEqual(region.count - huge.count, region.filter { $0.mappedPageBytes == 4096 }.count,
                               "the rest mapped base pages")
                let report = FaultReport(log: run.log, namer: FrameNamer(log: run.log, symbolizer: NullSymbolizer()))
                XCTAssertEqual(report.pageSizes.rows.first { $0.pageBytes == Self.twoMiB }?.faults, UInt64(huge.count))
                XCTAssertNotNil(report.renderText().range(of: "page sizes mapped: "))
                XCTAssertEqual(try jsonlPageSizes(run.logPath).filter { $0 == Self.twoMiB }.count, huge.count)
            }
            if !checked {
                throw Skip.because("the kernel could not allocate THPs five times running, memory compacted between "
                                   + "(thp_fault_fallback): too fragmented, or too little free")
            }
        }
    }

    /// The `page_size` of every fault line of `export --format jsonl`.
    func jsonlPageSizes(_ logPath: String) throws -> [UInt64] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-it-\(getpid())-sizes.jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try BufferedOutput(path: path)
        try JSONLExporter(timeline: try Timeline.load(path: logPath), symbolizer: NullSymbolizer()).write(to: output)
        try output.close()
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], o["type"] as? String == "fault"
            else { return nil }
            return (o["page_size"] as? NSNumber)?.uint64Value ?? 0
        }
    }
}
