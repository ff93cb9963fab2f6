// The kernel's address-space rules, checked once, without privileges, against cases worked
// out by hand from mm/mmap.c, mm/mremap.c, mm/mprotect.c and mm/madvise.c.

import XCTest
import FaultlineCore
@testable import FaultlineAddressSpace

let page: UInt64 = 4096
let rw = Protection.read | Protection.write

func anon(_ start: UInt64, _ pages: UInt64, label: Int32 = 0, prot: UInt32 = rw) -> VMA {
    VMA(start: start, end: start + pages * page, offset: 0, prot: prot, backing: .anonymous, label: label)
}

func file(_ start: UInt64, _ pages: UInt64, offset: UInt64, inode: UInt64 = 7, label: Int32 = 0) -> VMA {
    VMA(start: start, end: start + pages * page, offset: offset, prot: Protection.read, backing: .filePrivate,
        inode: inode, label: label)
}

/// (start, end, label) of every VMA, in pages from `base`.
func layout(_ space: AddressSpace, base: UInt64 = 0x10000000) -> [[Int64]] {
    space.vmas.map { [Int64($0.start - base) / Int64(page), Int64($0.end - base) / Int64(page), Int64($0.label)] }
}

final class AddressSpaceTests: XCTestCase {
    let base: UInt64 = 0x10000000

    func testMapReplacesWhatItOverlapsAndSplitsTheRest() {
        var space = AddressSpace()
        space.map(anon(base, 10, label: 1))
        let removed = space.map(anon(base + 4 * page, 2, label: 2))
        XCTAssertEqual(layout(space), [[0, 4, 1], [4, 6, 2], [6, 10, 1]])
        XCTAssertEqual(removed.map { [$0.start, $0.end] }, [[base + 4 * page, base + 6 * page]])
        // The two pieces of the first mapping are still one mapping; the second is another.
        XCTAssertEqual(space[0].serial, space[2].serial)
        XCTAssertNotEqual(space[0].serial, space[1].serial)
    }

    func testSplittingAFileMappingMovesTheOffsetAlong() {
        var space = AddressSpace()
        space.map(file(base, 8, offset: 0x3000))
        space.unmap(base + 2 * page, 3 * page)
        XCTAssertEqual(space.vmas.map(\.offset), [0x3000, 0x3000 + 5 * page])
    }

    func testMunmapRoundsTheLengthUpAndRefusesAnUnalignedAddress() {
        var space = AddressSpace()
        space.map(anon(base, 10))
        XCTAssertTrue(space.unmap(base + 1, page).isEmpty, "EINVAL: nothing changes")
        XCTAssertEqual(layout(space), [[0, 10, 0]])
        let removed = space.unmap(base + 2 * page, page + 1)   // two pages
        XCTAssertEqual(layout(space), [[0, 2, 0], [4, 10, 0]])
        XCTAssertEqual(removed.count, 1)
        XCTAssertEqual(removed[0].length, 2 * page)
    }

    func testMunmapAcrossSeveralMappingsAndHoles() {
        var space = AddressSpace()
        space.map(anon(base, 2, label: 1))
        space.map(anon(base + 4 * page, 2, label: 2))
        space.map(anon(base + 8 * page, 2, label: 3))
        let removed = space.unmap(base + page, 8 * page)
        XCTAssertEqual(layout(space), [[0, 1, 1], [9, 10, 3]])
        XCTAssertEqual(removed.map(\.label), [1, 2, 3])
        XCTAssertEqual(removed.map(\.length), [page, 2 * page, page])
    }

