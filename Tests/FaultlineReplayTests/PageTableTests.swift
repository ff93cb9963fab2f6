// Page-table pages per level for known layouts, counted by hand from each layout's
// coverage: an x86-64 4K PTE table maps 2 MiB, a PMD table 1 GiB; arm64 16K tables map
// 32 MiB and 64 GiB; arm64 64K tables map 512 MiB and 4 TiB.

import XCTest
@testable import FaultlineReplay

final class PageTableTests: XCTestCase {
    let base: UInt64 = 4 * GiB

    func dense(_ c: ReplayConfig) -> ConfigResult {
        replay(c) { input in
            input.appendMapping(anonymous(base, 64 * MiB), name: "//anon")
            for i in 0..<UInt64(16384) { input.appendAccess(base + i * 4 * KiB, .write) }
        }
    }

    func testX86FourLevel() {
        let r = dense(config(.k4, .never))
        XCTAssertEqual(r.pageTableLevels.map(\.name), ["pgd", "pud", "pmd", "pte"])
        XCTAssertEqual(r.pageTableLevels.map(\.peakPages), [1, 1, 1, 32])
        XCTAssertEqual(r.pageTablePeakPages, 35)
        XCTAssertEqual(r.pageTablePeakBytes, 35 * 4096)
    }

    func testX86FiveLevel() {
        let r = dense(config(.k4, .never, layout: .x86_64_5level))
        XCTAssertEqual(r.pageTableLevels.map(\.peakPages), [1, 1, 1, 1, 32])
    }

    func testTHPNeedsNoPTETablesButDepositsOne() {
        let r = dense(config(.k4, .always))
        XCTAssertEqual(r.pageTableLevels.map(\.peakPages), [1, 1, 1, 0])
        XCTAssertEqual(r.depositedPeak, 32)
        XCTAssertEqual(r.pageTablePeakPages, 3 + 32)
    }

    func testArm64Granules() {
        XCTAssertEqual(dense(config(.k16, .never)).pageTableLevels.map(\.peakPages), [1, 1, 1, 2])
        XCTAssertEqual(dense(config(.k64, .never)).pageTableLevels.map(\.peakPages), [1, 1, 1])
        XCTAssertEqual(dense(config(.k64, .never)).pageTablePeakBytes, 3 * 64 * KiB)
    }

    func testSparseGigabyteNeedsOnePTETablePerTwoMiB() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(1 * GiB, 1 * GiB), name: "//anon")
            for i in 0..<UInt64(512) { input.appendAccess(1 * GiB + i * 2 * MiB, .write) }
        }
        XCTAssertEqual(r.pageTableLevels.map(\.peakPages), [1, 1, 1, 512])
    }

    /// Sixteen pages mapped, written and unmapped ten times, each time 513 GiB further on,
    /// at an offset inside a PTE table's 2 MiB: each munmap frees the tables over its range
    /// at every level, though its range starts and ends inside them (free_pgtables), so no
    /// more than one table of each level is ever held.
    func testAMunmapInsideItsTablesFreesThemAtEveryLevel() {
        let r = replay(config(.k4, .never)) { input in
            for i in 0..<UInt64(10) {
                let at = base + i * 513 * GiB + 0x3000
                input.appendMapping(anonymous(at, 64 * KiB), name: "//anon")
                for page in 0..<UInt64(16) { input.appendAccess(at + page * 4 * KiB, .write) }
                input.append(.munmap(address: at, length: 64 * KiB))
            }
        }
        XCTAssertEqual(r.faults(.anon), 160)
        XCTAssertEqual(r.pageTableLevels.map(\.peakPages), [1, 1, 1, 1])
    }

    func testMunmapFreesTablesDontneedKeepsThem() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(base, 4 * MiB), name: "//anon")
            input.appendAccess(base, .write)
            input.appendAccess(base + 2 * MiB, .write)
            input.append(.madvise(address: base, length: 4 * MiB, advice: 4))     // DONTNEED: pages go, tables stay
            input.appendAccess(base, .write)             // faults again
            input.append(.munmap(address: base, length: 4 * MiB))          // tables go
            input.appendMapping(anonymous(base + 8 * MiB, 2 * MiB), name: "//anon")
            input.appendAccess(base + 8 * MiB, .write)
        }
        XCTAssertEqual(r.faults(.anon), 4)
        XCTAssertEqual(r.pageTableLevels.map(\.peakPages), [1, 1, 1, 2])
        XCTAssertEqual(r.finalResidentBytes, 4 * KiB)
    }
}
