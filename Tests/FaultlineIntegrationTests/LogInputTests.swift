// What a person may give the reading commands instead of a log file, through the binary:
// a pipe (`report <(cat x.flt)`, `report /dev/stdin < x.flt`, `cat x.flt | report /dev/stdin`)
// reads like the file; a directory says so; a device that never ends is refused by its
// first bytes.

import XCTest
import Foundation
import FaultlineCore
import FaultlineLog

final class LogInputTests: XCTestCase {
    var cli: CLI!
    var log = ""

    override func setUpWithError() throws {
        cli = try CLI(test: name)
        log = cli.scratch.appendingPathComponent("small.flt").path
        let w = try LogWriter(path: log, header: LogHeader(pageSize: 4096, command: ["./small"], startTimeNs: 1_000))
        let anon = w.module(path: "//anon", buildID: [])
        w.append(.process(ProcessEvent(pid: 7, ppid: 1, timeNs: 1_000, command: w.intern("./small"))))
        w.append(.mmap(MmapEvent(pid: 7, timeNs: 1_100, start: 0x10000, length: 0x10000, pageOffset: 0, prot: 3, flags: 0x22,
                                 inode: 0, module: anon)))
        for i: UInt64 in 0..<12 {
            w.append(.fault(FaultEvent(pid: 7, tid: 7, timeNs: 1_200 + i, address: 0x10000 + i * 4096, ip: 0x401000,
                                       kind: i < 8 ? .anon : .zero, access: i < 8 ? .write : .read, kernelMode: false,
                                       errorCode: 6, serviceNs: 100, stack: .empty)))
        }
        w.append(.exit(ExitEvent(pid: 7, timeNs: 2_000, exitCode: 0, signal: 0)))
        try w.finish(LogSummary(endTimeNs: 2_000, faults: 12, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
    }

    /// Runs faultline with `stdin` fed through a pipe (or from a file, with `stdinFile`).
    private func run(_ args: [String], stdin: Data? = nil, stdinFile: String? = nil,
                     executable: String = CLI.binary) throws -> CLI.Outcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.currentDirectoryURL = cli.scratch
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        if let stdinFile { p.standardInput = FileHandle(forReadingAtPath: stdinFile) } else { p.standardInput = input }
        try p.run()
        if stdinFile == nil {
            // Written from another thread: a pipe holds 64 KiB, and faultline reads as it goes.
            let writer = Thread {
                if let stdin { input.fileHandleForWriting.write(stdin) }
                try? input.fileHandleForWriting.close()
            }
            writer.start()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLI.Outcome(status: p.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                           stderr: String(decoding: stderr, as: UTF8.self))
    }

    func testALogFromAPipeReportsLikeTheFile() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: log))
        let reference = try cli.run(["report", log, "--format", "json"])
        XCTAssertEqual(reference.status, 0, reference.stderr)
        XCTAssertTrue(reference.stdout.contains("\"faults\" : 12"), reference.stdout)

        let piped = try run(["report", "/dev/stdin", "--format", "json"], stdin: bytes)
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(piped.stderr, "")
        XCTAssertEqual(piped.stdout, reference.stdout)

        let redirected = try run(["report", "/dev/stdin", "--format", "json"], stdinFile: log)
        XCTAssertEqual(redirected.stdout, reference.stdout, redirected.stderr)

        // What a shell's process substitution gives: /dev/fd/N, a pipe.
        let substituted = try run(["-c", "exec \"$0\" report <(cat \"$1\") --format json", CLI.binary, log],
                                  executable: "/bin/bash")
        XCTAssertEqual(substituted.status, 0, substituted.stderr)
        XCTAssertEqual(substituted.stdout, reference.stdout)

        // replay reads a regular file twice over (LogScan.swift); a pipe, once.
        let replayed = try cli.run(["replay", log, "--format", "json"])
        XCTAssertEqual(replayed.status, 0, replayed.stderr)
        let pipedReplay = try run(["replay", "/dev/stdin", "--format", "json"], stdin: bytes)
        XCTAssertEqual(pipedReplay.status, 0, pipedReplay.stderr)
        XCTAssertEqual(pipedReplay.stdout, replayed.stdout)

        let info = try run(["info", "/dev/stdin"], stdin: bytes)
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("(\(bytes.count) bytes) in 2 chunks"), info.stdout)
        XCTAssertTrue(info.stdout.hasSuffix("integrity: complete\n"), info.stdout)
    }

    func testPicturesOfAPipedLogGoToTheWorkingDirectory() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: log))
        for (command, suffix) in [("heatmap", ".heatmap.svg"), ("flamegraph", ".flame.svg")] {
            // There is no file to put the picture beside: it goes here, named after faultline.
            let o = try run([command, "/dev/stdin"], stdin: bytes)
            XCTAssertEqual(o.status, 0, o.stderr)
            XCTAssertEqual(o.stderr, "faultline: \(command == "heatmap" ? "heatmap" : "flame graph") written to faultline\(suffix)\n")
            let svg = try String(contentsOf: cli.scratch.appendingPathComponent("faultline\(suffix)"), encoding: .utf8)
            XCTAssertTrue(svg.hasSuffix("</svg>\n"))
        }
    }

    func testADirectoryIsADirectoryForEveryReadingCommand() throws {
        let dir = cli.scratch.path
        for args in [["report", dir], ["info", dir], ["export", dir, "--format", "jsonl"], ["export", dir, "--format", "pprof"],
                     ["heatmap", dir, "-o", "-"], ["flamegraph", dir, "-o", "-"], ["replay", dir]] {
            let o = try cli.run(args)
            XCTAssertEqual(o.status, 1, "\(args)")
            XCTAssertEqual(o.stderr, "faultline: \(dir) is a directory, not a faultline log\n", "\(args)")
            XCTAssertEqual(o.stdout, "")
        }
    }

    func testDevZeroIsNotALogAndDevNullIsEmpty() throws {
        for args in [["report"], ["info"], ["heatmap", "-o", "-"], ["export", "--format", "jsonl"]] {
            // /dev/zero never ends: refused by its first bytes, not read forever.
            let zero = try cli.run([args[0], "/dev/zero"] + args.dropFirst())
            XCTAssertEqual(zero.status, 1, "\(args)")
            XCTAssertEqual(zero.stderr, "faultline: /dev/zero is not a faultline log (bad magic)\n", "\(args)")
            let null = try cli.run([args[0], "/dev/null"] + args.dropFirst())
            XCTAssertEqual(null.status, 1, "\(args)")
            XCTAssertEqual(null.stderr, "faultline: /dev/null is empty, not a faultline log\n", "\(args)")
        }
    }
}