    func testHostileNumbersNeitherTrapNorWrap() {
        var space = AddressSpace()
        space.map(anon(base, 4))
        space.unmap(UInt64.max & ~(page - 1), UInt64.max)
        space.unmap(base, UInt64.max)
        XCTAssertTrue(space.isEmpty, "a huge length unmaps to the end of the address space")
        space.map(VMA(start: UInt64.max - page, end: UInt64.max, prot: rw, backing: .anonymous))
        XCTAssertTrue(space.isEmpty, "nothing is mapped above the address limit")
        space.protect(0, UInt64.max, prot: 0)
        _ = space.advise(UInt64.max - 4095, 4096, advice: Advice.dontNeed)
        space.remap(RemapCall(oldAddress: 0, oldLength: UInt64.max, newLength: UInt64.max, flags: 3, newAddress: UInt64.max - 4095))
        space.brk(result: UInt64.max, heapLabel: 0)
        space.brk(result: UInt64.max - 1, heapLabel: 0)
        XCTAssertNil(space.lookup(UInt64.max))
    }

    func testMprotectSplitsAtItsEdgesAndKeepsIdentity() {
        var space = AddressSpace()
        space.map(anon(base, 10, label: 4))
        space.protect(base + 3 * page, 2 * page, prot: Protection.read)
        XCTAssertEqual(layout(space), [[0, 3, 4], [3, 5, 4], [5, 10, 4]])
        XCTAssertEqual(space.vmas.map(\.prot), [rw, Protection.read, rw])
        XCTAssertEqual(Set(space.vmas.map(\.serial)).count, 1)
    }

    func testMadviseHugePageFlagsSplitAndReplaceEachOther() {
        var space = AddressSpace()
        space.map(anon(base, 10))
        XCTAssertEqual(space.advise(base + 2 * page, 4 * page, advice: Advice.hugePage), .none)
        XCTAssertEqual(space.vmas.map { $0.flags.contains(.hugePage) }, [false, true, false])
        _ = space.advise(base + 2 * page, page, advice: Advice.noHugePage)
        XCTAssertEqual(space[1].flags.intersection([.hugePage, .noHugePage]), .noHugePage)
        XCTAssertEqual(space[2].flags.intersection([.hugePage, .noHugePage]), .hugePage)
    }

    func testMadviseEffectsOnPages() {
        var space = AddressSpace()
        space.map(anon(base, 10))
        guard case .discard(let gone, _, _) = space.advise(base + page, 2 * page, advice: Advice.dontNeed) else {
            return XCTFail("MADV_DONTNEED frees pages")
        }
        XCTAssertEqual(gone.map { [$0.start, $0.end] }, [[base + page, base + 3 * page]])
        XCTAssertEqual(layout(space), [[0, 10, 0]], "the VMA stays")
        guard case .lazyFree(let freed) = space.advise(base, page, advice: Advice.free) else {
            return XCTFail("MADV_FREE: pages kept until reclaim, which drops them rather than swapping them")
        }
        XCTAssertEqual(freed.map { [$0.start, $0.end] }, [[base, base + page]])
        guard case .populate(_, let write) = space.advise(base, page, advice: Advice.populateWrite) else {
            return XCTFail("MADV_POPULATE_WRITE fills pages")
        }
        XCTAssertTrue(write)
    }

    func testDontForkAndWipeOnForkAtFork() {
        var space = AddressSpace()
        var a = anon(base, 4, label: 1), b = anon(base + 8 * page, 4, label: 2), c = anon(base + 16 * page, 4, label: 3)
        a.flags.insert(.hasAnonPages); b.flags.insert(.hasAnonPages); c.flags.insert(.hasAnonPages)
        space.map(a); space.map(b); space.map(c)
        _ = space.advise(b.start, b.length, advice: Advice.dontFork)
        _ = space.advise(c.start, c.length, advice: Advice.wipeOnFork)
        space.setTHPDisable(.all)
        let child = space.forked()
        XCTAssertEqual(child.vmas.map(\.label), [1, 3])
        XCTAssertTrue(child[0].flags.contains(.hasAnonPages))
        XCTAssertFalse(child[1].flags.contains(.hasAnonPages), "a wiped VMA starts without an anon_vma")
        XCTAssertEqual(child.thpDisable, .all, "PR_SET_THP_DISABLE is inherited")
        XCTAssertEqual(space.vmas.map(\.label), [1, 2, 3], "the parent keeps everything")
    }

