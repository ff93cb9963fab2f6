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
        var bytes = LogFormat.magic + [UInt8(version & 0xFF), UInt8(version >> 8), 0, 0]
        let header = LogHeader(pageSize: 4096, thpMode: "never")
        bytes += LogChunks.seal(payload: LogChunks.payload([.header(header)], version: version), count: 1, deflate: true)
        bytes += LogChunks.seal(payload: LogChunks.payload(records, version: version), count: UInt32(records.count),
                                deflate: true)
        let path = dir.file("v\(version).flt")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try LoadedLog.load(path: path)
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
