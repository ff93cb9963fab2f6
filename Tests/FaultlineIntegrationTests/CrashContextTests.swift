// What the report says about a refused access: the signal and si_code by name, the
// mapping at the address (or, unmapped, the nearest ones), earlier faults on the page, and
// the whole stack.

import XCTest
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis
import FaultlineSymbolize

final class CrashContextTests: XCTestCase {
    /// A crash's stack ("a ← b ← c") as names, symbol versions dropped (see stackNames).
    func frames(_ description: String) -> [String] {
        // Each frame is `function file.c:line` where debug info has the line: the functions.
        description.components(separatedBy: " ← ").map {
            String($0.split(separator: " ").first ?? "").components(separatedBy: "@@").first ?? ""
        }
    }

    func crashes(_ run: SampleRun) -> [Crash] {
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())
        return FaultReport(log: run.log, namer: namer).crashes
    }

    func testUnmappedWriteNamesMaperrAndTheNeighbours() throws {
        let run = try Samples.record("segv_fatal")
        let all = crashes(run)
        XCTAssertEqual(all.count, 1)
        let crash = try XCTUnwrap(all.first)
        let e = try XCTUnwrap(run.expectations.first)
        XCTAssertEqual(crash.signal, "SIGSEGV")
        XCTAssertTrue(crash.code.hasPrefix("SEGV_MAPERR"), crash.code)
        XCTAssertEqual(crash.address & ~0xfff, e.start)
        XCTAssertTrue(crash.mapping.hasPrefix("unmapped"), crash.mapping)
        XCTAssertEqual(frames(crash.stack), ["main"] + libcStart, "the whole stack, in order")
    }

    /// A write 16 bytes past NULL (a field of a null struct pointer): near NULL, not a
    /// distance from the program's image terabytes above.
    func testWriteNearNullSaysSo() throws {
        let run = try Samples.record("segv_fatal", ["null"])
        let crash = try XCTUnwrap(crashes(run).first)
        XCTAssertEqual(crash.address, 0x10)
        XCTAssertTrue(crash.code.hasPrefix("SEGV_MAPERR"), crash.code)
        XCTAssertEqual(crash.mapping, "unmapped; near NULL (NULL + 16 bytes)")
    }

    /// The segv has no service time (it never completes): JSON counts only faults with a
    /// time, and the text shows none for it rather than "0 ns", and says why.
    func testSegvHasNoServiceTimeInTextOrJSON() throws {
        let run = try Samples.record("segv_fatal")
        let cli = try CLI(test: #function)
        let json = try cli.json(["report", run.logPath, "--format", "json"])
        XCTAssertEqual((json["totals"] as? [String: Int])?["segv"], 1)
        let service = try XCTUnwrap(json["service"] as? [String: [String: Int]])
        XCTAssertEqual(service["segv"]?["count"], 0)
        XCTAssertEqual(service["all"]?["count"], run.log.faults.count - 1, "every fault but the segv has a time")
        let text = try cli.run(["report", run.logPath]).stdout
        let row = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("  segv ") }, text)
        XCTAssertEqual(row.split(separator: " ").map(String.init), ["segv", "1", row.split(separator: " ")[2].description, "-", "-", "-", "-", "-", "-"])
        XCTAssertTrue(text.contains("1 fault has no service time (a segv never completes)"), text)
        let unmapped = try XCTUnwrap(text.split(separator: "\n").first { $0.hasSuffix(" [unmapped]") && $0.contains(" segv 1 ") }, text)
        XCTAssertEqual(unmapped.split(separator: " ")[2], "-", "no time for a row of segv faults: \(unmapped)")
    }

    func testPermissionFaultNamesAccerrAndTheMapping() throws {
        let run = try Samples.record("deep_nofp")
        let crash = try XCTUnwrap(crashes(run).first)
        XCTAssertTrue(crash.code.hasPrefix("SEGV_ACCERR"), crash.code)
        XCTAssertTrue(crash.mapping.hasPrefix("in [anon]"), crash.mapping)
        XCTAssertTrue(crash.mapping.hasSuffix("---"), "PROT_NONE page: \(crash.mapping)")
        XCTAssertEqual(crash.access, .write)
        XCTAssertEqual(frames(crash.stack), ["crash_level3", "crash_level2", "crash_level1", "main"] + libcStart)
        XCTAssertTrue(crash.stack.hasPrefix("crash_level3 deep_nofp.c:"), "each frame has its file:line: \(crash.stack)")
    }

    /// The segfault `report` exists to explain: a write to a freed malloc block whose mapping
    /// the kernel had merged with its neighbour. Every form of report must explain it (each
    /// used to trap on the merged range's end), naming what is left of the merged mapping.
    func testUseAfterMunmapOfAMergedMappingInEveryFormOfReport() throws {
        let run = try Samples.record("use_after_munmap")
        assertExpectations(run)
        let blocks = try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("BLOCKS ") })
        var fields: [String: UInt64] = [:]
        for part in blocks.split(separator: " ").dropFirst() {
            let kv = part.split(separator: "=")
            fields[String(kv[0])] = UInt64(kv[1].dropFirst(2), radix: 16)
        }
        let first = try XCTUnwrap(fields["first"]), second = try XCTUnwrap(fields["second"])
        let crash = try XCTUnwrap(crashes(run).first)
        XCTAssertEqual(crash.address, first + 0x10)
        XCTAssertTrue(crash.code.hasPrefix("SEGV_MAPERR"), crash.code)
        // The second block's mapping, below the hole the free left; the write is 0x10 bytes
        // into the hole (the block's header is 16 bytes): 16 bytes past its end.
        let below = "unmapped; 16 bytes past the end of [anon] [\(FrameNamer.hex(second))-\(FrameNamer.hex(first))) rw-"
        XCTAssertTrue(crash.mapping.hasPrefix(below), crash.mapping)

        let cli = try CLI(test: #function)
        let log = run.log.path
        var forms: [[String]] = [["report", log], ["report", log, "--format", "json"],
                                 ["report", log, "--html", cli.scratch.appendingPathComponent("r.html").path]]
        for by in Grouping.allCases.map(\.rawValue) {
            forms.append(["report", log, "--by", by])
            forms.append(["report", log, "--by", by, "--format", "json"])
        }
        for args in forms {
            let outcome = try cli.run(args)
            XCTAssertEqual(outcome.status, 0, "\(args.joined(separator: " ")): \(outcome.stderr)")
            if args.contains("--html") { continue }
            if args.contains("json") {
                XCTAssertTrue(outcome.stdout.contains("\"mapping\" : \"\(below)"), "\(args): \(outcome.stdout)")
            } else {
                XCTAssertTrue(outcome.stdout.contains("mapping: \(below)"), "\(args): \(outcome.stdout)")
            }
        }
    }
}