    func testExecEmptiesTheSpaceButKeepsTheTHPPrctl() {
        var space = AddressSpace()
        space.map(anon(base, 4))
        space.brk(result: 0x5000000, heapLabel: 0)
        space.setTHPDisable(.all)
        space.exec()
        XCTAssertTrue(space.isEmpty)
        XCTAssertEqual(space.programBreak, 0)
        XCTAssertEqual(space.thpDisable, .all)
    }

    func testExceptAdvisedNeedsAKernelThatHasIt() {
        var old = AddressSpace(kernel: KernelBehaviour(release: "6.12.1"))
        old.setTHPDisable(.exceptAdvised)
        XCTAssertEqual(old.thpDisable, .all)
        var new = AddressSpace(kernel: KernelBehaviour(release: "6.18.0"))
        new.setTHPDisable(.exceptAdvised)
        XCTAssertEqual(new.thpDisable, .exceptAdvised)
    }

    func testBrkGrowsTheHeapVMAAndShrinksIt() {
        var space = AddressSpace()
        let heap: UInt64 = 0x5000000
        space.brk(result: heap, heapLabel: 9)           // brk(0): where the break is
        XCTAssertTrue(space.isEmpty)
        let grown = space.brk(result: heap + 3 * page + 100, heapLabel: 9)
        XCTAssertEqual(space.vmas.map { [$0.start, $0.end] }, [[heap, heap + 4 * page]])
        XCTAssertEqual(grown.added.count, 1)
        let serial = space[0].serial
        let grownAgain = space.brk(result: heap + 8 * page, heapLabel: 9)
        XCTAssertEqual(grownAgain.added.map { [$0.start, $0.end] }, [[heap + 4 * page, heap + 8 * page]])
        XCTAssertEqual(space.vmas.map { [$0.start, $0.end] }, [[heap, heap + 8 * page]], "growth extends the heap's VMA: one piece")
        XCTAssertEqual(space[0].serial, serial)
        let shrunk = space.brk(result: heap + 2 * page, heapLabel: 9)
        XCTAssertEqual(shrunk.removed.map(\.length), [6 * page])
        XCTAssertEqual(space.vmas.map { [$0.start, $0.end] }, [[heap, heap + 2 * page]])
    }

    func testBrkGrowthThatPerfAnnouncedFirstChangesNothing() {
        var space = AddressSpace()
        let heap: UInt64 = 0x5000000
        space.brk(result: heap, heapLabel: 9)
        space.announce(anon(heap, 4, label: 3))          // MMAP2 inside the brk call
        let grown = space.brk(result: heap + 4 * page, heapLabel: 9)
        XCTAssertTrue(grown.added.isEmpty)
        XCTAssertEqual(layout(space, base: heap), [[0, 4, 3]])
    }

    func testStackGrowsDownToAFaultButNotIntoTheGuardGap() {
        var space = AddressSpace()
        let top: UInt64 = 0x7ff000000000
        var stack = anon(top - 33 * page, 33)
        stack.flags.insert(.growsDown)
        space.map(stack)
        let below = top - 40 * page + 12
        XCTAssertEqual(space.lookup(below)?.start, top - 40 * page)
        XCTAssertNil(space.lookup(top - 33 * page - AddressSpace.stackGrowthLimit - page))
        // Another mapping 512 KiB below the stack: within the 1 MiB guard gap, no growth.
        space.map(anon(top - 33 * page - 1024 * page, 896))
        XCTAssertNil(space.lookup(top - 40 * page), "within stack_guard_gap of the VMA below")
        space.unmap(top - 33 * page - 1024 * page, 896 * page)
        guard let i = space.stackBelow(below) else { return XCTFail("the stack grows") }
        space.growStack(i, to: below)
        XCTAssertEqual(space.index(containing: below), i)
    }

