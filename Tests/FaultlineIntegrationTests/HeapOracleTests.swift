// The heap against the kernel's own smaps. perf announces a brk heap's first growth as
// anonymous memory; the kernel calls that VMA "[heap]". A sample grows its break, writes
// part of it, lowers it, and reads its [heap] line and Rss: the report must put the heap's
// faults under that name, and replay's rows of it must hold what smaps counts.

import XCTest
import FaultlineTestSupport
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis
import FaultlineReplay

final class HeapOracleTests: XCTestCase {
    func testTheHeapIsNamedAndCountedAsTheKernelDoes() throws {
        let run = try Samples.record("heap_rows")
        assertExpectations(run)
        let oracle = try XCTUnwrap(run.stdout.split(separator: "\n").compactMap { sampleLineFields($0, tag: "ORACLE") }.first,
                                   "no ORACLE line: \(run.stdout)")
        let heapStart = try XCTUnwrap(hexField(oracle, "heap_start"))
        let heapEnd = try XCTUnwrap(hexField(oracle, "heap_end"))
        let rssKB = try XCTUnwrap(oracle["rss_kb"].flatMap { UInt64($0) })
        XCTAssertEqual(rssKB, 52 * 4, "the kernel's own count of the pages the sample wrote")
        let pid = try XCTUnwrap(run.expectations.first?.pid)

        // The report: every fault in the kernel's [heap] is named so.
        let index = MappingIndex(log: run.log)
        var names: [String: Int] = [:]
        for (i, fault) in run.log.faults.enumerated() where fault.pid == pid && (heapStart..<heapEnd).contains(fault.address) {
            let name = index.mapping(ofFault: i).map { MappingName.display(run.log.modulePath(index.mmaps[$0].module)) } ?? "none"
            names[name, default: 0] += 1
        }
        XCTAssertEqual(names, ["[heap]": 52], "the report's mapping of the heap's faults")

        // Replay at the recorded configuration: the heap's growths are one row, named as the
        // kernel names it, holding its resident memory (the heap peaks at the end here).
        let input = ReplayInput(log: run.log)
        let config = try XCTUnwrap(SelfCheck.recordedConfig(of: input))
        let rows = ReplayEngine(config: config, input: input).run().mappings
            .filter { $0.pid == pid && $0.start < heapEnd && $0.end > heapStart }
        XCTAssertEqual(rows.map(\.name), ["[heap]"], "one row, as smaps shows one VMA: \(rows)")
        XCTAssertEqual(rows.first?.peakResidentBytes, rssKB * 1024, "\(rows)")
    }
}
