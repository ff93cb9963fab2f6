// Format 5 stores a chunk's fault fields by field (FaultFieldStreams). The same faults must
// read back alike from either layout, and a format 4 log must still read as it did.

import XCTest
import FaultlineTestSupport
import FaultlineCore
@testable import FaultlineLog

final class FieldStreamsTests: XCTestCase {
    /// Faults that use every field and every skip: two processes, three threads, each kind
    /// (segv with its signal), unknown error codes and service times, huge pages, swap.
    private func mixedFaults(count: Int) -> [LogRecord] {
        var rng = SeededGenerator(seed: 55)
        var time: UInt64 = 1_000_000
        return (0..<count).map { i in
            time += UInt64.random(in: 1...50_000, using: &rng)
            let kind = FaultKind.allCases[Int.random(in: 0..<FaultKind.allCases.count, using: &rng)]
            let tid = Int32([100, 101, 200][Int.random(in: 0..<3, using: &rng)])
            var f = FaultEvent(pid: tid >= 200 ? 200 : 100, tid: tid, timeNs: time,
                               address: 0x7f00_0000_0000 + UInt64.random(in: 0..<(1 << 30), using: &rng),
                               ip: 0x40_0000 + UInt64.random(in: 0..<4096, using: &rng), kind: kind,
                               access: i % 3 == 0 ? .write : .read, kernelMode: i % 7 == 0,
                               errorCode: i % 11 == 0 ? nil : UInt16(i % 8),
                               serviceNs: i % 13 == 0 ? nil : UInt64.random(in: 0...100_000, using: &rng),
                               signal: kind == .segv ? 11 : 0, signalCode: kind == .segv ? 2 : 0,
                               stack: StackID(rawValue: UInt32(i % 17)), pageShift: i % 5 == 0 ? 21 : 12)
            f.swapFromDisk = kind == .swap && i % 2 == 0
            return .fault(f)
        } + [.lost(count: 3, timeNs: time)]
    }

    private func log(_ records: [LogRecord], version: UInt16, in dir: TempDirectory) throws -> LoadedLog {
        try LoadedLog.load(path: write(payload: LogChunks.payload(records, version: version), count: records.count,
                                       version: version, in: dir))
    }

