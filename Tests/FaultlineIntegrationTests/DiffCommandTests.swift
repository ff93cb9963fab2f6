// `faultline diff` on real recordings, through the binary: `--fail-if-more` fails (status 2)
// exactly when the second recording has more faults than the first allows, and the JSON's
// changes add up.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineLog

final class DiffCommandTests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        _ = Samples.built
        cli = try CLI(test: name)
    }

    func testDiffFailsWhenTheSecondRecordingHasMoreFaults() throws {
        let small = try cli.recordLog("true.flt", ["/bin/true"])
        let large = try cli.recordLog("touch.flt", [Samples.path("first_touch")])
        // Against itself nothing changed: even no growth at all is allowed.
        let same = try cli.run(["diff", large, large, "--fail-if-more", "0"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("(no change)"), same.stdout)
        // Fewer faults in B: fine.
        XCTAssertEqual(try cli.run(["diff", large, small, "--fail-if-more", "0"]).status, 0)
        // first_touch has 1000 anon faults more than true: far more than 50%.
        let more = try cli.run(["diff", small, large, "--fail-if-more", "50", "--fail-on", "faults"])
        XCTAssertEqual(more.status, 2, more.stderr)
        XCTAssertTrue(more.stderr.contains("\(large) against \(small): faults grew by "), more.stderr)
        XCTAssertFalse(more.stderr.contains("time in faults grew"), "--fail-on faults: \(more.stderr)")

        let object = try cli.json(["diff", small, large, "--format", "json"])
        let a = try XCTUnwrap(object["a"] as? [String: Any]), b = try XCTUnwrap(object["b"] as? [String: Any])
        let change = try XCTUnwrap(object["faults_change"] as? Int)
        XCTAssertEqual(change, (b["faults"] as! Int) - (a["faults"] as! Int))
        let kinds = try XCTUnwrap(object["kinds"] as? [[String: Any]])
        let anon = try XCTUnwrap(kinds.first { $0["name"] as? String == "anon" })
        XCTAssertGreaterThanOrEqual(anon["faults_change"] as? Int ?? 0, 1000)
        XCTAssertEqual(kinds.reduce(0) { $0 + ($1["faults_change"] as! Int) }, change)

        let svg = cli.scratch.appendingPathComponent("diff.svg").path
        XCTAssertEqual(try cli.run(["diff", small, large, "--flamegraph", svg]).status, 0)
        XCTAssertTrue(try String(contentsOfFile: svg, encoding: .utf8).contains("colour: change against the first"))
        XCTAssertEqual(try cli.run(["diff", small, large, "--fail-on", "everything"]).status, 64)
        // A negative share is refused by name, not taken for an unknown option.
        let negative = try cli.run(["diff", small, large, "--fail-if-more", "-5"])
        XCTAssertEqual(negative.status, 64)
        XCTAssertTrue(negative.stderr.contains("--fail-if-more takes a share in percent, 0 or more"), negative.stderr)
        XCTAssertTrue(negative.stderr.contains("not -5"), negative.stderr)
        XCTAssertFalse(negative.stderr.contains("Missing value"), negative.stderr)
    }
}
