// `faultline diff`: two TimedLogs whose counts differ by known amounts (A: 100 anonymous
// faults of 1…100 µs and 4 major faults of 2 ms; B: 150 and 2), compared per kind,
// function, stack and mapping, and checked against --fail-if-more.

import Foundation
import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis
import FaultlineTestSupport

final class LogDiffTests: FixtureTestCase {
    private func diff(weight: Weight = .faults, name: String = #function) throws -> LogDiff {
        let a = try TimedLog.load(name + "-a", anon: 100, majors: 4)
        let b = try TimedLog.load(name + "-b", anon: 150, majors: 2)
        return LogDiff(a: a, b: b, namerA: FrameNamer(log: a, symbolizer: NullSymbolizer()),
                       namerB: FrameNamer(log: b, symbolizer: NullSymbolizer()), weight: weight)
    }

    func testTotalsKindsAndRowsChangeByTheKnownAmounts() throws {
        let d = try diff()
        // A: 100 + 4 + 11 faults; 5.05 ms + 8 ms + 30 µs. B: 150 + 2 + 11; 11.325 ms + 4 ms + 30 µs.
        XCTAssertEqual(d.a.totals.faults, 115)
        XCTAssertEqual(d.b.totals.faults, 163)
        XCTAssertEqual(d.a.totals.timeNs, 13_080_000)
        XCTAssertEqual(d.b.totals.timeNs, 15_355_000)
        let anon = try XCTUnwrap(d.kinds.first { $0.name == "anon" })
        XCTAssertEqual(anon.faultChange, 50)
        XCTAssertEqual(anon.timeChange, 6_275_000)
        let major = try XCTUnwrap(d.kinds.first { $0.name == "major" })
        XCTAssertEqual(major.faultChange, -2)
        XCTAssertEqual(major.timeChange, -4_000_000)
        XCTAssertEqual(d.kinds.first { $0.name == "file" }?.faultChange, 0)

        let sections = Dictionary(uniqueKeysWithValues: d.sections.map { ($0.by, $0) })
        // Unchanged rows (emit, as's stack and mapping) are left out; the largest change first.
        XCTAssertEqual(sections[.function]?.rows.map(\.name), ["alloc", "read_page"])
        XCTAssertEqual(sections[.function]?.rows.map(\.faultChange), [50, -2])
        XCTAssertEqual(sections[.stack]?.rows.map(\.name), ["alloc ← main", "read_page ← load ← main"])
        XCTAssertEqual(sections[.mapping]?.rows.map(\.name), ["[anon]", "/usr/lib/libfoo.so"])
        XCTAssertEqual(sections[.mapping]?.rows.map(\.a.faults), [100, 4])
        XCTAssertEqual(sections[.mapping]?.rows.map(\.b.faults), [150, 2])

        let text = d.renderText()
        XCTAssertTrue(text.contains("  faults: 115 → 163 (+48, +41.7%)\n"), text)
        XCTAssertTrue(text.contains("  time in faults: 13.1 ms → 15.4 ms (+2.28 ms, +17.4%)\n"), text)
        XCTAssertTrue(text.contains("       100       150  +50 (+50.0%)  5.05 ms  11.3 ms  +6.28 ms  alloc\n"), text)

        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try d.renderJSON().utf8)) as? [String: Any])
        XCTAssertEqual(json["faults_change"] as? Int, 48)
        XCTAssertEqual(json["time_change_ns"] as? Int, 2_275_000)
        let functions = try XCTUnwrap(json["functions"] as? [[String: Any]])
        XCTAssertEqual(functions.first?["name"] as? String, "alloc")
        XCTAssertEqual(functions.first?["b_time_ns"] as? Int, 11_325_000)
        XCTAssertEqual(functions.last?["faults_change"] as? Int, -2)
    }

    func testWeighedByTimeRanksByTheChangeInTime() throws {
        let d = try diff(weight: .time)
        let functions = try XCTUnwrap(d.sections.first { $0.by == .function })
        // alloc +6.275 ms outweighs read_page −4 ms.
        XCTAssertEqual(functions.rows.map(\.timeChange), [6_275_000, -4_000_000])
    }

    func testFailIfMoreComparesTheGrowthWithTheShareAllowed() throws {
        let d = try diff()
        // Faults grew 41.7%, time 17.4%.
        XCTAssertEqual(d.excess(percent: 20, on: [.faults, .time]),
                       ["faults grew by 41.7% (115 → 163), more than the 20.0% allowed"])
        XCTAssertEqual(d.excess(percent: 10, on: [.time]),
                       ["time in faults grew by 17.4% (13.1 ms → 15.4 ms), more than the 10.0% allowed"])
        XCTAssertEqual(d.excess(percent: 41.8, on: [.faults, .time]), [])
        XCTAssertEqual(d.excess(percent: 20, on: [.time]), [])
        // The other way round nothing grew, whatever the share.
        let a = try TimedLog.load("reverse-a", anon: 150, majors: 2)
        let b = try TimedLog.load("reverse-b", anon: 100, majors: 4)
        let reverse = LogDiff(a: a, b: b, namerA: FrameNamer(log: a, symbolizer: NullSymbolizer()),
                              namerB: FrameNamer(log: b, symbolizer: NullSymbolizer()))
        XCTAssertEqual(reverse.excess(percent: 0, on: [.faults, .time]), [])
    }

    func testDifferentialFlameGraphColoursGrowthRedAndShrinkageBlue() throws {
        let a = try TimedLog.load("flame-a", anon: 100, majors: 4)
        let b = try TimedLog.load("flame-b", anon: 150, majors: 2)
        let svg = FlameGraphSVG.renderDifference(a: a, b: b, namerA: FrameNamer(log: a, symbolizer: NullSymbolizer()),
                                                 namerB: FrameNamer(log: b, symbolizer: NullSymbolizer()),
                                                 selectionA: .everything, selectionB: .everything, weight: .faults)
        let xml = try XMLCollector.parse(svg)
        let frames = xml.all("g", where: "class", is: "f")
        XCTAssertEqual(frames.first { $0["data-n"] == "alloc" }?["data-c"], "150", "widths are B's")
        XCTAssertTrue(xml.text.contains("alloc (cc1): 150 faults, 92.0%; 11.3 ms in faults (anon 150); baseline 100 faults, change +50 faults"), xml.text)
        XCTAssertTrue(xml.text.contains("read_page (libfoo.so): 2 faults, 1.2%; 4.00 ms in faults (major 2); baseline 4 faults, change -2 faults"), xml.text)
        XCTAssertTrue(xml.text.contains("115 faults → 163 faults (+48 faults)"), xml.text)
        // alloc's +50 is the largest change: full red (and the legend's "grew"); read_page and
        // load shrank by 2 of 50: pale blue; as's three frames and the legend's "unchanged": grey.
        XCTAssertEqual(xml.all("rect", where: "fill", is: "hsl(0,85%,50%)").count, 2)
        XCTAssertEqual(xml.all("rect", where: "fill", is: "hsl(220,75%,94%)").count, 2)
        XCTAssertEqual(xml.all("rect", where: "fill", is: "hsl(0,0%,92%)").count, 4)
    }

    func testALogAgainstItselfShowsNoChange() throws {
        let log = try TimedLog.load()
        let namer = FrameNamer(log: log, symbolizer: NullSymbolizer())
        let d = LogDiff(a: log, b: log, namerA: namer, namerB: namer)
        XCTAssertTrue(d.sections.allSatisfy { $0.rows.isEmpty })
        XCTAssertTrue(d.kinds.allSatisfy { $0.faultChange == 0 && $0.timeChange == 0 })
        XCTAssertEqual(d.excess(percent: 0, on: [.faults, .time]), [])
    }
}
