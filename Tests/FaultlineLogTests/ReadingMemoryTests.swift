// Issue 9: every reading command holds at most 24 bytes a fault. A loaded log's faults
// (and the columns alone) are measured by the memory the process holds, not by what the
// type says of itself, so a column that goes back to a per-fault object (a FaultEvent is
// 72 bytes) fails here.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest
import FaultlineTestSupport
import FaultlineCore
@testable import FaultlineLog


/// A two-thread storm as the recorder writes it: each thread touches its next page, times
/// rise with a little disorder, a few stacks and instruction pointers.
func stormFaults(_ count: Int, seed: UInt64) -> [FaultEvent] {
    var rng = SeededGenerator(seed: seed)
    var faults: [FaultEvent] = []
    faults.reserveCapacity(count)
    var time: UInt64 = 1_000_000_000
    for i in 0..<count {
        let thread = Int32(i % 2)
        time += UInt64.random(in: 100...900, using: &rng)
        faults.append(FaultEvent(pid: 4000, tid: 4000 + thread, timeNs: time &- UInt64.random(in: 0...500, using: &rng),
                                 address: 0x7f00_0000_0000 + UInt64(thread) << 32 + UInt64(i / 2) << 12,
                                 ip: 0x5555_5555_1000 + UInt64.random(in: 0...3, using: &rng) * 8,
                                 kind: .anon, access: .write, kernelMode: false, errorCode: 6,
                                 serviceNs: UInt64.random(in: 500...5000, using: &rng), signal: 0, signalCode: 0,
                                 stack: StackID(rawValue: UInt32.random(in: 1...4, using: &rng))))
    }
    return faults
}

final class ReadingMemoryTests: XCTestCase {
    /// Issue 9: at most 24 bytes a fault held when reading. A FaultEvent is 72.
    static let bytesPerFault = 24
    static let faultCount = 400_000
    /// Tables, the last chunk's staging, code paged in: not per fault.
    static let constant = 4 << 20

    func testLoadedStormHoldsAtMost24BytesAFault() throws {
        let dir = try TempDirectory()
        let path = dir.file("storm.flt")
        try writeLog(path, faults: stormFaults(Self.faultCount, seed: 21))
        try writeLog(dir.file("small.flt"), faults: stormFaults(1000, seed: 20))
        _ = try LoadedLog.load(path: dir.file("small.flt"))   // the loader's threads and code, once
        let before = residentBytes()
        let log = try LoadedLog.load(path: path)
        let held = residentBytes() - before
        XCTAssertEqual(log.faults.count, Self.faultCount)
        XCTAssertLessThanOrEqual(held, Self.bytesPerFault * Self.faultCount + Self.constant,
                                 "\(Double(held) / Double(Self.faultCount)) bytes a fault")
        XCTAssertLessThanOrEqual(log.faults.byteCount, Self.bytesPerFault * Self.faultCount)
        withExtendedLifetime(log) {}
    }

    func testColumnsOfAStormAreSmall() {
        let storm = stormFaults(Self.faultCount, seed: 22)
        let before = residentBytes()
        let columns = FaultColumns(storm)
        let held = residentBytes() - before
        XCTAssertLessThanOrEqual(held, Self.bytesPerFault * Self.faultCount + Self.constant,
                                 "\(Double(held) / Double(Self.faultCount)) bytes a fault")
        XCTAssertEqual(columns.count, storm.count)
        withExtendedLifetime(columns) {}
    }
}
