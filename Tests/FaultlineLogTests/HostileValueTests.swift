// Logs whose records are well formed (valid checksums) but whose values are at the edges
// of their types: loading keeps what they say, saturated where a sum cannot hold it.

import XCTest
import FaultlineCore
import FaultlineLog

final class HostileValueTests: XCTestCase {
    func testLostAndThrottledCountsSaturateInsteadOfOverflowing() throws {
        let dir = try TempDirectory()
        let path = dir.file("lost.flt")
        let w = try LogWriter(path: path, header: sampleHeader)
        w.append(.lost(count: 1 << 63, timeNs: 1))
        w.append(.throttled(count: .max, timeNs: 2))
        w.append(.lost(count: 1 << 63, timeNs: 3))
        w.append(.throttled(count: 1, timeNs: 4))
        w.append(.lost(count: 5, timeNs: 5))
        try w.finish(LogSummary(endTimeNs: 9, faults: 0, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))

        let log = try LoadedLog.load(path: path)
        XCTAssertNil(log.damage)
        // 2^63 + 2^63 + 5 and 2^64-1 + 1 do not fit: at least 2^64-1 events were dropped.
        XCTAssertEqual(log.lost, .max)
        XCTAssertEqual(log.throttled, .max)
    }

    /// Stack records may chain to any earlier one: a chain as long as the file is walked no
    /// further than `maxStackDepth` frames, leaf first, however deep it goes.
    func testAStackChainDeeperThanAnyRecordedIsWalkedToTheLimit() throws {
        var log = LoadedLog()
        let depth = LoadedLog.maxStackDepth * 3
        for i in 1...depth {
            log.apply(.stack(StackID(rawValue: UInt32(i)), parent: StackID(rawValue: UInt32(i - 1)), frame: FrameID(rawValue: UInt32(i))))
        }
        XCTAssertEqual(log.stackParents.count, depth + 1, "every record was taken")
        let frames = log.frames(of: StackID(rawValue: UInt32(depth)))
        XCTAssertEqual(frames.count, LoadedLog.maxStackDepth)
        XCTAssertEqual(frames.first, FrameID(rawValue: UInt32(depth)), "leaf first")
        XCTAssertEqual(log.frames(of: StackID(rawValue: 100)).count, 100, "a stack within the limit is whole")
    }
}
