// Shared helpers for the log tests: temporary files, a seeded generator, a chunk map parsed
// independently of the reader, and a CRC-32 of our own so tests can forge valid chunks.
// @testable only for Deflate, to see (and forge) the decoded payload of a deflated chunk.

import Foundation
import XCTest
import FaultlineTestSupport
import FaultlineCore
@testable import FaultlineLog


/// A directory removed when the test ends.
final class TempDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "faultline-log-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

let sampleHeader = LogHeader(kernelRelease: "6.8.0-test", machine: "x86_64", hostname: "host",
                             pageSize: 4096, thpMode: "madvise", command: ["./prog", "--flag", "", "ünïcode arg"],
                             startTimeNs: 1_000_000_000, startWallSeconds: 1_700_000_000,
                             callGraph: "fp", recorderVersion: "0.1-test",
                             extra: ["x-future": "kept", "zz": ""])

/// Every fault of `faults` as the model reads it, in order: the five columns as stored
/// (not as a row reads them back, which would hide a difference in the bits it drops).
func storedRows(_ faults: CompactFaults) -> [[UInt64]] {
    let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: CompactFaults.scratchCount)
    defer { scratch.deallocate() }
    var rows: [[UInt64]] = []
    for u in 0..<faults.unitCount {
        let n = faults.decode(unit: u, into: scratch)
        for r in 0..<n { rows.append((0..<5).map { scratch[$0 * CompactFaults.rows + r] }) }
    }
    return rows
}

/// Every record of every chunk, read with the chunk-level API.
func readChunks(_ path: String) throws -> (chunks: [[LogRecord]], damage: LogDamage?) {
    let reader = try LogReader(path: path)
    var chunks: [[LogRecord]] = []
    while let records = reader.nextChunk() { chunks.append(records) }
    return (chunks, reader.damage)
}

/// Where a chunk lies in the file, parsed from the raw bytes, not by the reader under test.
/// Header: six little-endian u32s: magic, stored length, raw length, count, flags, CRC.
struct ChunkSpan {
    var start: Int
    var payloadStart: Int { start + LogFormat.chunkHeaderSize }
    var length: Int
    var end: Int { payloadStart + length }
}

enum ChunkField {
    static let magic = 0, storedLength = 4, rawLength = 8, count = 12, flags = 16, crc = 20
}

func u32le(_ b: [UInt8], at i: Int) -> UInt32 {
    UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
}

func putU32le(_ v: UInt32, into b: inout [UInt8], at i: Int) {
    for k in 0..<4 { b[i + k] = UInt8(truncatingIfNeeded: v >> UInt32(8 * k)) }
}

func chunkSpans(_ bytes: [UInt8]) -> [ChunkSpan] {
    var spans: [ChunkSpan] = []
    var at = LogFormat.fileHeaderSize
    while at + LogFormat.chunkHeaderSize <= bytes.count {
        let length = Int(u32le(bytes, at: at + ChunkField.storedLength))
        spans.append(ChunkSpan(start: at, length: length))
        at += LogFormat.chunkHeaderSize + length
    }
    precondition(at == bytes.count, "test log does not end on a chunk boundary")
    return spans
}

/// The records' bytes of a chunk, inflated if the chunk is deflated.
func decodedPayload(_ bytes: [UInt8], _ s: ChunkSpan) -> [UInt8] {
    let stored = Array(bytes[s.payloadStart..<s.end])
    guard u32le(bytes, at: s.start + ChunkField.flags) & LogFormat.chunkDeflated != 0 else { return stored }
    return Deflate.decompress(stored, expectedSize: Int(u32le(bytes, at: s.start + ChunkField.rawLength)))!
}

/// A whole chunk (header and stored bytes) holding `payload`, with a correct checksum.
func forgeChunk(_ payload: [UInt8], count: UInt32, deflate: Bool = false) -> [UInt8] {
    let stored = deflate ? Deflate.compress(payload)! : payload
    var chunk = [UInt8](repeating: 0, count: LogFormat.chunkHeaderSize) + stored
    putU32le(LogFormat.chunkMagic, into: &chunk, at: ChunkField.magic)
    putU32le(UInt32(stored.count), into: &chunk, at: ChunkField.storedLength)
    putU32le(UInt32(payload.count), into: &chunk, at: ChunkField.rawLength)
    putU32le(count, into: &chunk, at: ChunkField.count)
    putU32le(deflate ? LogFormat.chunkDeflated : 0, into: &chunk, at: ChunkField.flags)
    putU32le(testCRC32(stored[...]), into: &chunk, at: ChunkField.crc)
    return chunk
}

