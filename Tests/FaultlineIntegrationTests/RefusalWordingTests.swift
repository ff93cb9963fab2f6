// Values a user gets wrong get a line that says what is wrong with them: a negative number
// is a bad value (ArgumentParser took "-5" for an option and said the value was missing),
// and a zombie is a zombie (it was "no process", though ps shows it).

import XCTest
import FaultlineTestSupport
import Foundation

final class RefusalWordingTests: XCTestCase {
    func testNegativeNumbersAreBadValuesNotMissingOnes() throws {
        let cli = try CLI(test: name)
        let log = try cli.recordLog("ls.flt", ["/bin/true"])
        for (args, said) in [(["record", "--pid", "-5"], "--pid must be a process id above 0, not -5"),
                             (["record", "--pid", "1", "--duration", "-1"], "--duration must be a positive number of seconds"),
                             (["report", log, "--top", "-1"], "--top must be at least 1, not -1"),
                             (["report", log, "--slowest", "-2"], "--slowest must be from 0 to 10000, not -2"),
                             (["replay", log, "--jobs", "-1"], "--jobs -1: give 1 to 4096 CPUs")] {
            let o = try cli.run(args)
            XCTAssertEqual(o.status, 64, "\(args): \(o.stderr)")
            XCTAssertTrue(o.stderr.hasPrefix("Error: \(said)\n"), "\(args): \(o.stderr)")
            XCTAssertFalse(o.stderr.contains("Missing value"), "\(args): \(o.stderr)")
        }
    }

    func testAttachingToAZombieSaysItIsOne() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let cli = try CLI(test: name)
        // The shell starts a child that waits for a line on the test's pipe, then becomes a
        // process that never reaps it. The line is sent only once the shell is that process:
        // a child that exited sooner could be reaped by the shell itself, and then there is no
        // zombie to attach to (a CI run saw exactly that).
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "exec 3<&0; head -n 1 <&3 >/dev/null & echo $!; exec sleep 30 3<&-"]
        let out = Pipe(), release = Pipe()
        shell.standardOutput = out
        shell.standardInput = release
        try shell.run()
        defer { shell.terminate(); shell.waitUntilExit() }
        var line = Data()
        while let byte = try out.fileHandleForReading.read(upToCount: 1), let b = byte.first, b != UInt8(ascii: "\n") { line.append(b) }
        let zombie = try XCTUnwrap(Int32(String(decoding: line, as: UTF8.self)))
        let giveUp = Date().addingTimeInterval(60)
        func comm(_ pid: Int32) -> String { (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "" }
        while Date() < giveUp, comm(shell.processIdentifier) != "sleep\n" { Thread.sleep(forTimeInterval: 0.02) }
        try release.fileHandleForWriting.write(contentsOf: Data("go\n".utf8))
        try release.fileHandleForWriting.close()
        var isZombie = false
        while Date() < giveUp, !isZombie {
            let stat = (try? String(contentsOfFile: "/proc/\(zombie)/stat", encoding: .utf8)) ?? ""
            isZombie = stat.contains(") Z ")
            if !isZombie { Thread.sleep(forTimeInterval: 0.02) }
        }
        XCTAssertTrue(isZombie, "pid \(zombie) never became a zombie of the sleeping shell")
        let o = try cli.run(["record", "-o", cli.scratch.appendingPathComponent("z.flt").path, "--pid", String(zombie), "--duration", "1"])
        XCTAssertEqual(o.status, 1, o.stderr)
        XCTAssertEqual(o.stderr, "faultline: cannot attach to \(zombie) (head): it has exited and waits for its parent "
                       + "(pid \(shell.processIdentifier), sleep) to reap it; a zombie runs no more and takes no faults\n")
    }
}
