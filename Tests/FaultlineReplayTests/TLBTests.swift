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
        // A, B, C, D cycled 50 times. The first round fills ways 0-2 and D evicts A (the
        // root points left after C, the left pair at A). From then on each round goes:
        // A misses (victim C: the root points right after D's touch of way 0, and the right
        // pair is forced to its real way), B hits, C misses (victim A, in way 2 again), D
        // hits in way 0. So 2 hits a round after the first: 98 of 200. A tree that could
        // pick the missing 4th way would hold all four pages: 196 hits.
        let over = cyclic(pages: 4, rounds: 50, tlb: spec)
        XCTAssertEqual(over.levels[0].hits, 98)
        XCTAssertEqual(over.levels[0].misses, 102)
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

/// Inclusion policies on sequences worked by hand (TLBInclusion's documentation), driving
/// the hierarchy directly: one data L1 above one L2, both fully associative LRU.
final class TLBInclusionTests: XCTestCase {
    static let k4: UInt64 = 4096, m2: UInt64 = 2 << 20, g1: UInt64 = 1 << 30

    func hierarchy(l1: Int, l2: Int, _ inclusion: TLBInclusion,
                   l1Sizes: [UInt64] = [k4], l2Sizes: [UInt64] = [k4], smash: UInt64? = nil) -> TLBHierarchy {
        TLBHierarchy(spec: TLBSpec(name: "t", levels: [
            TLBLevelSpec(name: "L1D", entries: l1, ways: l1, pageSizes: l1Sizes, replacement: .lru),
            TLBLevelSpec(name: "L2", entries: l2, ways: l2, pageSizes: l2Sizes, replacement: .lru, smashTo: smash),
        ], walkCacheEntries: [], walkAccessCycles: (min: 1, max: 1), inclusion: inclusion), layout: .x86_64_4level)
    }

    func run(_ t: TLBHierarchy, pages: [UInt64], shift: Int = 12) -> TLBResult {
        for p in pages { t.access(asid: 1, address: p << UInt64(shift), pageShift: shift, instruction: false) }
        return t.result
    }

    /// L1 and L2 of 2 entries; A B A C A. A's L1 hit is unseen by the L2, so C evicts A from
    /// the L2: inclusive back-invalidates it from the L1 and the last A walks; non-inclusive
    /// keeps it in the L1 (which evicted B instead).
    func testInclusiveBackInvalidatesWhatTheL2Evicts() {
        let seq: [UInt64] = [10, 11, 10, 12, 10]
        let inclusive = run(hierarchy(l1: 2, l2: 2, .inclusive), pages: seq)
        XCTAssertEqual(inclusive.walks, 4)
        XCTAssertEqual(inclusive.levels[0].hits, 1)
        let non = run(hierarchy(l1: 2, l2: 2, .nonInclusive), pages: seq)
        XCTAssertEqual(non.walks, 3)
        XCTAssertEqual(non.levels[0].hits, 2)
        XCTAssertEqual(non.levels[1].misses, 3)
    }

    /// L1 of 1, L2 of 2: three pages cycled fit in the two tiers together only when they
    /// are exclusive. Exclusive walks 3 times in all; the others walk on every access.
    func testExclusiveTiersHoldTheirSum() {
        let cycle: [UInt64] = (0..<30).map { UInt64($0 % 3 + 1) }
        let exclusive = run(hierarchy(l1: 1, l2: 2, .exclusive), pages: cycle)
        XCTAssertEqual(exclusive.walks, 3)
        XCTAssertEqual(exclusive.levels[1].hits, 27)
        XCTAssertEqual(exclusive.levels[1].misses, 3)
        for mode in [TLBInclusion.nonInclusive, .inclusive] {
            XCTAssertEqual(run(hierarchy(l1: 1, l2: 2, mode), pages: cycle).walks, 30, mode.rawValue)
        }
    }

    /// Exclusive: a walk fills the L1 only, so a page touched once and pushed out of the L1
    /// is found in the L2 (moved down), and then is no longer there (moved up).
    func testExclusiveMovesDownThenUp() {
        let t = hierarchy(l1: 1, l2: 4, .exclusive)
        _ = run(t, pages: [1, 2])          // 1 moves down when 2 fills the L1
        XCTAssertEqual(t.result.levels[1].misses, 2)
        _ = run(t, pages: [1])             // L2 hit: 1 up, 2 down
        XCTAssertEqual(t.result.levels[1].hits, 1)
        _ = run(t, pages: [2, 2])          // L2 hit, then an L1 hit
        XCTAssertEqual(t.result.levels[1].hits, 2)
        XCTAssertEqual(t.result.levels[0].hits, 1)
        XCTAssertEqual(t.result.walks, 2)
    }

