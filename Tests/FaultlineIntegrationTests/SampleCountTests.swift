// Each sample's own account of the faults it took, checked against the recording: exact
// counts per kind inside the sample's address ranges, in the right process and thread.

import XCTest
import FaultlineCore
import FaultlineLog

final class SampleCountTests: XCTestCase {
    func testFirstTouch() throws { assertExpectations(try Samples.record("first_touch")) }
    func testZeroPageThenWrite() throws { assertExpectations(try Samples.record("zero_then_write")) }
    func testCopyOnWriteAfterFork() throws {
        let run = try Samples.record("cow_fork")
        assertExpectations(run)
        XCTAssertEqual(Set(run.expectations.map(\.pid)).count, 2, "parent and child each report")
    }
    func testPrivateFileWrite() throws { assertExpectations(try Samples.record("private_file_write")) }
    func testPageCacheHits() throws { assertExpectations(try Samples.record("page_cache")) }
    func testMajorFaults() throws { assertExpectations(try Samples.record("major_faults")) }
    func testFaultsInsideRead() throws { assertExpectations(try Samples.record("read_into_fresh")) }
    func testThreads() throws {
        let run = try Samples.record("threads")
        assertExpectations(run)
        XCTAssertEqual(Set(run.expectations.map(\.tid)).count, 4)
    }
    func testHandledSegfault() throws {
        let run = try Samples.record("segv_handled")
        assertExpectations(run)
        XCTAssertTrue(run.stdout.contains("handled 3"), "the program's own handler ran: \(run.stdout)")
        XCTAssertEqual(run.result.exitStatus, 0)
    }
    func testFatalSegfault() throws {
        let run = try Samples.record("segv_fatal")
        assertExpectations(run)
        XCTAssertEqual(run.result.exitStatus, 128 + 11)
    }
    /// Memory freed (munmap, MAP_FIXED, mremap's move) and written again at the same address,
    /// with no memory pressure: first touches, which a page history that missed the free
    /// would take for swap-ins.
    func testFreedMemoryTouchedAgainIsFirstTouchedNotSwappedIn() throws {
        let run = try Samples.record("page_history")
        XCTAssertTrue(run.stdout.contains("done 64"), run.stdout)
        assertExpectations(run)
        XCTAssertEqual(run.log.faults.filter { $0.kind == .swap }.count, 0, "nothing was swapped")
        assertRecordedMatchesKernel(run)
    }
    /// /dev/zero: a private mapping is anonymous memory (zero, cow, anon), a shared one
    /// shmem (file), though the kernel names the file for both.
    func testDevZeroMappings() throws {
        let run = try Samples.record("dev_zero")
        assertExpectations(run)
        assertRecordedMatchesKernel(run)
    }
    func testExitStatusIsMirrored() throws {
        let run = try Samples.record("exit7")
        XCTAssertEqual(run.result.exitStatus, 7)
        XCTAssertTrue(run.stdout.contains("exiting with 7"))
    }
}
