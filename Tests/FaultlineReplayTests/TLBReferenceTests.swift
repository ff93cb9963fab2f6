// The TLB model against the reference simulator (TLBReference.swift): every preset and a
// few odd hierarchies, under every replacement policy and every inclusion mode, on seeded
// random, sequential, strided and set-conflict traces with several address spaces and
// flushes, must agree exactly on hits and misses per array, walks and walk memory accesses.

import XCTest
import FaultlineCore
@testable import FaultlineReplay

/// One event of a generated trace.
enum TLBTraceOp {
    case access(asid: Int32, address: UInt64, pageShift: Int, instruction: Bool)
    case flush(asid: Int32, start: UInt64, end: UInt64)
    case flushAll(asid: Int32)
}

/// Trace shapes over three regions: base pages, huge pages (the layout's PMD size) and the
/// largest pages (the level above), so every page size a preset holds is exercised.
struct TLBTraceShapes {
    let layout: PageTableLayout
    var base: Int { layout.granuleShift }
    var huge: Int { layout.entryShift(layout.leafLevel - 1) }
    var giant: Int { layout.entryShift(layout.leafLevel - 2) }
    let baseRegion: UInt64 = 0x7f00_0000_0000
    var hugeRegion: UInt64 { UInt64(1) << 40 }
    var giantRegion: UInt64 { UInt64(1) << 44 }
    let codeRegion: UInt64 = 0x40_0000

    /// xorshift64*, seeded: the same trace on every run.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
        mutating func below(_ n: UInt64) -> UInt64 { next() % n }
    }

    func code(_ r: inout Random, asid: Int32) -> TLBTraceOp {
        .access(asid: asid, address: codeRegion + r.below(64 << base), pageShift: base, instruction: true)
    }

    func flushes(_ r: inout Random, _ i: Int, asids: [Int32]) -> TLBTraceOp? {
        if i % 1500 == 1499 { return .flushAll(asid: asids[Int(r.below(UInt64(asids.count)))]) }
        if i % 300 == 299 {
            let start = baseRegion + (r.below(4096) << base)
            return .flush(asid: asids[Int(r.below(UInt64(asids.count)))], start: start, end: start + (r.below(40) + 1) * 4096)
        }
        return nil
    }

    /// Uniform over 16384 base pages, 256 huge pages and 4 giant ones, with fetches.
    func random(count: Int, seed: UInt64) -> [TLBTraceOp] {
        var r = Random(state: seed | 1)
        let asids: [Int32] = [1, 2, 7]
        var ops: [TLBTraceOp] = []
        for i in 0..<count {
            let asid = asids[Int(r.below(3))]
            if let f = flushes(&r, i, asids: asids) { ops.append(f) }
            switch r.below(10) {
            case 0..<5: ops.append(.access(asid: asid, address: baseRegion + r.below(16384 << base), pageShift: base, instruction: false))
            case 5..<7: ops.append(.access(asid: asid, address: hugeRegion + r.below(256 << huge), pageShift: huge, instruction: false))
            case 7: ops.append(.access(asid: asid, address: giantRegion + r.below(4 << giant), pageShift: giant, instruction: false))
            default: ops.append(code(&r, asid: asid))
            }
        }
        return ops
    }

    /// Two processes sweeping 3000 base pages and 40 huge pages in order, 512 bytes a step.
    func sequential(count: Int, seed: UInt64) -> [TLBTraceOp] {
        var r = Random(state: seed | 1)
        var ops: [TLBTraceOp] = []
        for i in 0..<count {
            let asid: Int32 = i % 2000 < 1000 ? 1 : 2
            if let f = flushes(&r, i, asids: [1, 2]) { ops.append(f) }
            let step = UInt64(i) * 512
            // Flushes of the page being swept, between two accesses to it (i and i - 1 are
            // both base-page accesses to one page when i is 2 or 3 modulo 8, 5 and 7).
            let page = (baseRegion + step % (3000 << base)) & ~4095
            if i % 280 == 2 { ops.append(.flush(asid: asid, start: page, end: page + 4096)) }
            if i % 280 == 3 && i % 3 == 0 { ops.append(.flushAll(asid: asid)) }
            if i % 7 == 6 {
                ops.append(code(&r, asid: asid))
            } else if i % 5 == 4 {
                ops.append(.access(asid: asid, address: hugeRegion + (step * 1024) % (40 << huge), pageShift: huge, instruction: false))
            } else {
                ops.append(.access(asid: asid, address: baseRegion + step % (3000 << base), pageShift: base, instruction: false))
            }
        }
        return ops
    }

    /// Fixed strides that are not powers of two, over many pages: each set in turn.
    func strided(count: Int, seed: UInt64) -> [TLBTraceOp] {
        var r = Random(state: seed | 1)
        var ops: [TLBTraceOp] = []
        for i in 0..<count {
            let asid: Int32 = i % 3 == 0 ? 3 : 4
            if let f = flushes(&r, i, asids: [3, 4]) { ops.append(f) }
            let n = UInt64(i)
            if i % 4 == 3 {
                ops.append(.access(asid: asid, address: hugeRegion + ((n * 3) % 700) << huge, pageShift: huge, instruction: false))
            } else if i % 11 == 10 {
                ops.append(code(&r, asid: asid))
            } else {
                ops.append(.access(asid: asid, address: baseRegion + ((n * 17) % 9001) << base, pageShift: base, instruction: i % 13 == 0))
            }
        }
        return ops
    }

    /// A few more pages than any array has ways, all in the same set of every array,
    /// cycled: the trace where inclusion decides nearly everything.
    func conflict(count: Int, seed: UInt64, spec: TLBSpec) -> [TLBTraceOp] {
        var r = Random(state: seed | 1)
        var stride: UInt64 = 1
        for l in spec.levels {
            let sets = UInt64(l.entries / l.ways)
            stride = stride / gcd(stride, sets) * sets
        }
        let pages = UInt64(spec.levels.map(\.ways).max()! + 3)
        var ops: [TLBTraceOp] = []
        for i in 0..<count {
            let asid: Int32 = i % 500 < 450 ? 5 : 6
            if i % 997 == 996 { ops.append(.flushAll(asid: 5)) }
            let n = UInt64(i)
            switch i % 10 {
            case 9: ops.append(.access(asid: asid, address: hugeRegion + ((n % pages) * stride) << huge, pageShift: huge, instruction: false))
            case 8: ops.append(.access(asid: asid, address: codeRegion + ((n % pages) * stride) << base, pageShift: base, instruction: true))
            default:
                // Mostly in order, sometimes a random one of the conflicting pages.
                let p = r.below(8) == 0 ? r.below(pages) : n % pages
                ops.append(.access(asid: asid, address: baseRegion + (p * stride) << base, pageShift: base, instruction: false))
            }
        }
        return ops
    }

    func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 { b == 0 ? a : gcd(b, a % b) }
}

