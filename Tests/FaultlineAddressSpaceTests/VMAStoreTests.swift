// VMAStore against a plain sorted array: the same VMAs at the same positions after every
// change, through chunk splits, joins and removals, and the searches the address space
// makes; and an address space of thousands of mappings made top down and unmapped at random.

import XCTest
import FaultlineCore
import FaultlineTestSupport
@testable import FaultlineAddressSpace

final class VMAStoreTests: XCTestCase {
    /// VMA number `n`: 4 KiB at n * 8 KiB, so that any sorted run of numbers is in order.
    func vma(_ n: UInt64) -> VMA { anon(n * 2 * page, 1, label: Int32(truncatingIfNeeded: n)) }

    func assertSame(_ store: VMAStore, _ model: [VMA], _ step: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(store.count, model.count, step, file: file, line: line)
        XCTAssertEqual(Array(store), model, step, file: file, line: line)
        for i in stride(from: 0, to: model.count, by: 37) {
            XCTAssertEqual(store[i], model[i], "\(step): position \(i)", file: file, line: line)
        }
        // Runs of joined VMAs (here: neighbours numbered alike but for the last 4 bits) across
        // chunk boundaries, as a plain walk over the array finds them.
        func runCovers(_ i: Int, _ start: UInt64, _ end: UInt64) -> Bool {
            var low = i, high = i
            while model[low].start > start {
                guard low > 0, model[low - 1].label >> 4 == model[low].label >> 4 else { return false }
                low -= 1
            }
            while model[high].end < end {
                guard high + 1 < model.count, model[high].label >> 4 == model[high + 1].label >> 4 else { return false }
                high += 1
            }
            return true
        }
        for i in stride(from: 0, to: model.count, by: 3) {
            for reach in [0, 1, 3, 40] {
                let start = model[max(i - reach, 0)].start + 1, end = model[min(i + reach, model.count - 1)].end - 1
                XCTAssertEqual(store.runCovers(i, start, end) { $0.label >> 4 == $1.label >> 4 }, runCovers(i, start, end),
                               "\(step): the run around \(i) over \(reach) either side", file: file, line: line)
            }
        }
        // The searches, at and around every VMA's bounds.
        func first(_ isPast: (VMA) -> Bool) -> Int {
            var low = 0, high = model.count
            while low < high {
                let mid = (low + high) / 2
                if isPast(model[mid]) { high = mid } else { low = mid + 1 }
            }
            return low
        }
        for v in model {
            for address in [v.start - 1, v.start, v.end - 1, v.end] {
                XCTAssertEqual(store.firstEnding(after: address), first { $0.end > address }, "\(step): first ending after \(address)", file: file, line: line)
                XCTAssertEqual(store.firstStarting(atOrAfter: address), first { $0.start >= address }, "\(step): first starting at \(address)", file: file, line: line)
                // The location a search gives reads the same VMA, and a run walked from it
                // is the run walked from its position.
                let found = store.locatedFirstEnding(after: address)
                XCTAssertEqual(found.position, first { $0.end > address }, "\(step): located after \(address)", file: file, line: line)
                if let at = found.location {
                    XCTAssertEqual(store[at], model[found.position], "\(step): the VMA at the location found for \(address)", file: file, line: line)
                    let i = found.position
                    let start = model[max(i - 2, 0)].start + 1, end = model[min(i + 2, model.count - 1)].end - 1
                    XCTAssertEqual(store.runCovers(at: at, start, end) { $0.label >> 4 == $1.label >> 4 }, runCovers(i, start, end),
                                   "\(step): the run around the location found for \(address)", file: file, line: line)
                } else {
                    XCTAssertEqual(found.position, model.count, "\(step): no location only past the end", file: file, line: line)
                }
            }
        }
    }

