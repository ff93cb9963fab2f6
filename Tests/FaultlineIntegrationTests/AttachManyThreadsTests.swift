// Attaching to a process of many threads opens events on each of them (about 19 per thread
// and CPU): thousands of descriptors. The recorder must get them under the usual soft limit
// of 1024, let every one go when it ends (its background closer once kept the descriptors
// above 4096 open, itself among them, and waited for ever), and count each fault once even
// when threads are being created while it attaches (the kernel's own count is the oracle).

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineLog

final class AttachManyThreadsTests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        XCTAssertTrue(Samples.built)
        cli = try CLI(test: name)
    }

    /// The processes whose command line mentions `text` (the recorder and its closer).
    func processes(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(text)
        }
    }

    func testAnAttachTo200ThreadsUnderTheUsualFileLimitEndsAndLetsEveryEventGo() throws {
        let threads = 200
        let target = Process()
        target.executableURL = URL(fileURLWithPath: Samples.path("parked_threads"))
        target.arguments = [String(threads)]
        let input = Pipe(), output = Pipe()
        target.standardInput = input
        target.standardOutput = output
        try target.run()
        defer {
            try? input.fileHandleForWriting.close()
            target.waitUntilExit()
        }
        let ready = String(decoding: output.fileHandleForReading.availableDataUntilNewline(), as: UTF8.self)
        XCTAssertTrue(ready.hasPrefix("READY pid=\(target.processIdentifier) threads=\(threads)"), ready)

        let log = cli.scratch.appendingPathComponent("parked-\(getpid()).flt").path
        // A shell lowers the soft limit to the usual 1024 for faultline alone.
        let o = try cli.run(["-c", "ulimit -Sn 1024 && exec \"$0\" record -q -o \"$1\" --pid \"$2\" --duration 0.3",
                             CLI.binary, log, String(target.processIdentifier)], executable: "/bin/sh")
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertFalse(o.stderr.contains("Too many open files"), o.stderr)

        // The closer releases the events in the background; it must finish (about a second
        // here), not wait for ever. The bound only stops a hang.
        let giveUp = Date().addingTimeInterval(90)
        while !processes(mentioning: log).isEmpty && Date() < giveUp { Thread.sleep(forTimeInterval: 0.1) }
        let left = processes(mentioning: log)
        XCTAssertEqual(left, [], "faultline's background closer still holds the events after 90 s")
        for pid in left { kill(pid, SIGKILL) }
        XCTAssertNoThrow(try LoadedLog.load(path: log, parallel: false))
    }

    func testAttachingWhileThreadsAreCreatedCountsEachFaultOnce() throws {
        // Threads created while the events are opened were reached twice (2 runs in 8, the
        // copies recorded as `other`). The kernel's per-process counts, read as recording
        // ends, are the oracle for every run.
        for run in 0..<3 {
            let swarm = Process()
            swarm.executableURL = URL(fileURLWithPath: Samples.path("thread_swarm"))
            swarm.arguments = ["1000", "300", "staggered"]
            swarm.standardOutput = FileHandle.nullDevice
            try swarm.run()
            // Attach while the swarm is still creating its threads (it takes ~0.3 s for all).
            Thread.sleep(forTimeInterval: 0.05)
            let log = cli.scratch.appendingPathComponent("swarm\(run).flt").path
            let o = try cli.run(["record", "-q", "-o", log, "--pid", String(swarm.processIdentifier)])
            swarm.waitUntilExit()
            XCTAssertEqual(o.status, 0, o.stderr)
            let loaded = try LoadedLog.load(path: log, parallel: false)
            let other = loaded.faults.filter { $0.kind == .other }.count
            XCTAssertEqual(other, 0, "run \(run): faults recorded twice show as `other`")
            let info = try cli.run(["info", log])
            XCTAssertEqual(info.status, 0, info.stderr)
            XCTAssertFalse(info.stdout.contains("the kernel's own counters differ"), "run \(run): \(info.stdout)")
        }
    }
}

private extension FileHandle {
    /// Reads one line (the sample's READY line), byte by byte: no more than it.
    func availableDataUntilNewline() -> Data {
        var line = Data()
        while let byte = try? read(upToCount: 1), let b = byte.first, b != UInt8(ascii: "\n") { line.append(b) }
        return line
    }
}
