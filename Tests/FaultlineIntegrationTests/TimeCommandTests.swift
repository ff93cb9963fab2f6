// Service time and process selection on real recordings, through the binary: the report's
// times must be the ones the log holds fault by fault (as `export --format jsonl` writes
// them), and `--comm` must pick the sample out of the processes around it.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineLog

final class TimeCommandTests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        _ = Samples.built
        cli = try CLI(test: name)
    }

    /// first_touch writes 1000 fresh anonymous pages: the report's service statistics are the
    /// jsonl's service_ns, counted, summed and ranked independently here.
    func testReportTimesAreTheLogsFaultByFault() throws {
        let log = try cli.recordLog("touch.flt", [Samples.path("first_touch")])
        let jsonl = try cli.run(["export", log, "--format", "jsonl"])
        XCTAssertEqual(jsonl.status, 0, jsonl.stderr)
        var times: [String: [UInt64]] = [:]
        for line in jsonl.stdout.split(separator: "\n") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["type"] as? String == "fault", let ns = object["service_ns"] as? NSNumber else { continue }
            times[object["kind"] as! String, default: []].append(ns.uint64Value)
        }
        let anon = (times["anon"] ?? []).sorted()
        XCTAssertGreaterThanOrEqual(anon.count, 1000, "first_touch's own 1000 and the loader's")

        let report = try cli.json(["report", log, "--format", "json"])
        let service = try XCTUnwrap(report["service"] as? [String: [String: NSNumber]])
        let stats = try XCTUnwrap(service["anon"])
        XCTAssertEqual(stats["count"]?.intValue, anon.count)
        XCTAssertEqual(stats["total_ns"]?.uint64Value, anon.reduce(0, +))
        XCTAssertEqual(stats["max_ns"]?.uint64Value, anon.last)
        // Nearest rank: the ceil(n·p/100)-th smallest.
        for p in [50, 90, 99] {
            XCTAssertEqual(stats["p\(p)_ns"]?.uint64Value, anon[(anon.count * p + 99) / 100 - 1], "p\(p)")
        }
        let all = times.values.joined().reduce(UInt64(0), +)
        XCTAssertEqual((report["fault_time_ns"] as? NSNumber)?.uint64Value, all)
        let histogram = try XCTUnwrap((report["latency_histograms"] as? [String: [[String: NSNumber]]])?["anon"])
        XCTAssertEqual(histogram.reduce(0) { $0 + $1["count"]!.intValue }, anon.count)

        // Weighed by time, the folded export adds up to the same nanoseconds.
        let folded = try cli.run(["export", log, "--format", "folded", "--weight", "time"])
        XCTAssertEqual(folded.status, 0, folded.stderr)
        let sum = folded.stdout.split(separator: "\n").reduce(UInt64(0)) { $0 + UInt64($1.split(separator: " ").last!)! }
        XCTAssertEqual(sum, all)
    }

    /// A linker's command line runs to a thousand characters: `--by process` cuts it in text
    /// (the pid kept) and keeps it whole in JSON. first_touch with 100 long arguments.
    func testLongCommandLinesAreCutInText() throws {
        let arguments = (1...100).map { "--argument-number-\($0)" }
        let log = try cli.recordLog("long.flt", [Samples.path("first_touch")] + arguments)
        // JSON: the whole command line.
        let json = try cli.json(["report", log, "--by", "process", "--format", "json"])
        let top = try XCTUnwrap(json["top"] as? [[String: Any]])
        let whole = try XCTUnwrap(top.first { ($0["name"] as? String ?? "").contains(" --argument-number-1 ") })
        let wholeName = try XCTUnwrap(whole["name"] as? String)
        XCTAssertTrue(wholeName.hasSuffix(" " + ([Samples.path("first_touch")] + arguments).joined(separator: " ")), wholeName)
        let pid = try XCTUnwrap(wholeName.split(separator: " ").first.map(String.init))
        let command = String(wholeName.dropFirst(pid.count + 1))
        // Text: "PID COMMAND…", the command cut to 60 characters (59 and "…").
        let text = try cli.run(["report", log, "--by", "process"])
        XCTAssertEqual(text.status, 0, text.stderr)
        let section = try XCTUnwrap(text.stdout.components(separatedBy: "processes of ").last, text.stdout)
        let row = try XCTUnwrap(section.split(separator: "\n").first { $0.contains("  \(pid) ") }, text.stdout)
        XCTAssertTrue(row.hasSuffix("  \(pid) \(command.prefix(59))…"), String(row))
        XCTAssertFalse(row.contains("--argument-number-100"))
        XCTAssertGreaterThanOrEqual((whole["kinds"] as? [String: Int])?["anon"] ?? 0, 1000)
    }

    /// SHALLOW STACKS judges the faults asked about: deep_nofp's 256 fills, three calls
    /// below main in code without frame pointers, stop short; first_touch's 1000 reach main.
    func testShallowStacksAreJudgedOverTheSelectedProcesses() throws {
        let log = try cli.recordLog("two.flt", ["/bin/sh", "-c", "\(Samples.path("deep_nofp")); \(Samples.path("first_touch"))"])
        func reach(_ args: [String]) throws -> [String: Any] {
            try XCTUnwrap(try cli.json(["report", log, "--format", "json"] + args)["stack_reach"] as? [String: Any])
        }
        let deep = try reach(["--comm", "deep_nofp"])
        let first = try reach(["--comm", "first_touch"])
        let whole = try reach([])
        XCTAssertGreaterThanOrEqual(deep["cut_short"] as? Int ?? 0, 256)
        XCTAssertEqual(deep["shallow"] as? Bool, true, "\(deep)")
        XCTAssertGreaterThanOrEqual((first["faults_judged"] as? Int ?? 0) - (first["cut_short"] as? Int ?? 0), 1000)
        XCTAssertEqual(first["shallow"] as? Bool, false, "\(first)")
        XCTAssertGreaterThanOrEqual(whole["faults_judged"] as? Int ?? 0, (deep["faults_judged"] as? Int ?? 0) + (first["faults_judged"] as? Int ?? 0))
        let text = try cli.run(["report", log, "--comm", "first_touch"])
        XCTAssertFalse(text.stdout.contains("SHALLOW STACKS"), text.stdout)
        XCTAssertTrue(try cli.run(["report", log, "--comm", "deep_nofp"]).stdout.contains("SHALLOW STACKS"))
    }

    /// A shell that runs first_touch: --comm picks the sample's process out by its name.
    func testCommPicksOneProgramOutOfARecording() throws {
        let log = try cli.recordLog("shell.flt", ["/bin/sh", "-c", "\(Samples.path("first_touch")); true"])
        let everything = try cli.json(["report", log, "--format", "json"])
        XCTAssertGreaterThanOrEqual((everything["processes"] as? [Any])?.count ?? 0, 2)
        let picked = try cli.json(["report", log, "--format", "json", "--comm", "first_touch"])
        let processes = try XCTUnwrap(picked["processes"] as? [[String: Any]])
        XCTAssertEqual(processes.count, 1)
        XCTAssertTrue((processes[0]["command"] as? String ?? "").hasSuffix("first_touch"), "\(processes)")
        let pid = try XCTUnwrap(processes[0]["pid"] as? Int)
        XCTAssertEqual(picked["pids"] as? [Int], [pid])
        let anon = try XCTUnwrap((picked["totals"] as? [String: Int])?["anon"])
        XCTAssertGreaterThanOrEqual(anon, 1000)
        // The same process by its pid.
        let byPid = try cli.json(["report", log, "--format", "json", "--pid", "\(pid)"])
        XCTAssertEqual((byPid["totals"] as? [String: Int])?["anon"], anon)

        let none = try cli.run(["report", log, "--comm", "no-such-program"])
        XCTAssertEqual(none.status, 0)
        XCTAssertTrue(none.stderr.contains("no process in \(log) matches --pid/--comm: nothing is counted"), none.stderr)
        XCTAssertEqual(try cli.run(["report", log, "--pid", "x"]).status, 64)
        // A pid the recording never saw (above any pid_max) warns as a name does, in every
        // reading command; beside a real one, it is named and the real one counted.
        let unknown = String(Int32.max)
        for command in ["report", "info", "replay"] {
            let o = try cli.run([command, log, "--pid", unknown] + (command == "replay" ? ["--page-size", "4k", "--thp", "never"] : []))
            XCTAssertEqual(o.status, 0, o.stderr)
            XCTAssertTrue(o.stderr.contains("no process in \(log) matches --pid/--comm: nothing is counted"), "\(command): \(o.stderr)")
        }
        let mixed = try cli.run(["report", log, "--format", "json", "--pid", "\(pid),\(unknown)"])
        XCTAssertTrue(mixed.stderr.contains("no process \(unknown) in \(log): --pid \(unknown) counts nothing"), mixed.stderr)
        XCTAssertFalse(mixed.stderr.contains("nothing is counted"), mixed.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(mixed.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((object["totals"] as? [String: Int])?["anon"], anon)
    }
}
