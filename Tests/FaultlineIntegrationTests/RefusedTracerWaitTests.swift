// A program refused a tracer may not fail: gdb -p waits for its ptrace check's child, which
// stopped under faultline instead of under gdb, for ever. The reason must reach the user
// while the program waits (it once came only after a Ctrl-C), and Ctrl-C must then end the
// recording with the log whole. samples/self_trace "wait" checks as gdb does.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineLog

final class RefusedTracerWaitTests: XCTestCase {
    func testTheRefusalIsSaidWhileTheProgramWaitsAndCtrlCKeepsTheLog() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        XCTAssertTrue(Samples.built)
        let cli = try CLI(test: name)
        // Untraced, the check passes and the program exits 0.
        XCTAssertEqual(try cli.run(["wait"], executable: Samples.path("self_trace")).status, 0)

        let log = cli.scratch.appendingPathComponent("wait.flt").path
        let (recorder, _, err) = try cli.start(["record", "-q", "-o", log, "--", Samples.path("self_trace"), "wait"])
        // Read stderr until the refusal is said; the bound only stops a hang.
        var said = ""
        let giveUp = Date().addingTimeInterval(60)
        let reader = err.fileHandleForReading
        let fd = reader.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !said.contains("tried to trace (PTRACE_TRACEME)") && Date() < giveUp && recorder.isRunning {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 { said += String(decoding: buffer[..<n], as: UTF8.self) } else { Thread.sleep(forTimeInterval: 0.05) }
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        XCTAssertTrue(said.contains("tried to trace (PTRACE_TRACEME) and the kernel refused"), said)
        XCTAssertTrue(recorder.isRunning, "the program waits (as gdb -p does), so the recording goes on: \(said)")
        // Ctrl-C: the program gets it and ends; its child stays stopped, as it would
        // untraced, and holds the recording open. The second ends everything.
        let program = try XCTUnwrap(children(of: recorder.processIdentifier).first, "the program runs")
        kill(recorder.processIdentifier, SIGINT)
        let stillRunning = Date().addingTimeInterval(60)
        while isRunning(program) && Date() < stillRunning { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertFalse(isRunning(program), "the program ends at the first Ctrl-C")
        XCTAssertTrue(recorder.isRunning, "its stopped child keeps the recording going")
        kill(recorder.processIdentifier, SIGINT)
        let rest = String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
        recorder.waitUntilExit()
        let loaded = try LoadedLog.load(path: log, parallel: false)
        XCTAssertEqual(recorder.terminationStatus, 128 + SIGINT, said + rest)
        XCTAssertTrue(rest.contains("(interrupted)"), rest)
        XCTAssertNil(loaded.damage, "Ctrl-C keeps the log whole")
        XCTAssertEqual(loaded.processes.count, 2, "the program and its stopped child")
    }

    /// The children of process `pid` (its threads' children lists).
    func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { tid -> [Int32] in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/children", encoding: .utf8)) ?? ""
            return text.split(separator: " ").compactMap { Int32($0) }
        }
    }

    /// Alive and not a zombie.
    func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }
}
