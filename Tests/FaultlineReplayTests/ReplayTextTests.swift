// The replay table's shares: one unit in a row, whatever the size of the ratio.

import XCTest
@testable import FaultlineReplay

final class ReplayTextTests: XCTestCase {
    func testSharesAreAlwaysPercentages() {
        XCTAssertEqual(ratioPercent(0), "0.0%")
        XCTAssertEqual(ratioPercent(0.5), "50.0%")
        XCTAssertEqual(ratioPercent(7.798), "779.8%")
        // Was "10x" next to "779.8%" in the same row.
        XCTAssertEqual(ratioPercent(10), "1,000%")
        XCTAssertEqual(ratioPercent(123.456), "12,346%")
        XCTAssertEqual(ratioPercent(.infinity), "-")
        XCTAssertEqual(ratioPercent(.nan), "-")
        XCTAssertEqual(ratioPercent(1e30), "huge%")
    }
}
