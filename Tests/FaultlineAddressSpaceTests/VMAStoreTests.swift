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
                store.remove(at: i)
                model.remove(at: i)
            } else {
                // A VMA changed where it is (growStack, insertFlags).
                let i = Int(random.next() % UInt64(model.count))
                store[i].flags.insert(.hasAnonPages)
                model[i].flags.insert(.hasAnonPages)
            }
            if step % 100 == 0 || step == 1999 { assertSame(store, model, "step \(step)") }
        }
        XCTAssertGreaterThan(model.count, 4 * VMAStore.largest, "the store went through several chunks")
        // The searches: the first VMA ending past an address, for addresses in and between them.
        for i in stride(from: 0, to: model.count, by: 7) {
            for address in [model[i].start - 1, model[i].start, model[i].end - 1, model[i].end] {
                let expected = model.firstIndex { $0.end > address } ?? model.count
                XCTAssertEqual(store.partitioningIndex { $0.end > address }, expected, "address \(address)")
            }
        }
        XCTAssertEqual(store.partitioningIndex { $0.end > UInt64.max - 1 }, model.count)
        store.removeAll { $0.label & 1 == 0 }
        model.removeAll { $0.label & 1 == 0 }
        assertSame(store, model, "removeAll(where:)")
        store.removeAll()
        XCTAssertTrue(store.isEmpty)
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
