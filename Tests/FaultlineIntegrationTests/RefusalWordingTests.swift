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
        // The shell starts a child that exits at once, then becomes a process that never
        // reaps it: the child stays a zombie while that sleeps.
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "/bin/true & echo $!; exec sleep 30"]
        let out = Pipe()
        shell.standardOutput = out
        try shell.run()
        defer { shell.terminate(); shell.waitUntilExit() }
        var line = Data()
        while let byte = try out.fileHandleForReading.read(upToCount: 1), let b = byte.first, b != UInt8(ascii: "\n") { line.append(b) }
        let zombie = try XCTUnwrap(Int32(String(decoding: line, as: UTF8.self)))
        let giveUp = Date().addingTimeInterval(60)
        while Date() < giveUp {
            let stat = (try? String(contentsOfFile: "/proc/\(zombie)/stat", encoding: .utf8)) ?? ""
            if stat.contains(") Z ") { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        let o = try cli.run(["record", "-o", cli.scratch.appendingPathComponent("z.flt").path, "--pid", String(zombie), "--duration", "1"])
        XCTAssertEqual(o.status, 1, o.stderr)
        XCTAssertEqual(o.stderr, "faultline: cannot attach to \(zombie) (true): it has exited and waits for its parent "
                       + "(pid \(shell.processIdentifier), sleep) to reap it; a zombie runs no more and takes no faults\n")
    }
}
