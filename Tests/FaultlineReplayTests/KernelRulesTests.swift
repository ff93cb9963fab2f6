// The model against cases worked out by hand from the kernel's rules: hugetlb mappings,
// huge pages across pieces of one VMA, MAP_STACK and the THP prctl, MADV_COLLAPSE and
// MAP_POPULATE, granule pages two VMAs share, moves by a distance finer than the granule,
// explicit huge pages partly unmapped, and recordings coarser than the configuration.

import XCTest
import FaultlineAddressSpace
import FaultlineCore
@testable import FaultlineReplay

final class KernelRulesTests: XCTestCase {
    let base: UInt64 = 1 * GiB

    func hugetlb(_ start: UInt64, _ length: UInt64, shift: UInt8 = 21) -> VMA {
        VMA(start: start, end: start + length, prot: 3, backing: .anonymous, inode: 23453, hugePageShift: shift)
    }

    func testAHugetlbMappingUsesItsOwnPagesWhateverTheConfiguration() {
        // 64 MiB of MAP_HUGETLB written every 4 KiB: 32 first touches of 2 MiB pages, none cow,
        // 64 MiB resident at every granule and policy.
        for c in [config(.k4, .never), config(.k16, .always), config(.k64, .never), config(.m2, .never), config(.g1, .always)] {
            let r = replay(c) { input in
                input.appendMapping(hugetlb(base, 64 * MiB), name: "/anon_hugepage (deleted)")
                for i in 0..<UInt64(16384) { input.appendAccess(base + i * 4 * KiB, .write) }
            }
            XCTAssertEqual(r.faults(.anon), 32, "\(c)")
            XCTAssertEqual(r.faults(.cow), 0, "\(c)")
            XCTAssertEqual(r.peakResidentBytes, 64 * MiB, "\(c)")
            XCTAssertEqual(r.hugeBytesAtPeak, 64 * MiB, "\(c)")
        }
    }

    /// Part of a huge page unmapped splits it: a base page written for each of its pages, a
    /// cost that shares the moves' limit (a file may claim 16 GiB pages). Within it, 1 GiB
    /// less 4 KiB stays; past it (limit lowered to 1,000 pages), the page goes whole.
    func testAHugePageSplitSharesTheLimitOfMoves() {
        for (left, resident, capped) in [(WorkLimits.movedPages, 1 * GiB - 4 * KiB, UInt64(0)), (1000, 0, 1)] {
            var input = ReplayInput()
            input.appendMapping(hugetlb(base, 1 * GiB, shift: 30), name: "/anon_hugepage (deleted)")
            input.appendAccess(base, .write)
            input.append(.munmap(address: base + 1 * GiB - 4 * KiB, length: 4 * KiB))
            let engine = ReplayEngine(config: config(.k4, .never), input: input)
            engine.limits.movedPagesLeft = left
            let r = engine.run()
            XCTAssertEqual(r.finalResidentBytes, resident, "\(left) pages left")
            XCTAssertEqual(r.movesCapped, capped)
        }
    }

