// The heap by the kernel's name: an anonymous mapping record that holds its process's break
// reads as "[heap]", as /proc/PID/maps names it; perf announced it as "//anon".

import XCTest
import FaultlineCore
@testable import FaultlineLog

final class InitialHeapTests: XCTestCase {
    private let anon = ModuleID(rawValue: 0)
    private let libc = ModuleID(rawValue: 1)
    private let startBrk: UInt64 = 0x5581_c833_8000
    private var log = LoadedLog()
    private var clock: UInt64 = 0

    override func setUp() {
        log = LoadedLog()
        log.apply(.header(LogHeader(pageSize: 4096, thpMode: "never", recorderVersion: "faultline-test")))
        log.apply(.string(StringID(rawValue: 0), "//anon"))
        log.apply(.module(anon, Module(path: StringID(rawValue: 0), buildID: [])))
        log.apply(.string(StringID(rawValue: 1), "/usr/lib/libc.so.6"))
        log.apply(.module(libc, Module(path: StringID(rawValue: 1), buildID: [])))
        fork(7, from: 1)
    }

    private func tick() -> UInt64 { clock += 1; return clock }
    private func fork(_ pid: Int32, from parent: Int32) {
        log.apply(.process(ProcessEvent(pid: pid, ppid: parent, timeNs: tick(), command: StringID(rawValue: 0))))
    }
    private func brk(_ pid: Int32, asked: UInt64, got: UInt64, at time: UInt64? = nil) {
        log.apply(.addressSpace(AddressSpaceEvent(pid: pid, tid: pid, timeNs: time ?? tick(), change: .brk(requested: asked, result: got))))
    }
    /// A mapping record, anonymous unless `module` says; returns its index in `log.mmaps`.
    @discardableResult
    private func mmap(_ pid: Int32, _ start: UInt64, pages: UInt64, module: ModuleID? = nil) -> Int {
        log.apply(.mmap(MmapEvent(pid: pid, timeNs: tick(), start: start, length: pages * 4096, pageOffset: 0,
                                  prot: 3, flags: 2, inode: 1, module: module ?? anon)))
        return log.mmaps.count - 1
    }
    private func name(_ i: Int) -> String { log.modulePath(log.mmaps[i].module) }

    func testTheMappingAtTheFirstBreakIsTheHeapAndNoOtherIs() {
        brk(7, asked: 0, got: startBrk)                       // ld.so asks where the break is
        let below = mmap(7, startBrk - 0x10_0000, pages: 4)    // anonymous, away from the break
        let growth = mmap(7, startBrk, pages: 33)              // perf's announcement of the growth...
        brk(7, asked: startBrk + 33 * 4096, got: startBrk + 33 * 4096) // ...comes before brk returns
        let piece = mmap(7, startBrk + 33 * 4096, pages: 33)   // the recorder writes a growth's new part alone
        brk(7, asked: startBrk + 66 * 4096, got: startBrk + 66 * 4096)
        let above = mmap(7, startBrk + 0x100_0000, pages: 4)
        let file = mmap(7, startBrk, pages: 1, module: libc)   // no file mapping is the heap
        log.nameInitialHeaps()

        XCTAssertEqual(name(growth), "[heap]")
        XCTAssertEqual(name(piece), "[heap]")
        XCTAssertEqual(name(below), "//anon")
        XCTAssertEqual(name(above), "//anon")
        XCTAssertEqual(name(file), "/usr/lib/libc.so.6")
        XCTAssertEqual(log.modules.count, 3, "one [heap] module for every heap record")
    }

    func testAForkKeepsTheBreakAndAnExecForgetsIt() {
        brk(7, asked: 0, got: startBrk)
        fork(8, from: 7)
        let childs = mmap(8, startBrk, pages: 8)
        log.apply(.exec(pid: 8, timeNs: tick(), command: StringID(rawValue: 0)))
        let afterExec = mmap(8, startBrk, pages: 8)            // the new image has no break known yet
        log.nameInitialHeaps()

        XCTAssertEqual(name(childs), "[heap]")
        XCTAssertEqual(name(afterExec), "//anon")
    }

    func testABreakFirstSeenMovingIsNotTakenForTheStart() {
        // Attached after the program's brk(0): where its heap began is unknown.
        brk(7, asked: startBrk + 0x21000, got: startBrk + 0x21000)
        let heapish = mmap(7, startBrk, pages: 33)
        log.nameInitialHeaps()
        XCTAssertEqual(name(heapish), "//anon")
    }

    func testTheRuleFollowsTimeNotLogOrder() {
        // The recorder writes a brk at its exit with its entry's time, after the mapping
        // record its growth made.
        let before = clock + 1
        clock += 10
        let growth = mmap(7, startBrk, pages: 33)
        brk(7, asked: 0, got: startBrk, at: before)
        log.nameInitialHeaps()
        XCTAssertEqual(name(growth), "[heap]")
    }

    func testALogThatNamesTheHeapItselfKeepsItsModule() {
        log.apply(.string(StringID(rawValue: 2), "[heap]"))
        log.apply(.module(ModuleID(rawValue: 2), Module(path: StringID(rawValue: 2), buildID: [])))
        brk(7, asked: 0, got: startBrk)
        let growth = mmap(7, startBrk, pages: 33)
        log.nameInitialHeaps()
        XCTAssertEqual(log.mmaps[growth].module, ModuleID(rawValue: 2))
        XCTAssertEqual(log.modules.count, 3)
    }
}