    /// Smashing (AMD's 1G pages held as 2M entries in the L2) under inclusion: the L2 piece
    /// of a 1G page is evicted, and the L1's whole 1G entry goes with it.
    func testInclusiveSmashInvalidatesTheWholeLargerEntry() {
        let sizes = [Self.k4, Self.g1]
        let make = { (mode: TLBInclusion) in self.hierarchy(l1: 2, l2: 1, mode, l1Sizes: sizes, l2Sizes: sizes, smash: Self.m2) }
        for (mode, walks) in [(TLBInclusion.inclusive, UInt64(3)), (.nonInclusive, 2)] {
            let t = make(mode)
            t.access(asid: 1, address: 4 * Self.g1, pageShift: 30, instruction: false)
            t.access(asid: 1, address: 4 * Self.g1 + 5 * Self.m2, pageShift: 30, instruction: false)  // L1 hit: the 1G entry
            t.access(asid: 1, address: 0x7000, pageShift: 12, instruction: false)                     // the L2 evicts the 2M piece
            t.access(asid: 1, address: 4 * Self.g1, pageShift: 30, instruction: false)
            XCTAssertEqual(t.result.walks, walks, mode.rawValue)
        }
    }

    /// Exclusive with smashing: a 1G entry leaving the L1 moves down as the 2M piece holding
    /// the address that filled it; asking for that piece finds it, another piece walks.
    func testExclusiveSmashKeepsThePieceThatWasUsed() {
        let sizes = [Self.k4, Self.g1]
        for (offset, walks) in [(3 * Self.m2 + 100, UInt64(2)), (0, 3)] {
            let t = hierarchy(l1: 1, l2: 2, .exclusive, l1Sizes: sizes, l2Sizes: sizes, smash: Self.m2)
            t.access(asid: 1, address: 4 * Self.g1 + 3 * Self.m2 + 5, pageShift: 30, instruction: false)
            t.access(asid: 1, address: 0x7000, pageShift: 12, instruction: false)
            t.access(asid: 1, address: 4 * Self.g1 + offset, pageShift: 30, instruction: false)
            XCTAssertEqual(t.result.walks, walks, "offset \(offset)")
        }
    }

    /// A page size the L2 does not hold: the L1 holds it on its own in every mode.
    func testAPageSizeOneTierLacksSkipsIt() {
        for mode in TLBInclusion.allCases {
            let t = hierarchy(l1: 2, l2: 2, mode, l1Sizes: [Self.k4, Self.m2], l2Sizes: [Self.k4])
            let r = run(t, pages: [1, 1, 2, 1], shift: 21)
            XCTAssertEqual(r.walks, 2, mode.rawValue)
            XCTAssertEqual(r.levels[0].hits, 2, mode.rawValue)
            XCTAssertEqual(r.levels[1].hits + r.levels[1].misses, 0, mode.rawValue)
        }
    }

    /// Issue 9: `S fffffffffffff000,8` in a trace. The TLB takes the last page of the
    /// address space (and a flush whose end wraps past it) in every preset and mode.
    func testTheTopOfTheAddressSpace() {
        for preset in TLBPresets.all {
            for mode in TLBInclusion.allCases {
                var spec = preset
                spec.inclusion = mode
                for layout in [PageTableLayout.x86_64_4level, .x86_64_5level, .arm64_64k] {
                    let t = TLBHierarchy(spec: spec, layout: layout)
                    for shift in [12, 16, 21, 29, 30] {
                        t.access(asid: 3, address: 0xffff_ffff_ffff_f000, pageShift: shift, instruction: false)
                        t.access(asid: 3, address: .max, pageShift: shift, instruction: true)
                    }
                    t.flush(asid: 3, start: 0xffff_ffff_ffff_f000, end: 0xffff_ffff_ffff_f000 &+ 8192)
                    t.flush(asid: 3, start: 0xffff_ffff_ffff_e000, end: .max)
                    t.access(asid: 3, address: 0xffff_ffff_ffff_f000, pageShift: 12, instruction: false)
                    XCTAssertEqual(t.result.accesses, 11, "\(preset.name) \(mode)")
                }
            }
        }
    }

    func testPresetsAreNonInclusiveAsNoVendorSaysOtherwise() {
        for p in TLBPresets.all { XCTAssertEqual(p.inclusion, .nonInclusive, p.name) }
    }
}
