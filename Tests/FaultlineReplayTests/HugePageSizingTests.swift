// The hand-computed cases: a 1 GiB region written once per 2 MiB (sparse) and a
// 64 MiB region written every 4 KiB (dense), at each granule with THP never and always,
// and with explicit 2 MiB / 1 GiB pages. Both regions sit at addresses aligned to 1 GiB, so
// every huge size fits where the region is large enough.

import XCTest
@testable import FaultlineReplay

final class HugePageSizingTests: XCTestCase {
    let sparseBase: UInt64 = 1 * GiB
    let denseBase: UInt64 = 4 * GiB

    func sparse(_ c: ReplayConfig) -> ConfigResult {
        replay(c) { input in
            input.appendMapping(anonymous(sparseBase, 1 * GiB), name: "//anon")
            for i in 0..<UInt64(512) { input.appendAccess(sparseBase + i * 2 * MiB, .write) }
        }
    }

    func dense(_ c: ReplayConfig) -> ConfigResult {
        replay(c) { input in
            input.appendMapping(anonymous(denseBase, 64 * MiB), name: "//anon")
            for i in 0..<UInt64(16384) { input.appendAccess(denseBase + i * 4 * KiB, .write) }
        }
    }

    func check(_ c: ReplayConfig, sparse sf: UInt64, _ sr: UInt64, dense df: UInt64, _ dr: UInt64,
               file: StaticString = #filePath, line: UInt = #line) {
        let s = sparse(c), d = dense(c)
        XCTAssertEqual(s.faults(.anon), sf, "\(c) sparse faults", file: file, line: line)
        XCTAssertEqual(s.peakResidentBytes, sr, "\(c) sparse resident", file: file, line: line)
        XCTAssertEqual(d.faults(.anon), df, "\(c) dense faults", file: file, line: line)
        XCTAssertEqual(d.peakResidentBytes, dr, "\(c) dense resident", file: file, line: line)
        XCTAssertEqual(s.totalFaults, sf, file: file, line: line)
        XCTAssertEqual(d.totalFaults, df, file: file, line: line)
    }

    func test4K() {
        check(config(.k4, .never), sparse: 512, 2 * MiB, dense: 16384, 64 * MiB)
        // 2 MiB THPs: one per sparse write, holding the whole 1 GiB.
        check(config(.k4, .always), sparse: 512, 1 * GiB, dense: 32, 64 * MiB)
    }

    func test16K() {
        check(config(.k16, .never), sparse: 512, 8 * MiB, dense: 4096, 64 * MiB)
        // 32 MiB THPs: 16 sparse writes land in each, so 32 faults hold 1 GiB.
        check(config(.k16, .always), sparse: 32, 1 * GiB, dense: 2, 64 * MiB)
    }

    func test64K() {
        check(config(.k64, .never), sparse: 512, 32 * MiB, dense: 1024, 64 * MiB)
        // 512 MiB THPs: the 64 MiB region is too small for one and stays at 64 KiB pages.
        check(config(.k64, .always), sparse: 2, 1 * GiB, dense: 1024, 64 * MiB)
    }

    func testMadviseModeNeedsTheHint() {
        check(config(.k4, .madvise), sparse: 512, 2 * MiB, dense: 16384, 64 * MiB)
        let hinted = replay(config(.k4, .madvise)) { input in
            input.appendMapping(anonymous(denseBase, 64 * MiB), name: "//anon")
            input.append(.madvise(address: denseBase, length: 64 * MiB, advice: 14))   // MADV_HUGEPAGE
            for i in 0..<UInt64(16384) { input.appendAccess(denseBase + i * 4 * KiB, .write) }
        }
        XCTAssertEqual(hinted.faults(.anon), 32)
        let refused = replay(config(.k4, .always)) { input in
            input.appendMapping(anonymous(denseBase, 64 * MiB), name: "//anon")
            input.append(.madvise(address: denseBase, length: 64 * MiB, advice: 15))   // MADV_NOHUGEPAGE
            for i in 0..<UInt64(16384) { input.appendAccess(denseBase + i * 4 * KiB, .write) }
        }
        XCTAssertEqual(refused.faults(.anon), 16384)
    }

    func testExplicitHugePages() {
        check(config(.m2, .never), sparse: 512, 1 * GiB, dense: 32, 64 * MiB)
        // 1 GiB pages: the sparse region is one page; the dense one is too small and stays 4K.
        check(config(.g1, .never), sparse: 1, 1 * GiB, dense: 16384, 64 * MiB)
        // ... unless THP covers what 1 GiB pages cannot.
        check(config(.g1, .always), sparse: 1, 1 * GiB, dense: 32, 64 * MiB)
    }

    func testUnalignedRegionGetsNoHugePageAtItsEdges() {
        // 4 MiB + 8 KiB starting 4 KiB past a 2 MiB boundary: only the one 2 MiB range wholly
        // inside can be a THP; the rest is 4 KiB pages.
        let start = 2 * MiB + 4 * KiB
        let r = replay(config(.k4, .always)) { input in
            input.appendMapping(anonymous(start, 4 * MiB + 8 * KiB), name: "//anon")
            var a = start
            while a < start + 4 * MiB + 8 * KiB { input.appendAccess(a, .write); a += 4 * KiB }
        }
        // [2M+4K, 4M): 511 pages; [4M, 6M): one THP; [6M, 6M+12K): 3 pages.
        XCTAssertEqual(r.faults(.anon), 511 + 1 + 3)
        XCTAssertEqual(r.hugeBytesAtPeak, 2 * MiB)
    }
}
