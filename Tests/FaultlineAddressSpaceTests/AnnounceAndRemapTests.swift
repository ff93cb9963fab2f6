// perf's announcements of VMAs (MMAP2 after mprotect, brk growth, merges) and mremap's
// cases, as seen on Linux 6.18 (see the cases in samples/mapping_churn.c and the kernel's
// mm/mremap.c).

import XCTest
import FaultlineCore
@testable import FaultlineAddressSpace

final class AnnounceTests: XCTestCase {
    let base: UInt64 = 0x10000000

    func testAnAnnouncementOfTheSameMemoryKeepsItsIdentityAndTakesTheNewProtection() {
        var space = AddressSpace()
        var heap = anon(base, 8, label: 1)
        heap.flags.insert(.hasAnonPages)
        space.map(heap)
        _ = space.advise(base, 8 * page, advice: Advice.hugePage)
        let serial = space[0].serial
        // mprotect of the middle, then perf describes the middle piece again.
        space.protect(base + 2 * page, 2 * page, prot: Protection.read)
        let a = space.announce(anon(base + 2 * page, 2, label: 5, prot: Protection.read))
        XCTAssertTrue(a.added.isEmpty)
        XCTAssertTrue(a.removed.isEmpty)
        XCTAssertEqual(space.vmas.map(\.label), [1, 1, 1])
        XCTAssertEqual(Set(space.vmas.map(\.serial)), [serial])
        XCTAssertTrue(space.vmas.allSatisfy { $0.flags.isSuperset(of: [.hugePage, .hasAnonPages]) })
    }

    func testAMergedMappingAddsOnlyTheNewPartWhichSharesTheAnonVMA() {
        // mmap(MAP_FIXED) next to an anonymous mapping with the same flags: perf reports the
        // merged VMA, old part included (seen on 6.18).
        var space = AddressSpace()
        var first = anon(base, 4, label: 1)
        first.flags.insert(.hasAnonPages)
        space.map(first)
        let a = space.announce(anon(base, 8, label: 2))
        XCTAssertEqual(a.added.map { [$0.start, $0.end] }, [[base + 4 * page, base + 8 * page]])
        XCTAssertEqual(layout(space), [[0, 4, 1], [4, 8, 2]])
        XCTAssertTrue(space[1].flags.contains(.hasAnonPages), "one VMA, one anon_vma")
    }

    func testAnAnnouncementOfOtherMemoryReplacesIt() {
        var space = AddressSpace()
        space.map(file(base, 4, offset: 0, label: 1))   // a library reserved with offset 0
        let a = space.announce(file(base + page, 2, offset: 0x5000, label: 2))   // a segment at another offset
        XCTAssertEqual(a.removed.map { [$0.start, $0.end] }, [[base + page, base + 3 * page]])
        XCTAssertEqual(layout(space), [[0, 1, 1], [1, 3, 2], [3, 4, 1]])
        let same = space.announce(file(base + 3 * page, 1, offset: 3 * page, label: 3))
        XCTAssertTrue(same.added.isEmpty, "the same file at the same offset is the same memory")
    }

    func testAnAnnouncementOverAHoleIsNewMemory() {
        var space = AddressSpace()
        space.map(anon(base, 2, label: 1))
        space.map(anon(base + 6 * page, 2, label: 1))
        let a = space.announce(anon(base, 8, label: 2))
        XCTAssertEqual(a.added.map { [$0.start, $0.end] }, [[base + 2 * page, base + 6 * page]])
        XCTAssertEqual(layout(space), [[0, 2, 1], [2, 6, 2], [6, 8, 1]])
    }

    func testInsertWhereUnmappedNeverReplaces() {
        var space = AddressSpace()
        space.map(anon(base, 2, label: 1))
        XCTAssertFalse(space.insertWhereUnmapped(anon(base + page, 4, label: 2)))
        XCTAssertTrue(space.insertWhereUnmapped(anon(base + 4 * page, 4, label: 3)))
        XCTAssertEqual(layout(space), [[0, 2, 1], [4, 8, 3]])
    }
}

final class RemapTests: XCTestCase {
    let base: UInt64 = 0x10000000

    func remap(_ old: UInt64, _ oldPages: UInt64, _ newPages: UInt64, to new: UInt64, flags: UInt32 = RemapFlags.mayMove)
        -> RemapCall {
        RemapCall(oldAddress: old, oldLength: oldPages * page, newLength: newPages * page, flags: flags, newAddress: new)
    }

