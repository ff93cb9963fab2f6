// Format 4's swap kind: a swap-in round-trips with where it came from (swap cache or disk)
// and the page size beside it; a format 3 log cannot hold the kind (an older recorder never
// wrote it), and format 2's page sizes read as before.

import XCTest
import FaultlineCore
@testable import FaultlineLog

final class SwapRecordTests: XCTestCase {
    func fault(_ kind: FaultKind, fromDisk: Bool, shift: UInt8, time: UInt64) -> FaultEvent {
        FaultEvent(pid: 5, tid: 5, timeNs: time, address: 0x7f00_0000_1000 + time * 4096, ip: 0x401000, kind: kind,
                   access: .read, kernelMode: false, errorCode: 4, serviceNs: 900, stack: .empty, pageShift: shift,
                   swapFromDisk: fromDisk)
    }

    func roundTrip(_ records: [LogRecord], writtenAs: UInt16 = LogFormat.version, readAs: UInt16 = LogFormat.version) throws -> [LogRecord] {
        let payload = LogChunks.payload(records, version: writtenAs)
        var (rs, d) = try ChunkCodingState.reading(payload, version: readAs)
        var out: [LogRecord] = []
        while !d.isAtEnd { out.append(try LogRecord.decode(from: &d, state: &rs)) }
        try rs.checkFieldStreamsRead()
        return out
    }

    func testSwapInsRoundTripWithTheirSourceAndPageSize() throws {
        let faults: [LogRecord] = [
            .fault(fault(.swap, fromDisk: false, shift: 12, time: 1)),
            .fault(fault(.swap, fromDisk: true, shift: 12, time: 2)),
            .fault(fault(.swap, fromDisk: true, shift: 12, time: 3)),   // same code field: stored once
            .fault(fault(.anon, fromDisk: false, shift: 21, time: 4)),
            .fault(fault(.swap, fromDisk: false, shift: 21, time: 5)),
        ]
        XCTAssertEqual(try roundTrip(faults), faults)
        let decoded = try roundTrip(faults).compactMap { if case .fault(let f) = $0 { return f } else { return nil } }
        XCTAssertEqual(decoded.map(\.isMajor), [false, true, true, false, false])
    }

    func testAFormat2LogCannotHoldTheSwapKind() throws {
        let swap = LogRecord.fault(fault(.swap, fromDisk: false, shift: 12, time: 1))
        XCTAssertThrowsError(try roundTrip([swap], writtenAs: LogFormat.swapKindVersion, readAs: LogFormat.swapKindVersion - 1))
        XCTAssertTrue(LogFormat.readableVersions.contains(LogFormat.swapKindVersion))
    }

    /// Format 8's record of the kernel's resident memory at exit round-trips; in a format 7
    /// log its tag is damage (no recorder of that format wrote it).
    func testAFormat7LogCannotHoldTheKernelsResidentMemory() throws {
        let r = LogRecord.kernelResident(KernelResident(pid: 9, anonBytes: 4096, fileBytes: 1 << 30, shmemBytes: 8192))
        XCTAssertEqual(try roundTrip([r]), [r])
        XCTAssertThrowsError(try roundTrip([r], writtenAs: LogFormat.kernelResidentVersion, readAs: LogFormat.kernelResidentVersion - 1))
        XCTAssertTrue(LogFormat.readableVersions.contains(LogFormat.kernelResidentVersion))
    }

    /// Format 9's record of a new stack's present pages round-trips, runs and all; in a
    /// format 8 log its tag is damage; runs out of order, overlapping or empty are damage
    /// too, named, not taken.
    func testAnExecStacksPagesRoundTripAndBadRunsAreRefused() throws {
        let top: UInt64 = 0x7ffd_e7a6_c000
        let x = LogRecord.execStack(ExecStack(pid: 9, timeNs: 77, present: [top - 0x3000..<top - 0x2000, top - 0x1000..<top]))
        XCTAssertEqual(try roundTrip([x]), [x])
        XCTAssertEqual(try roundTrip([.execStack(ExecStack(pid: 9, timeNs: 77, present: []))]),
                       [.execStack(ExecStack(pid: 9, timeNs: 77, present: []))])
        XCTAssertThrowsError(try roundTrip([x], writtenAs: LogFormat.execStackVersion, readAs: LogFormat.execStackVersion - 1))
        XCTAssertTrue(LogFormat.readableVersions.contains(LogFormat.execStackVersion))
        for bad in [[top - 0x1000..<top, top - 0x3000..<top - 0x2000],   // out of order
                    [top - 0x3000..<top - 0x1000, top - 0x2000..<top],    // overlapping
                    [top - 0x1000..<top - 0x1000]] {                      // empty
            let record = LogRecord.execStack(ExecStack(pid: 9, timeNs: 77, present: bad))
            XCTAssertThrowsError(try roundTrip([record]), "\(bad)") { error in
                XCTAssertTrue("\(error)".contains("execStack"), "\(error)")
            }
        }
    }

    func testFormat2PageSizesReadAsBefore() throws {
        // Format 2 and 3 lay out a fault without the disk bit alike.
        let f = LogRecord.fault(fault(.anon, fromDisk: false, shift: 21, time: 1))
        XCTAssertEqual(try roundTrip([f], writtenAs: 2, readAs: 2), [f])
    }
}
