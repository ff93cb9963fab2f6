// Attaching to a running process: it is recorded for the duration, then left running
// exactly as before (its own output, exit status and timing), and a process we may not
// trace gets one line naming why.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineCore
import FaultlineLog
@testable import FaultlineTracer
import FaultlineAnalysis
import FaultlineSymbolize

final class AttachTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        XCTAssertTrue(Samples.built)
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-attach-\(getpid())-\(name.hashValue)")
        try? FileManager.default.removeItem(at: scratch)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    /// Starts `samples/bin/ticker` in the background of a shell (so it is not our child, as
    /// a real target would not be) and returns its pid, range and output file.
    func startTicker(ticks: Int) throws -> (pid: Int32, range: Range<UInt64>, output: String) {
        let output = scratch.appendingPathComponent("ticker.out").path
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "(\"$0\" \(ticks) > \"$1\"; echo \"status $?\" >> \"$1\") &", Samples.path("ticker"), output]
        shell.standardInput = FileHandle.nullDevice
        shell.standardOutput = FileHandle.nullDevice
        shell.standardError = FileHandle.nullDevice
        try shell.run() // not waited for: Foundation's wait can outlast the background job
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: output, encoding: .utf8), let line = text.split(separator: "\n").first {
                var fields: [String: String] = [:]
                for kv in line.split(separator: " ").dropFirst() {
                    let parts = kv.split(separator: "=").map(String.init)
                    if parts.count == 2 { fields[parts[0]] = parts[1] }
                }
                if let pid = fields["pid"].flatMap({ Int32($0) }),
                   let start = fields["start"].flatMap({ UInt64($0.dropFirst(2), radix: 16) }),
                   let end = fields["end"].flatMap({ UInt64($0.dropFirst(2), radix: 16) }) {
                    return (pid, start..<end, output)
                }
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw Skip.because("the ticker did not start")
    }

    func testAttachRecordsForTheDurationAndLeavesTheProcessRunning() throws {
        let ticker = try startTicker(ticks: 40)
        let log = scratch.appendingPathComponent("attach.flt").path
        let result = try Recorder.attach(pid: ticker.pid, duration: 2, options: RecordOptions(command: [], output: log))
        XCTAssertEqual(result.counts.lost, 0)

        // Detached: still running, untraced, not stopped.
        let status = try String(contentsOfFile: "/proc/\(ticker.pid)/status", encoding: .utf8)
        XCTAssertTrue(status.contains("TracerPid:\t0\n"), status)
        XCTAssertFalse(status.contains("State:\tt") || status.contains("State:\tT"), status)

        // 2 s at 256 pages per 100 ms: about 20 ticks (fewer if the machine is busy and
        // the ticks run long; never more).
        let loaded = try LoadedLog.load(path: log)
        XCTAssertTrue(loaded.isComplete)
        // Recorded for the whole duration, by the log's own clock (how much longer the
        // attach and detach took is the machine's business).
        let span = try XCTUnwrap(loaded.summary?.endTimeNs).subtractingReportingOverflow(loaded.header.startTimeNs)
        XCTAssertFalse(span.overflow)
        XCTAssertGreaterThanOrEqual(span.partialValue, 2_000_000_000, "recorded for the 2 s asked")
        let anon = loaded.faults.filter { $0.pid == ticker.pid && ticker.range.contains($0.address) && $0.kind == .anon }
        // How many ticks fall in 2 s is the machine's business; that none of their pages is
        // lost is not: one unbroken run, at least a whole tick long.
        XCTAssertGreaterThanOrEqual(assertOneRunOfPages(anon), 256)
        // Counters read with every thread stopped, at the attach and at the detach: the
        // ticker makes no exec and no get_user_pages fault, so they agree exactly.
        XCTAssertNotNil(loaded.processes[ticker.pid]?.kernelMinor, "no kernel counters at the detach")
        assertRecordedMatchesKernel(loaded, getUserPagesAllowance: 0)

        // The program ends as it would have: its own output and status, on time.
        let deadline = Date().addingTimeInterval(8)
        var text = ""
        while Date() < deadline {
            text = (try? String(contentsOfFile: ticker.output, encoding: .utf8)) ?? ""
            if text.contains("status ") { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertTrue(text.contains("ticker done ticks=40 pages=10240\n"), text)
        XCTAssertTrue(text.hasSuffix("status 3\n"), text)
    }

    /// Starts a sample in the background of a shell (not our child), its output and then
    /// "status N" going to a file; returns the file.
    func startInBackground(_ sample: String, _ args: [String]) throws -> String {
        let output = scratch.appendingPathComponent("\(sample).out").path
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "(\"$0\" \"$@\" > \"$OUT\"; echo \"status $?\" >> \"$OUT\") &", Samples.path(sample)] + args
        shell.environment = ["OUT": output, "PATH": "/usr/bin:/bin"]
        shell.standardInput = FileHandle.nullDevice
        shell.standardOutput = FileHandle.nullDevice
        shell.standardError = FileHandle.nullDevice
        try shell.run()
        return output
    }

    /// The first line of `path` starting with `prefix`, waiting up to `seconds` for it.
    func line(startingWith prefix: String, in path: String, within seconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }

    func testAProcessWhoseLeaderLeftIsRecordedAndNotHeldUp() throws {
        // The leader calls pthread_exit: a zombie that cannot be seized and never stops
        // again, while its worker writes a page every millisecond for 4 s.
        let output = try startInBackground("leader_exit", ["4"])
        let started = try XCTUnwrap(line(startingWith: "leader_exit pid=", in: output, within: 5), "the sample did not start")
        let pid = try XCTUnwrap(Int32(started.split(separator: "=")[1]))
        let zombie = Date().addingTimeInterval(2)
        while Date() < zombie, let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/stat", encoding: .utf8),
              !stat.contains(") Z ") {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let log = scratch.appendingPathComponent("leader.flt").path
        let result = try Recorder.attach(pid: pid, duration: 1, options: RecordOptions(command: [], output: log))
        XCTAssertEqual(result.counts.lost, 0)
        let loaded = try LoadedLog.load(path: log)
        let writes = loaded.faults.filter { $0.pid == pid && $0.kind == .anon && $0.tid != pid }
        XCTAssertGreaterThan(assertOneRunOfPages(writes), 1, "the worker's writes, none lost")
        assertRecordedMatchesKernel(loaded, getUserPagesAllowance: 0)

        // Holding every thread to attach and detach takes milliseconds; waiting for the
        // zombie leader to stop would have held the worker for the 5 s time limit.
        let gap = try XCTUnwrap(line(startingWith: "worker longest_gap_ms=", in: output, within: 8), "the worker did not finish")
        XCTAssertLessThan(try XCTUnwrap(Int(gap.split(separator: "=")[1])), 1000, gap)
        XCTAssertNotNil(line(startingWith: "status 0", in: output, within: 2))
    }

    /// DWARF stacks of an attached process: the unwinder knows the code mapped before the
    /// attach only from the /proc snapshot. Without libc's CFI, memset (no frame pointer)
    /// would be followed by its caller's caller, or nothing.
    func testAttachInDwarfModeUnwindsPastTheLeaf() throws {
        let ticker = try startTicker(ticks: 30)
        let log = scratch.appendingPathComponent("dwarf.flt").path
        var options = RecordOptions(command: [], output: log)
        options.callGraph = .dwarf
        _ = try Recorder.attach(pid: ticker.pid, duration: 1, options: options)
        let loaded = try LoadedLog.load(path: log)
        let namer = FrameNamer(log: loaded, symbolizer: LibdwSymbolizer())
        let anon = loaded.faults.filter { $0.pid == ticker.pid && ticker.range.contains($0.address) && $0.kind == .anon }
        XCTAssertGreaterThanOrEqual(assertOneRunOfPages(anon), 256, "at least a whole tick, none lost")
        for fault in anon {
            let names = stackNames(loaded, fault, namer)
            XCTAssertTrue(isMemset(names.first), "\(names)")
            XCTAssertEqual(Array(names.dropFirst()), ["main"] + libcStart, "the whole stack, leaf to _start")
        }
    }

    /// A thread's id stands for its process: the whole thread group is recorded, its
    /// faults belong to the process, and are classed as anywhere else (not `other`).
    func testAttachingToAThreadRecordsItsWholeProcess() throws {
        let output = try startInBackground("leader_exit", ["3"])
        let started = try XCTUnwrap(line(startingWith: "leader_exit pid=", in: output, within: 5), "the sample did not start")
        let pid = try XCTUnwrap(Int32(started.split(separator: "=")[1]))
        let worker = try XCTUnwrap(ProcFS.threads(pid: pid).first { $0 != pid }, "the worker thread")
        XCTAssertEqual(Recorder.process(ofThread: worker), pid)
        let log = scratch.appendingPathComponent("thread.flt").path
        let result = try Recorder.attach(pid: worker, duration: 1, options: RecordOptions(command: [], output: log))
        XCTAssertEqual(result.counts.lost, 0)
        let loaded = try LoadedLog.load(path: log)
        XCTAssertNotNil(loaded.processes[pid], "the process is described")
        XCTAssertTrue(loaded.faults.allSatisfy { $0.pid == pid })
        XCTAssertGreaterThan(assertOneRunOfPages(loaded.faults.filter { $0.tid == worker && $0.kind == .anon }), 1, "the worker's writes, none lost")
        XCTAssertEqual(loaded.faults.filter { $0.kind == .other }.count, 0)
        assertRecordedMatchesKernel(loaded, getUserPagesAllowance: 0)
    }

    /// EPERM from PTRACE_SEIZE has many causes; each gets its own words, and a missing
    /// capability is blamed only when it is missing.
    func testRefusedAttachesSayTheTrueReason() throws {
        let cli = try CLI(test: name)
        let kernelThread = try cli.run(["record", "--pid", "2", "--duration", "1", "-o", scratch.appendingPathComponent("k.flt").path])
        XCTAssertEqual(kernelThread.status, 1)
        XCTAssertEqual(kernelThread.stderr, "faultline: cannot attach to 2 (kthreadd): it is a kernel thread, which has no user memory "
                       + "and takes no page faults of its own, and which the kernel lets no one trace\n")
        let itself = try cli.run(["-c", "exec \"$0\" record --pid $$ --duration 1 -o \"$1\"", CLI.binary,
                                  scratch.appendingPathComponent("self.flt").path], executable: "/bin/sh")
        XCTAssertEqual(itself.status, 1)
        XCTAssertTrue(itself.stderr.hasSuffix("that is faultline itself, and a process cannot trace itself\n"), itself.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("self.flt").path))

        // EPERM for a process nothing above explains (as pid 1 gets on some systems while
        // root): with CAP_SYS_PTRACE in hand, the kernel's policy is named, not the capability.
        guard geteuid() == 0 else { return }
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["5"]
        try sleeper.run()
        defer { sleeper.terminate() }
        let text = AttachDiagnosis.explain(pid: sleeper.processIdentifier, command: "sleep 5", errno: EPERM)
        XCTAssertTrue(text.contains("faultline has CAP_SYS_PTRACE and no other tracer holds it"), text)
        XCTAssertFalse(text.contains("needs CAP_SYS_PTRACE"), text)
    }

    func testAttachToAMissingProcessSaysSo() throws {
        XCTAssertThrowsError(try Recorder.attach(pid: 99_999_999, duration: 1,
                                                 options: RecordOptions(command: [], output: scratch.appendingPathComponent("x.flt").path))) {
            XCTAssertEqual("\($0)", "no process 99999999")
        }
    }

    func testAttachToAnAlreadyTracedProcessNamesTheTracer() throws {
        let ticker = try startTicker(ticks: 30)
        // Someone else traces it first.
        let gdbLike = Process()
        gdbLike.executableURL = URL(fileURLWithPath: CLI.binary)
        gdbLike.arguments = ["record", "--pid", String(ticker.pid), "--duration", "2", "-o", scratch.appendingPathComponent("first.flt").path]
        gdbLike.standardError = FileHandle.nullDevice
        try gdbLike.run()
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let status = (try? String(contentsOfFile: "/proc/\(ticker.pid)/status", encoding: .utf8)) ?? ""
            if status.contains("TracerPid:\t\(gdbLike.processIdentifier)\n") { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertThrowsError(try Recorder.attach(pid: ticker.pid, duration: 1,
                                                 options: RecordOptions(command: [], output: scratch.appendingPathComponent("second.flt").path))) {
            XCTAssertTrue("\($0)".contains("already traced by pid \(gdbLike.processIdentifier)"), "\($0)")
        }
        gdbLike.waitUntilExit()
        XCTAssertEqual(gdbLike.terminationStatus, 0)
    }

    /// The samples here write fresh pages one after another, each once; an attached
    /// recording sees a stretch of that in the middle. In time order each recorded page
    /// must be the one after the page before: a page missing is a lost fault, a page twice
    /// a fault recorded twice. Returns how many pages the stretch has.
    @discardableResult
    func assertOneRunOfPages(_ faults: [FaultEvent], file: StaticString = #filePath, line: UInt = #line) -> Int {
        let pages = faults.sorted { $0.timeNs < $1.timeNs }.map { $0.address >> 12 }
        let breaks = zip(pages, pages.dropFirst()).filter { $1 != $0 + 1 }
        XCTAssertEqual(breaks.count, 0, "the run of pages breaks: \(breaks.prefix(5).map { "0x\(String($0 << 12, radix: 16))→0x\(String($1 << 12, radix: 16))" })",
                       file: file, line: line)
        return pages.count
    }
}
