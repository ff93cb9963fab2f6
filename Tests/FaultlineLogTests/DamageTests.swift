// Cut-off and corrupted logs: the reader keeps every complete chunk before the damage,
// names the damaged chunk's offset, and refuses files that are not logs at all.

import Foundation
import XCTest
import FaultlineTestSupport
import FaultlineCore
import FaultlineLog

final class DamageTests: XCTestCase {
    /// A multi-chunk log, its chunk map, and how many faults precede each chunk.
    private struct Fixture {
        var bytes: [UInt8]
        var spans: [ChunkSpan]
        var faults: [FaultEvent]
        /// faultsBefore[k]: faults in chunks 0..<k; faultsBefore[spans.count] is all of them.
        var faultsBefore: [Int]
    }

    private func makeFixture(_ dir: TempDirectory, faults count: Int = 12_000) throws -> Fixture {
        let path = dir.file("orig.flt")
        let faults = awkwardFaults(count: count, seed: 7)
        try writeLog(path, faults: faults)
        let bytes = try readBytes(path)
        let spans = chunkSpans(bytes)
        let (chunks, damage) = try readChunks(path)
        XCTAssertNil(damage)
        XCTAssertEqual(chunks.count, spans.count)
        var before = [0]
        for c in chunks {
            before.append(before.last! + c.reduce(0) { n, r in if case .fault = r { return n + 1 } else { return n } })
        }
        XCTAssertEqual(before.last, faults.count)
        return Fixture(bytes: bytes, spans: spans, faults: faults, faultsBefore: before)
    }

    private func load(_ bytes: [UInt8], in dir: TempDirectory, faults detail: FaultDetail = .every) throws -> LoadedLog {
        let path = dir.file("damaged.flt")
        try writeBytes(bytes, to: path)
        return try LoadedLog.load(path: path, parallel: true, faults: detail)
    }

    /// Checks a log cut at `cut` against what the chunk map says must survive.
    private func checkCut(_ fx: Fixture, at cut: Int, dir: TempDirectory, file: StaticString = #filePath,
                          line: UInt = #line) throws {
        let prefix = Array(fx.bytes[..<cut])
        let path = dir.file("cut.flt")
        try writeBytes(prefix, to: path)
        if cut == 0 {
            XCTAssertThrowsError(try LoadedLog.load(path: path)) {
                XCTAssertEqual($0 as? LogReadError, .empty(path: path), file: file, line: line)
            }
            return
        }
        if cut < LogFormat.magic.count {
            XCTAssertThrowsError(try LoadedLog.load(path: path)) {
                XCTAssertEqual($0 as? LogReadError, .notALog(path: path), file: file, line: line)
            }
            return
        }
        let log: LoadedLog
        do { log = try LoadedLog.load(path: path) } catch {
            return XCTFail("cut at \(cut): load threw \(error) past the magic", file: file, line: line)
        }
        if cut < LogFormat.fileHeaderSize {
            XCTAssertEqual(log.damage?.kind, .truncated, "cut at \(cut)", file: file, line: line)
            XCTAssertEqual(log.faults.count, 0, file: file, line: line)
            XCTAssertEqual(log.chunks, 0, file: file, line: line)
            return
        }
        // Complete chunks before the cut; the chunk the cut falls in, if any.
        let complete = fx.spans.filter { $0.end <= cut }.count
        let boundary = complete == fx.spans.count || fx.spans[complete].start == cut
        XCTAssertEqual(log.chunks, complete, "cut at \(cut)", file: file, line: line)
        XCTAssertEqual(log.faults.count, fx.faultsBefore[complete], "cut at \(cut)", file: file, line: line)
        XCTAssertTrue(log.faults == Array(fx.faults.prefix(log.faults.count)),
                      "cut at \(cut): surviving faults differ", file: file, line: line)
        if boundary {
            XCTAssertNil(log.damage, "cut at chunk boundary \(cut)", file: file, line: line)
            if complete < fx.spans.count {
                XCTAssertNil(log.summary, file: file, line: line)
                XCTAssertFalse(log.isComplete, file: file, line: line)
            } else {
                XCTAssertTrue(log.isComplete, file: file, line: line)
            }
        } else {
            XCTAssertEqual(log.damage?.kind, .truncated, "cut at \(cut)", file: file, line: line)
            XCTAssertEqual(log.damage?.offset, UInt64(fx.spans[complete].start), "cut at \(cut)",
                           file: file, line: line)
            XCTAssertNil(log.summary, file: file, line: line)
            XCTAssertFalse(log.isComplete, file: file, line: line)
        }
    }

