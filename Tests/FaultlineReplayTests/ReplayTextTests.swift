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

    /// khugepaged's sleep between scans, as people write it (was "every 10000 ms").
    func testKhugepagedIntervalIsInPeopleUnits() {
        XCTAssertEqual(interval(ns: 10_000_000_000), "10 s")
        XCTAssertEqual(interval(ns: 1_500_000_000), "1,500 ms")
        XCTAssertEqual(interval(ns: 100_000_000), "100 ms")
        XCTAssertEqual(interval(ns: 3_600_000_000_000), "3,600 s")
        var report = ReplayReport(configs: [], baseline: nil, selfCheck: nil, recordedIndex: nil, source: "recorded faults")
        report.khugepaged = .paced
        XCTAssertTrue(report.renderText().contains("4,096 pages every 10 s,"), report.renderText())
    }
}
