import Foundation
import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class InfoAndDamageTests: FixtureTestCase {
    func testInfoOfACompleteLog() throws {
        let log = try FixtureLog.load()
        let text = LogInfo.render(log)
        XCTAssertTrue(text.contains("command     ./prog --fill"), text)
        XCTAssertTrue(text.contains("kernel      6.18.0-test x86_64 on testhost"), text)
        XCTAssertTrue(text.contains("page size   4,096 bytes"), text)
        XCTAssertTrue(text.contains("THP         madvise"), text)
        XCTAssertTrue(text.contains("call graph  fp"), text)
        XCTAssertTrue(text.contains("recorder    faultline-test"), text)
        XCTAssertTrue(text.contains("started     2023-11-14T22:13:20Z"), text)
        XCTAssertTrue(text.contains("in \(log.chunks) chunks"), text)
        XCTAssertEqual(log.chunks, 4)
        XCTAssertTrue(text.contains("  pid  ppid  faults  kernel min/maj  RSS at exit  exit      command\n"), text)
        XCTAssertTrue(text.contains("  100     1      24            23/2            -  signal 9  ./prog\n"), text)
        XCTAssertTrue(text.contains("  101   100       7             7/0            -  exit 0    prog\n"), text)
        // 21 recorded against 23 counted: within what exec's get_user_pages explains.
        XCTAssertTrue(text.contains("expected, a few per exec): pid 100: 2\n"), text)
        XCTAssertFalse(text.contains("differ by more than"), text)
        XCTAssertFalse(text.contains("pid 101: recorded"), text)
        XCTAssertTrue(text.contains("  anon              14\n"), text)
        XCTAssertTrue(text.contains("  swap               0\n"), text)
        XCTAssertTrue(text.contains("  minor (kernel's)  28\n  major (kernel's)   2\n  total             31\n"), text)
        XCTAssertTrue(text.contains("LOST 3 events"), text)
        XCTAssertTrue(text.contains("unaccounted fault entries: 2"), text)
        XCTAssertTrue(text.hasSuffix("integrity: complete\n"), text)
    }

    /// A process the kernel counted 64 faults more for than were recorded, with one exec: more
    /// than an exec's get_user_pages faults, so `info` warns, and names the causes it can be
    /// (64 shared futex calls on untouched pages do exactly this: see LogInfo).
    func testAGapBeyondAnExecsAllowanceIsAWarningThatNamesItsCauses() throws {
        let path = FixtureLog.temporaryPath("gap.flt")
        let w = try LogWriter(path: path, header: LogHeader(pageSize: 4096, thpMode: "never", command: ["./gap"]))
        w.append(.process(ProcessEvent(pid: 5, ppid: 1, timeNs: 1, command: w.intern("./gap"))))
        w.append(.kernelCounts(pid: 5, minor: 0, major: 0, baseline: true))
        for i in 0..<3 {
            w.append(.fault(FaultEvent(pid: 5, tid: 5, timeNs: 10 + UInt64(i), address: 0x10000 + UInt64(i) << 12, ip: 0,
                                       kind: .anon, access: .write, kernelMode: false, errorCode: 6, serviceNs: 100,
                                       stack: .empty)))
        }
        w.append(.kernelCounts(pid: 5, minor: 3 + 64, major: 0, baseline: false))
        w.append(.exit(ExitEvent(pid: 5, timeNs: 20, exitCode: 0, signal: 0)))
        try w.finish(LogSummary(endTimeNs: 30, faults: 3, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let text = LogInfo.render(try LoadedLog.load(path: path))
        XCTAssertTrue(text.contains("WARNING: the recording and the kernel's own counters differ by more than an exec's "
                                    + "get_user_pages faults explain (lost events; a recorder bug; or the program's own "
                                    + "get_user_pages faults: memory filled for MAP_POPULATE, mlock, mlockall or MADV_POPULATE_*, "
                                    + "which `replay` counts as filled faults, or many futex calls on shared memory it never touched):\n"
                                    + "  pid 5: recorded 3 minor, 0 major; the kernel counted 67 minor, 0 major\n"), text)
        XCTAssertFalse(text.contains("expected, a few per exec"), text)
    }

    /// The log cut in the middle of the chunk after the first 22 faults.
    private func truncatedLog() throws -> (LoadedLog, FixtureLog.Written) {
        let path = FixtureLog.temporaryPath("truncated.flt")
        let written = try FixtureLog.write(to: path)
        let cut = written.firstChunksEnd + (written.eventsEnd - written.firstChunksEnd) / 2
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: cut)
        try handle.close()
        return (try LoadedLog.load(path: path), written)
    }

    func testTruncatedLogReportsTheCompleteChunks() throws {
        let (log, written) = try truncatedLog()
        XCTAssertEqual(log.damage?.kind, .truncated)
        XCTAssertEqual(log.damage?.offset, written.firstChunksEnd)
        XCTAssertNil(log.summary)
        let r = FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer()),
                            options: ReportOptions(groupings: [.function]))
        XCTAssertEqual(r.totals.faults, 22)
        XCTAssertEqual(r.totals[.anon], 10)
        XCTAssertEqual(r.totals[.zero], 5)
        XCTAssertEqual(r.totals[.file], 3)
        XCTAssertEqual(r.totals[.major], 2)
        XCTAssertEqual(r.totals[.segv], 1)
        XCTAssertEqual(r.totals[.other], 1)
        XCTAssertEqual(r.totals[.cow], 0)
        XCTAssertEqual(r.processes.map(\.pid), [100])
        XCTAssertEqual(r.sections[0].rows.map(\.name), ["fill", "main", "memset", "0xdead0"])
        XCTAssertEqual(r.sections[0].rows.map(\.count), [11, 5, 5, 1])
        XCTAssertFalse(r.complete)
        XCTAssertEqual(r.lost, 0, "the lost record was in the cut chunk")

        let warning = try XCTUnwrap(log.readWarnings.first)
        XCTAssertTrue(warning.hasPrefix("log is truncated at byte \(written.firstChunksEnd): "), warning)
        XCTAssertTrue(warning.hasSuffix("; reading what came before"), warning)
        XCTAssertEqual(r.damage, warning)
        XCTAssertTrue(r.renderText().contains("INCOMPLETE: log is truncated at byte \(written.firstChunksEnd)"))

        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try r.renderJSON().utf8)) as? [String: Any])
        XCTAssertEqual(json["complete"] as? Bool, false)
        XCTAssertEqual(json["damage"] as? String, warning)
        XCTAssertEqual((json["totals"] as? [String: Any])?["faults"] as? Int, 22)

        XCTAssertTrue(LogInfo.render(log).hasSuffix("integrity: incomplete: \(warning)\n"))
    }

    /// Cut inside its first chunk, a log has lost its header record and every process's:
    /// its report's title says the command is unknown rather than naming a command "?".
    func testLogCutInsideItsFirstChunkHasAnUnknownCommand() throws {
        let path = FixtureLog.temporaryPath("cut-in-first-chunk.flt")
        _ = try FixtureLog.write(to: path)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 40)
        try handle.close()
        let log = try LoadedLog.load(path: path)
        XCTAssertEqual(log.damage?.kind, .truncated)
        XCTAssertTrue(log.processes.isEmpty)
        let r = FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer()),
                            options: ReportOptions(groupings: [.function]))
        XCTAssertTrue(r.renderText().hasPrefix("faultline report: command unknown\n"), r.renderText())
        XCTAssertTrue(LogInfo.render(log).contains("command     command unknown\n"), LogInfo.render(log))
    }

    func testLogCutAtAChunkBoundaryHasNoSummary() throws {
        let path = FixtureLog.temporaryPath("cut-at-boundary.flt")
        let written = try FixtureLog.write(to: path)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: written.eventsEnd)
        try handle.close()
        let log = try LoadedLog.load(path: path)
        XCTAssertNil(log.damage)
        XCTAssertEqual(log.faults.count, 31)
        XCTAssertEqual(log.integrityProblem, "no summary: the recording was cut off")
        XCTAssertEqual(log.readWarnings, ["log has no summary: the recording was cut off; reading what was written"])
        XCTAssertTrue(LogInfo.render(log).hasSuffix("integrity: incomplete: no summary: the recording was cut off\n"))
        // Without a summary the duration runs to the last event seen (t=6100).
        XCTAssertEqual(log.durationNs, 5_100)
        XCTAssertEqual(log.totalLost, 3)
    }

    func testUnreadableFilesGiveOneLineMessages() throws {
        let missing = FixtureLog.temporaryPath("does-not-exist.flt")
        XCTAssertThrowsError(try LoadedLog.load(path: missing)) { error in
            XCTAssertEqual(Diagnostics.failureMessage(error), "cannot open \(missing): No such file or directory")
        }
        let empty = FixtureLog.temporaryPath("empty-file.flt")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        XCTAssertThrowsError(try LoadedLog.load(path: empty)) { error in
            XCTAssertEqual(Diagnostics.failureMessage(error), "\(empty) is empty, not a faultline log")
        }
        let text = FixtureLog.temporaryPath("not-a-log.txt")
        _ = FileManager.default.createFile(atPath: text, contents: Data("hello, world\n".utf8))
        XCTAssertThrowsError(try LoadedLog.load(path: text)) { error in
            XCTAssertEqual(Diagnostics.failureMessage(error), "\(text) is not a faultline log (bad magic)")
        }
        XCTAssertNil(Diagnostics.failureMessage(CocoaError(.fileNoSuchFile)), "other errors are rethrown")
    }
}

/// Commands can hold newlines and tabs (`python3 -c '…'`): text tables and headings keep
/// them on one line, written as escapes.
final class OneLineTextTests: XCTestCase {
    func testControlCharactersBecomeEscapes() {
        XCTAssertEqual(TextFormat.oneLine("python3 -c \nimport os\n\tprint(1)\u{1B}"), "python3 -c \\nimport os\\n\\tprint(1)\\x1b")
        XCTAssertEqual(TextFormat.oneLine("ls -l ✓"), "ls -l ✓")
        var table = TextTable([.left, .left])
        table.add(["1", "a\nb"])
        XCTAssertEqual(table.render().split(separator: "\n").count, 1, table.render())
    }
}
