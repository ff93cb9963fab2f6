// PageMap against a Dictionary on seeded random operations, single keys, runs and ranges, on
// sparse keys (one per block) and dense ones (runs filling blocks), with values of every
// kind or of only two (so that blocks take each of the three forms, and move between them):
// the replay's counts are only as right as its map.

import XCTest
import FaultlineTestSupport
@testable import FaultlineReplay

final class PageMapTests: XCTestCase {
    /// Runs `steps` random operations drawing keys from `key` and values from 1...`values`,
    /// checking every answer.
    func check(steps: Int, seed: UInt64, values: UInt64 = 255, key: (inout SeededGenerator) -> UInt64) {
        var rng = SeededGenerator(seed: seed)
        var map = PageMap(capacity: Int(rng.next() % 3000))
        var reference: [UInt64: UInt8] = [:]
        defer { map.destroy() }
        func sameContents(_ m: PageMap, _ r: [UInt64: UInt8], _ note: String) {
            XCTAssertEqual(m.count, r.count, note)
            var seen: [(UInt64, UInt8)] = []
            m.forEach { seen.append(($0, $1)) }
            XCTAssertEqual(seen.map(\.0), r.keys.sorted(), note)
            XCTAssertTrue(seen.allSatisfy { r[$0.0] == $0.1 }, note)
        }
        for step in 0..<steps {
            let k = key(&rng)
            switch rng.next() % 100 {
            case 0..<45:
                let v = UInt8(rng.next() % values + 1)
                XCTAssertEqual(map.set(k, v), reference[k] ?? 0)
                reference[k] = v
            case 45..<65:
                XCTAssertEqual(map.remove(k), reference.removeValue(forKey: k) ?? 0)
            case 65..<95:
                // The replay's prefetch hints come before lookups: they must change nothing.
                map.prefetchDirectory(k)
                map.prefetchValue(k)
                XCTAssertEqual(map.get(k), reference[k] ?? 0)
            case 95 where step % 3 != 0:
                // A run filled where absent (mremap's move, a huge page's split): present
                // keys keep their values and are counted.
                let v = UInt8(rng.next() % values + 1)
                let n = Int(rng.next() % 200)
                guard k <= PageMap.keyLimit - UInt64(n) else { continue }
                let run = (0..<UInt64(n)).map { k + $0 }
                XCTAssertEqual(map.fillAbsent(k, n, v), run.filter { reference[$0] != nil }.count, "step \(step)")
                for key in run where reference[key] == nil { reference[key] = v }
            case 95..<97:
                let span = rng.next() % 3000
                let high = k > .max - span ? .max : k + span
                XCTAssertEqual(map.entries(in: k, high).map(\.0), reference.keys.filter { $0 >= k && $0 < high }.sorted())
            case 97 where step % 2 == 0:
                // Removed by runs: each value as often as the range held it.
                let span = rng.next() % 3000
                let high = k > .max - span ? .max : k + span
                var removed: [UInt8: Int] = [:]
                map.removeAll(in: k, high, runs: { v, n in removed[v, default: 0] += n })
                let expected = reference.filter { $0.key >= k && $0.key < high }
                XCTAssertEqual(removed, Dictionary(grouping: expected.values, by: { $0 }).mapValues(\.count))
                for r in expected.keys { reference[r] = nil }
            case 97..<99:
                let span = rng.next() % 3000
                let high = k > .max - span ? .max : k + span
                var removed: [UInt64] = []
                map.removeAll(in: k, high) { key, v in
                    XCTAssertEqual(reference[key], v)
                    removed.append(key)
                }
                let expected = reference.keys.filter { $0 >= k && $0 < high }.sorted()
                XCTAssertEqual(removed, expected)
                for r in expected { reference[r] = nil }
            case 99 where step % 7 == 0:
                // fork: a copy dropping odd values, then the original rewritten in place.
                let copy = map.copy { k, v in k % 7 == 0 || v & 3 == 1 ? 0 : v | 0x40 }
                sameContents(copy, reference.filter { $0.key % 7 != 0 && $0.value & 3 != 1 }.mapValues { $0 | 0x40 }, "copy at step \(step)")
                copy.destroy()
                map.updateAll { _, v in v | 0x80 }
                reference = reference.mapValues { $0 | 0x80 }
            case 99 where step % 7 == 1:
                // fork as the model makes it: the copy, and each key it kept changed here
                // in the same pass (keys it dropped stay as they were).
                let dropped = { (k: UInt64, v: UInt8) in k % 5 == 0 || v & 3 == 2 }
                let copy = map.copy(transform: { k, v in dropped(k, v) ? 0 : v | 0x20 }, updatingKept: { $0 | 0x10 })
                sameContents(copy, reference.filter { !dropped($0.key, $0.value) }.mapValues { $0 | 0x20 }, "fork copy at step \(step)")
                copy.destroy()
                reference = Dictionary(uniqueKeysWithValues: reference.map { k, v in (k, dropped(k, v) ? v : v | 0x10) })
                sameContents(map, reference, "fork's original at step \(step)")
            case 99 where step % 7 == 4:
                // fork a block at a time (forkCopy): keys kept by runs that start and end
                // anywhere in a block (a VMA's keys), asked only about keys held.
                let period = rng.next() % 150 + 1, phase = rng.next() % period
                let keptKey = { (k: UInt64) in (k &+ phase) / period % 3 != 0 }
                var heldWrong = false
                let copy = map.forkCopy(kept: { first, held in
                    var bits: UInt64 = 0
                    for j in 0..<UInt64(PageMap.blockKeys) {
                        if (held >> j & 1 != 0) != (reference[first + j] != nil) { heldWrong = true }
                        // Answers for keys not held must not matter.
                        if keptKey(first + j) || held >> j & 1 == 0 { bits |= 1 << j }
                    }
                    return bits
                }, child: { $0 | 0x20 }, parent: { $0 | 0x10 })
                XCTAssertFalse(heldWrong, "`held` is not the block's keys at step \(step)")
                sameContents(copy, reference.filter { keptKey($0.key) }.mapValues { $0 | 0x20 }, "forkCopy at step \(step)")
                copy.destroy()
                reference = Dictionary(uniqueKeysWithValues: reference.map { k, v in (k, keptKey(k) ? v | 0x10 : v) })
                sameContents(map, reference, "forkCopy's original at step \(step)")
            case 99 where step % 7 == 3:
                // Ranges asked whether any key in them holds an odd value: around each key
                // held, some ending where its block ends, some at the key itself.
                for (held, _) in reference.prefix(16) {
                    let low = held >= 70 ? held - rng.next() % 70 : 0
                    for high in [held + 1, (held | 63) + 1, held + 1 + rng.next() % 200] {
                        XCTAssertEqual(map.contains(in: low, high, where: { $0 & 1 == 1 }),
                                       reference.contains { $0.key >= low && $0.key < high && $0.value & 1 == 1 },
                                       "[\(low), \(high)) at step \(step)")
                    }
                }
            case 99 where step % 7 == 2:
                // Every block holding a key, once each, by its first key.
                var blocks: [UInt64] = []
                map.forEachBlock { blocks.append($0) }
                XCTAssertEqual(blocks.count, Set(blocks).count, "a block walked twice at step \(step)")
                XCTAssertEqual(Set(blocks), Set(reference.keys.map { $0 & ~UInt64(PageMap.blockKeys - 1) }), "blocks at step \(step)")
            default:
                XCTAssertEqual(map.contains(k), reference[k] != nil)
            }
            if step % 5000 == 4999 {
                sameContents(map, reference, "step \(step)")
                // Now and then start over from empty, as exec does.
                if rng.next() % 4 == 0 { map.removeAll(); reference = [:] }
                if rng.next() % 4 == 0 { map.destroy(); map = PageMap(); reference = [:] }
            }
        }
        sameContents(map, reference, "end")
    }