    func testTruncationAtManyOffsets() throws {
        let dir = try TempDirectory()
        let fx = try makeFixture(dir)
        XCTAssertGreaterThanOrEqual(fx.spans.count, 4)
        var cuts = Set(0...min(200, fx.bytes.count))
        for s in fx.spans {
            for d in -20...20 where s.start + d >= 0 && s.start + d <= fx.bytes.count { cuts.insert(s.start + d) }
            cuts.insert(s.end)
        }
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<200 { cuts.insert(Int.random(in: 0...fx.bytes.count, using: &rng)) }
        cuts.insert(fx.bytes.count - 1)
        cuts.insert(fx.bytes.count)
        for cut in cuts.sorted() { try checkCut(fx, at: cut, dir: dir) }
    }

    func testFlippedPayloadByteIsCorruptAtThatChunk() throws {
        let dir = try TempDirectory()
        let fx = try makeFixture(dir)
        var rng = SeededGenerator(seed: 3)
        for k in fx.spans.indices where fx.spans[k].length > 0 {
            let s = fx.spans[k]
            var bytes = fx.bytes
            bytes[Int.random(in: s.payloadStart..<s.end, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            let log = try load(bytes, in: dir)
            XCTAssertEqual(log.damage?.kind, .corrupt, "chunk \(k)")
            XCTAssertEqual(log.damage?.offset, UInt64(s.start), "chunk \(k)")
            XCTAssertEqual(log.chunks, k)
            XCTAssertTrue(log.faults == Array(fx.faults.prefix(fx.faultsBefore[k])), "chunk \(k): surviving faults differ")
            XCTAssertNil(log.summary)
        }
    }

    /// LogChunks.spans (what the fuzzers cut logs along) against the chunk walk of these
    /// tests: every chunk, the last one ending exactly at the end of the file; one byte
    /// short, the last chunk no longer fits and is not listed.
    func testChunkSpansReachTheEndOfTheFile() throws {
        let dir = try TempDirectory()
        let fx = try makeFixture(dir, faults: 3_000)
        XCTAssertGreaterThan(fx.spans.count, 2)
        let spans = LogChunks.spans(in: fx.bytes)
        XCTAssertEqual(spans, fx.spans.map { $0.start..<$0.end })
        XCTAssertEqual(spans.last?.upperBound, fx.bytes.count)
        XCTAssertEqual(LogChunks.spans(in: Array(fx.bytes.dropLast())), fx.spans.dropLast().map { $0.start..<$0.end })
    }

    func testChunkHeaderDamage() throws {
        let dir = try TempDirectory()
        let fx = try makeFixture(dir)
        let k = 2
        let s = fx.spans[k]
        func check(_ field: Int, _ value: UInt32, _ kind: LogDamage.Kind, _ what: String) throws {
            var bytes = fx.bytes
            putU32le(value, into: &bytes, at: s.start + field)
            // A hostile length must not be believed: the damage is found at this chunk
            // and what came before is kept (how fast is a benchmark's question).
            let log = try load(bytes, in: dir)
            XCTAssertEqual(log.damage?.kind, kind, what)
            XCTAssertEqual(log.damage?.offset, UInt64(s.start), what)
            XCTAssertEqual(log.faults.count, fx.faultsBefore[k], what)
        }
        let F = ChunkField.self
        XCTAssertNotEqual(u32le(fx.bytes, at: s.start + F.flags) & LogFormat.chunkDeflated, 0,
                          "the fixture's chunks should be deflated")
        let raw = u32le(fx.bytes, at: s.start + F.rawLength)
        try check(F.magic, 0x1234_5678, .corrupt, "bad chunk magic")
        try check(F.storedLength, UInt32.max, .corrupt, "huge length")
        try check(F.storedLength, UInt32(LogFormat.maxChunkSize) + 1, .corrupt, "length just over the limit")
        try check(F.storedLength, UInt32(LogFormat.maxChunkSize), .truncated, "largest length, past end of file")
        try check(F.storedLength, UInt32(fx.bytes.count), .truncated, "length past end of file")
        try check(F.storedLength, UInt32(s.length - 1), .corrupt, "length one short")
        try check(F.rawLength, UInt32.max, .corrupt, "huge raw length")
        try check(F.rawLength, UInt32(LogFormat.maxChunkSize), .corrupt, "raw length too long")
        try check(F.rawLength, raw - 1, .corrupt, "raw length one short")
        try check(F.rawLength, 0, .corrupt, "raw length zero")
        try check(F.count, 0, .corrupt, "record count zero")
        try check(F.count, UInt32.max, .corrupt, "record count huge")
        let flags = u32le(fx.bytes, at: s.start + F.flags)
        XCTAssertNotEqual(flags & LogFormat.chunkSummarized, 0, "the fixture's chunk of faults alone should say their summary")
        try check(F.flags, flags & ~LogFormat.chunkDeflated, .corrupt, "deflated chunk said to be stored")
        try check(F.flags, flags & ~LogFormat.chunkSummarized, .corrupt, "summarized chunk said to have no summary")
        try check(F.flags, flags | 4, .corrupt, "unknown flag")
        try check(F.flags, 0x8000_0001, .corrupt, "unknown high flag")
        try check(F.crc, u32le(fx.bytes, at: s.start + F.crc) ^ 1, .corrupt, "crc off by a bit")
    }

    /// A chunk whose checksum is right but whose records are not: the decoder itself must
    /// refuse it, naming the offset of the bad record.
    func testValidChecksumGarbagePayload() throws {
        let dir = try TempDirectory()
        let fx = try makeFixture(dir, faults: 100)
        let last = fx.spans.last!
        func forge(_ payload: [UInt8], count: UInt32, deflate: Bool = false) -> [UInt8] {
            Array(fx.bytes[..<last.start]) + forgeChunk(payload, count: count, deflate: deflate)
        }
        // Offsets are where the decoder stood when it gave up: after the byte it refused.
        let p = UInt64(last.payloadStart)
        let fault = RecordTag.fault.rawValue
        let huge = varintBytes(UInt64.max - 1) // zigzag of Int64.max
        // Records alone: the ten fault field streams are empty, the records follow the table.
        func records(_ rows: [UInt8]) -> [UInt8] { FieldPayload(rows).bytes }
        let r = p + UInt64(FieldPayload([]).rowsAt)
        // A fault's fields: bits 0 (an anon read, another thread), thread deltas 0 0, then one
        // byte each for time, page, in-page, ip, stack, error code, service: all 0.
        let zeros: [Int: [UInt8]] = [F.bits: [0], F.thread: [0, 0], F.time: [0], F.page: [0], F.inPage: [0], F.ip: [0],
                                     F.stack: [0], F.errorCode: [0], F.service: [0]]
        func faults(_ n: Int, _ fields: [Int: [UInt8]]) -> FieldPayload {
            FieldPayload([UInt8](repeating: fault, count: n), zeros.merging(fields) { $1 })
        }
        let cutShort = faults(1, [F.thread: [0]])
        let segv = faults(1, [F.bits: [FaultKind.segv.rawValue]])
        let leftOver = FieldPayload([], [F.bits: [0]])
        let invalidAccess = faults(1, [F.bits: [0x18]])
        let pidOverflow = faults(1, [F.thread: [0x02] + huge])
        let twoFaults: [Int: [UInt8]] = [F.bits: [0, 0], F.thread: [0, 0, 0, 0], F.time: [0, 0], F.page: [0, 0],
                                         F.inPage: [0, 0], F.ip: [0, 0], F.stack: [0, 0], F.errorCode: [0, 0], F.service: [0, 0]]
        let tidOverflow = FieldPayload([fault, fault], twoFaults.merging([F.thread: [0x02, 0] + huge + [0]]) { $1 })
        let stackOverflow = FieldPayload([fault, fault], twoFaults.merging([F.stack: [0x02] + huge]) { $1 })
        let badCode = faults(1, [F.errorCode: varintBytes(0x10001)])
        let wholePage = faults(1, [F.inPage: varintBytes(4096)])
        let cases: [(String, [UInt8], UInt32, UInt64)] = [
            ("unknown tag", records([0xEE]), 1, r),
            ("tag zero", records([0x00]), 1, r),
            ("record cut short", records([RecordTag.lost.rawValue, 0x05]), 1, r + 2),
            ("varint of 11 bytes", records([RecordTag.lost.rawValue] + [UInt8](repeating: 0xFF, count: 11)), 1, r + 11),
            ("varint overflowing 64 bits", records([RecordTag.lost.rawValue] + [UInt8](repeating: 0xFF, count: 9) + [0x02, 0]), 1, r + 11),
            ("string longer than chunk", records([RecordTag.string.rawValue, 0x00, 0xFF, 0xFF, 0x03]), 1, r + 5),
            ("id over 32 bits", records([RecordTag.string.rawValue, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00]), 1, r + 6),
            ("count disagrees", records([RecordTag.lost.rawValue, 1, 1]), 2, UInt64(last.start)),
            // A fault's checks of its values name the place of its tag among the records.
            // (Every value of a fault's three kind bits is a kind since format 4's swap.)
            ("fault with invalid access", invalidAccess.bytes, 1, p + UInt64(invalidAccess.rowsAt + 1)),
            // A field stream that ends early names the place in that stream.
            ("fault cut short", cutShort.bytes, 1, p + UInt64(cutShort.streamAt[F.thread] + 1)),
            // Deltas that overflow Int64 when added to the previous fault's value must be
            // refused, not trap.
            ("pid delta overflows", pidOverflow.bytes, 1, p + UInt64(pidOverflow.rowsAt + 1)),
            ("tid delta overflows", tidOverflow.bytes, 2, p + UInt64(tidOverflow.rowsAt + 2)),
            ("stack delta overflows", stackOverflow.bytes, 2, p + UInt64(stackOverflow.rowsAt + 2)),
            ("segv fault without its signal", segv.bytes, 1, p + UInt64(segv.streamAt[F.signal])),
            ("error code out of range", badCode.bytes, 1, p + UInt64(badCode.rowsAt + 1)),
            // The offset inside a page is below 4096: 4096 itself is the next page's.
            ("in-page offset of a whole page", wholePage.bytes, 1, p + UInt64(wholePage.rowsAt + 1)),
            // Format 5's table of streams, and streams the records do not use up.
            ("fault fields no fault announced", leftOver.bytes, 0, p + UInt64(leftOver.streamAt[F.bits])),
            ("too few field streams", [9] + [UInt8](repeating: 0, count: 9), 1, p + 1),
            ("too many field streams", [11] + [UInt8](repeating: 0, count: 11), 1, p + 1),
            ("field stream longer than the chunk", [10, 0x7F] + [UInt8](repeating: 0, count: 9), 1, p + 2),
            ("field streams past the end", [10, 5, 5] + [UInt8](repeating: 0, count: 8) + [0, 0, 0, 0, 0, 0], 1, p + 11),
        ]
        for (what, payload, count, offset) in cases {
            let log = try load(forge(payload, count: count), in: dir)
            XCTAssertEqual(log.damage?.kind, .corrupt, what)
            XCTAssertEqual(log.damage?.offset, offset, what)
            XCTAssertEqual(log.faults.count, fx.faultsBefore[fx.spans.count - 1], what)
            // Replay's reading of the model's fields, field by field, finds the same damage.
            let model = try load(forge(payload, count: count), in: dir, faults: .compact)
            XCTAssertEqual(model.damage, log.damage, "\(what), read for the model")
            XCTAssertEqual(model.compactFaults.count, fx.faultsBefore[fx.spans.count - 1], "\(what), read for the model")
        }
        // In a deflated chunk the decoder's offset is no file offset: the damage names the
        // chunk, and the reason the offset inside its decoded payload.
        let deflated = try load(forge(records([0x00] + [UInt8](repeating: RecordTag.lost.rawValue, count: 200)), count: 1,
                                      deflate: true), in: dir)
        XCTAssertEqual(deflated.damage?.kind, .corrupt)
        XCTAssertEqual(deflated.damage?.offset, UInt64(last.start))
        XCTAssertTrue(deflated.damage?.reason.contains("byte \(FieldPayload([]).rowsAt) of the chunk's decoded payload") ?? false,
                      deflated.damage?.reason ?? "")
        let good = try load(forge(records([RecordTag.lost.rawValue, 7, 1, RecordTag.lost.rawValue, 1, 2]), count: 2,
                                  deflate: true), in: dir)
        XCTAssertNil(good.damage)
        XCTAssertEqual(good.lost, 8)
        // A header that lies about its argument count is read, not trapped on.
        let header: [UInt8] = [RecordTag.header.rawValue, 2, 4] + Array("argc".utf8) + [2] + Array("-1".utf8)
            + [5] + Array("argv0".utf8) + [1, UInt8(ascii: "x")]
        let lying = try load(forge(records(header), count: 1), in: dir)
        XCTAssertNil(lying.damage)
        XCTAssertEqual(lying.header.command, [])
        // The last byte of a page is an offset like any other.
        let edge = try load(forge(faults(1, [F.inPage: varintBytes(4095)]).bytes, count: 1), in: dir)
        XCTAssertNil(edge.damage)
        XCTAssertEqual(edge.faults.count, fx.faultsBefore[fx.spans.count - 1] + 1)
        XCTAssertEqual(edge.faults.last.map { $0.address & 0xfff }, 0xfff)
        let edgeForModel = try load(forge(faults(1, [F.inPage: varintBytes(4095)]).bytes, count: 1), in: dir, faults: .compact)
        XCTAssertNil(edgeForModel.damage)
        XCTAssertEqual(edgeForModel.compactFaults.row(at: edgeForModel.compactFaults.count - 1).address & 0xfff, 0xfff)
        // An empty chunk that says so is fine.
        let log = try load(forge([], count: 0), in: dir)
        XCTAssertNil(log.damage)
        XCTAssertEqual(log.chunks, fx.spans.count)
    }

    /// A log still being written grows while it is read: the reader reads the file as it was
    /// when opened and stops cleanly there.
    func testLogGrowingWhileRead() throws {
        let dir = try TempDirectory()
        let path = dir.file("live.flt")
        let w = try LogWriter(path: path, header: sampleHeader)
        let faults = awkwardFaults(count: 10_000, seed: 5)
        for f in faults.prefix(5_000) { w.append(.fault(f)) }
        try w.flush()
        let reader = try LogReader(path: path)
        let sizeAtOpen = try readBytes(path).count
        XCTAssertEqual(reader.fileSize, UInt64(sizeAtOpen))
        for f in faults.suffix(5_000) { w.append(.fault(f)) }
        try w.finish(LogSummary(endTimeNs: 0, faults: 10_000, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        var read: [FaultEvent] = []
        while let records = reader.nextChunk() {
            for case let .fault(f) in records { read.append(f) }
        }
        XCTAssertNil(reader.damage)
        XCTAssertTrue(read == Array(faults.prefix(5_000)))
    }

    func testFilesThatAreNotLogs() throws {
        let dir = try TempDirectory()
        func expect(_ bytes: [UInt8], _ error: (String) -> LogReadError, _ what: String) throws {
            let path = dir.file("bad.flt")
            try writeBytes(bytes, to: path)
            XCTAssertThrowsError(try LoadedLog.load(path: path), what) { XCTAssertEqual($0 as? LogReadError, error(path), what) }
        }
        let good = LogFormat.magic + [1, 0, 0, 0]
        try expect([], { .empty(path: $0) }, "empty")
        try expect(Array("hello, world\nthis is a text file\n".utf8), { .notALog(path: $0) }, "text")
        try expect(Array("hi\n".utf8), { .notALog(path: $0) }, "short text")
        var badMagic = good
        badMagic[0] = UInt8(ascii: "G")
        try expect(badMagic, { .notALog(path: $0) }, "bad magic")
        try expect(LogFormat.magic + [99, 0, 0, 0], { .unsupportedVersion(path: $0, version: 99) }, "version 99")
        try expect(LogFormat.magic + [0, 1, 0, 0], { .unsupportedVersion(path: $0, version: 256) }, "version 256")
        try expect(LogFormat.magic + [0, 0, 0, 0], { .unsupportedVersion(path: $0, version: 0) }, "version 0")

        let missing = dir.file("missing.flt")
        XCTAssertThrowsError(try LoadedLog.load(path: missing)) {
            XCTAssertEqual($0 as? LogReadError, .cannotOpen(path: missing, errno: ENOENT))
        }
        // A directory is not a log either, and must not crash the reader.
        XCTAssertThrowsError(try LoadedLog.load(path: dir.path))

        // Just a file header: a log with nothing in it, not damage.
        let path = dir.file("bare.flt")
        try writeBytes(good, to: path)
        let bare = try LoadedLog.load(path: path)
        XCTAssertNil(bare.damage)
        XCTAssertEqual(bare.chunks, 0)
        XCTAssertFalse(bare.isComplete)
        XCTAssertEqual(bare.header, LogHeader())
    }

    func testReaderErrorsSayWhatAndWhere() throws {
        let dir = try TempDirectory()
        let fx = try makeFixture(dir, faults: 100)
        var bytes = fx.bytes
        bytes[fx.spans[1].payloadStart] ^= 0xFF
        let log = try load(bytes, in: dir)
        let text = try XCTUnwrap(log.damage).description
        XCTAssertTrue(text.contains("corrupt"), text)
        XCTAssertTrue(text.contains("\(fx.spans[1].start)"), text)
        XCTAssertTrue(LogReadError.unsupportedVersion(path: "x", version: 99).description.contains("99"))
    }
}