func varintBytes(_ value: UInt64) -> [UInt8] {
    var v = value, out: [UInt8] = []
    while v >= 0x80 { out.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
    return out + [UInt8(v)]
}

/// Independent CRC-32 (zlib polynomial), bitwise, so a table bug in the code under test
/// would not be mirrored here.
func testCRC32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// Faults with everything the delta coder has to get right: several threads and processes,
/// addresses and times going both ways, extreme values, every kind/access/flag combination.
func awkwardFaults(count: Int, seed: UInt64) -> [FaultEvent] {
    var rng = SeededGenerator(seed: seed)
    let tids: [(pid: Int32, tid: Int32)] = [
        (100, 100), (100, 101), (100, 102), (Int32.max, Int32.max), (Int32.max, 1),
        (1, Int32.max), (0, 0), (-1, -1), (Int32.min, Int32.max), (Int32.max, Int32.min), (7, -7),
    ]
    let addresses: [UInt64] = [
        0, 1, 0xfff, 0x1000, 0x5555_5555_4000, 0x7fff_ffff_f000, 0x7fff_ffff_ffff,
        0xffff_8000_0000_0000, 0xffff_ffff_ffff_f000, 0xffff_ffff_ffff_ffff, 0x8000_0000_0000_0000,
    ]
    let times: [UInt64] = [0, 1, UInt64.max, UInt64.max - 1, 1 << 63, 1_000_000_000]
    let stacks: [UInt32] = [0, 1, 2, UInt32.max, UInt32.max - 1, 1 << 31, 12345]
    let errorCodes: [UInt16?] = [nil, 0, 1, 6, 0x7fff, 0xfffe, 0xffff]
    // UInt64.max is stored saturated (see RoundTripTests.testServiceTimeSaturates).
    let services: [UInt64?] = [nil, 0, 1, 1500, UInt64.max - 1, UInt64.max - 2]
    let signals: [(Int32, Int32)] = [(0, 0), (11, 1), (11, 2), (7, -6), (Int32.max, Int32.min),
                                     (Int32.min, Int32.max), (0, 5), (0, Int32.min)]
    var faults: [FaultEvent] = []
    var time: UInt64 = 5_000_000_000
    var page: [Int32: UInt64] = [:]
    for i in 0..<count {
        let who = tids[Int.random(in: 0..<tids.count, using: &rng)]
        // Mostly plausible motion, sometimes a jump to an extreme.
        let roll = Int.random(in: 0..<10, using: &rng)
        if roll < 6 {
            time &+= UInt64.random(in: 0...10_000, using: &rng)
        } else if roll < 8 {
            time &-= UInt64.random(in: 0...1_000_000, using: &rng) // backwards
        } else {
            time = times[Int.random(in: 0..<times.count, using: &rng)]
        }
        var address: UInt64
        let aroll = Int.random(in: 0..<10, using: &rng)
        if aroll < 5 {
            let p = page[who.tid] ?? 0x7f00_0000_0
            let step = Int64.random(in: -8...8, using: &rng)
            address = (UInt64(bitPattern: Int64(bitPattern: p) &+ step) << 12) | UInt64.random(in: 0...0xfff, using: &rng)
        } else if aroll < 8 {
            address = addresses[Int.random(in: 0..<addresses.count, using: &rng)]
        } else {
            address = UInt64.random(in: 0...UInt64.max, using: &rng)
        }
        page[who.tid] = address >> 12
        let ip: UInt64 = Bool.random(using: &rng)
            ? 0x5555_5555_0000 + UInt64.random(in: 0...0x10000, using: &rng)
            : addresses[Int.random(in: 0..<addresses.count, using: &rng)]
        let kind = FaultKind.allCases[i % FaultKind.allCases.count]
        // Only a segv carries a signal (FaultEvent.signal), so only its signal is stored.
        let signal = kind == .segv ? signals[(i / FaultKind.allCases.count) % signals.count] : (0, 0)
        faults.append(FaultEvent(
            pid: who.pid, tid: who.tid, timeNs: time, address: address, ip: ip,
            kind: kind,
            access: Access.allCases[(i / FaultKind.allCases.count) % Access.allCases.count],
            kernelMode: (i / 21) % 2 == 1,
            errorCode: errorCodes[Int.random(in: 0..<errorCodes.count, using: &rng)],
            serviceNs: services[Int.random(in: 0..<services.count, using: &rng)],
            signal: signal.0, signalCode: signal.1,
            stack: StackID(rawValue: stacks[Int.random(in: 0..<stacks.count, using: &rng)])))
    }
    return faults
}

/// A finished log: tables first, then `faults`, then the summary.
@discardableResult
func writeLog(_ path: String, faults: [FaultEvent], summary: LogSummary? = nil) throws -> LogWriter {
    let w = try LogWriter(path: path, header: sampleHeader)
    let exe = w.module(path: "/bin/prog", buildID: [0xde, 0xad, 0xbe, 0xef])
    let f1 = w.frame(Frame(module: exe, offset: 0x1234))
    let f2 = w.frame(Frame(module: nil, offset: 0x7fff_0000_1000))
    _ = w.stack(leafFirst: [f1, f2])
    w.append(.process(ProcessEvent(pid: 100, ppid: 1, timeNs: 1, command: w.intern("prog"))))
    for f in faults { w.append(.fault(f)) }
    try w.finish(summary ?? LogSummary(endTimeNs: 9, faults: UInt64(faults.count), lost: 0, throttled: 0,
                                       unaccountedEntries: 0, exitCode: 0))
    return w
}

/// The fault field streams of format 5 in their order (FaultFieldStreams), as the file lays
/// them out: written here as numbers, so a change of the order fails the tests that use them.
enum F {
    static let bits = 0, thread = 1, time = 2, page = 3, inPage = 4, ip = 5, stack = 6, errorCode = 7, service = 8, signal = 9
    static let count = 10
}

/// A format 5 chunk payload made by hand: the table of stream lengths, the streams, then the
/// records. Streams in tests are short: each length is one byte.
struct FieldPayload {
    var bytes: [UInt8]
    /// Where the records start, and where each stream starts, in the payload.
    var rowsAt: Int
    var streamAt: [Int]

    init(_ rows: [UInt8], _ streams: [Int: [UInt8]] = [:]) {
        let ordered = (0..<F.count).map { streams[$0] ?? [] }
        precondition(ordered.allSatisfy { $0.count < 128 })
        bytes = [UInt8(F.count)] + ordered.map { UInt8($0.count) }
        streamAt = []
        for stream in ordered { streamAt.append(bytes.count); bytes += stream }
        rowsAt = bytes.count
        bytes += rows
    }
}
