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

    /// A piece that may not have a THP costs the scan one unit of pages_to_scan, as the
    /// kernel's `skip: progress++`, and the scan starts at its cursor's piece: with
    /// pages_to_scan 600, 200 small MADV_NOHUGEPAGE mappings below an eligible range leave
    /// the first wake 400 units, too few for the range's 512 pages; the next wake, 10 s on,
    /// starts at the range and collapses it. (Free, the skipped pieces let every wake walk
    /// all of them.)
    func testPiecesThatMayNotCollapseCostTheScan() {
        func run(waitNs: UInt64) -> ConfigResult {
            var input = ReplayInput()
            input.khugepaged.pagesToScan = 600
            let small = 2 * GiB
            for i in 0..<UInt64(200) {
                input.appendMapping(anonymous(small + i * 8 * KiB, 4 * KiB), name: "//small")
                input.append(.madvise(address: small + i * 8 * KiB, length: 4 * KiB, advice: Advice.noHugePage))
            }
            input.appendMapping(anonymous(4 * GiB, 2 * MiB), name: "//anon")
            input.append(.madvise(address: 4 * GiB, length: 2 * MiB, advice: Advice.noHugePage))
            for i in 0..<UInt64(3) { input.appendAccess(4 * GiB + i * 4 * KiB, .write) }
            input.append(.madvise(address: 4 * GiB, length: 2 * MiB, advice: Advice.hugePage))
            input.advance(by: waitNs)
            input.appendAccess(4 * GiB + 100 * 4 * KiB, .read)
            return ReplayEngine(config: config(.k4, .madvise), input: input, khugepaged: .paced).run()
        }
        XCTAssertEqual(run(waitNs: 5 * second).collapses, 0, "the first wake spent its budget on the 200 pieces")
        XCTAssertEqual(run(waitNs: 11 * second).collapses, 1)
    }

    /// khugepaged's clock starts when a piece may first hold a THP, whichever change made it
    /// so: a new mapping (always mode), MADV_HUGEPAGE (madvise mode), or the THP prctl let go
    /// (here: memory written under PR_SET_THP_DISABLE, then the prctl cleared 5 s before the
    /// last access: the eager model's wakes after it collapse the three written ranges; the
    /// mapping alone, under the prctl, started nothing).
    func testTheClockStartsWhenThePrctlLetsTHPsIn() {
        func run(clearing: Bool) -> ConfigResult {
            var input = ReplayInput()
            input.append(.thpDisable(.all))
            input.appendMapping(anonymous(base, 64 * MiB), name: "//anon")
            for r in 0..<UInt64(3) {
                for i in 0..<UInt64(4) { input.appendAccess(base + r * 2 * MiB + i * 4 * KiB, .write) }
            }
            if clearing { input.append(.thpDisable(.none)) }
            input.advance(by: 5 * second)
            input.appendAccess(base + 63 * MiB, .read)
            return ReplayEngine(config: config(.k4, .always), input: input, khugepaged: .eager).run()
        }
        XCTAssertEqual(run(clearing: false).collapses, 0)
        XCTAssertEqual(run(clearing: true).collapses, 3)
    }

    /// A heap grown by brk is a new piece that may hold a THP: a process whose only memory is
    /// its heap starts the clock at its first growth. Four pages written while the heap is
    /// 1 MiB (no THP fits) stay base pages; once it has grown to 8 MiB, an eager wake
    /// collapses their 2 MiB range.
    func testAHeapGrownByBrkStartsTheClock() {
        let heap: UInt64 = 0x5555_0000_0000
        var input = ReplayInput()
        input.mappings.append(ReplayInput.Mapping(vma: anonymous(0, 0), name: "[heap]", pid: 1))
        input.heapRows[0] = 0
        input.append(.brk(requested: 0, result: heap))
        input.append(.brk(requested: 0, result: heap + 1 * MiB))
        for i in 0..<UInt64(4) { input.appendAccess(heap + i * 4 * KiB, .write) }
        input.append(.brk(requested: 0, result: heap + 8 * MiB))
        input.advance(by: 5 * second)
        input.appendAccess(heap + 7 * MiB, .read)
        XCTAssertEqual(ReplayEngine(config: config(.k4, .madvise), input: input, khugepaged: .eager).run().collapses, 0,
                       "madvise mode, no MADV_HUGEPAGE: nothing may collapse")
        XCTAssertEqual(ReplayEngine(config: config(.k4, .always), input: input, khugepaged: .eager).run().collapses, 1)
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