    /// expand_downwards reports the grown stack to perf, outside any call: whole (logs
    /// before 0.5.1) or, as the recorder now logs it, only the new part. Either grows the
    /// stack, keeping its label and what it holds; a report the stack already covers adds
    /// nothing; a mapping that is not growsDown still replaces what it covers.
    func testAReportOfTheStackGrownByAFaultGrowsIt() {
        let top: UInt64 = 0x7ff000000000
        func stackSpace() -> AddressSpace {
            var space = AddressSpace()
            var stack = anon(top - 33 * page, 33, label: 5)
            stack.flags.insert(.growsDown)
            space.map(stack)
            return space
        }
        var report = anon(top - 35 * page, 35, label: 9)
        report.flags.insert(.growsDown)
        var space = stackSpace()
        var grown = space.apply(mapping: report, announced: false)
        XCTAssertTrue(grown.grewStack)
        XCTAssertEqual(grown.removed, [], "the stack's pages stay")
        XCTAssertEqual(grown.added.map { [$0.start, $0.end, UInt64($0.label)] }, [[top - 35 * page, top - 33 * page, 5]])
        XCTAssertEqual(space.vmas.map { [$0.start, $0.end, UInt64($0.label)] }, [[top - 35 * page, top, 5]])

        var newPart = anon(top - 34 * page, 1, label: 9)
        newPart.flags.insert(.growsDown)
        space = stackSpace()
        grown = space.apply(mapping: newPart, announced: false)
        XCTAssertEqual(grown.removed, [])
        XCTAssertEqual(space.vmas.map { [$0.start, $0.end, UInt64($0.label)] }, [[top - 34 * page, top, 5]])
        grown = space.apply(mapping: newPart, announced: false)
        XCTAssertEqual(grown, Announcement(removed: [], added: [], grewStack: true), "already grown: nothing new")

        space = stackSpace()
        let replacing = space.apply(mapping: anon(top - 35 * page, 35, label: 9), announced: false)
        XCTAssertFalse(replacing.grewStack)
        XCTAssertEqual(replacing.removed.map(\.label), [5], "not a stack: it replaces what it covers")
    }

    func testNeighboursOfAnAddressInAHole() {
        var space = AddressSpace()
        space.map(anon(base, 2, label: 1))
        space.map(anon(base + 6 * page, 2, label: 2))
        let n = space.neighbours(of: base + 3 * page)
        XCTAssertEqual(n.below?.label, 1)
        XCTAssertEqual(n.above?.label, 2)
        let inside = space.neighbours(of: base + 6 * page)
        XCTAssertEqual(inside.below?.label, 1)
        XCTAssertNil(inside.above)
    }

    func testFindRemembersItsLastHitAndForgetsItOnChange() {
        var space = AddressSpace()
        space.map(anon(base, 4, label: 1))
        space.map(anon(base + 8 * page, 4, label: 2))
        XCTAssertEqual(space.find(base + page), 0)
        XCTAssertEqual(space.find(base + 2 * page), 0)
        space.unmap(base, 4 * page)
        XCTAssertNil(space.find(base + page), "a stale hit must not survive the unmap")
        XCTAssertEqual(space.find(base + 9 * page), 0)
    }

