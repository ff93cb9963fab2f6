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
    func testExitStatusIsMirrored() throws {
        let run = try Samples.record("exit7")
        XCTAssertEqual(run.result.exitStatus, 7)
        XCTAssertTrue(run.stdout.contains("exiting with 7"))
    }
}