    /// A mixed block's keys by value, eight bytes a word, against a byte at a time: values
    /// of every kind (0x80 and up too, whose top bit the word test reads), blocks of a few
    /// values and of many, and zeros anywhere.
    func testAMixedBlocksKeysByValue() {
        var rng = SeededGenerator(seed: 31)
        let values = UnsafeMutablePointer<UInt8>.allocate(capacity: PageMap.blockKeys)
        defer { values.deallocate() }
        for trial in 0..<3000 {
            let palette = (0..<(1 + rng.next() % 4)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            for j in 0..<PageMap.blockKeys {
                values[j] = rng.next() % 3 == 0 ? 0 : trial % 2 == 0 ? palette[Int(rng.next() % UInt64(palette.count))] : UInt8(truncatingIfNeeded: rng.next())
            }
            func byteByByte(_ matches: (UInt8) -> Bool) -> UInt64 {
                (0..<PageMap.blockKeys).reduce(UInt64(0)) { matches(values[$1]) ? $0 | UInt64(1) << UInt64($1) : $0 }
            }
            XCTAssertEqual(PageMap.keys(of: values, holding: nil), byteByByte { $0 != 0 }, "trial \(trial)")
            for v in palette + [values[Int(rng.next() % 64)], 0x80, 0xFF, 1] where v != 0 {
                XCTAssertEqual(PageMap.keys(of: values, holding: v), byteByByte { $0 == v }, "trial \(trial), value \(v)")
            }
        }
    }

    func testSparseKeys() {
        // A small key space so that removals hit and probe runs wrap; keys far apart.
        check(steps: 30_000, seed: 1) { UInt64($0.next() % 5_000) * 7919 }
    }

    func testDenseKeys() {
        // Runs of neighbours: blocks fill up, empty out and are reused.
        check(steps: 30_000, seed: 2) { UInt64($0.next() % 20_000) }
    }

    func testDenseKeysOfTwoValues() {
        // Blocks filled at random with one value stay one-valued, become uniform when full,
        // and go to the pool when the second value arrives (and the copy's transform keeps
        // or mixes them).
        check(steps: 40_000, seed: 4, values: 2) { UInt64($0.next() % 20_000) }
    }

    func testSparseKeysOfOneValue() {
        check(steps: 30_000, seed: 5, values: 1) { UInt64($0.next() % 5_000) * 67 }
    }

    func uniformBlocks(_ map: PageMap) -> Int {
        let h = map.header.pointee
        return (0...h.mask).filter { h.slots[$0] & PageMap.uniform != 0 }.count
    }

    func oneValuedBlocks(_ map: PageMap) -> Int {
        let h = map.header.pointee
        return (0...h.mask).filter { h.slots[$0] & PageMap.oneValued != 0 }.count
    }

    /// Pool blocks in use (handed out and not freed): the mixed blocks' values.
    func poolBlocksInUse(_ map: PageMap) -> Int {
        let h = map.header.pointee
        return h.poolUsed - h.freeCount
    }

    /// Keys set at random with one value need no pool (the lookup that missed the cache most
    /// on random pages over 8 GiB); a second value in a block puts it there, and a key
    /// removed from a full block leaves it one-valued, not in the pool.
    func testBlocksOfOneValueNeedNoPool() {
        let map = PageMap()
        defer { map.destroy() }
        var rng = SeededGenerator(seed: 6)
        var reference: [UInt64: UInt8] = [:]
        for _ in 0..<3_000 {
            let k = rng.next() % 6_400
            map.set(k, 7)
            reference[k] = 7
        }
        XCTAssertEqual(poolBlocksInUse(map), 0)
        XCTAssertEqual(map.count, reference.count)
        XCTAssertEqual(oneValuedBlocks(map) + uniformBlocks(map), Set(reference.keys.map { $0 >> 6 }).count)
        for k in 0..<UInt64(6_500) { XCTAssertEqual(map.get(k), reference[k] ?? 0, "key \(k)") }
        // A second value in block 0: its keys go to the pool, with their values.
        let inBlock0 = reference.keys.filter { $0 < 64 }.sorted()
        XCTAssertGreaterThan(inBlock0.count, 1)
        let changed = inBlock0[0]
        XCTAssertEqual(map.set(changed, 9), 7)
        reference[changed] = 9
        XCTAssertEqual(poolBlocksInUse(map), 1)
        for k in 0..<UInt64(64) { XCTAssertEqual(map.get(k), reference[k] ?? 0, "key \(k) after a second value") }
        // Its only other-valued key set back: still mixed (blocks leave the pool only when full).
        XCTAssertEqual(map.remove(changed), 9)
        reference[changed] = nil
        XCTAssertEqual(map.count, reference.count)
        // A full block of one value, then one key removed: one-valued, the pool unchanged.
        for k in UInt64(6_400)..<6_464 { map.set(k, 3); reference[k] = 3 }
        let uniformBefore = uniformBlocks(map)
        XCTAssertEqual(map.remove(6_420), 3)
        reference[6_420] = nil
        XCTAssertEqual(uniformBlocks(map), uniformBefore - 1)
        XCTAssertEqual(poolBlocksInUse(map), 1)
        XCTAssertEqual(map.get(6_420), 0)
        XCTAssertEqual(map.get(6_421), 3)
        // The last key of a one-valued block may change value alone.
        let lone: UInt64 = 64 * 500
        map.set(lone, 4)
        XCTAssertEqual(map.set(lone, 5), 4)
        reference[lone] = 5
        XCTAssertEqual(poolBlocksInUse(map), 1)
        var runs: [UInt8: Int] = [:]
        map.removeAll(in: 6_400, 6_464, runs: { v, n in runs[v, default: 0] += n })
        XCTAssertEqual(runs, [3: 63])
        for k in UInt64(6_400)..<6_464 { reference[k] = nil }
        XCTAssertEqual(map.count, reference.count)
        var seen: [UInt64: UInt8] = [:]
        map.forEach { seen[$0] = $1 }
        XCTAssertEqual(seen, reference)
    }

    /// Full blocks of one value live in their directory slot alone, and every operation
    /// moves a block in and out of that form without changing what the map holds.
    func testUniformBlocks() {
        let map = PageMap()
        defer { map.destroy() }
        var reference: [UInt64: UInt8] = [:]
        func same(_ note: String, _ m: PageMap? = nil, _ r: [UInt64: UInt8]? = nil) {
            let m = m ?? map, r = r ?? reference
            XCTAssertEqual(m.count, r.count, note)
            for k in 0..<UInt64(800) { XCTAssertEqual(m.get(k), r[k] ?? 0, "\(note): key \(k)") }
            XCTAssertEqual(m.entries(in: 0, 800).map(\.0), r.keys.sorted(), note)
        }
        for k in 0..<UInt64(640) { map.set(k, 5); reference[k] = 5 }
        XCTAssertEqual(uniformBlocks(map), 10)
        same("filled")
        XCTAssertEqual(map.set(70, 6), 5); reference[70] = 6
        XCTAssertEqual(uniformBlocks(map), 9)
        XCTAssertEqual(map.set(70, 5), 6); reference[70] = 5
        XCTAssertEqual(uniformBlocks(map), 10)
        XCTAssertEqual(map.set(71, 5), 5)
        XCTAssertEqual(map.remove(130), 5); reference[130] = nil
        XCTAssertEqual(uniformBlocks(map), 9)
        same("edited")
        let constant = map.copy { _, _ in 3 }
        XCTAssertEqual(uniformBlocks(constant), 9)
        same("constant copy", constant, reference.mapValues { _ in 3 })
        constant.destroy()
        let evens = map.copy { k, v in k & 1 == 0 ? v : 0 }
        XCTAssertEqual(uniformBlocks(evens), 0)
        same("odd keys dropped", evens, reference.filter { $0.key & 1 == 0 })
        evens.destroy()
        map.updateAll { k, v in k < 320 ? 9 : v }
        for k in reference.keys where k < 320 { reference[k] = 9 }
        XCTAssertEqual(uniformBlocks(map), 9)
        same("updated")
        var removed: [UInt64] = []
        map.removeAll(in: 100, 200) { k, _ in removed.append(k) }     // one whole block, two parts
        XCTAssertEqual(removed, (100..<200).filter { $0 != 130 })
        for k in UInt64(100)..<200 { reference[k] = nil }
        XCTAssertEqual(uniformBlocks(map), 7)
        same("range removed")
        // A uniform block goes as one run of 64, a one-valued one (the two that lost keys to
        // the range) as one run of its keys; a mixed one key by key.
        var runs: [[Int]] = []
        map.removeAll(in: 0, 640, runs: { v, n in runs.append([Int(v), n]) })
        XCTAssertEqual(runs.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) },
                       Array(repeating: [5, 64], count: 5) + [[9, 36], [9, 56], [9, 64], [9, 64]])
        XCTAssertEqual(map.count, 0)
        XCTAssertEqual(uniformBlocks(map), 0)
    }

    /// Part of a block of one value removed by runs is one run of the keys it took (a munmap
    /// of 16 pages is one release, not 16); a mixed block's part goes key by key.
    func testPartOfABlockOfOneValueGoesAsOneRun() {
        let map = PageMap()
        defer { map.destroy() }
        for k in UInt64(0)..<40 { map.set(k, 3) }            // one block, one value, 40 keys
        for k in UInt64(64)..<104 { map.set(k, k < 80 ? 4 : 6) } // a mixed block
        var runs: [[Int]] = []
        map.removeAll(in: 10, 26, runs: { v, n in runs.append([Int(v), n]) })
        XCTAssertEqual(runs, [[3, 16]])
        runs.removeAll()
        map.removeAll(in: 78, 82, runs: { v, n in runs.append([Int(v), n]) })
        XCTAssertEqual(runs.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) }, [[4, 1], [4, 1], [6, 1], [6, 1]])
        XCTAssertEqual(map.count, 40 - 16 + 40 - 4)
        for k in UInt64(0)..<40 { XCTAssertEqual(map.get(k), k >= 10 && k < 26 ? 0 : 3, "key \(k)") }
    }

    /// A map that held many blocks and let most go gets a smaller directory (a walk of it,
    /// and a fork's copy, cost its size), and keeps what it holds; removing one key at a
    /// time shrinks it too.
    func testADirectoryLeftMostlyEmptyShrinks() {
        let map = PageMap()
        defer { map.destroy() }
        for b in 0..<UInt64(20_000) { map.set(b * 64 * 3 + b % 64, 2) }    // one key in each of 20,000 blocks
        let full = map.capacity
        XCTAssertGreaterThanOrEqual(full, 20_000 * 64)
        map.removeAll(in: 0, 19_900 * 64 * 3, runs: { _, _ in })
        XCTAssertEqual(map.count, 100)
        XCTAssertLessThanOrEqual(map.capacity, 100 * 64 * 4, "shrunk from \(full) keys")
        for b in 19_900..<UInt64(20_000) { XCTAssertEqual(map.get(b * 64 * 3 + b % 64), 2) }
        for b in 0..<UInt64(20_000) { map.set(b * 64 * 3 + 100, 5) }
        for b in 0..<UInt64(19_990) { map.remove(b * 64 * 3 + 100) }
        XCTAssertLessThanOrEqual(map.capacity, PageMap.smallestShrunk / 2 * 64, "shrunk as they went")
        XCTAssertEqual(map.count, 110)
        var seen = 0
        map.forEach { k, v in
            seen += 1
            XCTAssertTrue(k >= 19_900 * 64 * 3, "key \(k)")
            XCTAssertTrue(v == 2 || v == 5)
        }
        XCTAssertEqual(seen, 110)
    }

    func testKeysPastTheLimitAreAbsent() {
        let map = PageMap()
        defer { map.destroy() }
        map.set(PageMap.keyLimit - 1, 3)
        for k in [PageMap.keyLimit, PageMap.keyLimit + 63, .max] {
            XCTAssertEqual(map.get(k), 0)
            XCTAssertEqual(map.remove(k), 0)
        }
        XCTAssertEqual(map.entries(in: PageMap.keyLimit - 64, .max).map(\.0), [PageMap.keyLimit - 1])
        XCTAssertEqual(map.count, 1)
    }

    func testMixedAndHugeKeys() {
        check(steps: 20_000, seed: 3) { r in
            r.next() % 2 == 0 ? PageMap.keyLimit - 1 - r.next() % 500 : (r.next() % 40) << 40 | r.next() % 300
        }
    }
}
