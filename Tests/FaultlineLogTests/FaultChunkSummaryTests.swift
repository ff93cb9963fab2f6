// A chunk of nothing but faults says what they hold ahead of its payload (format 10,
// FaultChunkSummary): the writer says it of exactly those chunks, and truly; the first pass
// of replay's reading takes it instead of inflating the chunk, and gets what reading the
// faults gives; and a summary that lies, with its checksum right, is damage to every
// reading that decodes the chunk.

import XCTest
import FaultlineCore
import FaultlineTestSupport
@testable import FaultlineLog

final class FaultChunkSummaryTests: XCTestCase {
    private func fault(pid: Int32, time: UInt64, page: UInt64, pageShift: UInt8 = 0) -> FaultEvent {
        FaultEvent(pid: pid, tid: pid, timeNs: time, address: 0x7f00_0000_0000 + page << 12, ip: 0x40_1000,
                   kind: .anon, access: .write, kernelMode: false, errorCode: 6, serviceNs: 700,
                   signal: 0, signalCode: 0, stack: StackID(rawValue: 0), pageShift: pageShift)
    }

    /// The flags and stored bytes of every chunk of the log at `path`.
    private func chunks(_ path: String) throws -> [(flags: UInt32, count: UInt32, stored: [UInt8])] {
        let bytes = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: path)))
        return LogChunks.spans(in: bytes).map { span in
            var d = ByteDecoder(bytes, from: span.lowerBound + 12, to: span.lowerBound + 20)
            let count = try! d.u32le(), flags = try! d.u32le()
            return (flags, count, Array(bytes[(span.lowerBound + LogFormat.chunkHeaderSize)..<span.upperBound]))
        }
    }

    /// The writer: chunks of faults alone are summarized, truly (times out of order, two
    /// pids taking turns, a page size said by one fault); a chunk with any other record is
    /// not; and the log reads back whole.
    func testTheWriterSummarizesEveryChunkOfFaultsAloneAndNoOther() throws {
        let dir = try TempDirectory()
        let path = dir.file("w.flt")
        let w = try LogWriter(path: path, header: sampleHeader)
        var written: [[FaultEvent]] = [[]]
        var page: UInt64 = 0
        func faults(_ n: Int, start: UInt64, pageShiftAt: Int? = nil) {
            for i in 0..<n {
                // Two processes in runs of 7, each time a little before the one before it now and then.
                let f = fault(pid: (i / 7) % 2 == 0 ? 300 : 200, time: start + UInt64(i) * 10 - UInt64(i % 5 == 4 ? 25 : 0),
                              page: page, pageShift: i == pageShiftAt ? 21 : 0)
                page += 1
                w.append(.fault(f))
                written[written.count - 1].append(f)
            }
        }
        faults(500, start: 10_000, pageShiftAt: 123)
        try w.flush()
        written.append([])
        faults(300, start: 20_000)
        w.append(.exit(ExitEvent(pid: 200, timeNs: 30_000, exitCode: 0, signal: 0)))   // not faults alone
        try w.flush()
        written.append([])
        faults(400, start: 40_000)
        try w.flush()
        try w.finish(LogSummary(endTimeNs: 50_000, faults: 1200, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))

        let all = try chunks(path)
        // The header's chunk, the three of faults, the summary's.
        XCTAssertEqual(all.map { $0.flags & LogFormat.chunkSummarized != 0 }, [false, true, false, true, false])
        for (k, faults) in [(1, written[0]), (3, written[2])] {
            let (summary, start) = try FaultChunkSummary.decode(all[k].stored, faults: Int(all[k].count))
            XCTAssertGreaterThan(start, 0)
            XCTAssertEqual(summary.earliest, faults.map(\.timeNs).min(), "chunk \(k)")
            XCTAssertEqual(summary.latest, faults.map(\.timeNs).max(), "chunk \(k)")
            XCTAssertEqual(summary.knowsPageSizes, k == 1, "only chunk 1 has a fault that says its page size")
            XCTAssertEqual(summary.faultsPerPid.map(\.pid), [300, 200], "in the order of each pid's first fault")
            XCTAssertEqual(summary.faultsPerPid.map(\.faults), [300, 200].map { pid in faults.filter { $0.pid == pid }.count })
        }
        let log = try LoadedLog.load(path: path, parallel: false)
        XCTAssertNil(log.damage)
        XCTAssertEqual(log.faults.count, 1200)
    }

    /// A page size the log cannot hold (six bits: 64 is stored as 0) is summarized as it is
    /// stored, so the writer's own summary never disagrees with what a reader decodes.
    func testTheSummarySaysWhatTheLogHolds() throws {
        let dir = try TempDirectory()
        let path = dir.file("shift.flt")
        let w = try LogWriter(path: path, header: sampleHeader)
        w.append(.fault(fault(pid: 7, time: 100, page: 1, pageShift: 64)))
        w.append(.fault(fault(pid: 7, time: 110, page: 2)))
        try w.flush()
        try w.finish(LogSummary(endTimeNs: 200, faults: 2, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let all = try chunks(path)
        XCTAssertNotEqual(all[1].flags & LogFormat.chunkSummarized, 0)
        XCTAssertFalse(try FaultChunkSummary.decode(all[1].stored, faults: 2).summary.knowsPageSizes)
        XCTAssertNil(try LoadedLog.load(path: path, parallel: false).damage)
        XCTAssertNotNil(ScannedLog.scan(path: path)?.faults.faults(ofChunk: 0))
    }

    /// Faults of any value (times at the ends of the range and out of order, pids
    /// negative and taking turns, every page-size byte, error codes or none, every kind),
    /// written in chunks of faults alone: the writer's summaries always agree with what
    /// both readings decode, so no log it writes is damaged by them.
    func testTheWritersSummariesAgreeWithAnyFaults() throws {
        var rng = SeededGenerator(seed: 1048)
        let dir = try TempDirectory()
        let path = dir.file("any.flt")
        let w = try LogWriter(path: path, header: sampleHeader)
        let times: [UInt64] = [0, 1, UInt64(Int64.max), UInt64.max - 1, UInt64.max]
        for chunk in 0..<12 {
            for i in 0..<300 {
                let time = i % 50 == 0 ? times.randomElement(using: &rng)! : UInt64.random(in: 0...(1 << 40), using: &rng)
                let pid = [Int32.min, -1, 0, 1, 7, Int32.max].randomElement(using: &rng)!
                w.append(.fault(FaultEvent(pid: pid, tid: pid &+ Int32(i % 3), timeNs: time,
                                           address: UInt64.random(in: 0...UInt64.max, using: &rng), ip: UInt64(i),
                                           kind: FaultKind.allCases.randomElement(using: &rng)!,
                                           access: [Access.read, .write, .exec].randomElement(using: &rng)!,
                                           kernelMode: Bool.random(using: &rng),
                                           errorCode: Bool.random(using: &rng) ? UInt16.random(in: 0...UInt16.max, using: &rng) : nil,
                                           serviceNs: UInt64(chunk), signal: 0, signalCode: 0, stack: .empty,
                                           pageShift: UInt8.random(in: 0...255, using: &rng),
                                           swapFromDisk: Bool.random(using: &rng))))
            }
            try w.flush()
        }
        try w.finish(LogSummary(endTimeNs: 1, faults: 3600, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        XCTAssertEqual(try chunks(path).filter { $0.flags & LogFormat.chunkSummarized != 0 }.count, 12)
        XCTAssertNil(try LoadedLog.load(path: path, parallel: false).damage)
        XCTAssertNil(try LoadedLog.load(path: path, parallel: false, faults: .compact).damage)
        let scanned = try XCTUnwrap(ScannedLog.scan(path: path))
        for k in 0..<scanned.faults.chunkCount { XCTAssertNotNil(scanned.faults.faults(ofChunk: k), "chunk \(k)") }
    }

    /// Replay's first pass takes a summarized chunk as it is stored, and gives what the
    /// whole reading gives; the second pass inflates it. Whatever payloads are kept.
    func testSummarizedChunksScanAsTheWholeReadingReadsThem() throws {
        let dir = try TempDirectory()
        let path = try writeLog(dir, chunkCount: 5)
        let whole = try LoadedLog.load(path: path, parallel: false, faults: .compact)
        XCTAssertNil(whole.damage)
        for keeping in [ScannedLog.keptPayloadBytes, 0, 2000] {
            let scanned = try XCTUnwrap(ScannedLog.scan(path: path, keepingPayloads: keeping))
            XCTAssertEqual(scanned.faults.summarizedChunks, 5, "no chunk inflated in the first pass")
            XCTAssertEqual(scanned.timeRange, whole.compactFaults.timeRange)
            XCTAssertEqual(scanned.knowsPageSizes, whole.compactFaults.knowsPageSizes)
            XCTAssertEqual(scanned.faultsPerPid.map(\.pid), whole.compactFaults.faultsPerPidInOrderOfAppearance().map(\.pid))
            XCTAssertEqual(scanned.faultsPerPid.map(\.faults), whole.compactFaults.faultsPerPidInOrderOfAppearance().map(\.faults))
            var joined = CompactFaults()
            for k in 0..<scanned.faults.chunkCount {
                joined.append(contentsOf: try XCTUnwrap(scanned.faults.faults(ofChunk: k), "chunk \(k), keeping \(keeping)"))
            }
            XCTAssertEqual(storedRows(joined), storedRows(whole.compactFaults), "keeping \(keeping)")
        }
        let decodedFirst = try XCTUnwrap(ScannedLog.scan(path: path, decodingFaults: true))
        XCTAssertEqual(decodedFirst.faults.summarizedChunks, 0, "decoded in the first pass, and held to the summary there")
    }

    /// Each way a summary can lie with its checksum right: the first pass takes it (it has
    /// nothing to hold it to), the second pass refuses that chunk's faults, a first pass that
    /// decodes refuses the log, and the whole reading names the chunk as damage.
    func testASummaryThatLiesIsDamage() throws {
        let lies: [(String, (inout FaultChunkSummary) -> Void)] = [
            ("earliest too late", { $0.earliest += 1 }),
            ("latest too early", { $0.latest -= 1 }),
            ("a page size said", { $0.knowsPageSizes.toggle() }),
            ("pids swapped", { $0.faultsPerPid.reverse() }),
            ("a fault moved between pids", { $0.faultsPerPid[0].faults += 1; $0.faultsPerPid[1].faults -= 1 }),
        ]
        for (name, lie) in lies {
            let dir = try TempDirectory()
            let path = try writeLog(dir, chunkCount: 3, lyingAbout: 1, lie)
            let scanned = try XCTUnwrap(ScannedLog.scan(path: path), name)
            XCTAssertNotNil(scanned.faults.faults(ofChunk: 0), name)
            XCTAssertNil(scanned.faults.faults(ofChunk: 1), name)
            XCTAssertNil(ScannedLog.scan(path: path, decodingFaults: true), name)
            let whole = try LoadedLog.load(path: path, parallel: false, faults: .compact)
            XCTAssertEqual(whole.damage?.reason, "chunk's summary disagrees with its faults", name)
            XCTAssertEqual(whole.compactFaults.count, 400, "\(name): the chunk before it is read")
            let every = try LoadedLog.load(path: path, parallel: false)
            XCTAssertEqual(every.damage?.reason, "chunk's summary disagrees with its faults", "\(name), fault by fault")
        }
    }

    /// A summary's form: lengths and counts that do not fit are damage, not allocations; a
    /// summarized chunk that holds another record is damage; and a format 9 log may not say
    /// it has a summary.
    func testSummariesThatDoNotFitAreRefused() throws {
        let faults = (0..<20).map { fault(pid: 5, time: 100 + UInt64($0), page: UInt64($0)) }
        let truth = try XCTUnwrap(FaultChunkSummary(faults))
        var pids = ByteEncoder()
        pids.varint(UInt64(1) << 40)
        for (name, stored) in [("length past the chunk", [0xFF, 0x7F] + truth.encoded.dropFirst()),
                               ("no pids", [4, 1, 0, 0, 0] as [UInt8]),
                               ("too many pids", [UInt8(3 + pids.bytes.count)] + [1, 0, 0] + pids.bytes)] {
            XCTAssertThrowsError(try FaultChunkSummary.decode(stored, faults: 20), name)
        }
        XCTAssertThrowsError(try FaultChunkSummary.decode(truth.encoded, faults: 21), "counts one fault short")
        XCTAssertEqual(try FaultChunkSummary.decode(truth.encoded + [9, 9], faults: 20).summary, truth)

        let dir = try TempDirectory()
        let records = faults.map { LogRecord.fault($0) } + [.exit(ExitEvent(pid: 5, timeNs: 200, exitCode: 0, signal: 0))]
        let payload = LogChunks.payload(records)
        var claimed = truth
        claimed.faultsPerPid[0].faults += 1   // counting the exit, as the chunk's count does
        var bytes = LogChunks.fileHeader + LogChunks.chunk([.header(sampleHeader)], deflate: true)
        bytes += LogChunks.seal(stored: payload, rawLength: payload.count, count: 21, deflated: false, summary: claimed)
        try writeBytes(bytes, to: dir.file("other.flt"))
        XCTAssertNotNil(try LoadedLog.load(path: dir.file("other.flt"), parallel: false).damage, "an exit in a chunk of faults alone")
        XCTAssertNil(ScannedLog.scan(path: dir.file("other.flt"))?.faults.faults(ofChunk: 0), "nor its faults in the second pass")

        // More faults than the payload has bytes: refused before anything is sized by it.
        let tiny = LogChunks.payload(Array(faults.prefix(2)).map { LogRecord.fault($0) })
        var many = truth
        many.faultsPerPid[0].faults = tiny.count + 1
        bytes = LogChunks.fileHeader + LogChunks.chunk([.header(sampleHeader)], deflate: true)
        bytes += LogChunks.seal(stored: tiny, rawLength: tiny.count, count: UInt32(tiny.count + 1), deflated: false, summary: many)
        try writeBytes(bytes, to: dir.file("many.flt"))
        XCTAssertNil(ScannedLog.scan(path: dir.file("many.flt")), "the first pass refuses the count")
        XCTAssertEqual(try LoadedLog.load(path: dir.file("many.flt"), parallel: false).damage?.reason,
                       "chunk says \(tiny.count + 1) faults in \(tiny.count) bytes")

        var v9 = LogFormat.magic + [UInt8(LogFormat.execStackVersion), 0, 0, 0]
        v9 += LogChunks.chunk([.header(sampleHeader)], deflate: true)
        let faultsOnly = LogChunks.payload(faults.map { LogRecord.fault($0) }, version: LogFormat.execStackVersion)
        v9 += LogChunks.seal(stored: faultsOnly, rawLength: faultsOnly.count, count: 20, deflated: false, summary: truth)
        try writeBytes(v9, to: dir.file("v9.flt"))
        XCTAssertEqual(try LoadedLog.load(path: dir.file("v9.flt"), parallel: false).damage?.reason, "unknown chunk flags 0x2")
    }

    /// A log of a header chunk and `chunkCount` summarized chunks of 400 faults of two pids
    /// each; chunk `lyingAbout`'s summary (counting from the first of faults) changed by `lie`.
    private func writeLog(_ dir: TempDirectory, chunkCount: Int, lyingAbout: Int? = nil,
                          _ lie: (inout FaultChunkSummary) -> Void = { _ in }) throws -> String {
        var bytes = LogChunks.fileHeader + LogChunks.chunk([.header(sampleHeader)], deflate: true)
        for c in 0..<chunkCount {
            let faults = (0..<400).map { i in
                fault(pid: i % 40 < 25 ? 100 : 101, time: UInt64(c * 10_000 + i * 20 + (i % 3) * 7), page: UInt64(c * 400 + i),
                      pageShift: c == 2 && i == 17 ? 21 : 0)
            }
            var summary = try XCTUnwrap(FaultChunkSummary(faults))
            if c == lyingAbout { lie(&summary) }
            let payload = LogChunks.payload(faults.map { LogRecord.fault($0) })
            let deflated = try XCTUnwrap(Deflate.compress(payload))
            bytes += LogChunks.seal(stored: deflated, rawLength: payload.count, count: 400, deflated: true, summary: summary)
        }
        let path = dir.file("summarized.flt")
        try writeBytes(bytes, to: path)
        return path
    }
}
