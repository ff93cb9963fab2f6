// The mapping a fault fell into, through everything that changes an address space: a
// mapping placed over another, munmap (of a length that is not a page multiple), a buffer
// mremap moves again and again, an address unmapped and mapped anew, fork, exec, exit and a
// reused pid. Each case is a small log built by hand, with the answer counted out.

import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class MappingIndexTests: XCTestCase {
    private var log = LoadedLog()
    private let page: UInt64 = 4096

    override func setUp() {
        log = LoadedLog()
        log.apply(.header(LogHeader(pageSize: 4096, thpMode: "never")))
        for (i, name) in ["prog", "//anon", "/lib/libc.so.6", "[stack]"].enumerated() {
            log.apply(.string(StringID(rawValue: UInt32(i)), name))
            log.apply(.module(ModuleID(rawValue: UInt32(i)), Module(path: StringID(rawValue: UInt32(i)), buildID: [])))
        }
    }

    /// Maps [start, start + pages) in `pid` at `time`; returns the mmap's index.
    @discardableResult
    private func mmap(_ pid: Int32, _ time: UInt64, _ start: UInt64, pages: UInt64, module: UInt32 = 1) -> Int {
        log.apply(.mmap(MmapEvent(pid: pid, timeNs: time, start: start, length: pages * page, pageOffset: 0,
                                  prot: 3, flags: 2, inode: 0, module: ModuleID(rawValue: module))))
        return log.mmaps.count - 1
    }

    private func change(_ pid: Int32, _ time: UInt64, _ change: AddressSpaceChange) {
        log.apply(.addressSpace(AddressSpaceEvent(pid: pid, tid: pid, timeNs: time, change: change)))
    }

    /// A fault in `pid` at `time`; returns its index.
    @discardableResult
    private func fault(_ pid: Int32, _ time: UInt64, _ address: UInt64) -> Int {
        log.apply(.fault(FaultEvent(pid: pid, tid: pid, timeNs: time, address: address, ip: 0, kind: .anon,
                                    access: .write, kernelMode: false, errorCode: nil, serviceNs: nil, stack: .empty)))
        return log.faults.count - 1
    }

    private func fork(_ child: Int32, of parent: Int32, at time: UInt64) {
        log.apply(.process(ProcessEvent(pid: child, ppid: parent, timeNs: time, command: StringID(rawValue: 0))))
    }

    func testALaterMappingCoversPartOfAnEarlierOne() {
        let heap = mmap(1, 10, 0x10000, pages: 8)
        let over = mmap(1, 20, 0x12000, pages: 1)
        let before = fault(1, 15, 0x12000)
        let inside = fault(1, 25, 0x12000)
        let left = fault(1, 26, 0x11000)
        let right = fault(1, 27, 0x13000)
        let tooEarly = fault(1, 5, 0x10000)
        let index = MappingIndex(log: log)
        XCTAssertEqual(index.mapping(ofFault: before), heap)
        XCTAssertEqual(index.mapping(ofFault: inside), over)
        XCTAssertEqual(index.mapping(ofFault: left), heap)
        XCTAssertEqual(index.mapping(ofFault: right), heap)
        XCTAssertNil(index.mapping(ofFault: tooEarly))
    }

    func testMunmapRoundsItsLengthUpToWholePages() {
        let mapped = mmap(1, 10, 0x10000, pages: 4)
        change(1, 20, .munmap(address: 0x10000, length: 0x1001))   // two pages go
        let gone = fault(1, 30, 0x11800)
        let kept = fault(1, 31, 0x12000)
        let index = MappingIndex(log: log)
        XCTAssertNil(index.mapping(ofFault: gone))
        XCTAssertEqual(index.mapping(ofFault: kept), mapped, "what is left of the mapping is still that mmap's")
    }

    func testABufferMovedByMremapStaysWithItsMmap() throws {
        // Mapped at A, grown in place, moved to B, moved again to C: each fault after a move
        // belongs to the first mmap, through copies at the new places.
        let a: UInt64 = 0x7000_0000, b: UInt64 = 0x6000_0000, c: UInt64 = 0x5000_0000
        let buffer = mmap(1, 10, a, pages: 1)
        change(1, 20, .mremap(address: a, length: page, newAddress: a, newLength: 2 * page, flags: 1))
        let grown = fault(1, 21, a + page)
        change(1, 30, .mremap(address: a, length: 2 * page, newAddress: b, newLength: 3 * page, flags: 1))
        let atB = fault(1, 31, b + 2 * page)
        let oldPlace = fault(1, 32, a)
        change(1, 40, .mremap(address: b, length: 3 * page, newAddress: c, newLength: 4 * page, flags: 1))
        let atC = fault(1, 41, c + 3 * page)
        let index = MappingIndex(log: log)
        for f in [grown, atB, atC] {
            let i = try XCTUnwrap(index.mapping(ofFault: f), "fault \(f)")
            XCTAssertEqual(index.mmaps[i].module, log.mmaps[buffer].module)
            XCTAssertGreaterThanOrEqual(i, log.mmaps.count, "a copy at the new place, not the mmap itself")
        }
        XCTAssertNil(index.mapping(ofFault: oldPlace))
        let final = try XCTUnwrap(index.mapping(ofFault: atC))
        XCTAssertEqual(index.mmaps[final].start, c)
        XCTAssertEqual(index.mmaps[final].end, c + 4 * page)
    }

    func testAnMremapInPlaceLeavesTheMappingsItKeepsAlone() throws {
        // Two mappings side by side; an in-place shrink over both only unmaps the tail.
        let first = mmap(1, 10, 0x10000, pages: 2, module: 1)
        let second = mmap(1, 11, 0x12000, pages: 2, module: 2)
        change(1, 20, .mremap(address: 0x10000, length: 4 * page, newAddress: 0x10000, newLength: 3 * page, flags: 1))
        let inSecond = fault(1, 30, 0x12000)
        let inTail = fault(1, 31, 0x13000)
        // An in-place growth extends the mapping that grew.
        change(1, 40, .mremap(address: 0x12000, length: page, newAddress: 0x12000, newLength: 3 * page, flags: 1))
        let grown = fault(1, 50, 0x14000)
        let stillFirst = fault(1, 51, 0x10000)
        let index = MappingIndex(log: log)
        XCTAssertEqual(index.mapping(ofFault: inSecond), second)
        XCTAssertNil(index.mapping(ofFault: inTail))
        let g = try XCTUnwrap(index.mapping(ofFault: grown))
        XCTAssertEqual(index.mmaps[g].module, log.mmaps[second].module)
        XCTAssertEqual(index.mapping(ofFault: stillFirst), first)
    }

    func testAnAddressUnmappedThenMappedAgainIsTheNewMappings() throws {
        // The old mapping's munmap came before the new mmap at the same address: an mremap of
        // the new one must move the new one (a stale unmap must not hide it).
        mmap(1, 10, 0x40000, pages: 16)
        change(1, 20, .munmap(address: 0x40000, length: 16 * page))
        let fresh = mmap(1, 30, 0x40000, pages: 2, module: 2)
        change(1, 40, .mremap(address: 0x40000, length: 2 * page, newAddress: 0x90000, newLength: 2 * page, flags: 1))
        let moved = fault(1, 50, 0x91000)
        let index = MappingIndex(log: log)
        let i = try XCTUnwrap(index.mapping(ofFault: moved))
        XCTAssertEqual(index.mmaps[i].module, log.mmaps[fresh].module)
    }

    func testAChildInheritsWhatItsParentHadAtTheFork() {
        let early = mmap(1, 10, 0x10000, pages: 4)
        fork(2, of: 1, at: 20)
        mmap(1, 30, 0x80000, pages: 4)                            // the parent's, after the fork
        change(1, 35, .munmap(address: 0x10000, length: 4 * page)) // the parent's only
        let inherited = fault(2, 40, 0x11000)
        let parentsLater = fault(2, 41, 0x80000)
        let parentAfterUnmap = fault(1, 42, 0x11000)
        let index = MappingIndex(log: log)
        XCTAssertEqual(index.mapping(ofFault: inherited), early)
        XCTAssertNil(index.mapping(ofFault: parentsLater))
        XCTAssertNil(index.mapping(ofFault: parentAfterUnmap))
    }

    func testExecEmptiesTheAddressSpaceAndExitEndsIt() {
        mmap(1, 10, 0x10000, pages: 4)
        log.apply(.exec(pid: 1, timeNs: 20, command: StringID(rawValue: 0)))
        let newStack = mmap(1, 21, 0x7ff0_0000, pages: 8, module: 3)
        let oldImage = fault(1, 30, 0x10000)
        let stack = fault(1, 31, 0x7ff0_1000)
        log.apply(.exit(ExitEvent(pid: 1, timeNs: 40, exitCode: 0, signal: 0)))
        // The pid comes back as a new process, forked from a parent that maps nothing there.
        fork(1, of: 9, at: 50)
        let reused = fault(1, 60, 0x7ff0_1000)
        let index = MappingIndex(log: log)
        XCTAssertNil(index.mapping(ofFault: oldImage))
        XCTAssertEqual(index.mapping(ofFault: stack), newStack)
        XCTAssertNil(index.mapping(ofFault: reused))
        XCTAssertEqual(MappingIndex.mapping(in: log, pid: 1, address: 0x7ff0_1000, timeNs: 31), newStack)
        XCTAssertNil(MappingIndex.mapping(in: log, pid: 1, address: 0x7ff0_1000, timeNs: 60))
    }

    func testAFaultOutsideEveryMappingKnowsItsNeighboursAsTheyWereThen() throws {
        let high = mmap(1, 10, 0x90000, pages: 1)
        let low = mmap(1, 11, 0x10000, pages: 4)
        mmap(1, 12, 0x50000, pages: 1)
        // The low mapping is cut short; a fault in the hole it left, and one past the gone one.
        change(1, 20, .munmap(address: 0x12000, length: 2 * page))
        change(1, 21, .munmap(address: 0x50000, length: page))
        let inHole = fault(1, 30, 0x13000)
        let inside = fault(1, 31, 0x10000)
        let index = MappingIndex(log: log)
        let around = try XCTUnwrap(index.surroundings(ofFault: inHole))
        XCTAssertNil(around.inside)
        XCTAssertEqual(around.below.map { Int($0.label) }, low)
        XCTAssertEqual(around.below?.end, 0x12000, "the live end, after the munmap")
        XCTAssertEqual(around.above.map { Int($0.label) }, high)
        XCTAssertNil(index.surroundings(ofFault: inside), "kept only for crashes and faults outside mappings")
    }

    func testManyMappingsAtOneAddress() {
        // 20,000 map/touch/unmap cycles at one address (the case that once made reports
        // quadratic): each fault belongs to its own cycle's mapping.
        for cycle in 0..<UInt64(20_000) {
            let t = 100 + cycle * 10
            mmap(1, t, 0x40000, pages: 4)
            for p in 0..<UInt64(4) { fault(1, t + 1 + p, 0x40000 + p * page) }
            change(1, t + 6, .munmap(address: 0x40000, length: 4 * page))
        }
        let index = MappingIndex(log: log)
        for f in stride(from: 0, to: 80_000, by: 997) { XCTAssertEqual(index.mapping(ofFault: f), f / 4) }
    }
}
