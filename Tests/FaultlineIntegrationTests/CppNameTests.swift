// Long C++ names in every list of stacks: samples/bin/cpp_names takes its 300 faults in a
// method whose demangled name runs to a thousand characters. Text shortens each frame as
// `--by function` shortens a function (templates and parameters folded, the method's name
// whole, its file:line kept); JSON keeps the whole name.

import XCTest
import Foundation

final class CppNameTests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws {
        if let why = Samples.missingCapability { throw XCTSkip(why) }
        _ = Samples.built
        cli = try CLI(test: name)
    }

    static let method = "touch_every_page_of_the_mapping"
    /// How text shows the method in a stack: its namespaces' start, then the method.
    static let shortened = "very_long_namespace_nam…::touch_every_page_of_the_mapping(…) cpp_names.cc:"

    func testStacksOriginsAndSlowestFaultsKeepTheMethodsName() throws {
        let o = try cli.run(["record", "-q", "-o", cli.scratch.appendingPathComponent("cpp.flt").path, "--", Samples.path("cpp_names")])
        XCTAssertEqual(o.status, 0, o.stderr)
        let expectation = try XCTUnwrap(o.stdout.split(separator: "\n").compactMap(Expectation.init(line:)).first, o.stdout)
        XCTAssertEqual(expectation.count, 300)
        let log = cli.scratch.appendingPathComponent("cpp.flt").path

        // The stack of the 300 writes: the method, called from main.
        let stacks = try cli.run(["report", log, "--by", "stack", "--top", "1", "--slowest", "0"]).stdout
        let row = try XCTUnwrap(stacks.split(separator: "\n").first { $0.contains("anon 300") || $0.contains(Self.method) }, stacks)
        XCTAssertTrue(row.contains("  anon 300  " + Self.shortened), String(row))
        XCTAssertTrue(row.contains(" ← main cpp_names.cc:"), String(row))
        XCTAssertFalse(row.contains("basic_string"), "template arguments folded: \(row)")

        // Where the memory came from: mmap ← the method ← main.
        let origins = try cli.run(["report", log, "--by", "origin", "--top", "1", "--slowest", "0"]).stdout
        let origin = try XCTUnwrap(origins.split(separator: "\n").first { $0.contains("anon 300") }, origins)
        XCTAssertTrue(origin.contains(" ← " + Self.shortened), String(origin))
        XCTAssertTrue(origin.hasSuffix("  ([anon])"), String(origin))

        // Every anonymous fault in the slowest list: the method's 300 show it shortened.
        let slowest = try cli.run(["report", log, "--kind", "anon", "--slowest", "10000"]).stdout
        XCTAssertEqual(slowest.split(separator: "\n").filter { $0.hasPrefix("    " + Self.shortened) }.count, 300, slowest)

        // JSON: the whole name, with its template arguments and parameters.
        let json = try cli.json(["report", log, "--by", "stack", "--top", "1", "--format", "json"])
        let top = try XCTUnwrap((json["top"] as? [[String: Any]])?.first)
        XCTAssertEqual(top["count"] as? Int, 300)
        let frames = try XCTUnwrap(top["frames"] as? [[String: Any]])
        let leaf = try XCTUnwrap(frames.first?["function"] as? String)
        XCTAssertTrue(leaf.hasPrefix("very_long_namespace_name::inner_detail_namespace::PageToucherWithAnExtremelyLongName<std::"), leaf)
        XCTAssertTrue(leaf.contains(">::\(Self.method)(std::map<"), leaf)
        XCTAssertTrue((top["name"] as? String ?? "").hasPrefix(leaf + " cpp_names.cc:"))
        let slow = try XCTUnwrap(try cli.json(["report", log, "--kind", "anon", "--slowest", "10000", "--format", "json"])["slowest"] as? [[String: Any]])
        XCTAssertEqual(slow.filter { ($0["stack"] as? String ?? "").hasPrefix(leaf + " cpp_names.cc:") }.count, 300)
    }
}