    func testShrinkInPlaceUnmapsTheTail() {
        var space = AddressSpace()
        space.map(anon(base, 8, label: 1))
        let e = space.remap(remap(base, 8, 3, to: base))
        XCTAssertEqual(layout(space), [[0, 3, 1]])
        XCTAssertEqual(e.unmapped.map(\.length), [5 * page])
        XCTAssertNil(e.moved)
        XCTAssertEqual(space.tailFreedInPlace(oldAddress: base, oldLength: 8 * page, newLength: 3 * page, flags: 1)?.start,
                       base + 3 * page)
        XCTAssertNil(space.tailFreedInPlace(oldAddress: base, oldLength: 8 * page, newLength: 3 * page, flags: RemapFlags.fixed))
    }

    func testGrowInPlaceExtendsTheVMAWithItsFileOffset() {
        var space = AddressSpace()
        space.map(file(base, 4, offset: 0x2000, label: 1))
        let serial = space[0].serial
        let e = space.remap(remap(base, 4, 6, to: base))
        XCTAssertEqual(layout(space), [[0, 6, 1]], "the VMA grows: one piece")
        XCTAssertEqual(space[0].offset, 0x2000)
        XCTAssertEqual(space[0].serial, serial)
        XCTAssertEqual(space.pieces(base + 4 * page, base + 6 * page).first?.offset, 0x2000 + 4 * page)
        XCTAssertEqual(e.grown.map { [$0.start, $0.end] }, [base + 4 * page, base + 6 * page])
    }

    func testAMoveTakesTheMappingAndItsPagesAndGrowsThere() {
        var space = AddressSpace()
        space.map(anon(base, 4, label: 1))
        space.map(anon(base + 4 * page, 4, label: 2))   // blocks growth in place
        let to = base + 64 * page
        let e = space.remap(remap(base, 4, 6, to: to))
        XCTAssertEqual(layout(space), [[4, 8, 2], [64, 70, 1]])
        XCTAssertEqual(e.moved.map { [$0.from, $0.to, $0.length] }, [base, to, 4 * page])
        XCTAssertEqual(e.grown.map { [$0.start, $0.end] }, [to + 4 * page, to + 6 * page])
        XCTAssertTrue(e.unmapped.isEmpty, "the old range moved; nothing was destroyed")
    }

    func testFixedMoveReplacesTheDestinationAndShrinksFirst() {
        var space = AddressSpace()
        space.map(anon(base, 8, label: 1))
        space.map(anon(base + 32 * page, 8, label: 2))
        let e = space.remap(remap(base, 8, 2, to: base + 34 * page, flags: RemapFlags.mayMove | RemapFlags.fixed))
        XCTAssertEqual(layout(space), [[32, 34, 2], [34, 36, 1], [36, 40, 2]])
        XCTAssertEqual(e.unmapped.map(\.label).sorted(), [1, 2], "the destination, and the old tail")
        XCTAssertEqual(e.unmapped.map(\.length).reduce(0, +), 8 * page)
        XCTAssertEqual(e.moved?.length, 2 * page)
    }

    func testDontUnmapLeavesTheOldRangeMappedAndEmpty() {
        var space = AddressSpace()
        space.map(anon(base, 4, label: 1))
        let to = base + 16 * page
        let e = space.remap(remap(base, 4, 4, to: to, flags: RemapFlags.mayMove | RemapFlags.dontUnmap))
        XCTAssertEqual(layout(space), [[0, 4, 1], [16, 20, 1]])
        XCTAssertEqual(e.emptied.map { [$0.start, $0.end] }, [base, base + 4 * page])
        XCTAssertEqual(e.moved?.to, to)
    }

    func testOldLengthZeroDuplicatesASharedMapping() {
        var space = AddressSpace()
        space.map(VMA(start: base, end: base + 4 * page, offset: 0, prot: rw, backing: .sharedMemory, inode: 3, label: 1))
        let e = space.remap(remap(base, 0, 4, to: base + 16 * page))
        XCTAssertEqual(layout(space), [[0, 4, 1], [16, 20, 1]])
        XCTAssertNotEqual(space[0].serial, space[1].serial, "a second mapping of the same pages")
        XCTAssertNil(e.moved)
    }

    func testOnlyTheCallersMappingMovesWhenAnotherThreadMappedMeanwhile() {
        // The recorder applies a move at the call's exit: what another thread mapped in the
        // old range since the entry is another mapping and stays, and the mapping the call
        // found at its entry is what arrives at the new place, whole.
        var space = AddressSpace()
        space.map(anon(base, 4, label: 1))
        let atEntry = space.pieces(base, base + 4 * page)
        space.map(file(base, 4, offset: 0, label: 7))   // thread 2 maps a file there meanwhile
        space.remap(remap(base, 4, 6, to: base + 32 * page), source: atEntry)
        XCTAssertEqual(layout(space), [[0, 4, 7], [32, 38, 1]])
    }
}

final class JoinedPiecesTests: XCTestCase {
    let base: UInt64 = 0x10000000