    /// Two threads writing two mappings take turns: both hits are remembered, and both
    /// are forgotten when the VMAs change (a stale second hit would name a VMA that moved).
    func testFindRemembersTwoHitsAndForgetsBothOnChange() {
        var space = AddressSpace()
        space.map(anon(base, 4, label: 1))
        space.map(anon(base + 8 * page, 4, label: 2))
        space.map(anon(base + 16 * page, 4, label: 3))
        for _ in 0..<3 {
            XCTAssertEqual(space.find(base + page), 0)
            XCTAssertEqual(space.find(base + 9 * page), 1)
        }
        XCTAssertEqual(space.otherIndex, 0, "the turn before is kept beside the last")
        XCTAssertEqual(space.find(base + 17 * page), 2)
        XCTAssertNil(space.find(base + 5 * page), "between mappings")
        XCTAssertEqual(space.find(base + 10 * page), 1)
        XCTAssertEqual(space.otherIndex, 2, "the third mapping is the turn before")
        // Unmapping the first moves the others down: neither remembered index may survive,
        // so the first lookup after it goes to the one remembered second.
        space.unmap(base, 4 * page)
        XCTAssertEqual(space.find(base + 17 * page), 1)
        XCTAssertNil(space.find(base + page))
        XCTAssertEqual(space.find(base + 9 * page), 0)
        // An mprotect split inside the remembered pair: each address finds its own piece.
        space.protect(base + 9 * page, page, prot: Protection.read)
        XCTAssertEqual(space.find(base + 8 * page), 0)
        XCTAssertEqual(space.find(base + 9 * page), 1)
        XCTAssertEqual(space.find(base + 10 * page), 2)
        XCTAssertEqual(space.find(base + 8 * page), 0)
        XCTAssertEqual(space.find(base + 17 * page), 3)
    }

    func testVMAFromAMappingRecordFollowsTheKernelItWasRecordedOn() {
        let thread = { (release: String) in
            VMA(start: self.base, end: self.base + 2 << 20, offset: 0, prot: rw,
                mapFlags: MapFlags.private | MapFlags.anonymous | MapFlags.stack, inode: 0, name: "//anon",
                label: 0, kernel: KernelBehaviour(release: release))
        }
        XCTAssertTrue(thread("6.18.44-fc").flags.contains(.noHugePage), "MAP_STACK is VM_NOHUGEPAGE since 6.7")
        XCTAssertFalse(thread("6.6.30").flags.contains(.noHugePage))
        let huge = VMA(start: base, end: base + 64 << 20, offset: 0, prot: rw,
                       mapFlags: MapFlags.private | MapFlags.hugetlb, inode: 23453, name: "/anon_hugepage (deleted)",
                       label: 0, kernel: .newest)
        XCTAssertEqual(huge.hugePageShift, 21)
        XCTAssertEqual(huge.backing, .anonymous, "private hugetlb memory is anonymous, not a file")
        let gig = VMA(start: 0, end: 1 << 30, offset: 0, prot: rw,
                      mapFlags: MapFlags.withHugePageShift(MapFlags.shared | MapFlags.hugetlb, 30), inode: 1,
                      name: "/anon_hugepage (deleted)", label: 0, kernel: .newest)
        XCTAssertEqual(gig.hugePageShift, 30)
        XCTAssertEqual(gig.backing, .sharedMemory)
        let stack = VMA(start: 0, end: page, offset: 0, prot: rw, mapFlags: MapFlags.private, inode: 0,
                        name: "[stack]", label: 0, kernel: .newest)
        XCTAssertTrue(stack.isStack)
    }

    func testTHPEligibility() {
        var space = AddressSpace()
        var plain = anon(base, 512)
        XCTAssertTrue(space.thpAllowed(plain, mode: .always))
        XCTAssertFalse(space.thpAllowed(plain, mode: .madvise))
        XCTAssertFalse(space.thpAllowed(plain, mode: .never))
        plain.flags.insert(.hugePage)
        XCTAssertTrue(space.thpAllowed(plain, mode: .madvise))
        var stack = anon(base, 512)
        stack.flags.insert(.noHugePage)
        XCTAssertFalse(space.thpAllowed(stack, mode: .always))
        var hugetlb = anon(base, 512)
        hugetlb.hugePageShift = 21
        XCTAssertFalse(space.thpAllowed(hugetlb, mode: .always))
        XCTAssertFalse(space.thpAllowed(file(base, 512, offset: 0), mode: .always))
        space.setTHPDisable(.exceptAdvised)
        XCTAssertTrue(space.thpAllowed(plain, mode: .always), "MADV_HUGEPAGE memory is excepted")
        XCTAssertFalse(space.thpAllowed(anon(base, 512), mode: .always))
        XCTAssertTrue(space.collapseAllowed(plain), "MADV_COLLAPSE of MADV_HUGEPAGE memory under the except-advised prctl")
        XCTAssertFalse(space.collapseAllowed(anon(base, 512)))
        space.setTHPDisable(.all)
        XCTAssertFalse(space.thpAllowed(plain, mode: .always))
        XCTAssertFalse(space.collapseAllowed(plain))
    }

