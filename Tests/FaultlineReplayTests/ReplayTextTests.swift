// The replay table's shares: one unit in a row, whatever the size of the ratio.

import XCTest
import FaultlineTestSupport
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

final class TopMappingsTextTests: XCTestCase {
    /// A buffer mapped, written and unmapped at one address again and again is one row of
    /// the top mappings: its faults added up, the peak of any one of them, how many times
    /// it was mapped (as a row each, the report showed the one address, repeated, with one
    /// use's faults, and put the mapping that faulted most below it).
    func testOneAddressMappedAgainAndAgainIsOneRow() throws {
        let buffer: UInt64 = 0x7f00_0000_0000, other: UInt64 = 0x7f10_0000_0000
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(other, 16 * 4096), name: "/data/big")
            for i in 0..<UInt64(5) { input.appendAccess(other + i * 4096, .write) }
            for _ in 0..<3 {
                input.appendMapping(anonymous(buffer, 4 * 4096), name: "//anon")
                for i in 0..<UInt64(2) { input.appendAccess(buffer + i * 4096, .write) }
                input.append(.munmap(address: buffer, length: 4 * 4096))
            }
        }
        XCTAssertEqual(r.mappings.filter { $0.start == buffer }.count, 3, "three mappings in the result")
        let report = ReplayReport(configs: [r], baseline: nil, selfCheck: nil, recordedIndex: nil, source: "recorded faults")
        let lines = report.renderText().split(separator: "\n").map(String.init)
        let top = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("top mappings by faults") })
        let rows = lines[(top + 2)...].map { $0.split(separator: " ").joined(separator: " ") }
        XCTAssertEqual(rows, ["[anon] 0x7f0000000000 (mapped 3 times) 6 / 8 KiB", "big 0x7f1000000000 5 / 20 KiB"])
    }
}

final class TopMappingPlacesTests: XCTestCase {
    /// Mappings over a few places with tied fault counts, places that differ only in pid,
    /// end or name, and a second configuration that counts them differently and lacks some.
    private func mappings(_ rng: inout SeededGenerator, count: Int) -> [MappingResult] {
        (0..<count).map { _ in
            let slot = rng.next() % 40
            return MappingResult(pid: Int32(slot % 3), start: 0x1000 * (slot / 2), end: 0x1000 * (slot / 2) + 0x1000 * (1 + slot % 2),
                                 name: slot % 5 == 0 ? "b" : "a", faults: rng.next() % 4, peakResidentBytes: rng.next() % 3 * 4096)
        }
    }

    /// The short ranked list is the head of the whole ranking (a sort of every place).
    func testTheTopPlacesAreTheHeadOfTheirSort() {
        var rng = SeededGenerator(seed: 11)
        for trial in 0..<200 {
            let places = MappedPlace.grouping(mappings(&rng, count: Int(rng.next() % 120)))
            let sorted = places.map { (place: $0.key, uses: $0.value) }.sorted(by: MappedPlace.ranksAbove)
            for n in [0, 1, 8, 50] {
                let top = MappedPlace.top(n, of: places)
                XCTAssertEqual(top.map { $0.place }, sorted.prefix(n).map { $0.place }, "trial \(trial), top \(n)")
                XCTAssertEqual(top.map { $0.uses.faults }, sorted.prefix(n).map { $0.uses.faults }, "trial \(trial), top \(n)")
            }
        }
    }

    /// Another configuration's uses of the top places are what its own grouping holds there.
    func testAnotherConfigurationsUsesAreItsGroupings() {
        var rng = SeededGenerator(seed: 12)
        for trial in 0..<200 {
            let first = MappedPlace.grouping(mappings(&rng, count: 80))
            let other = mappings(&rng, count: Int(rng.next() % 80))
            let top = MappedPlace.top(8, of: first).map { $0.place }
            let grouped = MappedPlace.grouping(other)
            let uses = MappedPlace.uses(of: top, in: other)
            XCTAssertEqual(uses.map(\.faults), top.map { grouped[$0]?.faults ?? 0 }, "trial \(trial)")
            XCTAssertEqual(uses.map(\.peakResidentBytes), top.map { grouped[$0]?.peakResidentBytes ?? 0 }, "trial \(trial)")
            XCTAssertEqual(uses.map(\.mappings), top.map { grouped[$0]?.mappings ?? 0 }, "trial \(trial)")
        }
    }
}
