import Foundation
import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class ReportJSONTests: FixtureTestCase {
    private let countKeys: Set<String> = ["faults", "minor", "major", "cow", "segv", "anon", "zero", "file", "other",
                                                 "swap", "swap_from_disk"]

    private func parse(_ r: FaultReport) throws -> [String: Any] {
        let text = try r.renderJSON()
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func testContractKeysAndValues() throws {
        let log = try FixtureLog.load()
        let r = FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer()),
                            options: ReportOptions(groupings: [.function], top: 3))
        let json = try parse(r)

        let totals = try XCTUnwrap(json["totals"] as? [String: Any])
        XCTAssertEqual(Set(totals.keys), countKeys)
        let expected: [String: Int] = ["faults": 31, "minor": 28, "major": 2, "cow": 5, "segv": 1,
                                       "anon": 14, "zero": 5, "file": 3, "other": 1, "swap": 0, "swap_from_disk": 0]
        for (key, value) in expected { XCTAssertEqual(totals[key] as? Int, value, key) }

        let processes = try XCTUnwrap(json["processes"] as? [[String: Any]])
        XCTAssertEqual(processes.count, 2)
        XCTAssertEqual(processes[0]["pid"] as? Int, 100)
        XCTAssertEqual(processes[0]["ppid"] as? Int, 1)
        XCTAssertEqual(processes[0]["command"] as? String, "./prog")
        XCTAssertEqual(processes[1]["pid"] as? Int, 101)
        XCTAssertEqual(processes[1]["ppid"] as? Int, 100)
        let childCounts = try XCTUnwrap(processes[1]["counts"] as? [String: Any])
        XCTAssertEqual(Set(childCounts.keys), countKeys)
        XCTAssertEqual(childCounts["faults"] as? Int, 7)
        XCTAssertEqual(childCounts["cow"] as? Int, 5)
        XCTAssertEqual(childCounts["minor"] as? Int, 7)
        XCTAssertEqual(childCounts["major"] as? Int, 0)

        XCTAssertEqual(json["lost"] as? Int, 3)
        XCTAssertEqual(json["throttled"] as? Int, 0)
        XCTAssertEqual(json["complete"] as? Bool, true)
        XCTAssertTrue(json["damage"] is NSNull)
        XCTAssertEqual(json["by"] as? String, "function")
        XCTAssertTrue(json["kind"] is NSNull)
        // Every fixture stack ends in main: 31 faults with a stack, none cut short.
        let reach = try XCTUnwrap(json["stack_reach"] as? [String: Any])
        XCTAssertEqual(reach["call_graph"] as? String, "fp")
        XCTAssertEqual(reach["faults_judged"] as? Int, 31)
        XCTAssertEqual(reach["cut_short"] as? Int, 0)
        XCTAssertEqual(reach["shallow"] as? Bool, false)

        let top = try XCTUnwrap(json["top"] as? [[String: Any]])
        XCTAssertEqual(top.map { $0["name"] as? String }, ["fill", "main", "memset"])
        XCTAssertEqual(top.map { $0["count"] as? Int }, [16, 7, 7])
        let kinds = try XCTUnwrap(top.first?["kinds"] as? [String: Any])
        XCTAssertEqual(kinds["anon"] as? Int, 10)
        XCTAssertEqual(kinds["cow"] as? Int, 5)
        XCTAssertEqual(kinds["other"] as? Int, 1)
        XCTAssertEqual(kinds["zero"] as? Int, 0)
    }

    func testTextIsIntegersSortedKeysAndLiteralBooleans() throws {
        let log = try FixtureLog.load()
        let text = try FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer()),
                                   options: ReportOptions(groupings: [.mapping], filter: .kind(.cow))).renderJSON()
        // Numbers outside string literals (a crash's description may say "1.50 MiB").
        let numbers = text.replacingOccurrences(of: #""([^"\\]|\\.)*""#, with: "\"\"", options: .regularExpression)
        XCTAssertNil(numbers.range(of: "[0-9][.eE][0-9+-]", options: .regularExpression), "every number is an integer:\n\(text)")
        XCTAssertTrue(text.contains("true"))
        XCTAssertTrue(text.contains("\"./prog --fill\""), "slashes are not escaped")
        let topLevelKeys = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }
            .map { String($0.dropFirst(3).prefix { $0 != "\"" }) }
        XCTAssertEqual(topLevelKeys, topLevelKeys.sorted())
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(json["kind"] as? String, "cow")
        XCTAssertEqual(json["by"] as? String, "mapping")
        let top = try XCTUnwrap(json["top"] as? [[String: Any]])
        XCTAssertEqual(top.map { $0["name"] as? String }, ["[heap]", "[anon]"])
        XCTAssertEqual(top.map { $0["count"] as? Int }, [4, 1])
    }
}