final class TLBReferenceTests: XCTestCase {
    /// Hierarchies no preset has: three tiers, smashing in both tiers, non-power-of-two
    /// ways, split L2, a page size only one tier holds, more than 64 ways.
    static let odd: [TLBSpec] = [
        TLBSpec(name: "three-tier", levels: [
            TLBLevelSpec(name: "L1I", entries: 6, ways: 3, pageSizes: [4 << 10], replacement: .lru),
            TLBLevelSpec(name: "L1D", entries: 12, ways: 6, pageSizes: [4 << 10, 2 << 20], replacement: .lru),
            TLBLevelSpec(name: "L2", entries: 40, ways: 5, pageSizes: [4 << 10, 2 << 20, 1 << 30], replacement: .lru, smashTo: 2 << 20),
            TLBLevelSpec(name: "L3", entries: 96, ways: 12, pageSizes: [4 << 10, 1 << 30], replacement: .lru, tier: 3),
        ], walkCacheEntries: [8, 2], walkAccessCycles: (min: 1, max: 10), seed: 99),
        TLBSpec(name: "split-l2-smash", levels: [
            TLBLevelSpec(name: "L1I", entries: 8, ways: 8, pageSizes: [4 << 10, 2 << 20, 1 << 30], replacement: .lru),
            TLBLevelSpec(name: "L1D", entries: 10, ways: 10, pageSizes: [4 << 10, 2 << 20, 1 << 30], replacement: .lru),
            TLBLevelSpec(name: "L2I", entries: 24, ways: 3, pageSizes: [4 << 10, 2 << 20, 1 << 30], replacement: .lru, smashTo: 4 << 10),
            TLBLevelSpec(name: "L2D", entries: 48, ways: 6, pageSizes: [4 << 10, 2 << 20, 1 << 30], replacement: .lru, smashTo: 2 << 20),
        ], walkCacheEntries: [4, 2, 1], walkAccessCycles: (min: 2, max: 9), seed: 0),
        // More than 64 ways: tree-PLRU state spans several words.
        TLBSpec(name: "wide", levels: [
            TLBLevelSpec(name: "L1D", entries: 96, ways: 96, pageSizes: [4 << 10, 2 << 20], replacement: .lru),
            TLBLevelSpec(name: "L2", entries: 400, ways: 200, pageSizes: [4 << 10, 2 << 20, 1 << 30], replacement: .lru),
        ], walkCacheEntries: [40, 3], walkAccessCycles: (min: 1, max: 5), seed: 5),
    ]

