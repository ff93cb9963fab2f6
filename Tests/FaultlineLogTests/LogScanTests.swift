// Replay's two-pass reading (LogScan.swift) against the log loaded whole: the same
// records, the same faults chunk by chunk, the same pids in the same order, the same time
// range, whether the faults are decoded in the second pass or the first; and a log it
// cannot read that way is left to the whole reading.

import XCTest
import FaultlineTestSupport
import FaultlineCore
@testable import FaultlineLog

final class LogScanTests: XCTestCase {
    /// A log of one chunk per element of `chunks` (each deflated); its path.
    private func write(_ chunks: [[UInt8]], in dir: TempDirectory, name: String = "scan.flt") throws -> String {
        var bytes = LogChunks.fileHeader
        for c in chunks { bytes += c }
        let path = dir.file(name)
        try writeBytes(bytes, to: path)
        return path
    }

    private func chunk(_ records: [LogRecord]) -> [UInt8] { LogChunks.chunk(records, deflate: true) }

    /// A recording's shape: a header, processes and mappings between faults, three
    /// processes (one with two threads, one with no process record), faults that come a
    /// little out of time order within a chunk, and one chunk written late, whose faults
    /// all precede the end of the chunk before it.
    private func recordingChunks(faultsPerChunk: Int = 700) -> [[UInt8]] {
        var rng = SeededGenerator(seed: 61)
        var chunks = [chunk([.header(LogHeader(pageSize: 4096, thpMode: "never")), .string(StringID(rawValue: 0), "prog"),
                             .string(StringID(rawValue: 1), "[stack]"),
                             .module(ModuleID(rawValue: 0), Module(path: StringID(rawValue: 1), buildID: [])),
                             .process(ProcessEvent(pid: 100, ppid: 1, timeNs: 1_000, command: StringID(rawValue: 0)))])]
        var time: UInt64 = 10_000
        for c in 0..<6 {
            var records: [LogRecord] = []
            if c == 3 { time -= 30_000 }   // written late
            for i in 0..<faultsPerChunk {
                time += UInt64.random(in: 1...40, using: &rng)
                let who: (pid: Int32, tid: Int32) = [(100, 100), (100, 101), (300, 300)][(i / 50 + c) % 3]
                let jitter = UInt64.random(in: 0...60, using: &rng)
                records.append(.fault(FaultEvent(pid: who.pid, tid: who.tid, timeNs: time - jitter,
                                                 address: 0x7f00_0000_0000 + UInt64(c * faultsPerChunk + i) << 12 | 0x18,
                                                 ip: 0x40_1000, kind: i % 9 == 0 ? .zero : .anon, access: i % 9 == 0 ? .read : .write,
                                                 kernelMode: false, errorCode: 6, serviceNs: 900, signal: 0, signalCode: 0,
                                                 stack: StackID(rawValue: 0), pageShift: c == 4 && i == 3 ? 21 : 0)))
                if c == 1 && i == 200 {
                    records.append(.process(ProcessEvent(pid: 200, ppid: 100, timeNs: time, command: StringID(rawValue: 0))))
                }
                if c == 2 && i == 10 {
                    records.append(.mmap(MmapEvent(pid: 100, timeNs: time, start: 0x7f00_0000_0000, length: 1 << 30,
                                                   pageOffset: 0, prot: 3, flags: 0x22, inode: 0, module: ModuleID(rawValue: 0))))
                }
            }
            chunks.append(chunk(records))
        }
        chunks.append(chunk([.exit(ExitEvent(pid: 100, timeNs: time + 1, exitCode: 0, signal: 0)),
                             .summary(LogSummary(endTimeNs: time + 2, faults: UInt64(6 * faultsPerChunk), lost: 0, throttled: 0,
                                                 unaccountedEntries: 0, exitCode: 0))]))
        return chunks
    }

