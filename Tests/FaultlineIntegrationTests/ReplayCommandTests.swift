// `faultline replay` as a person runs it: JSON in the documented shape, one-line errors for
// bad flags and files, and the lackey import with or without a log.

import XCTest
import FaultlineTestSupport
import Foundation

final class ReplayCommandTests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws { cli = try CLI(test: name) }

    func recordedLog() throws -> String {
        _ = Samples.built
        let o = try cli.record([Samples.path("first_touch")])
        XCTAssertEqual(o.status, 0, o.stderr)
        return cli.scratch.appendingPathComponent("run.flt").path
    }

    /// This machine's THP mode: the bracketed word of the kernel's setting, which the
    /// recorder writes into the log's header.
    static func hostTHPMode() throws -> String {
        let setting = try String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)
        let open = try XCTUnwrap(setting.firstIndex(of: "["), setting), close = try XCTUnwrap(setting.firstIndex(of: "]"), setting)
        return String(setting[setting.index(after: open)..<close])
    }

    /// `--timing` accounts for every model the command runs: the configuration asked for
    /// and, beside one that is not 4k, the 4k/never baseline, each with every recorded fault;
    /// and says where the faults were decoded (before several models, beside one).
    func testTimingNamesEveryModelItRuns() throws {
        let log = try recordedLog()
        let report = try cli.run(["report", log, "--format", "json"])
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let faults = try XCTUnwrap((root["totals"] as? [String: Any])?["faults"] as? Int, report.stdout)
        XCTAssertGreaterThanOrEqual(faults, 1000, "first_touch writes 1000 pages")
        let big = try cli.run(["replay", log, "--page-size", "16k", "--thp", "never", "--no-self-check", "--timing", "--format", "json"])
        XCTAssertEqual(big.status, 0, big.stderr)
        let lines = big.stderr.split(separator: "\n").map(String.init)
        // Two models: the first pass reads the whole log, faults too (LogScan.swift).
        XCTAssertTrue(lines.contains { $0.hasPrefix("timing: load and prepare ") && $0.contains("(reading the log ")
            && $0.hasSuffix("; sorting them by time overlaps the models)") }, big.stderr)
        XCTAssertTrue(lines.contains { $0.hasPrefix("timing: 16k thp=never: \(faults) accesses in ") }, big.stderr)
        XCTAssertTrue(lines.contains { $0.hasPrefix("timing: 4k thp=never, the baseline bloat is measured against: \(faults) accesses in ") }, big.stderr)
        let base = try cli.run(["replay", log, "--page-size", "4k", "--thp", "never", "--no-self-check", "--timing", "--format", "json"])
        XCTAssertEqual(base.status, 0, base.stderr)
        XCTAssertTrue(base.stderr.contains("timing: 4k thp=never: \(faults) accesses in "), base.stderr)
        // One model: the faults are decoded beside it.
        XCTAssertTrue(base.stderr.contains("reading the log's records and fault times "), base.stderr)
        XCTAssertTrue(base.stderr.contains("decoding the faults and sorting them by time overlap the models)"), base.stderr)
        XCTAssertFalse(base.stderr.contains("baseline"), "4k never is itself the baseline: \(base.stderr)")
    }

    func testJSONShape() throws {
        let log = try recordedLog()
        let host = try Self.hostTHPMode()
        let other = host == "never" ? "madvise" : "never"
        let o = try cli.run(["replay", log, "--page-size", "4k,16k", "--thp", "\(other),\(host)", "--format", "json"])
        XCTAssertEqual(o.status, 0, o.stderr)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as? [String: Any])
        let check = try XCTUnwrap(root["self_check"] as? [String: Any])
        XCTAssertEqual(check["matches"] as? Bool, true, o.stdout)
        let configs = try XCTUnwrap(root["configs"] as? [[String: Any]])
        XCTAssertEqual(configs.count, 4)
        XCTAssertEqual(configs.map { $0["page_size"] as? Int }, [4096, 4096, 16384, 16384])
        XCTAssertEqual(check["thp"] as? String, host, "the self-check runs at the mode this machine recorded with")
        XCTAssertEqual(configs.map { $0["thp"] as? String }, [other, host, other, host])
        XCTAssertEqual(configs.map { $0["recorded"] as? Bool }, [false, true, false, false])
        for c in configs {
            let faults = try XCTUnwrap(c["faults"] as? [String: Any])
            for key in ["anon", "zero", "cow", "file", "major", "total"] { XCTAssertNotNil(faults[key] as? Int, key) }
            XCTAssertNotNil(c["peak_resident_bytes"] as? Int)
            XCTAssertNotNil((c["page_table_pages"] as? [String: Any])?["pte"] as? Int)
            let mapping = try XCTUnwrap((c["mappings"] as? [[String: Any]])?.first)
            for key in ["start", "end", "name", "faults", "peak_resident_bytes"] { XCTAssertNotNil(mapping[key], key) }
            XCTAssertTrue(c["tlb"] is NSNull, "no TLB without a trace")
        }
    }

    /// Issue 8: `replay LOG --tlb PRESET` printed a 100% L1 miss rate and walk cycles for
    /// recorded faults, which are all first touches. It is refused with one line that says
    /// why and how to get a trace, before the log is even read.
    func testTLBWithoutATraceIsRefused() throws {
        let o = try cli.run(["replay", cli.scratch.appendingPathComponent("run.flt").path, "--tlb", "skylake"])
        XCTAssertEqual(o.status, 64)
        XCTAssertEqual(o.stdout, "")
        XCTAssertEqual(o.stderr, "faultline: --tlb needs --accesses TRACE: recorded faults are first touches, so every one misses the TLB "
                       + "and its numbers would mean nothing; get a full trace with valgrind --tool=lackey --trace-mem=yes --log-file=trace.txt COMMAND\n")
    }

    func testBadInputIsOneLineAndExit1() throws {
        let log = try recordedLog()
        let trace = Samples.root.appendingPathComponent("Tests/FaultlineReplayTests/Fixtures/lackey-small.txt").path
        let unknown = try cli.run(["replay", log, "--accesses", trace, "--tlb", "pentium"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertEqual(unknown.stderr, "faultline: unknown TLB preset 'pentium': use one of skylake, zen2, neoverse-n1, generic or a .json file\n")

        let bad = cli.scratch.appendingPathComponent("bad.json")
        try Data("{\"levels\": [{\"name\": \"L1D\", \"entries\": 10, \"ways\": 3, \"page_sizes\": [\"4k\"]}]}".utf8).write(to: bad)
        let badFile = try cli.run(["replay", log, "--accesses", trace, "--tlb", bad.path])
        XCTAssertEqual(badFile.status, 1)
        XCTAssertEqual(badFile.stderr, "faultline: \(bad.path): level L1D: 10 entries do not divide into 3 ways\n")

        try Data("not json".utf8).write(to: bad)
        let notJSON = try cli.run(["replay", log, "--accesses", trace, "--tlb", bad.path])
        XCTAssertEqual(notJSON.status, 1)
        XCTAssertEqual(notJSON.stderr, "faultline: \(bad.path) is not valid JSON\n")

        let size = try cli.run(["replay", log, "--page-size", "8k"])
        XCTAssertNotEqual(size.status, 0)
        XCTAssertTrue(size.stderr.contains("unknown page size '8k'"), size.stderr)
        XCTAssertFalse(size.stderr.contains("Fatal"), size.stderr)

        let missing = try cli.run(["replay", cli.scratch.appendingPathComponent("none.flt").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)

        let noTrace = try cli.run(["replay", "--accesses", cli.scratch.appendingPathComponent("none.txt").path])
        XCTAssertEqual(noTrace.status, 1)
        XCTAssertTrue(noTrace.stderr.hasPrefix("faultline: cannot open "), noTrace.stderr)
    }

    func testLackeyTraceWithoutALog() throws {
        let fixture = Samples.root.appendingPathComponent("Tests/FaultlineReplayTests/Fixtures/lackey-small.txt").path
        let o = try cli.run(["replay", "--accesses", fixture, "--page-size", "4k", "--thp", "never", "--tlb", "zen2", "--format", "json"])
        XCTAssertEqual(o.status, 0, o.stderr)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as? [String: Any])
        XCTAssertTrue(root["self_check"] is NSNull)
        let config = try XCTUnwrap((root["configs"] as? [[String: Any]])?.first)
        let tlb = try XCTUnwrap(config["tlb"] as? [String: Any])
        XCTAssertEqual((tlb["levels"] as? [[String: Any]])?.map { $0["name"] as? String }, ["L1I", "L1D", "L2I", "L2D"])
        // The fixture's 17 pages (16 data, 1 code) each walk once: the L1s hold them all.
        XCTAssertEqual(tlb["walks"] as? Int, 17)
        XCTAssertNotNil((tlb["walk_cycles"] as? [String: Any])?["max"] as? Int)
    }

    /// The documented way to get a full trace with its mappings: record valgrind itself.
    func testLackeyTraceInARecordedValgrind() throws {
        guard let valgrind = ["/usr/bin/valgrind", "/usr/local/bin/valgrind"].first(where: FileManager.default.isExecutableFile) else {
            throw Skip.because("valgrind is not installed (apt-get install valgrind): recording a lackey run needs it")
        }
        _ = Samples.built
        let trace = cli.scratch.appendingPathComponent("trace.txt").path
        let o = try cli.record([valgrind, "--tool=lackey", "--trace-mem=yes", "--log-file=\(trace)", Samples.path("first_touch")])
        XCTAssertEqual(o.status, 0, o.stderr)
        let r = try cli.run(["replay", cli.scratch.appendingPathComponent("run.flt").path, "--accesses", trace,
                             "--page-size", "4k", "--thp", "never", "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((root["self_check"] as? [String: Any])?["matches"] as? Bool, true, r.stdout)
        let faults = try XCTUnwrap(((root["configs"] as? [[String: Any]])?.first)?["faults"] as? [String: Any])
        // The guest wrote its 1000 pages: first touches in the trace, in valgrind's mappings.
        XCTAssertGreaterThanOrEqual(faults["anon"] as? Int ?? 0, 1000)
        XCTAssertEqual(faults["segv"] as? Int, 0)
    }
}