    /// Each multi-size THP size by its own mode; `inherit` is the top-level mode; the rules
    /// that keep a THP away keep a folio away; the PMD's size and larger are not folios.
    func testAnonFolioSizesByTheirModes() {
        let k16: UInt64 = 1 << 14, k64: UInt64 = 1 << 16, k512: UInt64 = 1 << 19, m2: UInt64 = 1 << 21
        let modes = AnonFolioModes(always: k64 | m2, madvise: k512, inherit: k16)
        let plain = anon(base, 512)
        var advised = plain
        advised.flags.insert(.hugePage)
        var noHuge = plain
        noHuge.flags.insert(.noHugePage)
        XCTAssertEqual(modes.sizes(for: plain, system: .never, thpDisable: .none, below: 21), k64)
        XCTAssertEqual(modes.sizes(for: plain, system: .always, thpDisable: .none, below: 21), k64 | k16)
        XCTAssertEqual(modes.sizes(for: plain, system: .madvise, thpDisable: .none, below: 21), k64)
        XCTAssertEqual(modes.sizes(for: advised, system: .madvise, thpDisable: .none, below: 21), k512 | k64 | k16)
        XCTAssertEqual(modes.sizes(for: noHuge, system: .always, thpDisable: .none, below: 21), 0)
        XCTAssertEqual(modes.sizes(for: plain, system: .always, thpDisable: .all, below: 21), 0)
        XCTAssertEqual(modes.sizes(for: advised, system: .madvise, thpDisable: .exceptAdvised, below: 21), k512 | k64 | k16)
        XCTAssertEqual(modes.sizes(for: file(base, 512, offset: 0), system: .always, thpDisable: .none, below: 21), 0)
        XCTAssertEqual(modes.sizes(for: plain, system: .always, thpDisable: .none, below: 15), k16, "only sizes below the PMD's")
        XCTAssertTrue(modes.anyBelow(21, system: .never))
        XCTAssertFalse(AnonFolioModes(always: m2, inherit: k16).anyBelow(21, system: .never), "inherit of never is never")
        XCTAssertTrue(AnonFolioModes(inherit: k16).anyBelow(21, system: .madvise))
        XCTAssertFalse(AnonFolioModes().anyBelow(21, system: .always), "a log that does not say")
    }

