// TLB replacement against sequences worked by hand: cyclic access over N pages in a fully
// associative LRU TLB of E entries, and a tree-PLRU sequence that LRU would answer
// differently.

import XCTest
import FaultlineAddressSpace
import FaultlineCore
@testable import FaultlineReplay

final class TLBTests: XCTestCase {
    let base: UInt64 = 1 * GiB

    func cyclic(pages: Int, rounds: Int, tlb: TLBSpec) -> TLBResult {
        replay(config(.k4, .never), tlb: tlb) { input in
            input.appendMapping(anonymous(base, 1 * MiB), name: "//anon")
            for _ in 0..<rounds { for i in 0..<UInt64(pages) { input.appendAccess(base + i * 4 * KiB, .read) } }
        }.tlb!
    }

    func testCyclicWithinCapacityMissesOncePerPage() {
        let r = cyclic(pages: 8, rounds: 10, tlb: oneLevelTLB(entries: 8, ways: 8, replacement: .lru))
        XCTAssertEqual(r.levels[0].misses, 8)
        XCTAssertEqual(r.levels[0].hits, 72)
        XCTAssertEqual(r.walks, 8)
    }

    func testCyclicOneOverCapacityAlwaysMisses() {
        let r = cyclic(pages: 9, rounds: 10, tlb: oneLevelTLB(entries: 8, ways: 8, replacement: .lru))
        XCTAssertEqual(r.levels[0].misses, 90)
        XCTAssertEqual(r.levels[0].hits, 0)
    }

    /// A, B, C, D fill a 4-way set; A is touched; E comes. Tree-PLRU points away from A and
    /// D's pair, evicting C; LRU evicts B. Then B and C are asked for.
    func sequence(_ replacement: Replacement) -> TLBLevelResult {
        let pages: [UInt64] = [0, 1, 2, 3, 0, 4, 1, 2]
        return replay(config(.k4, .never), tlb: oneLevelTLB(entries: 4, ways: 4, replacement: replacement)) { input in
            input.appendMapping(anonymous(base, 1 * MiB), name: "//anon")
            for p in pages { input.appendAccess(base + p * 4 * KiB, .read) }
        }.tlb!.levels[0]
    }

    func testTreePLRUSequence() {
        let plru = sequence(.plru)
        XCTAssertEqual(plru.hits, 2)      // A, and B (C was the victim)
        XCTAssertEqual(plru.misses, 6)
        let lru = sequence(.lru)
        XCTAssertEqual(lru.hits, 1)       // only A: E evicted B, B evicted C
        XCTAssertEqual(lru.misses, 7)
    }

    func testNonPowerOfTwoPLRUNeverPicksAMissingWay() {
        // 3 ways: the victim tree has 4 leaves; the 4th must never be chosen.
        let spec = oneLevelTLB(entries: 3, ways: 3, replacement: .plru)
        let r = cyclic(pages: 3, rounds: 5, tlb: spec)
        XCTAssertEqual(r.levels[0].misses, 3)
        let over = cyclic(pages: 4, rounds: 50, tlb: spec)
        XCTAssertEqual(over.levels[0].hits + over.levels[0].misses, 200)
    }

    func testSecondTierAndWalkCost() {
        // L1 of 2 entries, L2 of 16: 8 pages cycled miss L1 every time after the first round
        // but hit L2; only the first round walks. Each walk reads 4 levels minus what the walk
        // cache (PMD entry) saves: the first walk 4 accesses, the other 7 share the PMD entry: 1.
        let spec = TLBSpec(name: "two", levels: [
            TLBLevelSpec(name: "L1D", entries: 2, ways: 2, pageSizes: [4096], replacement: .lru),
            TLBLevelSpec(name: "L2", entries: 16, ways: 16, pageSizes: [4096], replacement: .lru),
        ], walkCacheEntries: [4], walkAccessCycles: (min: 2, max: 100))
        let r = cyclic(pages: 8, rounds: 3, tlb: spec)
        XCTAssertEqual(r.levels[0].misses, 24)
        XCTAssertEqual(r.levels[1].misses, 8)
        XCTAssertEqual(r.levels[1].hits, 16)
        XCTAssertEqual(r.walks, 8)
        XCTAssertEqual(r.walkMemoryAccesses, 4 + 7)
        XCTAssertEqual(r.walkCyclesMin, 22)
        XCTAssertEqual(r.walkCyclesMax, 1100)
    }

    func testHugePagesReachFurther() {
        // 64 pages of 4 KiB in one THP: one TLB entry covers them all.
        let spec = TLBSpec(name: "t", levels: [
            TLBLevelSpec(name: "L1D", entries: 4, ways: 4, pageSizes: [4096, 2 * MiB], replacement: .lru),
        ], walkCacheEntries: [], walkAccessCycles: (min: 1, max: 1))
        let base = self.base
        let run = { (thp: THPMode) in
            replay(config(.k4, thp), tlb: spec) { input in
                input.appendMapping(anonymous(base, 2 * MiB), name: "//anon")
                for _ in 0..<2 { for i in 0..<UInt64(64) { input.appendAccess(base + i * 4 * KiB, .write) } }
            }.tlb!.levels[0]
        }
        XCTAssertEqual(run(.never).misses, 128)
        XCTAssertEqual(run(.always).misses, 1)
    }

    func testMunmapFlushes() {
        let r = replay(config(.k4, .never), tlb: oneLevelTLB(entries: 8, ways: 8, replacement: .lru)) { input in
            input.appendMapping(anonymous(base, 1 * MiB), name: "//anon")
            input.appendAccess(base, .write)
            input.appendAccess(base, .read)
            input.append(.munmap(address: base, length: 1 * MiB))
            input.appendMapping(anonymous(base, 1 * MiB), name: "//anon")
            input.appendAccess(base, .read)
        }
        XCTAssertEqual(r.tlb!.levels[0].misses, 2)
        XCTAssertEqual(r.faults(.anon), 1)
        XCTAssertEqual(r.faults(.zero), 1)
    }

    func testPresetsAreValid() {
        for p in TLBPresets.all { XCTAssertEqual(p.problems(), [], p.name) }
        XCTAssertEqual(TLBPresets.skylake.levels.first { $0.name.hasPrefix("STLB 4k") }?.entries, 1536)
    }
}