    /// A log of a header chunk and one chunk of `payload` (deflated when asked); its path.
    private func write(payload: [UInt8], count: Int, version: UInt16 = LogFormat.version, deflate: Bool = true,
                       in dir: TempDirectory) throws -> String {
        var bytes = LogFormat.magic + [UInt8(version & 0xFF), UInt8(version >> 8), 0, 0]
        let header = LogHeader(pageSize: 4096, thpMode: "never")
        bytes += LogChunks.seal(payload: LogChunks.payload([.header(header)], version: version), count: 1, deflate: true)
        bytes += LogChunks.seal(payload: payload, count: UInt32(count), deflate: deflate)
        let path = dir.file("v\(version).flt")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// What the model reads of each fault, in log order: CompactFaults' columns as stored
    /// (not as a row reads them back, which would hide a difference in the bits it drops).
    private func modelRows(_ log: LoadedLog) -> [[UInt64]] {
        storedRows(log.compactFaults.isEmpty ? CompactFaults(log.faults) : log.compactFaults)
    }

    /// Replay reads a chunk's faults field by field (CompactChunkDecoding), not fault by
    /// fault: every field the model reads must come back as the full reading gives it, for
    /// every kind (segv's signal stream skipped right), thread switch and error code.
    func testReadingForTheModelByFieldGivesTheFullReadingsFields() throws {
        let dir = try TempDirectory()
        let records = mixedFaults(count: 5_000)
        let path = try write(payload: LogChunks.payload(records), count: records.count, in: dir)
        let every = try LoadedLog.load(path: path, parallel: false, faults: .every)
        let model = try LoadedLog.load(path: path, parallel: false, faults: .compact)
        XCTAssertNil(model.damage)
        XCTAssertEqual(model.faults.count, 0)
        XCTAssertEqual(model.compactFaults.count, 5_000)
        XCTAssertEqual(modelRows(model), modelRows(every))
        XCTAssertTrue(model.compactFaults.knowsPageSizes)
        XCTAssertEqual(model.lost, 3, "the record after the faults")
        XCTAssertEqual(model.compactFaults.timeRange, every.faults.map(\.timeNs).min()!...every.faults.map(\.timeNs).max()!)

        // By field alone, without the fall-back to reading fault by fault (which gives the
        // same faults, so a stream left unread, such as segv's signals, would go unseen):
        // every chunk reads whole, and the same columns.
        let reader = try LogReader(path: path)
        var chunks = 0
        while let chunk = reader.readChunk() {
            switch LogReader.columns(of: chunk, version: reader.version, detail: .compact, byField: true) {
            case .success(let decoded): if chunks == 1 { XCTAssertEqual(decoded.compact.count, 5_000) }
            case .failure(let damage): XCTFail("chunk \(chunks) read by field: \(damage)")
            }
            chunks += 1
        }
        XCTAssertNil(reader.damage)
        XCTAssertEqual(chunks, 2, "the header's chunk and the faults'")
    }

    /// A page delta may carry the page past the 52 bits an address keeps: both readings
    /// keep what the address keeps. Faults past one window of the column reading
    /// (LogReader.faultColumnWindow) carry their deltas and "same" bits across it.
    func testPagesPast52BitsAndFaultsAcrossWindowsReadAlike() throws {
        let dir = try TempDirectory()
        let n = 2 * LogReader.faultColumnWindow + 77
        var payload = FieldPayloadBuilder()
        for i in 0..<n {
            // A run of one thread and error code (both "same" bits) across each window's edge.
            let same = i % 500 != 0
            payload.fault(bits: same ? 0xC0 : 0x08, thread: same ? [] : [2 * Int64(i % 3), 0],
                          time: 7, page: i == 0 ? -1 : 1, inPage: UInt64(i % 4096), ip: 1, stack: 0,
                          errorCode: same ? nil : UInt64(7 | (i % 1000 == 0 ? 21 << 17 : 0)), service: 5)
        }
        let path = try write(payload: payload.bytes, count: n, in: dir)
        let every = try LoadedLog.load(path: path, parallel: false, faults: .every)
        let model = try LoadedLog.load(path: path, parallel: false, faults: .compact)
        XCTAssertNil(every.damage)
        XCTAssertNil(model.damage)
        XCTAssertEqual(model.compactFaults.count, n)
        XCTAssertEqual(modelRows(model), modelRows(every))
        XCTAssertEqual(model.compactFaults.row(at: 0).address >> 12, UInt64.max >> 12, "page -1 as the address keeps it")
    }

    /// Every one-byte change of a chunk's payload (its checksum made valid again) damages
    /// the chunk for the model's reading by field exactly when it damages it for the full
    /// reading fault by fault, and the damage is named alike; where neither finds damage,
    /// they read the same faults.
    func testAChangedByteDamagesBothReadingsAlike() throws {
        let dir = try TempDirectory()
        var records = mixedFaults(count: 40)
        records.insert(.exec(pid: 100, timeNs: 1_000_500, command: StringID(rawValue: 0)), at: 20)
        let payload = LogChunks.payload(records)
        var damaged = 0
        for at in payload.indices {
            for value in Set([payload[at] ^ 0x01, payload[at] ^ 0x80, payload[at] &+ 1, 0x00, 0xFF]) where value != payload[at] {
                var changed = payload
                changed[at] = value
                let path = try write(payload: changed, count: records.count, deflate: false, in: dir)
                let every = try LoadedLog.load(path: path, parallel: false, faults: .every)
                let model = try LoadedLog.load(path: path, parallel: false, faults: .compact)
                let what = "byte \(at) = 0x\(String(value, radix: 16)): full \(every.damage.map { "\($0)" } ?? "whole"), model \(model.damage.map { "\($0)" } ?? "whole")"
                XCTAssertEqual(model.damage, every.damage, what)
                XCTAssertEqual(model.chunks, every.chunks, what)
                XCTAssertEqual(modelRows(model), modelRows(every), what)
                if every.damage != nil { damaged += 1 }
            }
        }
        XCTAssertGreaterThan(damaged, payload.count / 2, "most changes are damage the reader must find")
    }

    func testBothLayoutsReadBackTheSameFaults() throws {
        let dir = try TempDirectory()
        let records = mixedFaults(count: 5_000)
        let written = records.compactMap { if case .fault(let f) = $0 { return f } else { return nil } }
        for version in [LogFormat.swapKindVersion, LogFormat.faultFieldStreamsVersion] {
            let loaded = try log(records, version: version, in: dir)
            XCTAssertNil(loaded.damage, "format \(version): \(loaded.damage.map { "\($0)" } ?? "")")
            XCTAssertEqual(loaded.formatVersion, version)
            XCTAssertEqual(Array(loaded.faults), written, "format \(version)")
            XCTAssertEqual(loaded.lost, 3)
        }
    }

    func testFieldsStoredApartDeflateSmaller() {
        // A loop's faults: steady strides, one hot stack, times a few microseconds apart.
        var rng = SeededGenerator(seed: 8)
        var time: UInt64 = 5_000_000
        let records: [LogRecord] = (0..<20_000).map { i in
            time += UInt64.random(in: 2_000...9_000, using: &rng)
            return .fault(FaultEvent(pid: 9, tid: 9, timeNs: time, address: 0x7f00_0000_0000 + UInt64(i) * 4096 + UInt64(i % 64) * 8,
                                     ip: 0x40_1000, kind: .anon, access: .write, kernelMode: false, errorCode: 6,
                                     serviceNs: UInt64.random(in: 800...4_000, using: &rng), stack: StackID(rawValue: 3)))
        }
        let apart = Deflate.compress(LogChunks.payload(records, version: LogFormat.faultFieldStreamsVersion))!.count
        let together = Deflate.compress(LogChunks.payload(records, version: LogFormat.swapKindVersion))!.count
        XCTAssertLessThan(Double(apart), 0.85 * Double(together), "by field \(apart) bytes, by fault \(together)")
    }
}

/// A format 5 payload of faults built field by field, for values no FaultEvent can carry
/// (a page delta past 52 bits).
private struct FieldPayloadBuilder {
    var streams = Array(repeating: ByteEncoder(), count: FaultField.allCases.count)
    var records = ByteEncoder()

    mutating func fault(bits: UInt8, thread: [Int64], time: Int64, page: Int64, inPage: UInt64, ip: Int64, stack: Int64,
                        errorCode: UInt64?, service: UInt64) {
        records.u8(RecordTag.fault.rawValue)
        streams[FaultField.bits.rawValue].u8(bits)
        for t in thread { streams[FaultField.thread.rawValue].zigzag(t) }
        streams[FaultField.time.rawValue].zigzag(time)
        streams[FaultField.page.rawValue].zigzag(page)
        streams[FaultField.inPage.rawValue].varint(inPage)
        streams[FaultField.ip.rawValue].zigzag(ip)
        streams[FaultField.stack.rawValue].zigzag(stack)
        if let errorCode { streams[FaultField.errorCode.rawValue].varint(errorCode) }
        streams[FaultField.service.rawValue].varint(service)
    }

    var bytes: [UInt8] {
        var out = ByteEncoder()
        out.varint(streams.count)
        for s in streams { out.varint(s.bytes.count) }
        for s in streams { out.bytes += s.bytes }
        return out.bytes + records.bytes
    }
}
