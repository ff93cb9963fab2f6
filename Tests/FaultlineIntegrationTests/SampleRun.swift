// Runs a program from samples/ under the recorder and reads back what it recorded and what
// the sample says it did (its EXPECT lines), so tests compare the two.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineCore
import FaultlineLog
import FaultlineTracer

/// The `key=value` words of a line a sample printed, if it begins with `tag` and a space.
func sampleLineFields(_ line: Substring, tag: String) -> [String: String]? {
    guard line.hasPrefix(tag + " ") else { return nil }
    var fields: [String: String] = [:]
    for part in line.split(separator: " ").dropFirst() {
        let kv = part.split(separator: "=", maxSplits: 1)
        if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
    }
    return fields
}

/// A `0x`-prefixed hexadecimal field of a sample's line.
func hexField(_ fields: [String: String], _ key: String) -> UInt64? {
    fields[key].flatMap { UInt64($0.dropFirst(2), radix: 16) }
}

/// One EXPECT line: `pid` (thread `tid`) takes exactly `count` faults of `kind` in [start, end).
struct Expectation {
    var kind: FaultKind
    var pid: Int32
    var tid: Int32
    var start: UInt64
    var end: UInt64
    var count: Int
    var kernelMode: Bool
    var signalCode: Int32?
    /// Every one of these faults mapped a page of this size (page_size=BYTES).
    var pageSize: UInt64?

    init?(line: Substring) {
        guard let fields = sampleLineFields(line, tag: "EXPECT") else { return nil }
        func hex(_ key: String) -> UInt64? { hexField(fields, key) }
        guard let kindName = fields["kind"], let kind = FaultKind(name: kindName),
              let pid = fields["pid"].flatMap({ Int32($0) }), let tid = fields["tid"].flatMap({ Int32($0) }),
              let start = hex("start"), let end = hex("end"), let count = fields["count"].flatMap({ Int($0) })
        else { return nil }
        self.kind = kind; self.pid = pid; self.tid = tid; self.start = start; self.end = end; self.count = count
        kernelMode = fields["kernel_mode"] == "1"
        signalCode = fields["si_code"].flatMap { Int32($0) }
        pageSize = fields["page_size"].flatMap { UInt64($0) }
    }
}

struct SampleRun {
    var result: RecordResult
    var log: LoadedLog
    var stdout: String
    var expectations: [Expectation]
    /// Where the log is.
    var logPath: String = ""

    /// Faults `pid` took inside [start, end).
    func faults(pid: Int32, in range: Range<UInt64>) -> [FaultEvent] {
        log.faults.filter { $0.pid == pid && range.contains($0.address) }
    }
}

enum Samples {
    static let root: URL = {
        var dir = URL(fileURLWithPath: #filePath)
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            dir.deleteLastPathComponent()
        }
        return dir
    }()

    static let built: Bool = {
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        make.arguments = ["-s", "-C", root.appendingPathComponent("samples").path]
        try? make.run()
        make.waitUntilExit()
        return make.terminationStatus == 0
    }()

    /// Why recording cannot work here, or nil. Tests skip with this reason, which CI (root)
    /// never has.
    static let missingCapability: String? = {
        if geteuid() != 0 && (try? String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8))
            .flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }).map({ $0 > 1 }) ?? true {
            return "recording needs root or perf_event_paranoid <= 1 (kernel-mode faults are recorded)"
        }
        return nil
    }()

    static func path(_ name: String) -> String { root.appendingPathComponent("samples/bin/\(name)").path }

    /// Records `name args…` with its stdout sent to a file (through `sh -c 'exec …'`, so the
    /// sample itself is the process the shell became).
    /// `setup`: a shell command the shell runs first (e.g. to join a cgroup).
    static func record(_ name: String, _ args: [String] = [], callGraph: CallGraphMode = .fp, disableTHP: Bool = false,
                       setup: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> SampleRun {
        if let why = missingCapability { throw Skip.because(why) }
        XCTAssertTrue(built, "make -C samples failed", file: file, line: line)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-it-\(getpid())-\(name)")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent("stdout").path
        let logPath = dir.appendingPathComponent("run.flt").path
        // Samples that create files use their working directory: keep it on a real disk.
        let workDir = root.appendingPathComponent(".build/sample-files").path
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let script = (setup.map { $0 + " && " } ?? "") + "cd \"$1\" && shift && exec \"$@\" > \"$0\""
        let command = ["/bin/sh", "-c", script, out, workDir, path(name)] + args
        var run = try recordCommand(command, logPath: logPath, callGraph: callGraph, disableTHP: disableTHP)
        run.stdout = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        run.expectations = run.stdout.split(separator: "\n").compactMap(Expectation.init(line:))
        return run
    }

    /// Records any command (its output goes where the test's goes).
    static func recordCommand(_ command: [String], logPath: String? = nil, callGraph: CallGraphMode = .fp,
                              disableTHP: Bool = false) throws -> SampleRun {
        if let why = missingCapability { throw Skip.because(why) }
        let path = logPath ?? FileManager.default.temporaryDirectory.appendingPathComponent("faultline-it-\(getpid())-cmd.flt").path
        var options = RecordOptions(command: command, output: path, callGraph: callGraph)
        options.disableTHP = disableTHP
        let result = try Recorder.record(options)
        return SampleRun(result: result, log: try LoadedLog.load(path: path), stdout: "", expectations: [], logPath: path)
    }
}

/// Asserts every EXPECT line of the run: the faults in its range of its kind, by its
/// thread, number exactly `count`.
func assertExpectations(_ run: SampleRun, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertFalse(run.expectations.isEmpty, "the sample printed no EXPECT lines: \(run.stdout)", file: file, line: line)
    XCTAssertEqual(run.log.lost, 0, file: file, line: line)
    for e in run.expectations {
        let inRange = run.faults(pid: e.pid, in: e.start..<e.end).filter { $0.tid == e.tid && $0.kind == e.kind }
        XCTAssertEqual(inRange.count, e.count, "\(e.kind) faults in \(String(e.start, radix: 16))-\(String(e.end, radix: 16)) of pid \(e.pid)/\(e.tid); kinds seen there: \(kindHistogram(run, e))", file: file, line: line)
        if e.kernelMode {
            XCTAssertTrue(inRange.allSatisfy(\.kernelMode), "expected kernel-mode faults", file: file, line: line)
        }
        if let code = e.signalCode {
            XCTAssertTrue(inRange.allSatisfy { $0.signalCode == code }, "expected si_code \(code)", file: file, line: line)
        }
        if let size = e.pageSize {
            XCTAssertEqual(inRange.filter { $0.mappedPageBytes == size }.count, e.count,
                           "\(e.kind) faults mapping \(size)-byte pages; sizes seen: \(inRange.map(\.pageShift))", file: file, line: line)
        }
    }
}

private func kindHistogram(_ run: SampleRun, _ e: Expectation) -> [String: Int] {
    var h: [String: Int] = [:]
    for f in run.faults(pid: e.pid, in: e.start..<e.end) { h["\(f.kind)\(f.kernelMode ? "/k" : "")", default: 0] += 1 }
    return h
}

