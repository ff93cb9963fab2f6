// Runs the faultline binary the way a person does, in a scratch directory of its own, for
// the tests that check the command line (exit statuses, output, one-line errors).

import XCTest
import FaultlineTestSupport
import Foundation

struct CLI {
    struct Outcome { var status: Int32; var stdout: String; var stderr: String }

    static var binary: String { Samples.root.appendingPathComponent(".build/debug/faultline").path }

    let scratch: URL

    /// A fresh scratch directory named after the test; fails the test if the binary is missing.
    init(test: String) throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.binary), "build the binary first (swift build)")
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-cli-\(getpid())-\(test.hashValue)")
        try? FileManager.default.removeItem(at: scratch)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    func start(_ args: [String], executable: String = CLI.binary) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.currentDirectoryURL = scratch
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, out, err)
    }

    /// Runs faultline (or another program, for a test's set-up) to the end.
    func run(_ args: [String], executable: String = CLI.binary) throws -> Outcome {
        let (p, out, err) = try start(args, executable: executable)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Outcome(status: p.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// `faultline record -o SCRATCH/run.flt -- command`; skips where recording cannot work.
    func record(_ command: [String]) throws -> Outcome {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        return try run(["record", "-o", scratch.appendingPathComponent("run.flt").path, "--"] + command)
    }

    /// `faultline record -q -o SCRATCH/name -- command`, which must succeed; the log's path.
    func recordLog(_ name: String, _ command: [String]) throws -> String {
        let path = scratch.appendingPathComponent(name).path
        let o = try run(["record", "-q", "-o", path, "--"] + command)
        XCTAssertEqual(o.status, 0, o.stderr)
        return path
    }

    /// A reading command's JSON output, which must parse; the command must succeed.
    func json(_ args: [String]) throws -> [String: Any] {
        let o = try run(args)
        XCTAssertEqual(o.status, 0, o.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as? [String: Any], o.stdout)
    }
}
