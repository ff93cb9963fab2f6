// The one order every reader replays a log's changes in: by time, with log order breaking
// ties. The recorder writes a munmap or mremap at its exit with its entry's time, so a log
// is nearly in time order and now and then far from it (a hostile file).

import XCTest
import FaultlineCore
@testable import FaultlineLog

final class ChangeOrderTests: XCTestCase {
    private var log = LoadedLog()

    override func setUp() {
        log = LoadedLog()
        log.apply(.string(StringID(rawValue: 0), "//anon"))
        log.apply(.module(ModuleID(rawValue: 0), Module(path: StringID(rawValue: 0), buildID: [])))
    }

    private func mmap(at time: UInt64, _ start: UInt64 = 0x1000) {
        log.apply(.mmap(MmapEvent(pid: 7, timeNs: time, start: start, length: 4096, pageOffset: 0,
                                  prot: 3, flags: 2, inode: 1, module: ModuleID(rawValue: 0))))
    }
    private func munmap(at time: UInt64) {
        log.apply(.addressSpace(AddressSpaceEvent(pid: 7, tid: 7, timeNs: time, change: .munmap(address: 0x1000, length: 4096))))
    }

    /// The changes sorted by (time, position in the log), by the standard library's sort.
    private var expected: [LogChange] {
        log.changes.indices.sorted { (log.time(of: log.changes[$0]), $0) < (log.time(of: log.changes[$1]), $1) }.map { log.changes[$0] }
    }

    func testAChangeWrittenLateTakesItsPlaceAndTiesKeepLogOrder() {
        log.apply(.process(ProcessEvent(pid: 7, ppid: 1, timeNs: 1, command: StringID(rawValue: 0))))
        mmap(at: 5, 0x1000)   // A
        munmap(at: 3)         // written at its exit, entered before A
        mmap(at: 5, 0x2000)   // B: the same time as A, later in the log
        log.apply(.exit(ExitEvent(pid: 7, timeNs: 9, exitCode: 0, signal: 0)))
        mmap(at: 6, 0x3000)   // written after the exit, made before it

        let ordered = log.changesInTimeOrder()
        XCTAssertEqual(ordered.map(log.time(of:)), [1, 3, 5, 5, 6, 9])
        XCTAssertEqual(ordered, [log.changes[0], log.changes[2], log.changes[1], log.changes[3], log.changes[5], log.changes[4]],
                       "A before B at the same time, as the log has them")
    }

    func testChangesFarOutOfOrderAreSortedAllTheSame() {
        // 2,000 changes in reverse time order, each time twice: far past what moving each a
        // few places can mend, so the whole array is sorted, and ties must still keep log order.
        for t in stride(from: UInt64(1000), to: 0, by: -1) {
            mmap(at: t, 0x1000)
            munmap(at: t)
        }
        let ordered = log.changesInTimeOrder()
        XCTAssertEqual(ordered, expected)
        XCTAssertEqual(ordered.prefix(2), [log.changes[1998], log.changes[1999]], "the mmap before the munmap at time 1")
    }

    func testANearlySortedLogMatchesAFullSort() {
        // Every tenth change written up to five changes late, at times that repeat.
        var late: [UInt64] = []
        for i in UInt64(0)..<3000 {
            if i % 10 == 3 { late.append(i / 2); continue }
            mmap(at: i / 2)
            if late.count > 0 && i % 10 == 8 { munmap(at: late.removeFirst()) }
        }
        for t in late { munmap(at: t) }
        XCTAssertEqual(log.changesInTimeOrder(), expected)
    }
}