    /// The rules Linux 6.18 showed for 64 MiB of shmem touched every 4 KiB (BENCHMARKS.md):
    /// shared anonymous memory takes each size by its own mode; memfd and SysV shm only
    /// under a top-level mode that allows folios; `deny` none; `force` the inheriting sizes.
    func testShmemFolioSizesByTheirModes() {
        let k64: UInt64 = 1 << 16, k128: UInt64 = 1 << 17, k512: UInt64 = 1 << 19, m2: UInt64 = 1 << 21
        func vma(_ name: String, _ flags: VMAFlags = []) -> VMA {
            var v = VMA(start: base, end: base + (4 << 20), offset: 0, prot: 3, mapFlags: MapFlags.shared, inode: 5, name: name,
                        label: 0, kernel: .newest)
            v.flags.formUnion(flags)
            return v
        }
        let sharedAnon = vma("/dev/zero (deleted)"), advised = vma("/dev/zero (deleted)", .hugePage)
        let memfd = vma("/memfd:m (deleted)"), sysv = vma("/SYSV00000000 (deleted)"), tmpfs = vma("/dev/shm/x")
        XCTAssertTrue(sharedAnon.flags.contains(.anonymousShmem))
        XCTAssertTrue(memfd.flags.contains(.internalShmem) && sysv.flags.contains(.internalShmem))
        XCTAssertFalse(tmpfs.flags.contains(.anonymousShmem) || tmpfs.flags.contains(.internalShmem))
        func sizes(_ modes: ShmemFolioModes, _ v: VMA, _ thpDisable: THPDisable = .none) -> UInt64 {
            modes.sizes(for: v, thpDisable: thpDisable, below: 21)
        }
        let own = ShmemFolioModes(always: k64, advise: k512, inherit: k128 | m2, topLevel: .never)
        XCTAssertEqual(sizes(own, sharedAnon), k64, "64 KiB always under a top-level never: shared anonymous memory gets it")
        XCTAssertEqual(sizes(own, advised), k64 | k512)
        XCTAssertEqual(sizes(own, memfd), 0, "memfd does not, under a top-level never")
        XCTAssertEqual(sizes(own, tmpfs), 0)
        var top = own
        top.topLevel = .always
        XCTAssertEqual(sizes(top, sharedAnon), k64 | k128, "inherit follows the top-level mode (2 MiB is the PMD's: not below it)")
        XCTAssertEqual(sizes(top, memfd), k64 | k128)
        XCTAssertEqual(sizes(top, sysv), k64 | k128)
        top.topLevel = .advise
        XCTAssertEqual(sizes(top, sharedAnon), k64)
        XCTAssertEqual(sizes(top, advised), k64 | k512 | k128)
        XCTAssertEqual(sizes(top, memfd), 0)
        top.topLevel = .withinSize
        XCTAssertEqual(sizes(top, sharedAnon), k64 | k128)
        top.topLevel = .deny
        XCTAssertEqual(sizes(top, sharedAnon), 0)
        XCTAssertEqual(sizes(top, memfd), 0)
        top.topLevel = .force
        XCTAssertEqual(sizes(top, sharedAnon), k128, "force: the inheriting sizes alone")
        XCTAssertEqual(sizes(own, vma("/dev/zero (deleted)", .noHugePage)), 0)
        XCTAssertEqual(sizes(own, sharedAnon, .all), 0)
        XCTAssertEqual(sizes(own, advised, .exceptAdvised), k64 | k512)
        XCTAssertEqual(sizes(own, sharedAnon, .exceptAdvised), 0)
        XCTAssertTrue(own.anyBelow(21))
        XCTAssertFalse(ShmemFolioModes(inherit: m2, topLevel: .always).anyBelow(21), "only the PMD's size")
        XCTAssertFalse(ShmemFolioModes().anyBelow(21), "a log that does not say")
        XCTAssertEqual(ShmemFolioModes(always: k64).sizes(for: anon(base, 1024), thpDisable: .none, below: 21), 0,
                       "private memory is not shmem")
    }

    func testKernelVersions() {
        XCTAssertEqual(KernelVersion(release: "6.18.44-fc-v1045"), KernelVersion(6, 18, 44))
        XCTAssertEqual(KernelVersion(release: "5.4"), KernelVersion(5, 4, 0))
        XCTAssertNil(KernelVersion(release: ""))
        XCTAssertNil(KernelVersion(release: "linux"))
        XCTAssertTrue(KernelBehaviour(release: "6.13.0").hugeZeroPageWriteAllocatesTHP)
        XCTAssertFalse(KernelBehaviour(release: "6.12.9").hugeZeroPageWriteAllocatesTHP)
        XCTAssertTrue(KernelBehaviour(release: "garbage").hugeZeroPageWriteAllocatesTHP, "unknown: the newest rules")
    }
}
