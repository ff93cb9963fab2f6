// khugepaged in the model, against hand-counted cases: its pace (pages_to_scan every
// scan_sleep_millisecs, from the first memory it may collapse), max_ptes_none, pages shared
// with a fork child, and the three ways to play it.

import XCTest
import FaultlineAddressSpace
import FaultlineCore
@testable import FaultlineReplay

final class KhugepagedTests: XCTestCase {
    let base: UInt64 = 1 * GiB
    let second: UInt64 = 1_000_000_000

    /// `ranges` 2 MiB ranges of one mapping, `pages` pages written in each while the
    /// mapping has MADV_NOHUGEPAGE; then MADV_HUGEPAGE (khugepaged's first wake), `waitNs`,
    /// and one more access (which lets the model's clock pass the wakes due).
    func run(_ model: KhugepagedModel, thp: THPMode = .madvise, ranges: UInt64, pages: UInt64, waitNs: UInt64,
             settings: KhugepagedSettings = KhugepagedSettings(), fork: Bool = false) -> ConfigResult {
        var input = ReplayInput()
        input.khugepaged = settings
        input.appendMapping(anonymous(base, 64 * MiB), name: "//anon")
        input.append(.madvise(address: base, length: 64 * MiB, advice: Advice.noHugePage))
        for r in 0..<ranges {
            for i in 0..<pages { input.appendAccess(base + r * 2 * MiB + i * 4 * KiB, .write) }
        }
        // A fork write-protects the parent's pages: none of them is writable any more.
        if fork { input.append(.fork(parent: 0), process: 1) }
        input.append(.madvise(address: base, length: 64 * MiB, advice: Advice.hugePage))
        input.advance(by: waitNs)
        input.appendAccess(base + 63 * MiB, .read)
        return ReplayEngine(config: config(.k4, thp), input: input, khugepaged: model).run()
    }

    func testPacedWakesAtTheStartThenEveryScanSleep() {
        // In madvise mode the memory becomes eligible at MADV_HUGEPAGE: khugepaged wakes at
        // once and collapses up to 4096 pages' worth (8 ranges); the next wake, 10 s later,
        // the other 2.
        XCTAssertEqual(run(.paced, ranges: 10, pages: 3, waitNs: 5 * second).collapses, 8)
        XCTAssertEqual(run(.paced, ranges: 10, pages: 3, waitNs: 11 * second).collapses, 10)
        let r = run(.paced, ranges: 2, pages: 3, waitNs: 1)
        XCTAssertEqual(r.collapsedBytesAtPeak, 4 * MiB)
        XCTAssertEqual(r.peakResidentBytes, 4 * MiB, "collapsing fills the rest of each range")
    }

    func testEagerIsTheUpperBoundAndOffNeverCollapses() {
        XCTAssertEqual(run(.eager, ranges: 10, pages: 3, waitNs: 1).collapses, 10)
        XCTAssertEqual(run(.off, ranges: 10, pages: 3, waitNs: 21 * second).collapses, 0)
        XCTAssertEqual(run(.eager, thp: .never, ranges: 10, pages: 3, waitNs: 21 * second).collapses, 0, "THP never")
        // In always mode the mapping itself wakes khugepaged, at its mmap: the paced first
        // scan finds 8 empty ranges, the next (10 s on) carries on at the 9th.
        XCTAssertEqual(run(.paced, thp: .always, ranges: 10, pages: 3, waitNs: 11 * second).collapses, 2)
        XCTAssertEqual(run(.eager, thp: .always, ranges: 10, pages: 3, waitNs: 20_000_000).collapses, 10)
    }

    func testMaxPtesNone() {
        var strict = KhugepagedSettings()
        strict.maxPtesNone = 256
        XCTAssertEqual(run(.eager, ranges: 1, pages: 100, waitNs: 1, settings: strict).collapses, 0, "412 empty PTEs > 256")
        XCTAssertEqual(run(.eager, ranges: 1, pages: 300, waitNs: 1, settings: strict).collapses, 1, "212 empty PTEs")
    }

    func testPagesAForkWriteProtectedAreNotCollapsed() {
        // After a fork the parent's pages are write-protected: no writable page, no collapse
        // (and the child's VMA kept MADV_NOHUGEPAGE).
        XCTAssertEqual(run(.eager, ranges: 1, pages: 300, waitNs: 20_000_000, fork: false).collapses, 1)
        XCTAssertEqual(run(.eager, ranges: 1, pages: 300, waitNs: 20_000_000, fork: true).collapses, 0)
    }
}
