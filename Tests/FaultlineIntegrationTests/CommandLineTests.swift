// The faultline binary as a person uses it: exit statuses mirrored, output untouched,
// one-line errors for bad input, and Ctrl-C/SIGTERM finishing the log.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineCore
import FaultlineLog

final class CommandLineTests: XCTestCase {
    typealias Outcome = CLI.Outcome
    static var binary: String { CLI.binary }

    var cli: CLI!
    var scratch: URL { cli.scratch }

    override func setUpWithError() throws { cli = try CLI(test: name) }

    func start(_ args: [String]) throws -> (Process, Pipe, Pipe) { try cli.start(args) }
    func run(_ args: [String]) throws -> Outcome { try cli.run(args) }
    func record(_ command: [String]) throws -> Outcome { try cli.record(command) }

    /// `--version` says the version faultline writes into the logs it records.
    func testVersionIsTheOneItsLogsCarry() throws {
        let o = try run(["--version"])
        XCTAssertEqual(o.status, 0, o.stderr)
        let log = try LoadedLog.load(path: try cli.recordLog("v.flt", ["/bin/true"]))
        XCTAssertFalse(log.header.recorderVersion.isEmpty)
        XCTAssertEqual(o.stdout, log.header.recorderVersion + "\n")
    }

    func testMissingCommandSaysSoAndExits127() throws {
        let o = try record(["no-such-command-faultline"])
        XCTAssertEqual(o.status, 127)
        XCTAssertEqual(o.stderr, "faultline: cannot run 'no-such-command-faultline': No such file or directory\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("run.flt").path))
    }

    /// A command that cannot be started leaves the log already at the path as it was (it
    /// was deleted: `faultline record -- typo` lost the last good recording), and no
    /// half-written file beside it.
    func testAMissingCommandLeavesAnOlderLogAlone() throws {
        let earlier = try cli.recordLog("run.flt", ["/bin/true"])
        let before = try Data(contentsOf: URL(fileURLWithPath: earlier))
        let o = try record(["no-such-command-faultline"])
        XCTAssertEqual(o.status, 127)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: earlier)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasPrefix(".") || $0.contains("run.flt.") },
                       [], "no temporary file left beside the log")
    }

    func testACommandThatCannotBeRunExits126LikeAShell() throws {
        let script = scratch.appendingPathComponent("not-executable.sh").path
        try "echo hi\n".write(toFile: script, atomically: true, encoding: .utf8)
        let o = try record([script])
        XCTAssertEqual(o.status, 126)
        XCTAssertEqual(o.stderr, "faultline: cannot run '\(script)': Permission denied\n")
        let shell = try cli.run(["-c", script], executable: "/bin/sh")
        XCTAssertEqual(shell.status, 126, "the shell's own status for the same command")
    }

    func testExitStatusAndOutputAreTheCommands() throws {
        _ = Samples.built
        let seven = try record([Samples.path("exit7")])
        XCTAssertEqual(seven.status, 7)
        XCTAssertEqual(seven.stdout, "exiting with 7\n")
        XCTAssertTrue(seven.stderr.hasPrefix("faultline: recorded "), seven.stderr)
        let segv = try record([Samples.path("segv_fatal")])
        XCTAssertEqual(segv.status, 139)
        let echo = try record(["/bin/echo", "hello", "world"])
        XCTAssertEqual(echo.stdout, "hello world\n")
        XCTAssertEqual(echo.status, 0)
    }

    func testTheCommandStartsWithTheSignalMaskFaultlineWasGiven() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        _ = Samples.built
        // faultline blocks signals of its own (read through a signalfd); the command must
        // not inherit that, nor lose what its starter blocked (SIGUSR1 and SIGUSR2 here).
        let show = ["/bin/grep", "^Sig\\(Blk\\|Ign\\)", "/proc/self/status"]
        let untraced = try cli.run(show, executable: Samples.path("blocked_exec"))
        XCTAssertTrue(untraced.stdout.contains("SigBlk:\t0000000000000a00\n"), untraced.stdout)
        let traced = try cli.run([CLI.binary, "record", "-q", "-o", scratch.appendingPathComponent("run.flt").path, "--"] + show,
                                 executable: Samples.path("blocked_exec"))
        XCTAssertEqual(traced.status, 0, traced.stderr)
        XCTAssertEqual(traced.stdout, untraced.stdout)
    }

    func testSummaryLineCountsKindsAndSize() throws {
        _ = Samples.built
        let o = try record([Samples.path("first_touch")])
        XCTAssertEqual(o.status, 0, o.stderr)
        let summary = try XCTUnwrap(o.stderr.split(separator: "\n").first { $0.hasPrefix("faultline: recorded") }, o.stderr)
        // first_touch's 1000 first writes are in the log, in the range it names.
        let path = scratch.appendingPathComponent("run.flt").path
        let log = try LoadedLog.load(path: path)
        let touched = try XCTUnwrap(o.stdout.split(separator: "\n").compactMap(Expectation.init(line:)).first, o.stdout)
        XCTAssertEqual(log.faults.filter { $0.kind == .anon && (touched.start..<touched.end).contains($0.address) }.count, 1000)
        // The summary says what the log holds: every kind's count, one process, nothing
        // lost, the file's size and its bytes per fault.
        let kinds = FaultKind.allCases.map { kind in "\(kind.name) \(log.faults.filter { $0.kind == kind }.count.grouped)" }
        let bytes = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let tenths = Int((Double(bytes) / Double(log.faults.count) * 10).rounded())
        XCTAssertEqual(String(summary), "faultline: recorded \(log.faults.count.grouped) faults (\(kinds.joined(separator: ", "))) "
                       + "in 1 process; lost 0, throttled 0; \(path) \(bytes.grouped) bytes, \(tenths / 10).\(tenths % 10) bytes/fault")
    }

    /// A DWARF sample carries 8 KiB of stack and can never fit a one-page ring: every fault
    /// entry is dropped by the kernel, whatever the timing. That fails the recording (status
    /// 1 for a command that succeeded) unless --allow-loss accepts it.
    func testLostEventsFailTheRecordingUnlessAllowed() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        _ = Samples.built
        let log = scratch.appendingPathComponent("lossy.flt").path
        let lossy = ["record", "-q", "--call-graph", "dwarf", "--mmap-pages", "1", "-o", log]
        for (extra, status) in [([String](), Int32(1)), (["--allow-loss"], Int32(0))] {
            let o = try run(lossy + extra + ["--", Samples.path("first_touch")])
            XCTAssertEqual(o.status, status, o.stderr)
            let lines = o.stderr.split(separator: "\n").map(String.init)
            let summary = try XCTUnwrap(lines.first { $0.hasPrefix("faultline: recorded ") }, o.stderr)
            // Counts are written with thousands separators ("lost 1,068").
            let lost = try XCTUnwrap(summary.range(of: #"lost [0-9,]+"#, options: .regularExpression)
                .map { Int(summary[$0].dropFirst(5).filter { $0 != "," })! })
            XCTAssertGreaterThan(lost, 0, summary)
            XCTAssertEqual(UInt64(lost), try LoadedLog.load(path: log).lost, "the summary says what the log holds")
            let verdict = extra.isEmpty ? "faultline: error: the kernel dropped \(lost.grouped) events" : "faultline: warning: the kernel dropped \(lost.grouped) events"
            XCTAssertTrue(lines.contains { $0.hasPrefix(verdict) }, o.stderr)
        }
        // The same with room to spare loses nothing and exits with the command's status.
        let whole = try run(["record", "-q", "--call-graph", "dwarf", "-o", log, "--", Samples.path("first_touch")])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertTrue(whole.stderr.contains("lost 0, throttled 0"), whole.stderr)
    }

    /// A program that traces (a debugger, strace) is refused by the kernel under faultline:
    /// it fails in its own words, and faultline says why, naming the call.
    func testAProgramThatTracesIsToldWhyItFailed() throws {
        _ = Samples.built
        for (arg, call) in [("traceme", "PTRACE_TRACEME"), ("attach", "PTRACE_ATTACH of pid ")] {
            let o = try record([Samples.path("self_trace"), arg])
            XCTAssertEqual(o.status, 1, o.stderr)
            XCTAssertTrue(o.stdout.hasSuffix("Operation not permitted\n"), "the program's own failure: \(o.stdout)")
            let said = o.stderr.split(separator: "\n").filter { $0.contains("tried to trace (\(call)") }
            XCTAssertEqual(said.count, 1, o.stderr)
            XCTAssertTrue(said.first?.hasSuffix("and the kernel refused: a process has one tracer, and under faultline that is "
                                                + "faultline; debuggers and tracers (gdb, strace) cannot run under it; a program left waiting "
                                                + "for it ends with Ctrl-C (twice if it ignores the first), and the log "
                                                + "keeps what was recorded") ?? false, o.stderr)
        }
        // Untraced it works, and under faultline a program that does not trace hears nothing of it.
        XCTAssertEqual(try cli.run([], executable: Samples.path("self_trace")).status, 0)
        XCTAssertFalse(try record([Samples.path("first_touch")]).stderr.contains("tried to trace"))
    }

    /// ptrace calls are watched on the whole machine: a refusal in a program another
    /// recording traces is that recording's to report, not this one's.
    func testAnotherProgramsRefusedTraceIsNotReported() throws {
        _ = Samples.built
        let (quiet, _, quietErr) = try start(["record", "-o", cli.scratch.appendingPathComponent("sleep.flt").path, "--", "/bin/sleep", "3"])
        Thread.sleep(forTimeInterval: 1)   // recording by now
        let other = try run(["record", "-o", cli.scratch.appendingPathComponent("other.flt").path, "--", Samples.path("self_trace"), "traceme"])
        XCTAssertTrue(other.stderr.contains("tried to trace (PTRACE_TRACEME) and the kernel refused"), other.stderr)
        XCTAssertTrue(quiet.isRunning, "the refusal came while the first recording ran")
        let said = String(decoding: quietErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        quiet.waitUntilExit()
        XCTAssertEqual(quiet.terminationStatus, 0, said)
        XCTAssertTrue(said.contains("recorded "), said)
        XCTAssertFalse(said.contains("tried to trace"), said)
    }

    /// record's options come first, as in perf; the command starts at `--` or at the first
    /// word that is not an option, and what follows is the command's, `--help` included.
    func testRecordSplitsItsOptionsFromTheCommandAsPerfDoes() throws {
        for help in ["--help", "-h"] {
            let o = try run(["record", help])
            XCTAssertEqual(o.status, 0, o.stderr)
            XCTAssertTrue(o.stdout.contains("USAGE: faultline record"), o.stdout)
        }
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let log = scratch.appendingPathComponent("split.flt").path
        let noDashes = try run(["record", "-q", "-o", log, "/bin/echo", "-q", "--help", "-o", "x"])
        XCTAssertEqual(noDashes.status, 0, noDashes.stderr)
        XCTAssertEqual(noDashes.stdout, "-q --help -o x\n", "everything after the command's name is its own")
        XCTAssertEqual(try LoadedLog.load(path: log).header.command, ["/bin/echo", "-q", "--help", "-o", "x"])
        let dashes = try run(["record", "-q", "-o", log, "--", "/bin/echo", "--", "-h"])
        XCTAssertEqual(dashes.stdout, "-- -h\n")
        // The command's own --help after `--` is the command's: here, no such program.
        XCTAssertEqual(try run(["record", "-q", "-o", log, "--", "--help"]).status, 127)
    }

    /// Short options cluster as in perf: `-qo FILE` and `-oFILE`.
    func testRecordTakesClusteredShortOptions() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        for (i, options) in [["-qo", "FILE"], ["-q", "-oFILE"]].enumerated() {
            let path = scratch.appendingPathComponent("clustered\(i).flt").path
            let args = options.map { $0.replacingOccurrences(of: "FILE", with: path) }
            let o = try run(["record"] + args + ["/bin/echo", "clustered"])
            XCTAssertEqual(o.status, 0, o.stderr)
            XCTAssertEqual(o.stdout, "clustered\n")
            XCTAssertEqual(try LoadedLog.load(path: path).header.command, ["/bin/echo", "clustered"])
        }
    }

    /// The split must know every option that takes a value (else the value would become the
    /// command): each one `record --help` lists as taking a value is split as one.
    func testRecordSplitKnowsEveryOptionThatTakesAValue() throws {
        let help = try run(["record", "--help"]).stdout
        let options = help.split(separator: "\n").drop { !$0.hasPrefix("OPTIONS:") }
        var valued: [String] = []
        for line in options {
            // "  -o, --output <output>   Where ..." or "  --call-graph <call-graph>"
            let words = line.split(separator: " ").map(String.init)
            for (i, word) in words.enumerated() where word.hasPrefix("-") && i + 1 < words.count && words[i + 1].hasPrefix("<") {
                valued.append(word.trimmingCharacters(in: CharacterSet(charactersIn: ",")))
            }
            if let first = words.first, first.hasSuffix(","), words.count > 2, words[2].hasPrefix("<") {
                valued.append(String(first.dropLast()))
            }
        }
        XCTAssertTrue(valued.contains("-o") && valued.contains("--pid"), "parsed \(valued) from \(help)")
        for option in valued {
            // Were "1" taken for the command, record would be left with the option alone and
            // say its value is missing (whatever else it says of "1" as a value).
            let o = try run(["record", option, "1"])
            XCTAssertNotEqual(o.status, 0)
            XCTAssertFalse(o.stderr.contains("Missing value"), "\(option): \(o.stderr)")
        }
        // The probe tells: an option the split does not know to take a value.
        if Samples.missingCapability == nil {
            XCTAssertTrue(try run(["record", "--quiet", "1"]).stderr.contains("cannot run '1'"))
        }
    }

    /// 100,000 arguments reach the command (parsing them took minutes: it was quadratic),
    /// and the log stays readable: its header keeps the first thousand and says so.
    func testAHundredThousandArgumentsReachTheCommandAndTheLogReads() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let log = scratch.appendingPathComponent("many.flt").path
        let arguments = (1...100_000).map(String.init)
        let o = try run(["record", "-q", "-o", log, "--", "/bin/sh", "-c", "echo $# ${100000}", "sh"] + arguments)
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertEqual(o.stdout, "100000 100000\n")
        let loaded = try LoadedLog.load(path: log)
        XCTAssertNil(loaded.damage)
        XCTAssertEqual(loaded.header.command.count, 1000)
        XCTAssertEqual(Array(loaded.header.command.prefix(4)), ["/bin/sh", "-c", "echo $# ${100000}", "sh"])
        XCTAssertEqual(loaded.header.command.last, "… (99005 more arguments not kept)")
        let info = try run(["info", log])
        XCTAssertEqual(info.status, 0, info.stderr)
    }

    func testSIGTERMEndsTheCommandAndFinishesTheLog() throws {
        try assertInterrupt(SIGTERM, expectedStatus: 128 + SIGTERM)
    }

    func testSIGINTEndsTheCommandAndFinishesTheLog() throws {
        try assertInterrupt(SIGINT, expectedStatus: 128 + SIGINT)
    }

    func assertInterrupt(_ signal: Int32, expectedStatus: Int32, file: StaticString = #filePath, line: UInt = #line) throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let log = scratch.appendingPathComponent("sleep.flt").path
        let (p, _, err) = try start(["record", "-o", log, "--", "/bin/sleep", "30"])
        // The signal goes once the recorder reads it and sleep runs (not after a guess at
        // how long that takes): sent earlier it would kill the recorder outright.
        let recorder = p.processIdentifier
        let ready = ProcessReadiness.wait(for: "recorder handling signal \(signal), sleep running", while: { p.isRunning },
                                          file: file, line: line) {
            ProcessReadiness.handles(recorder, signal)
                && ProcessReadiness.children(of: recorder).contains { ProcessReadiness.name($0) == "sleep" }
        }
        kill(recorder, ready ? signal : SIGKILL)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, expectedStatus, stderr, file: file, line: line)
        let loaded = try LoadedLog.load(path: log)
        XCTAssertTrue(loaded.isComplete, "the log was finished", file: file, line: line)
        // sleep's own faults, all of them: what the kernel counted for it at its end.
        let sleep = try XCTUnwrap(loaded.processes.values.first { $0.command.hasPrefix("/bin/sleep") }, "\(loaded.processes)",
                                  file: file, line: line)
        XCTAssertEqual(sleep.exit?.signal, signal, "the recorder passed the signal on", file: file, line: line)
        assertRecordedMatchesKernel(loaded, getUserPagesAllowance: KernelCounterTests.getUserPagesAllowancePerExec, file: file, line: line)
    }

    /// Many short children (their whole life may be reported before the parent's fork
    /// event), and a child that outlives the command: the recorder follows all and ends.
    func testShortLivedAndOrphanedChildrenAreFollowedToTheEnd() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let log = scratch.appendingPathComponent("kids.flt").path
        let script = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do /bin/true & done; wait; (sleep 0.3; exec /bin/ls / > /dev/null) &"
        let (p, _, err) = try start(["record", "-o", log, "--", "/bin/sh", "-c", script])
        guard ProcessReadiness.wait(for: "the recorder to finish after its tracees ended", until: { !p.isRunning }) else {
            p.terminate()
            return
        }
        _ = err.fileHandleForReading.readDataToEndOfFile()
        XCTAssertEqual(p.terminationStatus, 0)
        let loaded = try LoadedLog.load(path: log)
        XCTAssertTrue(loaded.isComplete)
        let commands = loaded.processes.values.map(\.command)
        XCTAssertEqual(commands.filter { $0.hasPrefix("/bin/true") }.count, 12, "\(commands)")
        XCTAssertEqual(commands.filter { $0.hasPrefix("/bin/ls") }.count, 1, "the orphaned child was followed: \(commands)")
        XCTAssertTrue(loaded.processes.values.allSatisfy { $0.exit != nil }, "every process's exit was recorded")
    }

    /// SIGSTOP/SIGCONT on a traced child: it stays stopped until continued (ptrace shows
    /// the state as "t", tracing stop, where untraced it is "T"), then finishes normally.
    /// The shell looks at the state once the stop has taken (it waits for the state to
    /// leave running/sleeping, with its own builtins), not after a guessed delay.
    func testJobControlStopsAndContinuesAsUntraced() throws {
        let script = "sleep 1 & p=$!; kill -STOP $p; "
            + "state() { while read -r k v rest; do [ \"$k\" = State: ] && { echo \"$v\"; return; }; done < /proc/$p/status; }; "
            + "while case $(state) in R|S|D) true;; *) false;; esac; do :; done; "
            + "grep State /proc/$p/status; kill -CONT $p; wait $p; echo rc=$?"
        let o = try record(["/bin/sh", "-c", script])
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertEqual(o.stdout, "State:\tt (tracing stop)\nrc=0\n")
    }

    /// A signal to the whole process group reaches the command and faultline alike: the
    /// command's handler must run once, not once more because faultline passed it on.
    func testGroupSignalReachesTheHandlerOnce() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        _ = Samples.built
        let out = scratch.appendingPathComponent("count.out").path
        let log = scratch.appendingPathComponent("count.flt").path
        // setsid: a process group of our own, so the group signal spares the test runner.
        // The signal goes once the recorder reads TERM (blocked, for its signalfd) and
        // signal_count has its handler (SigBlk and SigCgt in /proc: bit 14 is SIGTERM's),
        // not after a guess at how long starting takes.
        let ready = "bit() { while read -r k v; do [ \"$k\" = \"$2:\" ] && { m=${v#${v%????}}; [ $(( 0x$m >> 14 & 1 )) = 1 ]; return; }; "
            + "done < /proc/$1/status; return 1; }; "
            + "ready() { bit $f SigBlk || bit $f SigCgt || return 1; for c in $(cat /proc/$f/task/*/children 2>/dev/null); do "
            + "n=; read -r n < /proc/$c/comm 2>/dev/null; [ \"$n\" = signal_count ] && bit $c SigCgt && return 0; done; return 1; }; "
        let script = "\"$0\" record -q -o \"$1\" -- \"$2\" > \"$3\" & f=$!; " + ready
            + "until ready; do kill -0 $f || exit 1; done; kill -TERM -$$; wait"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        p.arguments = ["-w", "/bin/sh", "-c", "trap '' TERM; " + script, Self.binary, log, Samples.path("signal_count"), out]
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "handled 1\n")
        XCTAssertTrue(try LoadedLog.load(path: log).isComplete)
    }

    func testBadLogsGetOneLineErrors() throws {
        let text = scratch.appendingPathComponent("notes.txt").path
        try "hello, not a log\n".write(toFile: text, atomically: true, encoding: .utf8)
        let empty = scratch.appendingPathComponent("empty.flt").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        for (path, message) in [(text, "not a faultline log"), (empty, "is empty"), ("/nonexistent.flt", "cannot open")] {
            for command in [["report", path], ["info", path], ["export", path, "--format", "jsonl"]] {
                let o = try run(command)
                XCTAssertEqual(o.status, 1, "\(command)")
                XCTAssertEqual(o.stderr.split(separator: "\n").count, 1, "one line: \(o.stderr)")
                XCTAssertTrue(o.stderr.contains(message), "\(command): \(o.stderr)")
            }
        }
    }

    func testTruncatedLogIsReadUpToTheCut() throws {
        _ = Samples.built
        let full = scratch.appendingPathComponent("run.flt").path
        _ = try record([Samples.path("fault_storm"), "128"]) // ~40k faults: several chunks
        let data = try Data(contentsOf: URL(fileURLWithPath: full))
        let cut = scratch.appendingPathComponent("cut.flt").path
        try data.prefix(data.count * 2 / 3).write(to: URL(fileURLWithPath: cut))
        let o = try run(["report", cut, "--format", "json"])
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertTrue(o.stderr.contains("truncated at byte"), o.stderr)
        let totals = try XCTUnwrap(try jsonObject(o.stdout)["totals"] as? [String: Any])
        // Every whole chunk before the cut is read: as many faults as the same file cut
        // cleanly after its last whole chunk holds, and fewer than the full log.
        let cutBytes = [UInt8](data.prefix(data.count * 2 / 3))
        let whole = try XCTUnwrap(LogChunks.spans(in: cutBytes).last?.upperBound)
        let clean = scratch.appendingPathComponent("clean.flt").path
        try Data(cutBytes.prefix(whole)).write(to: URL(fileURLWithPath: clean))
        let kept = try LoadedLog.load(path: clean).faults.count
        XCTAssertGreaterThan(kept, 0)
        XCTAssertLessThan(kept, try LoadedLog.load(path: full).faults.count)
        XCTAssertEqual(totals["faults"] as? Int, kept)
    }

    func testFullDiskSaysSoFailsAndKeepsWhatWasWritten() throws {
        _ = Samples.built
        if let why = Samples.missingCapability { throw Skip.because(why) }
        // A 64 KiB tmpfs fills up partway through a ~40k-fault recording (~180 KB of log).
        let disk = scratch.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        let mount = try cli.run(["-t", "tmpfs", "-o", "size=64k", "tmpfs", disk.path], executable: "/bin/mount")
        guard mount.status == 0 else { throw Skip.because("cannot mount a small tmpfs to fill (needs CAP_SYS_ADMIN): \(mount.stderr)") }
        defer { _ = try? cli.run([disk.path], executable: "/bin/umount") }
        let log = disk.appendingPathComponent("run.flt").path
        let o = try run(["record", "-q", "-o", log, "--", Samples.path("fault_storm"), "128"])
        XCTAssertEqual(o.status, 1, o.stderr)
        XCTAssertTrue(o.stderr.contains("No space left on device; the log holds what was written before"), o.stderr)
        let report = try run(["report", log, "--format", "json"])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stderr.contains("truncated at byte"), report.stderr)
        let totals = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])?["totals"] as? [String: Any])
        let readable = try XCTUnwrap(totals["faults"] as? Int)
        // Exactly the faults of the chunks written whole before the disk filled, counted
        // chunk by chunk by the reference reader; the log ends where the disk did.
        let reader = try LogReader(path: log)
        var whole = 0
        while let records = reader.nextChunk() {
            whole += records.filter { if case .fault = $0 { return true } else { return false } }.count
        }
        XCTAssertEqual(reader.damage?.kind, .truncated, "\(String(describing: reader.damage))")
        XCTAssertGreaterThan(whole, 0)
        XCTAssertEqual(readable, whole)
        // The summary says what the log keeps, which is what a reader finds, not what was recorded.
        let summary = try XCTUnwrap(o.stderr.split(separator: "\n").first { $0.hasPrefix("faultline: recorded ") }.map(String.init))
        let recorded = try XCTUnwrap(Int(summary.dropFirst("faultline: recorded ".count).prefix { $0 != " " }.filter { $0 != "," }))
        XCTAssertGreaterThan(recorded, readable)
        XCTAssertTrue(summary.contains("\(log) keeps only \(readable.grouped) of them ("), summary)

        // Now the disk is full: nothing runs, nothing is left behind, and the log already
        // there is as it was.
        let before = try Data(contentsOf: URL(fileURLWithPath: log))
        let full = try run(["record", "-q", "-o", log, "--", "/bin/echo", "ran"])
        XCTAssertEqual(full.status, 1, full.stderr)
        XCTAssertEqual(full.stdout, "", "the command did not run")
        XCTAssertEqual(full.stderr, "faultline: cannot write \(log): No space left on device\n")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: log)), before)
        let other = disk.appendingPathComponent("other.flt").path
        _ = try run(["record", "-q", "-o", other, "--", "/bin/echo", "ran"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: disk.path), ["run.flt"], "no empty or temporary file")
    }

    func testStatusLineKeepsToTheBottomRowAndLeavesTheProgramsOutputAlone() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let script = "/usr/bin/script"
        guard FileManager.default.isExecutableFile(atPath: script) else { throw Skip.because("no \(script) (util-linux) to give faultline a terminal") }
        // A 24-row terminal. The program prints two lines, waits until the status line has
        // been drawn (script writes what it sees to the typescript at once, -f), then prints
        // three more: the status is drawn between its lines whatever the machine's speed.
        // (The pattern is written so that it does not match itself in script's header.)
        // (The wait gives up after 120 s, a hang guard only, saying so in its output.)
        let typescript = scratch.appendingPathComponent("typescript").path
        let program = "echo line1; echo line2; n=0; until grep -q \"faultline[:] \" \"\(typescript)\"; do "
            + "n=$((n + 1)); [ $n -gt 2400 ] && echo NO-STATUS-LINE && break; sleep 0.05; done; echo line3; echo line4; echo line5"
        let inner = "stty rows 24 cols 100; TERM=xterm '\(CLI.binary)' record -o '\(scratch.path)/run.flt' -- sh -c '\(program)'"
        let o = try cli.run(["-qfec", inner, typescript], executable: script)
        XCTAssertEqual(o.status, 0, o.stderr)
        let raw = try String(contentsOfFile: typescript, encoding: .utf8)
        var text = String(raw[raw.index(after: try XCTUnwrap(raw.firstIndex(of: "\n")))...]) // script's own header line
        if let footer = text.range(of: "\r\n\r\nScript done") ?? text.range(of: "\nScript done") {
            text = String(text[..<footer.lowerBound])
        }
        XCTAssertFalse(text.contains("NO-STATUS-LINE"), "no status line drawn in 120 s: \(text.debugDescription)")
        let esc = "\u{1B}"
        XCTAssertTrue(text.contains(esc + "[1;23r"), "the bottom row was not reserved: \(text.debugDescription)")
        XCTAssertTrue(text.contains(esc + "[24;1H" + esc + "[0m" + esc + "[2Kfaultline: "), "no status drawn on row 24")
        XCTAssertTrue(text.contains(esc + "[r"), "the scrolling region was not given back")
        // Every draw sits between a cursor save and restore: without them, what is left is the
        // program's output and the summary, untouched.
        var plain = text.replacingOccurrences(of: esc + "D" + esc + "M", with: "")
        while let save = plain.range(of: esc + "7"), let restore = plain.range(of: esc + "8", range: save.upperBound..<plain.endIndex) {
            plain.removeSubrange(save.lowerBound..<restore.upperBound)
        }
        let lines = plain.components(separatedBy: "\r\n")
        XCTAssertEqual(Array(lines.prefix(5)), (1...5).map { "line\($0)" }, plain.debugDescription)
        XCTAssertTrue(lines.count > 5 && lines[5].hasPrefix("faultline: recorded "), plain.debugDescription)
    }
}