    static let layouts: [PageTableLayout] = [.x86_64_4level, .x86_64_5level, .arm64_16k, .arm64_64k]

    func withPolicy(_ spec: TLBSpec, _ policy: Replacement, _ inclusion: TLBInclusion) -> TLBSpec {
        var s = spec
        s.levels = s.levels.map { var l = $0; l.replacement = policy; return l }
        s.inclusion = inclusion
        return s
    }

    func results(_ spec: TLBSpec, _ layout: PageTableLayout, _ ops: [TLBTraceOp]) -> (fast: [UInt64], reference: [UInt64]) {
        let fast = TLBHierarchy(spec: spec, layout: layout)
        let ref = RefTLB(spec: spec, layout: layout)
        for op in ops {
            switch op {
            case let .access(asid, address, shift, instruction):
                fast.access(asid: asid, address: address, pageShift: shift, instruction: instruction)
                ref.access(asid: asid, address: address, pageShift: shift, instruction: instruction)
            case let .flush(asid, start, end):
                fast.flush(asid: asid, start: start, end: end)
                ref.flush(asid: asid, start: start, end: end)
            case let .flushAll(asid):
                fast.flush(asid: asid)
                ref.flush(asid: asid)
            }
        }
        let r = fast.result
        return (r.levels.flatMap { [$0.hits, $0.misses] } + [r.accesses, r.walks, r.walkMemoryAccesses],
                ref.levelCounts.flatMap { $0 } + [ref.accesses, ref.walks, ref.walkMemoryAccesses])
    }

    func testAgreesWithTheReferenceSimulator() {
        var comparisons = 0
        var walksByInclusion: [TLBInclusion: UInt64] = [:]
        for (n, base) in (TLBPresets.all + Self.odd).enumerated() {
            let layout = Self.layouts[n % Self.layouts.count]
            let shapes = TLBTraceShapes(layout: .x86_64_4level)
            for policy in Replacement.allCases {
                for inclusion in TLBInclusion.allCases {
                    let spec = withPolicy(base, policy, inclusion)
                    let seed = UInt64(n * 100 + comparisons)
                    let traces: [(String, [TLBTraceOp], PageTableLayout)] = [
                        ("random", shapes.random(count: 2000, seed: seed), .x86_64_4level),
                        ("sequential", shapes.sequential(count: 2000, seed: seed), .x86_64_4level),
                        ("strided", shapes.strided(count: 2000, seed: seed), .x86_64_4level),
                        ("conflict", shapes.conflict(count: 2000, seed: seed, spec: spec), .x86_64_4level),
                        ("random on \(layout.name)", TLBTraceShapes(layout: layout).random(count: 1000, seed: seed), layout),
                    ]
                    for (shape, ops, layout) in traces {
                        let (fast, reference) = results(spec, layout, ops)
                        XCTAssertEqual(fast, reference, "\(spec.name) \(policy) \(inclusion.rawValue) \(shape)")
                        if shape == "conflict" { walksByInclusion[inclusion, default: 0] += fast[fast.count - 2] }
                        comparisons += 1
                    }
                }
            }
        }
        // The independent check compared 64 spec × trace pairs; this one compares more.
        XCTAssertGreaterThanOrEqual(comparisons, 64)
        // The modes must differ where they should: on conflict traces exclusive tiers hold
        // more and walk less; inclusive ones walk at least as often as non-inclusive ones.
        let non = walksByInclusion[.nonInclusive] ?? 0
        XCTAssertLessThan(walksByInclusion[.exclusive] ?? 0, non)
        XCTAssertGreaterThan(walksByInclusion[.inclusive] ?? 0, non)
    }

    /// The reference must be able to disagree: a model with one policy changed is caught.
    func testTheComparisonCatchesADifferentPolicy() {
        let shapes = TLBTraceShapes(layout: .x86_64_4level)
        let ops = shapes.conflict(count: 2000, seed: 3, spec: TLBPresets.skylake)
        let fast = TLBHierarchy(spec: withPolicy(TLBPresets.skylake, .lru, .nonInclusive), layout: .x86_64_4level)
        let ref = RefTLB(spec: withPolicy(TLBPresets.skylake, .plru, .nonInclusive), layout: .x86_64_4level)
        for case let .access(asid, address, shift, instruction) in ops {
            fast.access(asid: asid, address: address, pageShift: shift, instruction: instruction)
            ref.access(asid: asid, address: address, pageShift: shift, instruction: instruction)
        }
        XCTAssertNotEqual(fast.result.levels.map(\.misses), ref.levelCounts.map { $0[1] })
    }
}
