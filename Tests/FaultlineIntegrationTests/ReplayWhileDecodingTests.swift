// `replay` starts its models while a log's faults are still being decoded (LogScan.swift);
// `replay --jobs 1` reads the log whole first. Both must print the same bytes: on a
// recording of forks, execs, threads and MADV_DONTNEED rounds over many chunks, and on a
// log whose damage only a reading of its fault streams finds (the second pass for one
// model, the first for several), which replay then reads whole, and names once.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineCore
import FaultlineLog

final class ReplayWhileDecodingTests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws { cli = try CLI(test: name) }

    /// The same command with and without `--jobs 1`: the same stdout, stderr and status.
    private func assertSameAsWholeLoad(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLI.Outcome {
        let streamed = try cli.run(args)
        let whole = try cli.run(args + ["--jobs", "1"])
        XCTAssertEqual(streamed.status, whole.status, "\(args): \(streamed.stderr)", file: file, line: line)
        XCTAssertEqual(streamed.stderr, whole.stderr, "\(args)", file: file, line: line)
        XCTAssertTrue(streamed.stdout == whole.stdout, "\(args): the outputs differ", file: file, line: line)
        return streamed
    }

    func testARecordingReplaysAlikeWhileDecoded() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        _ = Samples.built
        let o = try cli.record(["/bin/sh", "-c", "\(Samples.path("cow_fork")) && \(Samples.path("thread_storm")) 64 2"])
        XCTAssertEqual(o.status, 0, o.stderr)
        let log = cli.scratch.appendingPathComponent("run.flt").path
        let info = try cli.run(["info", log])
        // "file   6.17 MiB (6,473,249 bytes) in 345 chunks, ..."
        let words = info.stdout.split(whereSeparator: \.isWhitespace)
        let chunks = try XCTUnwrap(words.firstIndex(of: "chunks,").flatMap { Int(words[$0 - 1]) }, info.stdout)
        XCTAssertGreaterThan(chunks, 8, "thread_storm's 65,536 faults fill many chunks")
        let json = try assertSameAsWholeLoad(["replay", log, "--format", "json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let replayed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((replayed["self_check"] as? [String: Any])?["matches"] as? Bool, true, json.stdout)
        _ = try assertSameAsWholeLoad(["replay", log, "--page-size", "4k", "--thp", "never", "--no-self-check", "--format", "json"])
        _ = try assertSameAsWholeLoad(["replay", log, "--page-size", "2m", "--thp", "always"])
    }

    /// A log of 6 chunks of faults, whose fourth holds one byte more in its page stream
    /// than its faults use: the first pass does not read that stream, the second does.
    func testDamageFoundWhileDecodingIsReadWholeAndNamedOnce() throws {
        let log = try sixChunkLog(named: "damaged.flt") { c, faults in
            var payload = LogChunks.payload(faults.map { .fault($0) })
            if c == 3 { payload = Self.withExtraByteInPageStream(payload) }
            return LogChunks.seal(payload: payload, count: UInt32(faults.count), deflate: true)
        }
        try assertFaultsBeforeChunk3Replayed(log, naming: "log is corrupt at byte")
        // Two models (16k and the 4K baseline): the first pass decodes the faults, finds
        // the damage there, and the log is read whole from the start.
        let two = try assertSameAsWholeLoad(["replay", log, "--page-size", "16k", "--thp", "never", "--format", "json"])
        XCTAssertEqual(two.status, 0, two.stderr)
        XCTAssertEqual(two.stderr.components(separatedBy: "log is corrupt at byte").count - 1, 1, two.stderr)
    }

    /// A log whose chunks of faults say their summary, and whose fourth says it falsely
    /// (its earliest fault 1 ns later than it is), its checksum right: the first pass takes
    /// the summaries, the second finds the lie, and replay reads the log whole, which names
    /// the chunk as damage once, as `--jobs 1` does.
    func testASummaryThatLiesIsReadWholeAndNamedOnce() throws {
        let log = try sixChunkLog(named: "lying.flt") { c, faults in
            var summary = try XCTUnwrap(FaultChunkSummary(faults))
            if c == 3 { summary.earliest += 1 }
            return LogChunks.seal(payload: LogChunks.payload(faults.map { .fault($0) }), count: UInt32(faults.count),
                                  deflate: true, summary: summary)
        }
        try assertFaultsBeforeChunk3Replayed(log, naming: "summary disagrees with its faults")
    }

    /// A log of one process's header chunk and 6 chunks of 2,000 faults, each sealed by
    /// `seal` (given the chunk's index and its faults); its path.
    private func sixChunkLog(named name: String, _ seal: (Int, [FaultEvent]) throws -> [UInt8]) throws -> String {
        var bytes = LogChunks.fileHeader
        bytes += LogChunks.chunk([.header(LogHeader(pageSize: 4096, thpMode: "never")), .string(StringID(rawValue: 0), "prog"),
                                  .process(ProcessEvent(pid: 10, ppid: 1, timeNs: 1, command: StringID(rawValue: 0)))], deflate: true)
        var time: UInt64 = 1000
        for c in 0..<6 {
            let faults = (0..<2000).map { i in
                time += 7
                return FaultEvent(pid: 10, tid: 10, timeNs: time, address: 0x10_0000_0000 + UInt64(c * 2000 + i) << 12,
                                  ip: 0, kind: .anon, access: .write, kernelMode: false, errorCode: 6, serviceNs: 100, stack: .empty)
            }
            bytes += try seal(c, faults)
        }
        let log = cli.scratch.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: log))
        return log
    }

    /// One model at 4k, as `--jobs 1` replays it: exit 0, `damage` named once, and the
    /// faults of the three chunks before the bad one replayed.
    private func assertFaultsBeforeChunk3Replayed(_ log: String, naming damage: String,
                                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let o = try assertSameAsWholeLoad(["replay", log, "--page-size", "4k", "--thp", "never", "--format", "json"],
                                          file: file, line: line)
        XCTAssertEqual(o.status, 0, o.stderr, file: file, line: line)
        XCTAssertEqual(o.stderr.components(separatedBy: damage).count - 1, 1, o.stderr, file: file, line: line)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as? [String: Any], o.stdout,
                                 file: file, line: line)
        let config = try XCTUnwrap((root["configs"] as? [[String: Any]])?.first, o.stdout, file: file, line: line)
        XCTAssertEqual(config["accesses"] as? Int, 3 * 2000, "the faults before the bad chunk: \(o.stdout.prefix(400))",
                       file: file, line: line)
    }

    /// A chunk payload (FaultFieldStreams' layout: the stream count, each stream's length,
    /// the streams, the records) with a zero byte added to the end of the page stream.
    static func withExtraByteInPageStream(_ payload: [UInt8]) -> [UInt8] {
        var at = 0
        func varint() -> Int {
            var v = 0, shift = 0
            while true {
                let b = payload[at]
                at += 1
                v |= Int(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }
        func put(_ value: Int, into out: inout [UInt8]) {
            var v = value
            while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
            out.append(UInt8(v))
        }
        let count = varint()
        let lengths = (0..<count).map { _ in varint() }
        var streams: [[UInt8]] = []
        for length in lengths {
            streams.append(Array(payload[at..<(at + length)]))
            at += length
        }
        let page = 3   // bits, thread, time, page, ...
        streams[page].append(0)
        var out: [UInt8] = []
        put(count, into: &out)
        for s in streams { put(s.count, into: &out) }
        for s in streams { out += s }
        return out + payload[at...]
    }
}
