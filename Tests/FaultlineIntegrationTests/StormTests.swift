// Losing nothing: two threads each write 1 GiB as fast as they can (~524k faults in about
// 1.5 s untraced). Every fault is recorded, nothing is lost or throttled, and the totals
// equal the kernel's own counters. The recorder pauses the program when it falls behind.

import XCTest
import FaultlineCore
import FaultlineLog

final class StormTests: XCTestCase {
    func testTwoThreadStormLosesNothing() throws {
        let run = try Samples.record("thread_storm", ["1024"])
        XCTAssertEqual(run.result.counts.lost, 0)
        XCTAssertEqual(run.result.counts.throttled, 0)
        XCTAssertEqual(run.log.lost, 0)
        XCTAssertEqual(run.expectations.count, 2)
        XCTAssertEqual(run.expectations.map(\.count).reduce(0, +), 2 * 262_144)
        assertExpectations(run)
        assertRecordedMatchesKernel(run)
    }
}