    func testEveryChangeLeavesTheSameVMAsAsASortedArray() {
        var random = SeededGenerator(seed: 20261203)
        var store = VMAStore(), model: [VMA] = []
        var next: UInt64 = 1 << 20   // numbers handed out downward, then anywhere in the gaps
        for step in 0..<2000 {
            let choice = random.next() % 10
            if choice < 5 || model.count < 10 {
                // Inserts, mostly as mmap makes them (top down: at the front), some in bulk.
                let run = Int(random.next() % 4 == 0 ? random.next() % 200 + 1 : 1)
                next -= UInt64(run)
                let new = (0..<UInt64(run)).map { vma(next + $0) }
                store.replaceSubrange(0..<0, with: new)
                model.replaceSubrange(0..<0, with: new)
            } else if choice < 8 {
                // A range replaced with fewer or more pieces (munmap, mprotect splits).
                let low = Int(random.next() % UInt64(model.count))
                let high = min(model.count, low + Int(random.next() % (random.next() % 8 == 0 ? 300 : 4)))
                let first = low > 0 ? model[low - 1].start / (2 * page) + 1 : 0
                let room = (high < model.count ? model[high].start / (2 * page) : first + 2000) - first
                let new = (0..<min(UInt64(random.next() % 3), room)).map { vma(first + $0) }
                store.replaceSubrange(low..<high, with: new)
                model.replaceSubrange(low..<high, with: new)
            } else if choice < 9 {
                let i = Int(random.next() % UInt64(model.count))
                if random.next() % 2 == 0 {
                    store.remove(at: i)
                    model.remove(at: i)
                } else {
                    // A range across chunks replaced with more than a chunk holds (their
                    // boundaries move: the positions and bounds after them with them).
                    let high = min(model.count, i + Int(random.next() % 300))
                    let first = i > 0 ? model[i - 1].start / (2 * page) + 1 : 0
                    let room = (high < model.count ? model[high].start / (2 * page) : first + 2000) - first
                    let new = (0..<min(UInt64(random.next() % 400), room)).map { vma(first + $0) }
                    store.replaceSubrange(i..<high, with: new)
                    model.replaceSubrange(i..<high, with: new)
                }
            } else {
                // A VMA changed where it is (growStack, insertFlags; a chunk's last one too).
                let i = random.next() % 3 == 0 ? store.firsts.randomElement(using: &random).map { max($0 - 1, 0) } ?? 0
                                               : Int(random.next() % UInt64(model.count))
                store[i].flags.insert(.hasAnonPages)
                model[i].flags.insert(.hasAnonPages)
                // Its end moves back or on, into the gap after it (every VMA here leaves one).
                let end = random.next() % 2 == 0 ? model[i].end - 1 : model[i].end + 1
                store[i].end = end
                model[i].end = end
            }
            if step % 50 == 0 || step == 1999 { assertSame(store, model, "step \(step)") }
        }
        XCTAssertGreaterThan(model.count, 4 * VMAStore.largest, "the store went through several chunks")
        XCTAssertEqual(store.firstEnding(after: UInt64.max - 1), model.count)
        store.removeAll { $0.label & 1 == 0 }
        model.removeAll { $0.label & 1 == 0 }
        assertSame(store, model, "removeAll(where:)")
        store.removeAll()
        XCTAssertTrue(store.isEmpty)
    }

    /// A chunk's last VMA removed, replaced, or its end moved, with no chunk split or
    /// joined: the searches find their chunk by its last VMA's bounds, so a stale bound
    /// sends an address past the new end into a chunk that no longer holds it.
    func testTheSearchesFollowEachChunksLastVMA() {
        var store = VMAStore(), model: [VMA] = []
        model = (0..<UInt64(4 * VMAStore.chunkSize)).map { vma($0 * 4 + 1) }   // four chunks, wide gaps
        store = VMAStore(model)
        let lastOfFirst = VMAStore.chunkSize - 1
        // Removed: the first chunk now ends one VMA earlier.
        store.remove(at: lastOfFirst)
        model.remove(at: lastOfFirst)
        assertSame(store, model, "the first chunk's last VMA removed")
        // Replaced in place by a shorter one (as munmap of its top part leaves it; the
        // replacement's range ends at the next chunk, which it joins).
        let i = store.firsts[1] - 1
        var shorter = model[i]
        shorter.end -= page / 2
        store.replaceSubrange(i..<(i + 1), with: [shorter])
        model.replaceSubrange(i..<(i + 1), with: [shorter])
        assertSame(store, model, "the first chunk's last VMA replaced by a shorter one")
        // Its end moved on into the gap after it (a stack or heap grown in place).
        XCTAssertGreaterThan(store.firsts.count, 2, "chunks are left to end inside the store")
        let j = store.firsts[store.firsts.count - 1] - 1
        store[j].end += page
        model[j].end += page
        assertSame(store, model, "a chunk's last VMA grown")
        // A VMA put in after a chunk's last one, in the gap before the next chunk.
        let k = store.firsts[1]
        let gap = anon(model[k - 1].end + page, 1, label: model[k - 1].label)
        store.insert(gap, at: k)
        model.insert(gap, at: k)
        assertSame(store, model, "a VMA inserted between two chunks")
    }

    /// Thread stacks and their guard pages, made top down and unmapped in a random order,
    /// among tens of thousands of mappings: every address still finds its own.
    func testAnAddressSpaceOfManyMappingsFindsEachOne() {
        var space = AddressSpace()
        var random = SeededGenerator(seed: 7)
        let top: UInt64 = 0x7f00_0000_0000
        let n: UInt64 = 20_000
        for k in 0..<n {
            let stack = top - (k + 1) * 16 * page
            space.map(anon(stack, 16, label: Int32(k)))
            space.protect(stack, page, prot: 0)   // the guard page
        }
        XCTAssertEqual(space.count, Int(2 * n))
        var gone = Set<UInt64>()
        for _ in 0..<5000 {
            let k = random.next() % n
            if gone.insert(k).inserted { space.unmap(top - (k + 1) * 16 * page, 16 * page) }
        }
        XCTAssertEqual(space.count, Int(2 * (n - UInt64(gone.count))))
        for k in stride(from: UInt64(0), to: n, by: 7) {
            let stack = top - (k + 1) * 16 * page
            let i = space.find(stack + 5 * page)
            if gone.contains(k) {
                XCTAssertNil(i, "stack \(k) was unmapped")
            } else {
                XCTAssertEqual(i.map { space[$0].label }, Int32(k))
                XCTAssertEqual(space.index(containing: stack).map { space[$0].prot }, 0, "stack \(k)'s guard")
            }
        }
    }
}
