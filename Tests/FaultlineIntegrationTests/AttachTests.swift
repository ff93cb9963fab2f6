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

fileprivate extension Dictionary where Key == String, Value == String {
    /// A `0x…` field as a number.
    func hex(_ key: String) -> UInt64? { self[key].flatMap { UInt64($0.dropFirst(2), radix: 16) } }
}

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
        let started = try XCTUnwrap(line(startingWith: "ticker pid=", in: output), "the ticker did not start")
        let fields = Self.fields(started)
        let pid = try XCTUnwrap(fields["pid"].flatMap { Int32($0) }, started)
        let start = try XCTUnwrap(fields.hex("start"), started), end = try XCTUnwrap(fields.hex("end"), started)
        return (pid, start..<end, output)
    }

    /// A line's `key=value` fields.
    static func fields(_ line: String) -> [String: String] {
        var fields: [String: String] = [:]
        for kv in line.split(separator: " ") {
            let parts = kv.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    /// The process's faults (minflt + majflt) the kernel had counted when the recording of
    /// `pid` began and when it ended, read by the recorder with every thread stopped.
    func kernelFaults(_ loaded: LoadedLog, _ pid: Int32) throws -> ClosedRange<UInt64> {
        let p = try XCTUnwrap(loaded.processes[pid], "pid \(pid) is not in the log")
        let end = try XCTUnwrap(p.kernelMinor, "no kernel counters at the detach") + (p.kernelMajor ?? 0)
        return p.kernelBaselineMinor + p.kernelBaselineMajor ... end
    }

    /// The ticker's pages (their numbers from its start) written while it was recorded: page
    /// 256 t + i was its fault number N_t + i + 1 (its faults_before line), and the recording
    /// saw the faults numbered after the kernel's count at the attach up to the one at the
    /// detach. Waits for the ticker to end.
    func tickerPagesWhileAttached(_ ticker: (pid: Int32, range: Range<UInt64>, output: String), ticks: Int,
                                  _ loaded: LoadedLog) throws -> [UInt64] {
        let done = try XCTUnwrap(line(startingWith: "ticker faults_before=", in: ticker.output), "the ticker did not finish")
        let before = done.dropFirst("ticker faults_before=".count).split(separator: ",").compactMap { UInt64($0) }
        XCTAssertEqual(before.count, ticks, done)
        XCTAssertEqual(zip(before, before.dropFirst()).filter { $1 != $0 + 256 }.count, 0, "a tick's writes are its only faults: \(done)")
        let seen = try kernelFaults(loaded, ticker.pid)
        return before.enumerated().flatMap { t, n in
            (0..<UInt64(256)).filter { n + $0 + 1 > seen.lowerBound && n + $0 + 1 <= seen.upperBound }.map { UInt64(t) * 256 + $0 }
        }
    }

    /// The pages (numbers from the ticker's first) of `faults`, in time order.
    func pageNumbers(_ faults: [FaultEvent], from start: UInt64) -> [UInt64] {
        faults.sorted { $0.timeNs < $1.timeNs }.map { ($0.address - start) >> 12 }
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
        // How many ticks fall in 2 s is the machine's business; which pages were written
        // while attached is not: exactly those the kernel counted between the attach and the
        // detach, none lost, in order. Counters read with every thread stopped: the ticker
        // makes no exec and no get_user_pages fault, so the counts agree exactly too.
        XCTAssertEqual(loaded.faults.filter { $0.pid == ticker.pid }.count, anon.count, "the ticker takes no other fault")
        let expected = try tickerPagesWhileAttached(ticker, ticks: 40, loaded)
        XCTAssertFalse(expected.isEmpty, "the ticker wrote no page while attached")
        XCTAssertEqual(pageNumbers(anon, from: ticker.range.lowerBound), expected)
        assertOneRunOfPages(anon)
        assertRecordedMatchesKernel(loaded, getUserPagesAllowance: 0)

        // The program ends as it would have: its own output and status.
        _ = try XCTUnwrap(line(startingWith: "status ", in: ticker.output), "the ticker did not exit")
        let text = (try? String(contentsOfFile: ticker.output, encoding: .utf8)) ?? ""
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

    /// The first line of `path` starting with `prefix`, once there is one (nil, and the test
    /// failed, if none comes within the hang guard of ProcessReadiness.wait).
    func line(startingWith prefix: String, in path: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        var found: String?
        _ = ProcessReadiness.wait(for: "a line starting \(prefix) in \(path)", file: file, line: line) {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            found = text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
            return found != nil
        }
        return found
    }

    func testAProcessWhoseLeaderLeftIsRecordedAndNotHeldUp() throws {
        // The leader calls pthread_exit: a zombie that cannot be seized and never stops
        // again, while its worker writes a page every millisecond for 4 s.
        let output = try startInBackground("leader_exit", ["4"])
        let started = try XCTUnwrap(line(startingWith: "leader_exit pid=", in: output), "the sample did not start")
        let pid = try XCTUnwrap(Int32(started.dropFirst("leader_exit pid=".count)), started)
        // The leader prints its line, then leaves: attach once it is a zombie.
        XCTAssertTrue(ProcessReadiness.wait(for: "the leader of \(pid) to be a zombie") { ProcFS.isZombie(pid: pid, tid: pid) })
        let log = scratch.appendingPathComponent("leader.flt").path
        let result = try Recorder.attach(pid: pid, duration: 1, options: RecordOptions(command: [], output: log))
        XCTAssertEqual(result.counts.lost, 0)
        let loaded = try LoadedLog.load(path: log)
        let writes = loaded.faults.filter { $0.pid == pid && $0.kind == .anon && $0.tid != pid }
        assertOneRunOfPages(writes)
        try assertWorkerPagesWhileAttached(writes, loaded, pid, output)
        assertRecordedMatchesKernel(loaded, getUserPagesAllowance: 0)
        // How long the worker was held (its longest gap) is tools/bench-attach's to measure:
        // a test has no wall-clock bound.
        XCTAssertNotNil(line(startingWith: "status 0", in: output))
    }

    /// The worker's writes recorded are exactly those the kernel counted between the attach
    /// and the detach: page i was the process's fault number M + i + 1 (its start line).
    func assertWorkerPagesWhileAttached(_ writes: [FaultEvent], _ loaded: LoadedLog, _ pid: Int32, _ output: String,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let done = try XCTUnwrap(self.line(startingWith: "worker start=", in: output), "the worker did not finish", file: file, line: line)
        let fields = Self.fields(done)
        XCTAssertEqual(fields["contiguous"], "1", "a write's fault is the worker's only one: \(done)", file: file, line: line)
        let start = try XCTUnwrap(fields.hex("start"), done, file: file, line: line)
        let pages = try XCTUnwrap(fields["pages"].flatMap { UInt64($0) }, done, file: file, line: line)
        let first = try XCTUnwrap(fields["faults_before_first"].flatMap { UInt64($0) }, done, file: file, line: line)
        let seen = try kernelFaults(loaded, pid)
        let expected = (0..<pages).filter { first + $0 + 1 > seen.lowerBound && first + $0 + 1 <= seen.upperBound }
        XCTAssertFalse(expected.isEmpty, "the worker wrote no page while attached", file: file, line: line)
        XCTAssertEqual(pageNumbers(writes, from: start), expected, "the worker's pages while attached", file: file, line: line)
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
        let expected = try tickerPagesWhileAttached(ticker, ticks: 30, loaded)
        XCTAssertFalse(expected.isEmpty, "the ticker wrote no page while attached")
        XCTAssertEqual(pageNumbers(anon, from: ticker.range.lowerBound), expected, "every page written while attached, none lost")
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
        let started = try XCTUnwrap(line(startingWith: "leader_exit pid=", in: output), "the sample did not start")
        let pid = try XCTUnwrap(Int32(started.dropFirst("leader_exit pid=".count)), started)
        let worker = try XCTUnwrap(ProcFS.threads(pid: pid).first { $0 != pid }, "the worker thread")
        XCTAssertEqual(Recorder.process(ofThread: worker), pid)
        let log = scratch.appendingPathComponent("thread.flt").path
        let result = try Recorder.attach(pid: worker, duration: 1, options: RecordOptions(command: [], output: log))
        XCTAssertEqual(result.counts.lost, 0)
        let loaded = try LoadedLog.load(path: log)
        XCTAssertNotNil(loaded.processes[pid], "the process is described")
        XCTAssertTrue(loaded.faults.allSatisfy { $0.pid == pid })
        let writes = loaded.faults.filter { $0.tid == worker && $0.kind == .anon }
        assertOneRunOfPages(writes)
        try assertWorkerPagesWhileAttached(writes, loaded, pid, output)
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
        XCTAssertTrue(ProcessReadiness.wait(for: "faultline \(gdbLike.processIdentifier) to trace the ticker", while: { gdbLike.isRunning }) {
            let status = (try? String(contentsOfFile: "/proc/\(ticker.pid)/status", encoding: .utf8)) ?? ""
            return status.contains("TracerPid:\t\(gdbLike.processIdentifier)\n")
        })
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
