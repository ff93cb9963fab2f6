// mlock, munlock, mlockall and munlockall against cases worked out by hand from mm/mlock.c,
// mm/gup.c (__mm_populate, populate_vma_page_range) and mm/mmap.c (do_mmap's populate,
// do_brk_flags, dup_mmap).

import XCTest
import FaultlineCore
@testable import FaultlineAddressSpace

final class MemoryLockTests: XCTestCase {
    let base: UInt64 = 0x10000000

    /// (start, end) in pages from `base` of each piece.
    func pages(_ pieces: [VMA]) -> [[UInt64]] { pieces.map { [($0.start - base) / page, ($0.end - base) / page] } }

    func testMlockSplitsTheMappingAndFillsTheRangeUnlessOnFault() {
        var space = AddressSpace()
        space.map(anon(base, 10, label: 1))
        XCTAssertEqual(pages(space.lock(base + 2 * page, 3 * page, flags: 0)), [[2, 5]])
        XCTAssertEqual(layout(space), [[0, 2, 1], [2, 5, 1], [5, 10, 1]])
        XCTAssertEqual(space.vmas.map { $0.flags.contains(.locked) }, [false, true, false])
        // On fault: locked, nothing filled.
        XCTAssertEqual(space.lock(base + 6 * page, page + 1, flags: LockFlags.onFault), [])
        XCTAssertEqual(layout(space), [[0, 2, 1], [2, 5, 1], [5, 6, 1], [6, 8, 1], [8, 10, 1]])
        XCTAssertTrue(space[3].flags.isSuperset(of: [.locked, .lockOnFault]))
        // A later mlock without the flag fills what was locked on fault.
        XCTAssertEqual(pages(space.lock(base + 6 * page, 2 * page, flags: 0)), [[6, 8]])
        XCTAssertFalse(space[3].flags.contains(.lockOnFault))
        // An address inside a page takes its page, and the length grows by the offset.
        XCTAssertEqual(pages(space.lock(base + 8 * page + 100, page, flags: 0)), [[8, 10]])
        // munlock undoes the split: the pieces are one mapping again.
        space.unlock(base, 10 * page)
        XCTAssertEqual(layout(space), [[0, 10, 1]])
        XCTAssertEqual(pages(space.lock(base + 9 * page, 0, flags: 0)), [], "a length of 0 locks nothing")
        XCTAssertEqual(pages(space.lock(base + 9 * page + 1, 0, flags: 0)), [[9, 10]],
                       "but inside a page it locks that page (PAGE_ALIGN(len + offset))")
        XCTAssertFalse(space[0].flags.contains(.locked))
    }

    func testMlockFillsWhatPopulateCanAndLocksWhatMlockMay() {
        var space = AddressSpace()
        space.map(anon(base, 4, label: 1))
        space.map(anon(base + 4 * page, 2, label: 2, prot: 0))                          // a guard: not filled
        space.map(VMA(start: base + 6 * page, end: base + 8 * page, prot: Protection.read, backing: .kernelPages,
                      flags: .pfnMap, label: 3))                                         // [vvar]: neither
        space.map(VMA(start: base + 512 * page, end: base + 1024 * page, prot: rw, backing: .anonymous,
                      hugePageShift: 21, label: 4))                                      // hugetlb: filled, not locked
        let filled = space.lockAll(flags: LockFlags.current)
        XCTAssertEqual(pages(filled), [[0, 4], [512, 1024]])
        XCTAssertEqual(space.vmas.map { $0.flags.contains(.locked) }, [true, true, false, false])
    }

    func testMlockallFutureLocksAndFillsNewMappingsUntilMunlockall() {
        var space = AddressSpace()
        space.map(anon(base, 4, label: 1))
        XCTAssertEqual(space.lockAll(flags: LockFlags.future), [], "MCL_FUTURE alone fills nothing now")
        XCTAssertFalse(space[0].flags.contains(.locked))
        let next = anon(base + 16 * page, 4, label: 2)
        XCTAssertTrue(space.mmapFills(next, mapFlags: MapFlags.private | MapFlags.anonymous))
        space.map(next)
        XCTAssertTrue(space[1].flags.contains(.locked))
        // On fault: locked, not filled; hugetlb memory loses the lock and is filled anyway.
        _ = space.lockAll(flags: LockFlags.future | LockFlags.allOnFault)
        XCTAssertFalse(space.mmapFills(next, mapFlags: MapFlags.locked))
        XCTAssertFalse(space.mmapFills(next, mapFlags: MapFlags.populate), "populate skips VM_LOCKONFAULT")
        var huge = next
        huge.hugePageShift = 21
        XCTAssertTrue(space.mmapFills(huge, mapFlags: 0))
        // Each mlockall replaces the last one's future; munlockall ends it.
        _ = space.lockAll(flags: LockFlags.current)
        XCTAssertEqual(space.lockFuture, [])
        _ = space.lockAll(flags: LockFlags.future)
        space.unlockAll()
        XCTAssertFalse(space.mmapFills(next, mapFlags: 0))
        XCTAssertFalse(space.vmas.contains { $0.flags.contains(.locked) })
        // Without locks: MAP_POPULATE fills, unless with MAP_NONBLOCK; MAP_LOCKED fills.
        XCTAssertTrue(space.mmapFills(next, mapFlags: MapFlags.populate))
        XCTAssertFalse(space.mmapFills(next, mapFlags: MapFlags.populate | MapFlags.nonBlock))
        XCTAssertTrue(space.mmapFills(next, mapFlags: MapFlags.locked))
    }

    func testForkAndExecKeepNoLocks() {
        var space = AddressSpace()
        space.map(anon(base, 4, label: 1))
        _ = space.lockAll(flags: LockFlags.current | LockFlags.future)
        let child = space.forked()
        XCTAssertFalse(child[0].flags.contains(.locked))
        XCTAssertEqual(child.lockFuture, [])
        XCTAssertTrue(space[0].flags.contains(.locked), "the parent keeps its own")
        space.exec()
        XCTAssertEqual(space.lockFuture, [])
    }

    func testBrkGrowthIsLockedAsTheFutureIs() {
        var space = AddressSpace()
        space.brk(result: base, heapLabel: 5)
        space.brk(result: base + 4 * page, heapLabel: 5)
        _ = space.lock(base, 4 * page, flags: 0)
        // The heap below is locked, the future is not: the growth is not locked.
        let grown = space.brk(result: base + 8 * page, heapLabel: 5).added
        XCTAssertEqual(grown.map { $0.flags.contains(.locked) }, [false])
        XCTAssertFalse(space.fillsGrowth(of: grown[0]))
        _ = space.lockAll(flags: LockFlags.future)
        let locked = space.brk(result: base + 12 * page, heapLabel: 5).added
        XCTAssertTrue(space.fillsGrowth(of: locked[0]))
    }
}