    func testAHugetlbReadAllocatesAndTheWriteAfterItIsCow() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(hugetlb(base, 4 * MiB), name: "/anon_hugepage (deleted)")
            input.appendAccess(base, .read)
            input.appendAccess(base + 4 * KiB, .write)
        }
        XCTAssertEqual(r.faults(.anon), 1, "no zero page: the read allocates")
        XCTAssertEqual(r.faults(.cow), 1)
        XCTAssertEqual(r.peakResidentBytes, 2 * MiB, "the write reuses the page it owns")
    }

    func testAHeapGrownInPiecesIsOneVMAWhereAHugePageFits() {
        // Two mapping records for one heap (brk growth), the aligned 2 MiB straddling them:
        // to the kernel it is one VMA, so a THP fits.
        let r = replay(config(.k4, .always)) { input in
            input.appendMapping(anonymous(base, 1 * MiB), name: "[heap]")
            input.appendMapping(anonymous(base + 1 * MiB, 3 * MiB), name: "[heap]")
            input.appendAccess(base + 512 * KiB, .write)
        }
        XCTAssertEqual(r.hugeBytesAtPeak, 2 * MiB)
        XCTAssertEqual(r.faults(.anon), 1)
    }

    /// MADV_DONTNEED over a whole 2 MiB of one VMA frees its PTE table from Linux 6.14 on
    /// (pt_reclaim), so the next touch there maps a THP; before, the empty table stayed and
    /// the range took base pages again. The VMA is a thousand pieces to the model (made
    /// writable a page at a time, as glibc grows a thread arena), and a call over part of a
    /// 2 MiB frees nothing there.
    func testDontNeedFreesTheTablesItEmptiesFromLinux614() {
        // Written again: 256 base pages, then one THP for the whole 2 MiB (or 512 base pages).
        for (release, again) in [("6.14.0", UInt64(256 + 1)), ("6.13.0", 768)] {
            let r = replay(config(.k4, .always)) { input in
                input.kernel = KernelBehaviour(release: release)
                input.appendMapping(VMA(start: base, end: base + 4 * MiB, prot: 0, backing: .anonymous), name: "//anon")
                for page in 0..<UInt64(1024) {
                    input.append(.mprotect(address: base + page * 4 * KiB, length: 4 * KiB, prot: 3))
                    input.appendAccess(base + page * 4 * KiB, .write)
                }
                input.append(.madvise(address: base + 1 * MiB, length: 3 * MiB, advice: Advice.dontNeed))
                for page in UInt64(256)..<1024 { input.appendAccess(base + page * 4 * KiB, .write) }
            }
            XCTAssertEqual(r.faults(.anon), 1024 + again, release)
        }
    }

    func testPiecesThatDifferDoNotMakeOneVMA() {
        let r = replay(config(.k4, .always)) { input in
            input.appendMapping(anonymous(base, 1 * MiB), name: "//anon")
            input.appendMapping(anonymous(base + 1 * MiB, 3 * MiB, prot: 1), name: "//anon")
            input.appendAccess(base + 512 * KiB, .write)
        }
        XCTAssertEqual(r.hugeBytesAtPeak, 0, "another protection: another VMA, no room for a THP")
    }

    func testMapStackAndTheTHPPrctlKeepHugePagesAway() {
        let threadStack = VMA(start: base, end: base + 8 * MiB, offset: 0, prot: 3,
                              mapFlags: MapFlags.private | MapFlags.anonymous | MapFlags.stack, inode: 0,
                              name: "//anon", label: 0, kernel: KernelBehaviour(release: "6.18.0"))
        let r = replay(config(.k4, .always)) { input in
            input.appendMapping(threadStack, name: "//anon")
            input.appendAccess(base + 4 * MiB, .write)
        }
        XCTAssertEqual(r.hugeBytesAtPeak, 0, "MAP_STACK is VM_NOHUGEPAGE since 6.7")
        let disabled = replay(config(.k4, .always)) { input in
            input.append(.thpDisable(.all))
            input.appendMapping(anonymous(base, 8 * MiB), name: "//anon")
            input.appendAccess(base + 4 * MiB, .write)
            input.append(.fork(parent: 0), process: 1)
            input.appendAccess(base + 6 * MiB, .write, process: 1)
        }
        XCTAssertEqual(disabled.hugeBytesAtPeak, 0, "PR_SET_THP_DISABLE, inherited by the child")
        XCTAssertEqual(disabled.faults(.anon), 2)
    }

    func testMadviseCollapseMakesATHPOutOfBasePages() {
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(anonymous(base, 4 * MiB), name: "//anon")
            for i in 0..<UInt64(10) { input.appendAccess(base + i * 4 * KiB, .write) }
            input.append(.madvise(address: base, length: 4 * MiB, advice: Advice.collapse))
            for i in 0..<UInt64(512) { input.appendAccess(base + i * 4 * KiB, .write) }
        }
        XCTAssertEqual(r.faults(.anon), 10, "the collapsed THP holds the rest of the 2 MiB")
        XCTAssertEqual(r.collapses, 1)
        XCTAssertEqual(r.peakResidentBytes, 2 * MiB)
        XCTAssertEqual(r.collapsedBytesAtPeak, 2 * MiB)
    }

    /// MADV_FREE over part of a THP splits it (madvise_free_huge_pmd), whose base pages then
    /// need a PTE table; one the process shares with a fork child stays whole.
    func testMadviseFreeSplitsTheHugePagesItCoversInPart() {
        func freeingPart(forkFirst: Bool) -> ConfigResult {
            replay(config(.k4, .always)) { input in
                input.appendMapping(anonymous(base, 8 * MiB), name: "//anon")
                for i in 0..<UInt64(4) { input.appendAccess(base + i * 2 * MiB, .write) }
                if forkFirst { input.append(.fork(parent: 0), process: 1) }
                // 1 MiB into the first THP to 1 MiB into the second; the third whole.
                input.append(.madvise(address: base + 1 * MiB, length: 2 * MiB, advice: Advice.free))
                input.append(.madvise(address: base + 4 * MiB, length: 2 * MiB, advice: Advice.free))
                // (A write to a THP a fork shares would split it anyway: no writes then.)
                if !forkFirst { for i in 0..<UInt64(2048) { input.appendAccess(base + i * 4 * KiB, .write) } }
            }
        }
        let alone = freeingPart(forkFirst: false)
        XCTAssertEqual(alone.faults(.anon), 4, "the freed pages stay: no memory pressure")
        XCTAssertEqual(alone.tables("pte"), 2, "two THPs split, each under a PTE table")
        let shared = freeingPart(forkFirst: true)
        XCTAssertEqual(shared.tables("pte"), 0, "the THPs a fork shares stay whole")
    }

    /// MAP_POPULATE fills the pages through the fault handler (get_user_pages): the kernel
    /// counts a fault per page it maps (the program's writes then take none), as filled
    /// faults, which no recording has; at 64k the same 64 KiB is one page, one fault.
    func testMapPopulateFillsPagesWithFaultsTheKernelCounts() {
        func populated(_ c: ReplayConfig) -> ConfigResult {
            replay(c) { input in
                input.appendMapping(anonymous(base, 64 * KiB), name: "//anon")
                input.mappings[input.mappings.count - 1].mapFlags |= MapFlags.populate
                for i in 0..<UInt64(16) { input.appendAccess(base + i * 4 * KiB, .write) }
            }
        }
        let r = populated(config(.k4, .never))
        XCTAssertEqual(r.faults(.anon), 16, "a write fault per page the populate maps")
        XCTAssertEqual(r.filledFaults, 16)
        XCTAssertEqual(r.noFault, 16, "the program's writes find them mapped")
        XCTAssertEqual(r.peakResidentBytes, 64 * KiB)
        XCTAssertEqual(r.mappings.first?.faults, 16)
        let coarse = populated(config(.k64, .never))
        XCTAssertEqual(coarse.filledFaults, 1)
        XCTAssertEqual(coarse.totalFaults, 1)
    }

    func testAGranulePageTwoVMAsShareIsAPageForEach() {
        // At 16 KiB, a 12 KiB file mapping and the 8 KiB anonymous one right after it share a
        // granule page: in a 16 KiB kernel each would have its own page.
        let file = VMA(start: base, end: base + 12 * KiB, prot: 1, backing: .filePrivate, inode: 9)
        let r = replay(config(.k16, .never)) { input in
            input.appendMapping(file, name: "/lib/x.so")
            input.appendMapping(anonymous(base + 12 * KiB, 8 * KiB), name: "//anon")
            input.appendAccess(base, .read)
            input.appendAccess(base + 12 * KiB, .write)
            input.appendAccess(base + 16 * KiB, .write)
        }
        XCTAssertEqual(r.faults(.file), 1)
        XCTAssertEqual(r.faults(.anon), 2, "the anonymous part of the shared page, then its own page")
        XCTAssertEqual(r.peakResidentBytes, 3 * 16 * KiB)
    }

    func testAHeapPieceSharingAGranulePageWithTheNextPieceSharesIt() {
        let r = replay(config(.k16, .never)) { input in
            input.appendMapping(anonymous(base, 12 * KiB), name: "[heap]")
            input.appendMapping(anonymous(base + 12 * KiB, 20 * KiB), name: "[heap]")
            input.appendAccess(base, .write)
            input.appendAccess(base + 12 * KiB, .write)    // the same kernel VMA: the same page
        }
        XCTAssertEqual(r.faults(.anon), 1)
        XCTAssertEqual(r.peakResidentBytes, 16 * KiB)
    }

    func testAnUnmapFreesTheSharedPagesPartOfTheVMAItRemoves() {
        let r = replay(config(.k16, .never)) { input in
            input.appendMapping(anonymous(base, 12 * KiB), name: "//anon")
            input.appendMapping(anonymous(base + 12 * KiB, 20 * KiB, prot: 1), name: "//anon")
            input.appendAccess(base, .write)
            input.appendAccess(base + 12 * KiB, .read)
            input.append(.munmap(address: base + 12 * KiB, length: 20 * KiB))
            input.append(.munmap(address: base, length: 12 * KiB))
        }
        XCTAssertEqual(r.finalResidentBytes, 0)
        XCTAssertEqual(r.faults(.anon) + r.faults(.zero), 2)
    }

    func testAMoveByLessThanAGranuleKeepsThePages() {
        // An mremap by 36 KiB, not a multiple of 16 KiB: at 16 KiB the pages come along, each
        // to the same place relative to the mapping's start. The mapping now starts 4 KiB
        // into a granule page and ends 4 KiB into another: those two parts fault again (where
        // a 16 KiB kernel would have had both places aligned). The first page lands in the
        // page whose start the mapping does not hold, where nothing can reach it: it goes.
        // Resident: three pages moved, then the two parts.
        let r = replay(config(.k16, .never)) { input in
            input.appendMapping(anonymous(base, 64 * KiB), name: "//anon")
            for i in 0..<UInt64(16) { input.appendAccess(base + i * 4 * KiB, .write) }
            input.append(.mremap(address: base, length: 64 * KiB, newAddress: base + 1 * MiB + 36 * KiB,
                                 newLength: 64 * KiB, flags: 1))
            for i in 0..<UInt64(16) { input.appendAccess(base + 1 * MiB + 36 * KiB + i * 4 * KiB, .write) }
        }
        XCTAssertEqual(r.faults(.anon), 4 + 2, "the first touches before the move, and the two straddled ends")
        XCTAssertEqual(r.peakResidentBytes, 3 * 16 * KiB + 2 * 16 * KiB)
        XCTAssertEqual(r.finalResidentBytes, 3 * 16 * KiB + 2 * 16 * KiB)
    }

    /// A mapping that begins inside a granule page owns only a part of that page
    /// (ProcessState.edges); the page itself is the VMA's below, which holds its start. A
    /// move takes the pages whose start it moves and no other: it took the page below too,
    /// and the neighbour faulted on its own page again. And each page leaves the row it was
    /// charged to: the edge parts a move drops left the moved mapping's row never, and a
    /// realloc'd buffer moved 2,000 times (mapping_churn) had a row of 10.5 MiB at 16k in a
    /// process whose whole peak was 9.2 MiB.
    func testAMoveTakesOnlyThePagesWhoseStartItMoves() {
        let neighbour = base, buffer = base + 4 * KiB, length = 40 * KiB   // the buffer's pages: an edge part, two pages
        let destinations = [base + 1 * MiB + 4 * KiB, base + 2 * MiB + 4 * KiB, base + 3 * MiB + 4 * KiB]
        let r = replay(config(.k16, .never)) { input in
            input.appendMapping(anonymous(neighbour, 4 * KiB, prot: 7), name: "//anon")
            input.appendMapping(anonymous(buffer, length), name: "//anon")
            input.appendAccess(neighbour, .write)                                 // anon: the neighbour's page
            for i in 0..<length / (4 * KiB) { input.appendAccess(buffer + i * 4 * KiB, .write) }   // 3 faults
            var at = buffer
            for to in destinations {
                input.append(.mremap(address: at, length: length, newAddress: to, newLength: length, flags: 3))
                for i in 0..<length / (4 * KiB) { input.appendAccess(to + i * 4 * KiB, .write) }    // the edge part again
                at = to
            }
            input.appendAccess(neighbour, .write)                                 // still mapped: no fault
        }
        let moves = UInt64(destinations.count)
        XCTAssertEqual(r.faults(.anon), 1 + 3 + moves)
        XCTAssertEqual(r.noFault, 7 + 9 * moves + 1)
        XCTAssertEqual(r.mappings[0].peakResidentBytes, 16 * KiB)
        XCTAssertEqual(r.mappings[1].peakResidentBytes, 3 * 16 * KiB)
        XCTAssertEqual(r.peakResidentBytes, 4 * 16 * KiB)
        XCTAssertEqual(r.finalResidentBytes, 4 * 16 * KiB)
    }

    /// Under an explicit 2m configuration a THP comes only from a collapse of base pages (a
    /// mapping that grew over a range it first held only part of). The collapse takes the
    /// range's page table, so nothing smaller is left there: an explicit huge page went over
    /// the THP at the next write, and both were counted.
    func testNoExplicitHugePageGoesOverACollapsedOne() {
        let r = replay(config(.m2, .always)) { input in
            input.appendMapping(anonymous(base, 64 * KiB), name: "//anon")
            for i in 0..<UInt64(16) { input.appendAccess(base + i * 4 * KiB, .write) }   // base pages: 2 MiB does not fit
            input.appendMapping(anonymous(base + 64 * KiB, 2 * MiB - 64 * KiB), name: "//anon")
            input.append(.madvise(address: base, length: 2 * MiB, advice: Advice.collapse))
            input.appendAccess(base + 1 * MiB, .write)                                  // inside the THP
        }
        XCTAssertEqual(r.collapses, 1)
        XCTAssertEqual(r.faults(.anon), 16)
        XCTAssertEqual(r.noFault, 1)
        XCTAssertEqual(r.peakResidentBytes, 2 * MiB)
        XCTAssertEqual(r.finalResidentBytes, 2 * MiB)
    }

    /// Two mappings merged into one VMA share a page larger than the recording's: it is the
    /// row's that holds its first byte, whichever mapping faulted it, as exits and munmaps
    /// release it; a THP split gives each of its base pages to its own mapping's row.
    /// (Charged to the faulting mapping, pages left the other row: rows went negative at
    /// 16k and under THP, and stayed over by as much.)
    func testAPageSharedByMergedMappingsIsTheRowOfItsFirstByte() {
        let granule = replay(config(.k16, .never)) { input in
            input.appendMapping(anonymous(base, 4 * KiB), name: "first")
            input.appendMapping(anonymous(base + 4 * KiB, 60 * KiB), name: "second")   // merged with the first
            input.appendAccess(base + 4 * KiB, .write)                      // the first 16 KiB page: the first's
            input.appendAccess(base + 16 * KiB, .write)                     // the second's
            input.append(.munmap(address: base, length: 4 * KiB))           // takes the first page with it
        }
        XCTAssertEqual(granule.faults(.anon), 2)
        XCTAssertEqual(granule.mappings.first { $0.name == "first" }?.peakResidentBytes, 16 * KiB)
        XCTAssertEqual(granule.mappings.first { $0.name == "second" }?.peakResidentBytes, 16 * KiB)
        XCTAssertEqual(granule.finalResidentBytes, 16 * KiB)

        let thp = replay(config(.k4, .always)) { input in
            input.appendMapping(anonymous(base, 4 * KiB), name: "first")
            input.appendMapping(anonymous(base + 4 * KiB, 2 * MiB - 4 * KiB), name: "second")
            input.appendAccess(base + 1 * MiB, .write)                      // a THP over both
            input.append(.mprotect(address: base + 1 * MiB, length: 1 * MiB, prot: 1))   // splits it
            input.append(.munmap(address: base + 4 * KiB, length: 2 * MiB - 4 * KiB))
        }
        XCTAssertEqual(thp.faults(.anon), 1)
        XCTAssertEqual(thp.mappings.first { $0.name == "first" }?.peakResidentBytes, 2 * MiB)
        XCTAssertEqual(thp.mappings.first { $0.name == "second" }?.peakResidentBytes, 2 * MiB - 4 * KiB)
        XCTAssertEqual(thp.finalResidentBytes, 4 * KiB)
    }

    func testAnExplicitHugePagePartlyUnmappedSplitsAndKeepsTheRest() {
        let r = replay(config(.m2, .never)) { input in
            input.appendMapping(anonymous(base, 2 * MiB), name: "//anon")
            input.appendAccess(base, .write)
            input.append(.munmap(address: base + 1 * MiB, length: 1 * MiB))
            input.appendAccess(base + 512 * KiB, .write)                    // still there
            input.appendMapping(anonymous(base + 1 * MiB, 1 * MiB), name: "//anon")
            input.appendAccess(base + 1 * MiB, .write)                      // new memory: a fault
        }
        XCTAssertEqual(r.faults(.anon), 2)
        XCTAssertEqual(r.noFault, 1)
        XCTAssertEqual(r.finalResidentBytes, 1 * MiB + 4 * KiB)
    }

    func testARecordingCoarserThanTheConfigurationIsALowerBound() {
        let run = { (c: ReplayConfig) in
            replay(c) { input in
                input.appendMapping(anonymous(self.base, 64 * MiB), name: "//anon")
                input.appendAccess(self.base, .write, recorded: .anon, pageShift: 21)
                input.appendAccess(self.base + 2 * MiB, .write, recorded: .anon, pageShift: 21)
            }
        }
        let fine = run(config(.k4, .never))
        XCTAssertTrue(fine.lowerBound)
        XCTAssertEqual(fine.coarseFaults, 2)
        XCTAssertEqual(fine.mappings.filter(\.lowerBound).count, 1)
        XCTAssertFalse(run(config(.k4, .always)).lowerBound)
        XCTAssertFalse(run(config(.m2, .never)).lowerBound)
        XCTAssertFalse(run(config(.k16, .always)).lowerBound, "32 MiB THPs are coarser still")
    }

    /// On a host with multi-size THP a first write to anonymous memory maps a folio, and the
    /// log says a base page mapped it: every configuration finer than the folio is a lower
    /// bound. (Measured: 64 MiB written every 4 KiB under `hugepages-64kB` always took 1,024
    /// faults; without, 16,384.) Not for reads (the zero page), not where the mapping's
    /// flags keep huge pages away, not where no folio fits, not under `record --no-thp`.
    func testAFirstWriteOnAHostWithMultiSizeTHPMayHaveMappedAFolio() {
        func run(_ c: ReplayConfig, access: Access = .write, length: UInt64 = 1 * MiB, noHugePage: Bool = false,
                 noTHPRecording: Bool = false) -> ConfigResult {
            replay(c) { input in
                input.knowsPageSizes = true
                input.hostTHP = .madvise
                input.thpDisabledByRecorder = noTHPRecording
                input.anonFolios = AnonFolioModes(always: 1 << 16, inherit: 1 << 21)
                var v = anonymous(self.base, length)
                if noHugePage { v.flags.insert(.noHugePage) }
                input.appendMapping(v, name: "//anon")
                for k in 0..<max(1, min(length / (64 * KiB), 4)) {
                    input.appendAccess(self.base + k * 64 * KiB, access, recorded: access == .write ? .anon : .zero, pageShift: 12)
                }
            }
        }
        let fine = run(config(.k4, .never))
        XCTAssertTrue(fine.lowerBound)
        XCTAssertEqual(fine.coarseFaults, 4)
        XCTAssertEqual(fine.mappings.filter(\.lowerBound).count, 1)
        XCTAssertTrue(run(config(.k16, .never)).lowerBound)
        XCTAssertFalse(run(config(.k64, .never)).lowerBound, "a 64 KiB page is no finer than the folio")
        XCTAssertFalse(run(config(.k4, .never), access: .read).lowerBound, "a read maps the zero page")
        XCTAssertFalse(run(config(.k4, .never), noHugePage: true).lowerBound)
        let small = run(config(.k4, .never), length: 32 * KiB)
        XCTAssertEqual(small.faults(.anon), 1)
        XCTAssertFalse(small.lowerBound, "no 64 KiB folio fits in 32 KiB")
        XCTAssertFalse(run(config(.k4, .never), noTHPRecording: true).lowerBound, "PR_SET_THP_DISABLE keeps folios away")
    }

    /// A shared mapping as a record names it, read with the kernel's rules (VMA.NameReading).
    func shared(_ start: UInt64, _ length: UInt64, name: String, inode: UInt64 = 9) -> VMA {
        VMA(start: start, end: start + length, offset: 0, prot: 3, mapFlags: MapFlags.shared, inode: inode, name: name,
            label: -1, kernel: .newest)
    }

    /// Shared anonymous memory (shmem) starts empty and has no zero page: a read allocates
    /// its page, and fault-around maps only pages some fault put in the page cache. A fork
    /// child shares the object: its reads find the parent's pages (a fault a 64 KiB window
    /// there) and allocate the rest. Another object's pages are not this one's. (Against the
    /// kernel: KernelOracleTests.testSharedMemoryFaultAroundMapsOnlyPagesThatExist.)
    func testSharedMemoryReadsFaultAroundOnlyPagesThatExist() {
        let other = base + 64 * MiB
        let r = replay(config(.k4, .never)) { input in
            input.appendMapping(shared(base, 1 * MiB, name: "/dev/zero (deleted)"), name: "/dev/zero (deleted)")
            input.appendMapping(shared(other, 1 * MiB, name: "/dev/zero (deleted)", inode: 10), name: "/dev/zero (deleted)")
            for i in 0..<UInt64(64) { input.appendAccess(base + i * 4 * KiB, .read) }
            for i in 64..<UInt64(128) { input.appendAccess(base + i * 4 * KiB, .write) }
            for i in 0..<UInt64(32) { input.appendAccess(other + i * 4 * KiB, .read) }
            input.append(.fork(parent: 0), process: 1)
            for i in 0..<UInt64(256) { input.appendAccess(base + i * 4 * KiB, .read, process: 1) }
        }
        let rows = r.mappings.sorted { $0.start < $1.start }
        XCTAssertEqual(rows.map(\.faults), [64 + 64 + 128 / 16 + 128, 32], "parent's reads, its writes, the child's reads; the other object")
        XCTAssertEqual(r.faults(.file), 64 + 64 + 8 + 128 + 32)
        XCTAssertEqual(r.peakResidentBytes, (128 + 32 + 256) * 4 * KiB, "each process's mapped pages: the parent's 128 and 32, the child's 256")
    }

    /// MADV_DONTNEED unmaps shared memory's pages and leaves them in the page cache, so
    /// reads after it fault once a 64 KiB window; MADV_REMOVE frees them, so each read
    /// allocates again. (4 MiB written, the call, then read: the kernel took 65 and 1,024.)
    func testSharedMemoryRemoveFreesItsPagesDontNeedDoesNot() {
        for (advice, faults) in [(Advice.dontNeed, UInt64(1024 + 64)), (Advice.remove, 1024 + 1024)] {
            let r = replay(config(.k4, .never)) { input in
                input.appendMapping(shared(base, 4 * MiB, name: "/dev/zero (deleted)"), name: "/dev/zero (deleted)")
                for i in 0..<UInt64(1024) { input.appendAccess(base + i * 4 * KiB, .write) }
                input.append(.madvise(address: base, length: 4 * MiB, advice: advice))
                for i in 0..<UInt64(1024) { input.appendAccess(base + i * 4 * KiB, .read) }
            }
            XCTAssertEqual(r.faults(.file), faults, "advice \(advice)")
        }
    }

    /// Multi-size shmem THP: a fault on shared memory, read or write, may have mapped a whole
    /// folio where the host's modes allowed one, which the log calls a base page. memfd and
    /// SysV shm get folios only under a top-level mode that allows them, tmpfs files by their
    /// mount's option (not modelled), and none under `deny` or `record --no-thp`.
    func testAFaultOnSharedMemoryOnAHostWithMultiSizeTHPMayHaveMappedAFolio() {
        let shmem64k = ShmemFolioModes(always: 1 << 16, inherit: 1 << 21)
        func run(_ c: ReplayConfig, name: String = "/dev/zero (deleted)", access: Access = .read, modes: ShmemFolioModes = shmem64k,
                 noTHPRecording: Bool = false) -> ConfigResult {
            replay(c) { input in
                input.knowsPageSizes = true
                input.hostTHP = .madvise
                input.thpDisabledByRecorder = noTHPRecording
                input.shmemFolios = modes
                input.appendMapping(self.shared(self.base, 1 * MiB, name: name), name: name)
                for k in 0..<UInt64(4) { input.appendAccess(self.base + k * 64 * KiB, access, recorded: .file, pageShift: 12) }
            }
        }
        let fine = run(config(.k4, .never))
        XCTAssertTrue(fine.lowerBound, "a read allocates a folio too")
        XCTAssertEqual(fine.coarseFaults, 4)
        XCTAssertEqual(fine.mappings.filter(\.lowerBound).count, 1)
        XCTAssertTrue(run(config(.k4, .never), access: .write).lowerBound)
        XCTAssertTrue(run(config(.k16, .never)).lowerBound)
        XCTAssertFalse(run(config(.k64, .never)).lowerBound, "a 64 KiB page is no finer than the folio")
        XCTAssertFalse(run(config(.k4, .never), name: "/memfd:m (deleted)").lowerBound, "memfd, under a top-level `never`")
        XCTAssertTrue(run(config(.k4, .never), name: "/memfd:m (deleted)", modes: ShmemFolioModes(always: 1 << 16, topLevel: .always)).lowerBound)
        XCTAssertFalse(run(config(.k4, .never), name: "/dev/shm/x", modes: ShmemFolioModes(always: 1 << 16, topLevel: .always)).lowerBound,
                       "a tmpfs file follows its mount's huge= option")
        XCTAssertFalse(run(config(.k4, .never), modes: ShmemFolioModes(always: 1 << 16, topLevel: .deny)).lowerBound)
        XCTAssertFalse(run(config(.k4, .never), noTHPRecording: true).lowerBound, "PR_SET_THP_DISABLE keeps folios away")
        let anonymousOnly = replay(config(.k4, .never)) { input in
            input.knowsPageSizes = true
            input.shmemFolios = shmem64k
            input.appendMapping(anonymous(self.base, 1 * MiB), name: "//anon")
            input.appendAccess(self.base, .write, recorded: .anon, pageShift: 12)
        }
        XCTAssertFalse(anonymousOnly.lowerBound, "shmem's modes are not private memory's")
    }

    /// A process's fault count is a claim of the log (a chunk's summary, before its faults
    /// are read): the model sizes the process's page map by it only up to a limit, so a
    /// count of 2^50 neither traps nor asks for petabytes, and the replay is as it would be.
    func testAClaimedFaultCountSizesAMapOnlyUpToALimit() throws {
        var input = ReplayInput.wholeAddressSpace()
        input.appendAccess(0x10_0000, .write)
        input.appendAccess(0x20_0000, .write)
        let plain = ReplayEngine(config: config(.k4, .never), input: input).run()
        input.faultsPerProcess[0] = 1 << 50
        let claimed = ReplayEngine(config: config(.k4, .never), input: input).run()
        XCTAssertEqual(claimed.totalFaults, 2)
        XCTAssertEqual(claimed.peakResidentBytes, plain.peakResidentBytes)
    }

    func testATraceWithoutALogCanHaveHugePagesFromAddressZero() throws {
        var input = ReplayInput.wholeAddressSpace()
        input.appendAccess(4096, .write)
        input.appendAccess(512 * MiB, .write)
        let r = ReplayEngine(config: config(.g1, .never), input: input).run()
        XCTAssertEqual(r.hugeBytesAtPeak, 1 * GiB, "the first gigabyte is one 1 GiB page")
        let report = try ReplaySweep.run(input: input, configs: [config(.k4, .never)], tlb: nil, source: .recordedFaults,
                                         selfCheck: false, log: false)
        XCTAssertTrue(report.warnings.contains { $0.contains("no log") }, "\(report.warnings)")
    }
}