    /// realloc growing a buffer a page at a time, each growth blocked in place so that it
    /// moves down (mapping_churn's grow_buffer): the buffer is one VMA to the kernel, and
    /// stays one piece here. Kept apart, each growth added a piece, and each later move,
    /// split and lookup walked them all: quadratic in the growths.
    func testABufferGrownByManyMovesIsOnePiece() {
        var space = AddressSpace()
        var buffer: UInt64 = 0x7f00_0000_0000
        space.map(anon(buffer, 1, label: 1))
        for k in UInt64(1)...500 {
            space.map(anon(buffer + k * page, 1, label: 2))   // the blocker
            let to = buffer - (k + 1) * page
            space.remap(RemapCall(oldAddress: buffer, oldLength: k * page, newLength: (k + 1) * page,
                                  flags: RemapFlags.mayMove, newAddress: to))
            space.unmap(buffer + k * page, page)
            buffer = to
        }
        XCTAssertEqual(space.vmas.map { [$0.start, $0.end, UInt64($0.label)] }, [[buffer, buffer + 501 * page, 1]])
    }

    func testAGrowthInPlaceAndABrkGrowthJoinTheirVMA() {
        var space = AddressSpace()
        space.map(anon(base, 4, label: 1))
        space.remap(RemapCall(oldAddress: base, oldLength: 4 * page, newLength: 8 * page, flags: 0, newAddress: base))
        XCTAssertEqual(layout(space), [[0, 8, 1]])
        let heap = base + 64 * page
        space.brk(result: heap, heapLabel: 3)
        for k in UInt64(1)...100 { space.brk(result: heap + k * page, heapLabel: 3) }
        XCTAssertEqual(layout(space), [[0, 8, 1], [64, 164, 3]])
    }

    func testAnMprotectUndoneJoinsThePiecesAgain() {
        var space = AddressSpace()
        space.map(anon(base, 10, label: 4))
        space.protect(base + 3 * page, 2 * page, prot: Protection.read)
        XCTAssertEqual(layout(space), [[0, 3, 4], [3, 5, 4], [5, 10, 4]])
        space.protect(base + 3 * page, 2 * page, prot: rw)
        XCTAssertEqual(layout(space), [[0, 10, 4]], "vma_merge: the same VMA again")
    }

    func testPiecesOfDifferentMappingsOrAttributesStayApart() {
        var space = AddressSpace()
        space.map(anon(base, 4, label: 1))
        // Another mmap right after, alike down to an offset that carries on: another serial.
        space.map(VMA(start: base + 4 * page, end: base + 8 * page, offset: 4 * page, prot: rw, backing: .anonymous, label: 1))
        space.map(file(base + 8 * page, 2, offset: 0, label: 5))
        space.map(file(base + 10 * page, 2, offset: 0, label: 5)) // the file offset does not carry on
        XCTAssertEqual(layout(space), [[0, 4, 1], [4, 8, 1], [8, 10, 5], [10, 12, 5]])
        _ = space.advise(base, 2 * page, advice: Advice.hugePage)
        XCTAssertEqual(layout(space), [[0, 2, 1], [2, 4, 1], [4, 8, 1], [8, 10, 5], [10, 12, 5]])
    }
}

final class RemapChainTests: XCTestCase {
    /// realloc of a growing buffer, as sqlite does it: each mremap moves the mapping and
    /// grows it; the recorder applies each at the call's exit with the source from its entry.
    func testAChainOfGrowingMovesKeepsTheGrownPartMapped() {
        var space = AddressSpace()
        let a: UInt64 = 0x7f5fe17a9000
        space.map(VMA(start: 0x7f5fe17ca000, end: 0x7f5fe17cd000, prot: rw, backing: .anonymous, label: 9))
        space.announce(VMA(start: a, end: 0x7f5fe17cd000, prot: rw, backing: .anonymous, label: 1))
        var old = a, oldLength: UInt64 = 0x21000
        // The moves go to just below the old place, as the kernel found room there.
        for (new, newLength) in [(UInt64(0x7f5fe1768000), UInt64(0x41000)), (0x7f5fe16e7000, 0x81000), (0x7f5fe15e6000, 0x101000)] {
            let source = space.pieces(old, old + oldLength)
            XCTAssertFalse(source.isEmpty)
            space.remap(RemapCall(oldAddress: old, oldLength: oldLength, newLength: newLength, flags: 1, newAddress: new),
                        source: source)
            for offset in stride(from: UInt64(0), to: newLength, by: 4096) {
                XCTAssertNotNil(space.lookup(new + offset), "\(String(new, radix: 16)) + \(String(offset, radix: 16))")
            }
            old = new
            oldLength = newLength
        }
    }
}
