// LoadedLog decodes batches of chunks on every core: what it builds must be exactly what
// reading one chunk at a time with LogReader.nextChunk builds (the reference), damage
// included, wherever a log is cut or corrupted and however many chunks a batch holds.

import Foundation
import XCTest
import FaultlineTestSupport
import FaultlineCore
@testable import FaultlineLog

final class ParallelLoadTests: XCTestCase {
    /// The reference: one chunk at a time, every record applied in order.
    private func reference(_ path: String) throws -> LoadedLog {
        let reader = try LogReader(path: path)
        var log = LoadedLog(path: path, fileSize: reader.fileSize)
        log.formatVersion = reader.version
        while let records = reader.nextChunk() {
            log.chunks += 1
            for r in records { log.apply(r) }
        }
        log.damage = reader.damage
        log.fileSize = reader.fileSize
        log.retimeExecsOfOlderRecorders()
        return log
    }

    private func assertSame(_ path: String, _ note: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try reference(path)
        for parallel in [true, false] {
            let log = try LoadedLog.load(path: path, parallel: parallel)
            let what = "\(note), parallel \(parallel)"
            XCTAssertEqual(log.damage, expected.damage, what, file: file, line: line)
            XCTAssertEqual(log.chunks, expected.chunks, what, file: file, line: line)
            XCTAssertEqual(log.fileSize, expected.fileSize, what, file: file, line: line)
            XCTAssertTrue(log.faults == expected.faults, "\(what): faults differ", file: file, line: line)
            XCTAssertEqual(log.changes, expected.changes, what, file: file, line: line)
            XCTAssertEqual(log.faultsBeforeChange, expected.faultsBeforeChange, what, file: file, line: line)
            XCTAssertEqual(log.summary, expected.summary, what, file: file, line: line)
        }
    }

    func testParallelLoadingIsReadingChunkByChunk() throws {
        let dir = try TempDirectory()
        let path = dir.file("orig.flt")
        // A process record between faults in every chunk: where changes stand among the faults.
        let w = try LogWriter(path: path, header: sampleHeader)
        for (i, f) in awkwardFaults(count: 40_000, seed: 41).enumerated() {
            if i % 997 == 0 {
                w.append(.process(ProcessEvent(pid: Int32(i), ppid: 1, timeNs: f.timeNs, command: w.intern("p\(i)"))))
            }
            w.append(.fault(f))
        }
        try w.finish(LogSummary(endTimeNs: 9, faults: 40_000, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let bytes = try readBytes(path)
        let spans = chunkSpans(bytes)
        XCTAssertGreaterThan(spans.count, 4, "several chunks, so batches hold more than one")
        try assertSame(path, "whole")
        let damaged = dir.file("damaged.flt")
        var rng = SeededGenerator(seed: 42)
        for k in [0, 1, spans.count / 2, spans.count - 1] {
            // Cut inside chunk k, and a flipped byte inside its payload.
            let cut = spans[k].payloadStart + Int.random(in: 0..<max(spans[k].length, 1), using: &rng)
            try writeBytes(Array(bytes[..<cut]), to: damaged)
            try assertSame(damaged, "cut in chunk \(k)")
            var flipped = bytes
            flipped[cut] ^= 0x40
            try writeBytes(flipped, to: damaged)
            try assertSame(damaged, "byte flipped in chunk \(k)")
            // Two damaged chunks: the earlier one's damage is the one reported.
            if k + 2 < spans.count {
                flipped[spans[k + 2].payloadStart] ^= 0x01
                try writeBytes(flipped, to: damaged)
                try assertSame(damaged, "chunks \(k) and \(k + 2) damaged")
            }
        }
    }
}
