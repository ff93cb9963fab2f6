// Fault classes the model must get right one by one: the zero page and its CoW, fault-around
// on file mappings, private file writes, CoW after fork, shared memory, protection.

import XCTest
import FaultlineAddressSpace
import FaultlineCore
@testable import FaultlineReplay

final class FaultKindTests: XCTestCase {
    let base: UInt64 = 1 * GiB

    func testZeroPageThenWrites() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(base, 10 * 4 * KiB), name: "//anon")
            for i in 0..<UInt64(10) { input.appendAccess(base + i * 4 * KiB, .read) }
            for i in 0..<UInt64(10) { input.appendAccess(base + i * 4 * KiB, .write) }
            for i in 0..<UInt64(10) { input.appendAccess(base + i * 4 * KiB, .write) }
        }
        XCTAssertEqual(r.faults(.zero), 10)
        XCTAssertEqual(r.faults(.cow), 10)
        XCTAssertEqual(r.noFault, 10)
        XCTAssertEqual(r.peakResidentBytes, 40 * KiB)
    }

    func testHugeZeroPageThenWritesFollowTheRecordingsKernel() {
        // THP: one read maps the huge zero page. Before 6.13, each write then splits it and
        // copies 4 KiB; since, the first write allocates a whole THP.
        let run = { (release: String) in
            replay(config(.k4, .always)) { input in
                input.kernel = KernelBehaviour(release: release)
                input.appendMapping(anonymous(self.base, 2 * MiB), name: "//anon")
                for i in 0..<UInt64(10) { input.appendAccess(self.base + i * 4 * KiB, .read) }
                for i in 0..<UInt64(10) { input.appendAccess(self.base + i * 4 * KiB, .write) }
            }
        }
        let old = run("6.12.10")
        XCTAssertEqual(old.faults(.zero), 1)
        XCTAssertEqual(old.faults(.cow), 10)
        XCTAssertEqual(old.peakResidentBytes, 40 * KiB)
        XCTAssertEqual(old.hugeBytesAtPeak, 0)
        let new = run("6.18.44")
        XCTAssertEqual(new.faults(.zero), 1)
        XCTAssertEqual(new.faults(.cow), 1)
        XCTAssertEqual(new.noFault, 18)
        XCTAssertEqual(new.peakResidentBytes, 2 * MiB)
        XCTAssertEqual(new.hugeBytesAtPeak, 2 * MiB)
    }

    func fileMapping(_ start: UInt64, pages: UInt64, shared: Bool = false) -> VMA {
        VMA(start: start, end: start + pages * 4 * KiB, prot: 3, backing: shared ? .fileShared : .filePrivate, inode: 42)
    }

    func testFaultAroundMapsA64KiBWindow() {
        // 64 pages read in order: each fault maps its aligned 16-page window.
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(fileMapping(base, pages: 64), name: "/data")
            for i in 0..<UInt64(64) { input.appendAccess(base + i * 4 * KiB, .read) }
        }
        XCTAssertEqual(r.faults(.file), 4)
        XCTAssertEqual(r.noFault, 60)
        XCTAssertEqual(r.peakResidentBytes, 256 * KiB)
    }

    func testFaultAroundIsClippedToTheMapping() {
        // A mapping starting 3 pages into a window: the first window runs from the mapping's
        // start for 16 pages (Linux's from_pte/to_pte: pages 3-18); later windows are aligned
        // again (16-31, 32-47, 48-63, 64-66), so faults come at 3, 19, 32, 48 and 64.
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(fileMapping(base + 3 * 4 * KiB, pages: 64), name: "/data")
            for i in 3..<UInt64(67) { input.appendAccess(base + i * 4 * KiB, .read) }
        }
        XCTAssertEqual(r.faults(.file), 5)
        // 64K granule: fault-around is off (one page per window), 256 KiB = 4 or 5 pages.
        let big = replay(config(.k64, .never)) { input in
            input.appendMapping(fileMapping(base, pages: 64), name: "/data")
            for i in 0..<UInt64(64) { input.appendAccess(base + i * 4 * KiB, .read) }
        }
        XCTAssertEqual(big.faults(.file), 4)
    }

    func testPrivateFileWrites() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(fileMapping(base, pages: 16), name: "/data")
            input.appendAccess(base, .write)              // not present: copied at once (cow)
            input.appendAccess(base + 4 * KiB, .read)     // file, maps the rest around
            input.appendAccess(base + 8 * KiB, .write)    // mapped read-only by fault-around: cow
            input.appendAccess(base + 8 * KiB, .write)    // now private: nothing
        }
        XCTAssertEqual(r.faults(.cow), 2)
        XCTAssertEqual(r.faults(.file), 1)
        XCTAssertEqual(r.noFault, 1)
        XCTAssertEqual(r.peakResidentBytes, 16 * 4 * KiB)
        XCTAssertEqual(r.peakAnonBytes, 2 * 4 * KiB)
    }

    /// MADV_PAGEOUT takes a private file mapping's page-cache pages from the page tables
    /// (the next read faults and maps its window again), not the pages a write copied, nor
    /// anonymous memory (they would go to swap, which the model has none of).
    func testPageOutUnmapsFilePagesOnly() {
        let anon = base + 64 * MiB
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(fileMapping(base, pages: 16), name: "/data")
            input.appendMapping(VMA(start: anon, end: anon + 16 * 4 * KiB, prot: 3, backing: .anonymous), name: "[anon]")
            input.appendAccess(base, .read)                   // file: maps all 16 around
            input.appendAccess(base + 4 * KiB, .write)        // cow of a page mapped around
            input.appendAccess(anon, .write)                  // anon
            input.append(.madvise(address: base, length: 16 * 4 * KiB, advice: Advice.pageOut))
            input.append(.madvise(address: anon, length: 16 * 4 * KiB, advice: Advice.pageOut))
            input.appendAccess(base + 4 * KiB, .write)        // the copy stayed, writable: nothing
            input.appendAccess(base + 8 * KiB, .read)         // file again, maps its window again
            input.appendAccess(anon, .read)                   // stayed: nothing
        }
        XCTAssertEqual(r.faults(.file), 2)
        XCTAssertEqual(r.faults(.cow), 1)
        XCTAssertEqual(r.faults(.anon), 1)
        XCTAssertEqual(r.noFault, 2)
        XCTAssertEqual(r.finalResidentBytes, 16 * 4 * KiB + 4 * KiB, "15 file pages mapped again and the copy; the anon page")
    }

    /// mlock fills its range, mlock2(MLOCK_ONFAULT) nothing; under mlockall(MCL_FUTURE) the
    /// mmap fills (its record says MAP_LOCKED), unless MCL_ONFAULT; a fork child's writes to
    /// locked pages are copies, as to any other.
    func testLockedMemoryIsFilledByTheCallThatLocksIt() {
        let second = base + 64 * MiB, third = base + 128 * MiB, fourth = base + 192 * MiB
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(base, 16 * 4 * KiB), name: "[anon]")
            input.append(.mlock(address: base, length: 8 * 4 * KiB, flags: 0))
            for i in 0..<UInt64(16) { input.appendAccess(base + i * 4 * KiB, .write) }          // 8 anon
            input.appendMapping(anonymous(second, 16 * 4 * KiB), name: "[anon]")
            input.append(.mlock(address: second, length: 16 * 4 * KiB, flags: LockFlags.onFault))
            for i in 0..<UInt64(16) { input.appendAccess(second + i * 4 * KiB, .write) }        // 16 anon
            input.append(.mlockall(flags: LockFlags.future))
            input.appendMapping(anonymous(third, 16 * 4 * KiB), name: "[anon]", mapFlags: MapFlags.locked)
            for i in 0..<UInt64(16) { input.appendAccess(third + i * 4 * KiB, .write) }         // none
            input.append(.mlockall(flags: LockFlags.future | LockFlags.allOnFault))
            input.appendMapping(anonymous(fourth, 16 * 4 * KiB), name: "[anon]", mapFlags: MapFlags.locked)
            for i in 0..<UInt64(16) { input.appendAccess(fourth + i * 4 * KiB, .write) }        // 16 anon
            input.append(.fork(parent: 0), process: 1)
            for i in 0..<UInt64(4) { input.appendAccess(third + i * 4 * KiB, .write, process: 1) } // 4 cow
        }
        // And the faults the kernel takes filling the locked pages (get_user_pages), as
        // it counts them: mlock's 8, the mmap's 16 under MCL_FUTURE.
        XCTAssertEqual(r.filledFaults, 8 + 16)
        XCTAssertEqual(r.faults(.anon), 8 + 16 + 16 + r.filledFaults)
        XCTAssertEqual(r.faults(.cow), 4)
        XCTAssertEqual(r.noFault, 8 + 16)
    }

    /// One mlockall is one call: its pieces share the populate limit, so a log of many huge
    /// mappings cannot make one record fill each of them to the limit.
    func testOneMlockallFillsAtMostThePopulateLimit() {
        let r = replay(config(.k4, .always)) { input in
            for i in 0..<UInt64(4) {
                input.appendMapping(anonymous(base + i * 8 * GiB, 4 * GiB), name: "[anon]")
            }
            input.append(.mlockall(flags: LockFlags.current))
        }
        XCTAssertEqual(r.finalResidentBytes, WorkLimits.populatePerCall, "8 GiB of the 16 GiB, in 2 MiB pages")
        XCTAssertEqual(r.populateCapped, 1)
    }

    /// Each populating mapping is a call of its own, so the calls of a whole replay share one
    /// limit too: 40 MAP_POPULATE mappings of 8 GiB ask for 320 GiB, and the model fills
    /// 256 GiB (a file of such records, 20 bytes each, would otherwise buy a tenth of a
    /// second of model a record).
    func testAllPopulatesTogetherFillAtMostTheTotalLimit() {
        let r = replay(config(.k4, .always)) { input in
            for i in 0..<UInt64(40) {
                input.appendMapping(anonymous(base + i * 16 * GiB, 8 * GiB), name: "[anon]", mapFlags: MapFlags.populate)
            }
        }
        XCTAssertEqual(r.finalResidentBytes, WorkLimits.populateTotal, "256 GiB of the 320 GiB, in 2 MiB pages")
        XCTAssertEqual(r.populateCapped, 8, "the 8 calls past the total, each cut short")
    }

    func testSharedFileWriteNotify() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(fileMapping(base, pages: 16, shared: true), name: "/data")
            input.appendAccess(base, .read)
            input.appendAccess(base, .write)     // clean shared page: write-notify
            input.appendAccess(base + 4 * KiB, .write) // mapped clean by fault-around: write-notify
        }
        XCTAssertEqual(r.faults(.file), 1)
        XCTAssertEqual(r.faults(.other), 2)
    }

    func testCowAfterFork() {
        // cow_fork: the parent writes 1000 pages, forks; the child writes 250 (CoW); the
        // parent's own later write is CoW too (its PTEs were write-protected by fork).
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(base, 1000 * 4 * KiB), name: "//anon")
            for i in 0..<UInt64(1000) { input.appendAccess(base + i * 4 * KiB, .write) }
            input.append(.fork(parent: 0), process: 1)
            for i in 0..<UInt64(250) { input.appendAccess(base + i * 4 * KiB, .write, process: 1) }
            input.appendAccess(base + 999 * 4 * KiB, .write)
            input.appendAccess(base + 998 * 4 * KiB, .read, process: 1)   // mapped: no fault
        }
        XCTAssertEqual(r.faults(.anon), 1000)
        XCTAssertEqual(r.faults(.cow), 251)
        XCTAssertEqual(r.noFault, 1)
        // 1000 shared pages plus 250 child copies; the parent's copy reuses its page.
        XCTAssertEqual(r.peakResidentBytes, 1250 * 4 * KiB)
    }

    /// A write to a write-protected huge page after fork (do_huge_pmd_wp_page): while the
    /// child maps any of it (whole, or the pages left of it after its own write split its
    /// mapping) the writer's mapping splits and one page is copied; once the child has
    /// exited, it is the parent's alone, made writable whole by one fault. A huge page that
    /// mprotect of one of its pages cut into two VMAs was split by the call: its pages are
    /// shared a page at a time, a fault each.
    func testAWriteProtectedHugePageIsReusedOnceNoOtherProcessMapsIt() {
        let page = 4 * KiB
        let first = base, second = base + 2 * MiB, third = base + 4 * MiB
        var input = ReplayInput()
        input.appendMapping(anonymous(base, 6 * MiB), name: "//anon")
        for huge in [first, second, third] { input.appendAccess(huge, .write) }
        input.append(.mprotect(address: third + 5 * page, length: page, prot: 1))   // cuts the third
        input.append(.fork(parent: 0), process: 1)
        input.appendAccess(first + 9 * page, .write, process: 1)   // the child splits its mapping of the first
        input.appendAccess(first + 1 * page, .write)               // still mapped by the child: split, a copy
        input.appendAccess(first + 2 * page, .write)               // a base page now: a copy
        input.append(.exit, process: 1)
        input.appendAccess(second + 1 * page, .write)              // the parent's alone: reused whole
        input.appendAccess(second + 2 * page, .write)              // writable: no fault
        input.appendAccess(third + 1 * page, .write)               // split by the cut: a fault a page
        input.appendAccess(third + 2 * page, .write)
        let r = ReplayEngine(config: config(.k4, .always), input: input).run()
        XCTAssertEqual(r.faults(.anon), 3, "three huge pages")
        XCTAssertEqual(r.faults(.cow), 6, "the child's one, the parent's two in the first, one in the second, two in the third")
        XCTAssertEqual(r.noFault, 1)
        XCTAssertEqual(r.hugeBytesAtPeak, 2 * 2 * MiB, "at the peak (the child's copy on top) the third is split already")
        XCTAssertEqual(r.finalResidentBytes, 6 * MiB, "the parent's memory; the child's copy went with it")
    }

    /// `replay --pid`: only the counted processes' faults are counted, but every process is
    /// replayed: the child's 250 writes are copies of its parent's pages, as without it.
    /// (Processes built by hand have pid index + 1: the parent 1, the child 2.)
    func testCountedProcessesKeepTheirParentsPages() {
        var input = ReplayInput()
        input.appendMapping(anonymous(base, 1000 * 4 * KiB), name: "//anon")
        for i in 0..<UInt64(1000) { input.appendAccess(base + i * 4 * KiB, .write) }
        input.append(.fork(parent: 0), process: 1)
        for i in 0..<UInt64(250) { input.appendAccess(base + i * 4 * KiB, .write, process: 1) }
        input.appendAccess(base + 999 * 4 * KiB, .write)
        input.appendAccess(base + 998 * 4 * KiB, .read, process: 1)
        let child = ReplayEngine(config: config(.k4, .never), input: input, counted: [2]).run()
        XCTAssertEqual(child.faults(.anon), 0)
        XCTAssertEqual(child.faults(.cow), 250, "copies of the parent's pages, not first touches")
        XCTAssertEqual(child.noFault, 1)
        XCTAssertEqual(child.mappings.map(\.faults), [250])
        let parent = ReplayEngine(config: config(.k4, .never), input: input, counted: [1]).run()
        XCTAssertEqual(parent.faults(.anon), 1000)
        XCTAssertEqual(parent.faults(.cow), 1)
        XCTAssertEqual(parent.noFault, 0)
        // The self-check's tally is of the counted faults too.
        XCTAssertEqual(child.outcomes.reduce(0, +), 251)
        // Resident memory stays the whole model's.
        XCTAssertEqual(child.peakResidentBytes, 1250 * 4 * KiB)
        XCTAssertEqual(ReplayEngine(config: config(.k4, .never), input: input, counted: [1, 2]).run().faults(.cow), 251)
    }

    func testForkDoesNotCopyZeroOnlyOrSharedMappings() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(base, 4 * 4 * KiB), name: "//anon")
            input.appendMapping(VMA(start: 2 * GiB, end: 2 * GiB + 16 * KiB, prot: 3, backing: .sharedMemory), name: "/dev/zero (deleted)")
            input.appendAccess(base, .read)                // zero page only: no anon_vma
            input.appendAccess(2 * GiB, .write)             // shmem
            input.append(.fork(parent: 0), process: 1)
            input.appendAccess(base, .read, process: 1)    // not copied: zero again
            input.appendAccess(2 * GiB, .write, process: 1) // not copied: file fault, no CoW
        }
        XCTAssertEqual(r.faults(.zero), 2)
        XCTAssertEqual(r.faults(.file), 2)
        XCTAssertEqual(r.faults(.cow), 0)
    }

    /// Each page's mapping decides whether fork copies it, page by page through the map: a
    /// written private mapping's pages are shared copy-on-write, the shared memory's after
    /// it are not (the lookup remembers the last mapping it found, and must not use it past
    /// its end).
    func testForkCopiesEachMappingByItsOwnRules() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(base, 4 * 4 * KiB), name: "//anon")
            input.appendMapping(VMA(start: base + 64 * KiB, end: base + 80 * KiB, prot: 3, backing: .sharedMemory), name: "/dev/zero (deleted)")
            for i in 0..<UInt64(4) {
                input.appendAccess(base + i * 4 * KiB, .write)               // anon, with an anon_vma
                input.appendAccess(base + 64 * KiB + i * 4 * KiB, .write)    // shmem
            }
            input.append(.fork(parent: 0), process: 1)
            for i in 0..<UInt64(4) {
                input.appendAccess(base + i * 4 * KiB, .write, process: 1)            // copied: CoW
                input.appendAccess(base + 64 * KiB + i * 4 * KiB, .write, process: 1) // not copied: a file fault
            }
        }
        XCTAssertEqual(r.faults(.anon), 4)
        XCTAssertEqual(r.faults(.cow), 4)
        XCTAssertEqual(r.faults(.file), 8)
        XCTAssertEqual(r.faults(.other), 0)
    }

    /// At a granule coarser than the recording's pages, a VMA's last page is only partly
    /// inside it, and a VMA that begins inside a page has a part of its own there
    /// (ProcessState.edges). Both were charged to the VMA's row when written; a fork child's
    /// exit must take them off it again. (It took them off the totals alone: the rows of a
    /// shell loop's bash grew by a page with every child, 315 MiB for a 44 KiB .bss after
    /// 5,000 children at 64k.)
    func testForkChildrensPartPagesLeaveTheirRowsAtExit() {
        let heap = base, fileStart = base + 12 * KiB   // the file mapping begins inside heap's 64 KiB page
        let r = replay(config(.k64, .never)) { input in
            input.appendMapping(anonymous(heap, 12 * KiB), name: "//anon")
            input.appendMapping(VMA(start: fileStart, end: fileStart + 8 * KiB, offset: 0, prot: 3, mapFlags: MapFlags.private,
                                    inode: 9, name: "/data/f", label: 0, kernel: .newest), name: "/data/f")
            input.appendAccess(heap, .write)                       // anon: the page heap ends inside
            input.appendAccess(fileStart, .write)                  // cow: file's part of that page, its own
            for child in Int32(1)...3 {
                input.append(.fork(parent: 0), process: child)
                input.appendAccess(heap, .write, process: child)       // cow: the child's copy
                input.appendAccess(fileStart, .write, process: child)  // cow: the child's copy
                input.append(.exit, process: child)
            }
        }
        XCTAssertEqual(r.faults(.anon), 1)
        XCTAssertEqual(r.faults(.cow), 1 + 3 * 2)
        // The parent's page and one child's copy at a time, in each row.
        XCTAssertEqual(r.mappings.first { $0.name == "//anon" }?.peakResidentBytes, 2 * 64 * KiB)
        XCTAssertEqual(r.mappings.first { $0.name == "/data/f" }?.peakResidentBytes, 2 * 64 * KiB)
        XCTAssertEqual(r.peakResidentBytes, 4 * 64 * KiB)
        XCTAssertEqual(r.finalResidentBytes, 2 * 64 * KiB)
    }

    /// The kernel's own pages, as /proc/PID/maps names them. A fault there maps a page the
    /// kernel has (file), one page a fault (no fault-around); fork copies [vvar]'s page
    /// tables (a PFN map) and not [vdso]'s; the vDSO's page counts in RSS, [vvar]'s does not
    /// (smaps, kernel 6.18: [vdso] Rss 4 kB, [vvar] 0 kB, after clock_gettime).
    func testTheKernelsOwnPagesAfterFork() {
        func special(_ start: UInt64, pages: UInt64, prot: UInt32, _ name: String) -> VMA {
            VMA(start: start, end: start + pages * 4 * KiB, offset: 0, prot: prot, mapFlags: MapFlags.private,
                inode: 0, name: name, label: 0, kernel: .newest)
        }
        let vvar = base, vdso = base + 16 * KiB
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(special(vvar, pages: 4, prot: 1, "[vvar]"), name: "[vvar]")
            input.appendMapping(special(vdso, pages: 2, prot: 5, "[vdso]"), name: "[vdso]")
            input.appendAccess(vdso, .read)                  // ld.so reads its ELF header: file
            input.appendAccess(vdso + 100, .exec)            // no fault
            input.appendAccess(vdso + 4 * KiB, .exec)        // the other page: file, not mapped around
            input.appendAccess(vvar, .read)                  // file
            for child in Int32(1)...3 {
                input.append(.fork(parent: 0), process: child)
                input.appendAccess(vdso + 100, .exec, process: child)   // not copied: file again
                input.appendAccess(vvar, .read, process: child)         // copied: no fault
                input.append(.exit, process: child)
            }
        }
        XCTAssertEqual(r.faults(.file), 3 + 3)
        XCTAssertEqual(r.faults(.zero) + r.faults(.anon) + r.faults(.swap), 0)
        XCTAssertEqual(r.noFault, 1 + 3)
        // Two vDSO pages in the parent and one in the one child alive at a time; the
        // children's exits took theirs off the row.
        XCTAssertEqual(r.mappings.first { $0.name == "[vdso]" }?.peakResidentBytes, 3 * 4 * KiB)
        XCTAssertEqual(r.mappings.first { $0.name == "[vvar]" }?.peakResidentBytes, 0)
        XCTAssertEqual(r.peakResidentBytes, 3 * 4 * KiB)
        XCTAssertEqual(r.finalResidentBytes, 2 * 4 * KiB)
    }

    func testProtectionAndStackGrowth() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(base, 4 * KiB, prot: 1), name: "//anon")
            input.appendAccess(base, .write)                          // read-only: segv
            input.append(.mprotect(address: base, length: 4 * KiB, prot: 3))
            input.appendAccess(base, .write)                          // now anon
            input.appendMapping(anonymous(3 * GiB, 132 * KiB), name: "[stack]")
            input.appendAccess(3 * GiB - 8, .write)                   // below the stack: it grows
        }
        XCTAssertEqual(r.faults(.segv), 1)
        XCTAssertEqual(r.faults(.anon), 2)
        XCTAssertEqual(r.outsideMappings, 0)
    }

    func testExecAndExitFreeEverything() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(base, 16 * KiB), name: "//anon")
            input.appendAccess(base, .write)
            input.append(.exec)
            input.appendMapping(anonymous(base, 16 * KiB), name: "//anon")
            input.appendAccess(base, .write)                          // a new image: anon again
            input.append(.exit)
        }
        XCTAssertEqual(r.faults(.anon), 2)
        XCTAssertEqual(r.finalResidentBytes, 0)
        XCTAssertEqual(r.peakResidentBytes, 4 * KiB)
    }

    func testMprotectEchoKeepsPagesButANewFileDoesNot() {
        let r = replay(config(.k4, .never)) { input in
            input.mappingsAreAnnouncements = true    // a format-1 log: perf's MMAP2 records
            input.appendMapping(anonymous(base, 16 * KiB), name: "//anon")
            input.appendAccess(base, .write)
            input.appendMapping(anonymous(base, 8 * KiB, prot: 1), name: "//anon")  // perf's mprotect echo
            input.appendAccess(base, .read)                                        // still mapped
            input.appendMapping(fileMapping(base, pages: 2), name: "/data")          // MAP_FIXED file
            input.appendAccess(base, .read)                                        // a file fault
        }
        XCTAssertEqual(r.faults(.anon), 1)
        XCTAssertEqual(r.faults(.file), 1)
        XCTAssertEqual(r.noFault, 1)
    }

    func testMremapMovesPages() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(base, 16 * KiB), name: "//anon")
            input.appendAccess(base, .write)
            input.append(.mremap(address: base, length: 16 * KiB, newAddress: 2 * GiB, newLength: 32 * KiB, flags: 1))
            input.appendAccess(2 * GiB, .write)                // moved: no fault
            input.appendAccess(2 * GiB + 16 * KiB, .write)     // the grown part: anon
            input.appendAccess(base, .write)                  // gone: outside every mapping, SIGSEGV
        }
        XCTAssertEqual(r.noFault, 1)
        XCTAssertEqual(r.faults(.anon), 2)
        XCTAssertEqual(r.faults(.segv), 1)
        XCTAssertEqual(r.outsideMappings, 1)
    }

    /// A replay's mremaps carry at most `WorkLimits.movedPages` pages together, and its forks
    /// copy at most `WorkLimits.forkedPages`: past them the pages are dropped, not moved, and
    /// a child shares nothing, so a few records cannot ask for hours. (Both limits lowered here to 150 pages:
    /// the second move and the second fork of 100 pages each find 50 left.)
    func testMovesAndForksPastTheirLimits() {
        var input = ReplayInput()
        input.appendMapping(anonymous(4 * GiB, 400 * KiB), name: "//anon")
        for i in 0..<UInt64(100) { input.appendAccess(4 * GiB + i * 4 * KiB, .write) }
        input.append(.fork(parent: 0), process: 1)
        input.append(.mremap(address: 4 * GiB, length: 400 * KiB, newAddress: 2 * GiB, newLength: 400 * KiB, flags: 1))
        input.append(.mremap(address: 2 * GiB, length: 400 * KiB, newAddress: 3 * GiB, newLength: 400 * KiB, flags: 1))
        for i in 0..<UInt64(100) { input.appendAccess(3 * GiB + i * 4 * KiB, .read) }   // 50 carried twice, 50 fault again
        input.append(.fork(parent: 0), process: 2)
        for i in 0..<UInt64(100) { input.appendAccess(3 * GiB + i * 4 * KiB, .read, process: 2) }
        let engine = ReplayEngine(config: config(.k4, .never), input: input)
        engine.limits.movedPagesLeft = 150
        engine.limits.forkedPagesLeft = 150
        let r = engine.run()
        XCTAssertEqual(r.movesCapped, 1)
        XCTAssertEqual(r.forksCapped, 1)
        XCTAssertEqual(r.noFault, 50, "the pages both moves carried")
        XCTAssertEqual(r.faults(.anon) + r.faults(.zero), 100 + 50 + 100,
                       "the first writes, the dropped pages read again, the second child's reads")
    }

    /// Huge pages draw on the same limit as base pages: each one a move carries whole is one
    /// page of it, and past it the rest are dropped (a hostile log of mremaps back and forth
    /// must stay bounded at every page size).
    func testHugePageMovesPastTheirLimit() {
        for c in [config(.m2, .never), config(.k4, .always)] {
            var input = ReplayInput()
            input.appendMapping(anonymous(4 * GiB, 16 * MiB), name: "//anon")
            for i in 0..<UInt64(8) { input.appendAccess(4 * GiB + i * 2 * MiB, .write) }       // 8 huge pages
            input.append(.mremap(address: 4 * GiB, length: 16 * MiB, newAddress: 2 * GiB, newLength: 16 * MiB, flags: 1))
            input.append(.mremap(address: 2 * GiB, length: 16 * MiB, newAddress: 6 * GiB, newLength: 16 * MiB, flags: 1))
            for i in 0..<UInt64(8) { input.appendAccess(6 * GiB + i * 2 * MiB + 4 * KiB, .read) }
            let engine = ReplayEngine(config: c, input: input)
            engine.limits.movedPagesLeft = 12    // the first move carries all 8, the second 4 of them
            let r = engine.run()
            XCTAssertEqual(r.faults(.anon) + r.faults(.zero), 8 + 4, "\(c): the first writes, and the 4 dropped pages read again")
            XCTAssertEqual(r.noFault, 4, "\(c): the pages both moves carried")
            XCTAssertEqual(r.movesCapped, 1, "\(c)")
            // A read of a dropped page maps the huge zero page under THP; an explicit huge
            // page has no zero page and is allocated.
            XCTAssertEqual(r.finalResidentBytes, (c.thp == .always ? 4 : 8) * 2 * MiB, "\(c)")
        }
    }

    func testMremapDownKeepsThePages() {
        // mmap hands out addresses top down, so a buffer that realloc grows with mremap
        // mostly moves to a lower address. Its pages must land there, at every layer: the
        // key delta of a move down wraps below zero.
        for c in [config(.k4, .never), config(.k16, .never), config(.k4, .always)] {
            let r = replay(c) { input in
                input.appendMapping(anonymous(4 * GiB, 4 * MiB), name: "//anon")
                for i in 0..<UInt64(1024) { input.appendAccess(4 * GiB + i * 4 * KiB, .write) }
                input.append(.mremap(address: 4 * GiB, length: 4 * MiB, newAddress: 2 * GiB, newLength: 8 * MiB, flags: 1))
                for i in 0..<UInt64(1024) { input.appendAccess(2 * GiB + i * 4 * KiB, .read) }   // moved: no fault
                input.append(.munmap(address: 2 * GiB, length: 8 * MiB))
            }
            XCTAssertEqual(r.noFault, 1024 + (c.thp == .always ? 2 * 511 : c.pageSize == .k16 ? 768 : 0), "\(c)")
            XCTAssertEqual(r.faults(.segv), 0, "\(c)")
            XCTAssertEqual(r.peakResidentBytes, 4 * MiB, "\(c)")
            XCTAssertEqual(r.finalResidentBytes, 0, "\(c): the moved pages are freed with their mapping")
        }
    }

    /// A move is invisible to what comes after it: pages in three states (written, read from
    /// the zero page, untouched), in runs that straddle blocks, with gaps between runs of one
    /// state, moved by a distance that is
    /// no whole number of the map's 64-key blocks, then each written, fault exactly as they
    /// would had they stayed. (The move puts pages back a run at a time: a run put a page
    /// off, or given its neighbour's state, shows here.)
    func testAMoveByAnOddDistanceKeepsEveryPagesState() {
        let pages: UInt64 = 300
        func touch(_ base: UInt64, _ input: inout ReplayInput) {
            // Of each ten pages: three written, a gap, two written, two read, a gap.
            for i in 0..<pages where i % 10 != 3 && i % 10 < 8 {
                input.appendAccess(base + i * 4 * KiB, i % 10 < 6 ? .write : .read)
            }
        }
        // Written afterwards: both gaps, a written page and a read one (every page would not
        // do: a page put one place off is then one fault moved, not one more).
        func afterwards(_ i: UInt64) -> Bool { [0, 3, 6, 8].contains(i % 10) }
        for c in [config(.k4, .never), config(.k16, .never), config(.k4, .always)] {
            let stayed = replay(c) { input in
                input.appendMapping(anonymous(4 * GiB, pages * 4 * KiB), name: "//anon")
                touch(4 * GiB, &input)
                for i in 0..<pages where afterwards(i) { input.appendAccess(4 * GiB + i * 4 * KiB, .write) }
            }
            let moved = replay(c) { input in
                input.appendMapping(anonymous(4 * GiB, pages * 4 * KiB), name: "//anon")
                touch(4 * GiB, &input)
                let to = 2 * GiB + 37 * 4 * KiB * 4   // 148 pages in: a multiple of 16 KiB
                input.append(.mremap(address: 4 * GiB, length: pages * 4 * KiB, newAddress: to,
                                     newLength: pages * 4 * KiB, flags: 3))
                for i in 0..<pages where afterwards(i) { input.appendAccess(to + i * 4 * KiB, .write) }
            }
            for kind in FaultKind.allCases { XCTAssertEqual(moved.faults(kind), stayed.faults(kind), "\(c) \(kind.name)") }
            XCTAssertEqual(moved.noFault, stayed.noFault, "\(c)")
            XCTAssertGreaterThan(moved.noFault, 0, "\(c): the written pages came along")
            XCTAssertEqual(moved.finalResidentBytes, stayed.finalResidentBytes, "\(c)")
            XCTAssertEqual(moved.faults(.segv), 0, "\(c)")
        }
    }

    func testBrkGrowsAndShrinksTheHeap() {
        let heap: UInt64 = 0x5555_0000_0000
        let r = replay(config(.k4, .never)) { input in
            input.mappings.append(ReplayInput.Mapping(vma: anonymous(0, 0), name: "[heap]", pid: 1))
            input.heapRows[0] = 0
            input.append(.brk(requested: 0, result: heap))                        // initial break
            input.append(.brk(requested: 0, result: heap + 64 * KiB))              // grow
            for i in 0..<UInt64(16) { input.appendAccess(heap + i * 4 * KiB, .write) }
            input.append(.brk(requested: 0, result: heap + 16 * KiB))              // shrink: 12 pages freed
            input.append(.brk(requested: 0, result: heap + 64 * KiB))
            input.appendAccess(heap + 32 * KiB, .write)         // refaults
        }
        XCTAssertEqual(r.faults(.anon), 17)
        XCTAssertEqual(r.finalResidentBytes, 5 * 4 * KiB)
        XCTAssertEqual(r.mappings.first?.name, "[heap]")
    }

    func testOutsideEveryMappingIsSegvWhenTheTimelineIsKnown() {
        let run = { (timeline: Bool) in
            replay(config(.k4, .never)) { input in
                input.hasAddressSpaceTimeline = timeline
                input.appendMapping(anonymous(self.base, 16 * KiB), name: "//anon")
                input.appendAccess(self.base + 1 * MiB, .write)
            }
        }
        // With munmap/mremap known, nothing can be there: Linux would deliver SIGSEGV.
        XCTAssertEqual(run(true).faults(.segv), 1)
        // Without, the log may just not know the mapping: assume anonymous memory.
        XCTAssertEqual(run(false).faults(.anon), 1)
    }
}