    private func assertScanMatchesWholeLoad(_ path: String, keepingPayloads: Int, decodingFaults: Bool = false,
                                            file: StaticString = #filePath, line: UInt = #line) throws {
        let whole = try LoadedLog.load(path: path, parallel: false, faults: .compact)
        XCTAssertNil(whole.damage, file: file, line: line)
        let scanned = try XCTUnwrap(ScannedLog.scan(path: path, keepingPayloads: keepingPayloads, decodingFaults: decodingFaults),
                                    file: file, line: line)
        XCTAssertEqual(scanned.log.chunks, whole.chunks, file: file, line: line)
        XCTAssertEqual(scanned.log.changes, whole.changes, file: file, line: line)
        XCTAssertEqual(scanned.log.faultsBeforeChange, whole.faultsBeforeChange, file: file, line: line)
        XCTAssertEqual(scanned.log.mmaps, whole.mmaps, file: file, line: line)
        XCTAssertEqual(scanned.log.lifecycle, whole.lifecycle, file: file, line: line)
        XCTAssertEqual(scanned.log.processes, whole.processes, file: file, line: line)
        XCTAssertEqual(scanned.log.summary, whole.summary, file: file, line: line)
        XCTAssertTrue(scanned.log.compactFaults.isEmpty && scanned.log.faults.isEmpty, file: file, line: line)
        XCTAssertEqual(scanned.faultsPerPid.map(\.pid), whole.compactFaults.faultsPerPidInOrderOfAppearance().map(\.pid), file: file, line: line)
        XCTAssertEqual(scanned.faultsPerPid.map(\.faults), whole.compactFaults.faultsPerPidInOrderOfAppearance().map(\.faults), file: file, line: line)
        XCTAssertEqual(scanned.timeRange, whole.compactFaults.timeRange, file: file, line: line)
        XCTAssertEqual(scanned.knowsPageSizes, whole.compactFaults.knowsPageSizes, file: file, line: line)
        XCTAssertEqual(scanned.faults.count, whole.compactFaults.count, file: file, line: line)
        var joined = CompactFaults()
        var earliest: [UInt64] = []
        for k in 0..<scanned.faults.chunkCount {
            let part = try XCTUnwrap(scanned.faults.faults(ofChunk: k), "chunk \(k)", file: file, line: line)
            earliest.append(storedRows(part).map { $0[2] }.min()!)
            joined.append(contentsOf: part)
        }
        XCTAssertEqual(storedRows(joined), storedRows(whole.compactFaults), file: file, line: line)
        XCTAssertEqual(scanned.faults.earliest, earliest, "each chunk's earliest time, known before it is decoded", file: file, line: line)
    }

    func testScanGivesWhatTheWholeLoadGives() throws {
        let dir = try TempDirectory()
        let path = try write(recordingChunks(), in: dir)
        try assertScanMatchesWholeLoad(path, keepingPayloads: ScannedLog.keptPayloadBytes)
        try assertScanMatchesWholeLoad(path, keepingPayloads: 0, decodingFaults: true)
        let scanned = try XCTUnwrap(ScannedLog.scan(path: path))
        XCTAssertEqual(scanned.faults.chunkCount, 6, "the chunks that hold faults")
        XCTAssertEqual(scanned.faultsPerPid.map(\.pid), [100, 300], "pids in order of their first fault")
        // Counted from the faults themselves, not by the counter both readings share.
        let pids = storedRows(try LoadedLog.load(path: path, parallel: false, faults: .compact).compactFaults).map { Int32($0[3]) }
        XCTAssertEqual(scanned.faultsPerPid.map(\.faults), [100, 300].map { pid in pids.filter { $0 == pid }.count })
        XCTAssertTrue(scanned.knowsPageSizes, "one fault in chunk 4 says its page size")
    }

    /// Past the payloads it keeps, the second pass reads each chunk from the file again:
    /// none kept, and caps that keep some chunks and not others, in any pattern.
    func testChunksNotKeptAreReadAgain() throws {
        let dir = try TempDirectory()
        let path = try write(recordingChunks(), in: dir)
        for cap in [0, 1, 200, 800, 3000, 10_000] { try assertScanMatchesWholeLoad(path, keepingPayloads: cap) }
    }

