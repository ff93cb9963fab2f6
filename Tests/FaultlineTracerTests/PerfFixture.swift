// Perf records as the kernel wrote them into the rings, kept as test fixtures: the records of
// one run of a sample (concatenated; each starts with its own header and size) and what a
// parser needs to read them (which event id is which source, the tracepoints' field offsets,
// the sample types), with the sample's own EXPECT lines. `capture` makes them (root: it
// opens the events as the recorder does); everything else reads them without privileges.

import Foundation
import XCTest
import CFaultlineLinux
import FaultlineTestSupport
@testable import FaultlineTracer

struct PerfFixture {
    var sample: String
    var arguments: [String]
    var kernel: String
    var callGraph: CallGraphMode
    var completionsHavePageSize: Bool
    var sources: [UInt64: FaultEventSource]
    var userTracepoint: PageFaultTracepoint
    var kernelTracepoint: PageFaultTracepoint
    var stdout: String
    /// Every record, in ring order (CPU by CPU).
    var records: [UInt8]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The records one by one (their header's size field splits them).
    var recordSpans: [Range<Int>] {
        var spans: [Range<Int>] = []
        var at = 0
        while at + 8 <= records.count {
            let size = Int(records[at + 6]) | Int(records[at + 7]) << 8
            guard size >= 8, at + size <= records.count else { break }
            spans.append(at..<at + size)
            at += size
        }
        return spans
    }

    /// The fixture's records through a fresh parser, as the recorder reads them (without
    /// unwinding: the modules named in the records may have changed since).
    func parse() -> (events: [TraceEvent], chains: [UInt64], unknown: Int) {
        var parser = PerfRecordParser(sources: sources, userTracepoint: userTracepoint, kernelTracepoint: kernelTracepoint,
                                      callGraph: callGraph, completionsHavePageSize: completionsHavePageSize, unwinds: false)
        var events: [TraceEvent] = []
        records.withUnsafeBytes { all in
            for span in recordSpans { parser.parse(UnsafeRawBufferPointer(rebasing: all[span]), into: &events) }
        }
        return (events, parser.chainStore, parser.unknownRecords)
    }

    var expectations: [(kind: String, pid: Int32, start: UInt64, end: UInt64, count: Int)] {
        stdout.split(separator: "\n").compactMap { line in
            var f: [String: Substring] = [:]
            for part in line.split(separator: " ").dropFirst() {
                let kv = part.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { f[String(kv[0])] = kv[1] }
            }
            guard line.hasPrefix("EXPECT "), let kind = f["kind"], let pid = f["pid"].flatMap({ Int32($0) }),
                  let start = f["start"].flatMap({ UInt64($0.dropFirst(2), radix: 16) }),
                  let end = f["end"].flatMap({ UInt64($0.dropFirst(2), radix: 16) }),
                  let count = f["count"].flatMap({ Int($0) }) else { return nil }
            return (String(kind), pid, start, end, count)
        }
    }

    // MARK: files

    static func load(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> PerfFixture {
        let meta = try jsonObject(try String(contentsOf: directory.appendingPathComponent("\(name).json"), encoding: .utf8),
                                  file: file, line: line)
        func field<T>(_ key: String, _ type: T.Type) throws -> T {
            try XCTUnwrap(meta[key] as? T, "\(name).json: no \(key)", file: file, line: line)
        }
        func tracepoint(_ key: String) throws -> PageFaultTracepoint {
            let t = try field(key, [String: Int].self)
            return PageFaultTracepoint(id: UInt64(try XCTUnwrap(t["id"])), addressOffset: try XCTUnwrap(t["address"]),
                                       ipOffset: try XCTUnwrap(t["ip"]), errorCodeOffset: try XCTUnwrap(t["error_code"]))
        }
        var sources: [UInt64: FaultEventSource] = [:]
        for (id, source) in try field("sources", [String: String].self) {
            sources[try XCTUnwrap(UInt64(id))] = try XCTUnwrap(FaultEventSource(fixtureName: source), "unknown source \(source)")
        }
        let records = try [UInt8](Data(contentsOf: directory.appendingPathComponent("\(name).records")))
        return PerfFixture(sample: try field("sample", String.self), arguments: try field("arguments", [String].self),
                           kernel: try field("kernel", String.self),
                           callGraph: try XCTUnwrap(CallGraphMode(rawValue: try field("call_graph", String.self))),
                           completionsHavePageSize: try field("completions_have_page_size", Bool.self), sources: sources,
                           userTracepoint: try tracepoint("user_tracepoint"), kernelTracepoint: try tracepoint("kernel_tracepoint"),
                           stdout: try field("stdout", String.self), records: records)
    }

    func save(as name: String) throws {
        func tracepoint(_ t: PageFaultTracepoint) -> [String: Int] {
            ["id": Int(t.id), "address": t.addressOffset, "ip": t.ipOffset, "error_code": t.errorCodeOffset]
        }
        let meta: [String: Any] = [
            "sample": sample, "arguments": arguments, "kernel": kernel, "call_graph": callGraph.rawValue,
            "completions_have_page_size": completionsHavePageSize,
            "sources": Dictionary(uniqueKeysWithValues: sources.map { (String($0.key), $0.value.fixtureName) }),
            "user_tracepoint": tracepoint(userTracepoint), "kernel_tracepoint": tracepoint(kernelTracepoint),
            "stdout": stdout,
        ]
        let json = try JSONSerialization.data(withJSONObject: meta, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: Self.directory.appendingPathComponent("\(name).json"))
        try Data(records).write(to: Self.directory.appendingPathComponent("\(name).records"))
    }

    // MARK: capture

    /// Runs samples/bin/SAMPLE under perf events opened as the recorder opens them (enabled
    /// at its exec; no ptrace: nothing here needs the wait loop) and keeps every record.
    static func capture(sample: String, arguments: [String] = [], callGraph: CallGraphMode = .fp,
                        packageRoot: URL) throws -> PerfFixture {
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The shell waits for a line, then becomes the sample: the events, opened on the
        // shell meanwhile, start counting at that exec.
        shell.arguments = ["-c", "read go && exec \"$0\" \"$@\"", packageRoot.appendingPathComponent("samples/bin/\(sample)").path]
            + arguments
        shell.currentDirectoryURL = packageRoot.appendingPathComponent(".build")
        let input = Pipe(), output = Pipe()
        shell.standardInput = input
        shell.standardOutput = output
        try shell.run()
        var events = try PerfEventSet(pid: shell.processIdentifier, callGraph: callGraph, stackCopySize: 8192,
                                      ringPages: 1024, enableOnExec: true)
        defer { events.close() }
        input.fileHandleForWriting.write(Data("go\n".utf8))
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        shell.waitUntilExit()
        XCTAssertEqual(shell.terminationStatus, 0, "\(sample) failed")
        var records: [UInt8] = []
        for ring in events.rings {
            ring.drain { records.append(contentsOf: $0) }
        }
        events.rings.removeAll()
        var host = utsname()
        uname(&host)
        let release = withUnsafeBytes(of: host.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return PerfFixture(sample: sample, arguments: arguments, kernel: release, callGraph: callGraph,
                           completionsHavePageSize: PerfEventSet.supportsDataPageSize, sources: events.sources,
                           userTracepoint: events.userTracepoint, kernelTracepoint: events.kernelTracepoint,
                           stdout: stdout, records: records)
    }
}

extension FaultEventSource {
    var fixtureName: String {
        switch self {
        case .minor: return "minor"
        case .major: return "major"
        case .entryUser: return "entry_user"
        case .entryKernel: return "entry_kernel"
        case .syscallEnter(let call): return "enter_\(call.name)"
        case .syscallExit(let call): return "exit_\(call.name)"
        case .ptraceEnter: return "enter_ptrace"
        case .ptraceExit: return "exit_ptrace"
        }
    }

    init?(fixtureName: String) {
        let all: [FaultEventSource] = [.minor, .major, .entryUser, .entryKernel, .ptraceEnter, .ptraceExit]
            + AddressSpaceSyscall.allCases.flatMap { [.syscallEnter($0), .syscallExit($0)] }
        guard let found = all.first(where: { $0.fixtureName == fixtureName }) else { return nil }
        self = found
    }
}