    /// A chunk whose page stream holds a byte past its last fault: the first pass does not
    /// read that stream, the second finds it, and the faults stop there (nil) for the caller
    /// to read the log whole, which names the damage.
    func testDamageInAStreamOnlyTheSecondPassReadsIsFound() throws {
        let dir = try TempDirectory()
        var chunks = recordingChunks()
        let faults = (0..<50).map { i in
            LogRecord.fault(FaultEvent(pid: 100, tid: 100, timeNs: 900_000 + UInt64(i), address: 0x1000 * UInt64(i + 1), ip: 0,
                                       kind: .anon, access: .write, kernelMode: false, errorCode: 6, serviceNs: 1,
                                       signal: 0, signalCode: 0, stack: StackID(rawValue: 0)))
        }
        let payload = withExtraByte(in: .page, of: LogChunks.payload(faults))
        chunks.insert(LogChunks.seal(payload: payload, count: UInt32(faults.count), deflate: true), at: 3)
        let path = try write(chunks, in: dir)
        let whole = try LoadedLog.load(path: path, parallel: false, faults: .compact)
        XCTAssertNotNil(whole.damage, "the whole reading stops at the chunk")
        let scanned = try XCTUnwrap(ScannedLog.scan(path: path), "the first pass reads every chunk")
        for k in 0..<2 { XCTAssertNotNil(scanned.faults.faults(ofChunk: k), "chunk \(k)") }
        XCTAssertNil(scanned.faults.faults(ofChunk: 2), "the damaged chunk's faults")
        XCTAssertNil(ScannedLog.scan(path: path, decodingFaults: true), "a first pass that decodes the faults finds it")
    }

    /// What the scan leaves to the whole reading: damage the first pass sees (a checksum, a
    /// truncated end), a format without field streams, a file that cannot be read again.
    func testLogsTheScanDoesNotTake() throws {
        let dir = try TempDirectory()
        var bytes = LogChunks.fileHeader
        for c in recordingChunks() { bytes += c }
        let spans = LogChunks.spans(in: bytes)
        var corrupt = bytes
        corrupt[spans[2].upperBound - 1] ^= 0x40
        try writeBytes(corrupt, to: dir.file("crc.flt"))
        XCTAssertNil(ScannedLog.scan(path: dir.file("crc.flt")), "a checksum mismatch")
        try writeBytes(Array(bytes[..<(spans[4].upperBound - 3)]), to: dir.file("cut.flt"))
        XCTAssertNil(ScannedLog.scan(path: dir.file("cut.flt")), "a truncated chunk")

        var v4 = LogFormat.magic + [UInt8(LogFormat.swapKindVersion & 0xFF), UInt8(LogFormat.swapKindVersion >> 8), 0, 0]
        let records: [LogRecord] = [.header(LogHeader(pageSize: 4096, thpMode: "never"))]
        v4 += LogChunks.seal(payload: LogChunks.payload(records, version: LogFormat.swapKindVersion), count: 1, deflate: true)
        try writeBytes(v4, to: dir.file("v4.flt"))
        XCTAssertNotNil(try? LoadedLog.load(path: dir.file("v4.flt")))
        XCTAssertNil(ScannedLog.scan(path: dir.file("v4.flt")), "format 4 has no field streams")

        XCTAssertNil(ScannedLog.scan(path: dir.file("missing.flt")))
        XCTAssertNil(ScannedLog.scan(path: "/dev/null"), "not a regular file")
    }

    /// `payload` with one more byte at the end of `field`'s stream (the stream table
    /// rewritten to say so).
    private func withExtraByte(in field: FaultField, of payload: [UInt8]) -> [UInt8] {
        var d = ByteDecoder(payload)
        let count = Int(try! d.varint())
        let lengths = (0..<count).map { _ in Int(try! d.varint()) }
        var at = d.position
        var streams: [[UInt8]] = []
        for length in lengths {
            streams.append(Array(payload[at..<(at + length)]))
            at += length
        }
        streams[field.rawValue].append(0)
        var out = ByteEncoder()
        out.varint(count)
        for s in streams { out.varint(s.count) }
        for s in streams { out.bytes += s }
        return out.bytes + payload[at...]
    }
}
