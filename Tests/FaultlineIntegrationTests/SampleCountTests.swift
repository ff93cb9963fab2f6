// Each sample's own account of the faults it took, checked against the recording: exact
// counts per kind inside the sample's address ranges, in the right process and thread.

import XCTest
import FaultlineCore
import FaultlineLog

final class SampleCountTests: XCTestCase {
    /// Asserts every EXPECT line of the run: the faults in its range of its kind, by its
    /// thread, number exactly `count`.
    func assertExpectations(_ run: SampleRun, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(run.expectations.isEmpty, "the sample printed no EXPECT lines: \(run.stdout)", file: file, line: line)
        XCTAssertEqual(run.log.lost, 0, file: file, line: line)
        for e in run.expectations {
            let inRange = run.faults(pid: e.pid, in: e.start..<e.end).filter { $0.tid == e.tid && $0.kind == e.kind }
            XCTAssertEqual(inRange.count, e.count, "\(e.kind) faults in \(String(e.start, radix: 16))-\(String(e.end, radix: 16)) of pid \(e.pid)/\(e.tid); kinds seen there: \(kindHistogram(run, e))", file: file, line: line)
            if e.kernelMode {
                XCTAssertTrue(inRange.allSatisfy(\.kernelMode), "expected kernel-mode faults", file: file, line: line)
            }
            if let code = e.signalCode {
                XCTAssertTrue(inRange.allSatisfy { $0.signalCode == code }, "expected si_code \(code)", file: file, line: line)
            }
        }
    }

    func kindHistogram(_ run: SampleRun, _ e: Expectation) -> [String: Int] {
        var h: [String: Int] = [:]
        for f in run.faults(pid: e.pid, in: e.start..<e.end) { h["\(f.kind)\(f.kernelMode ? "/k" : "")", default: 0] += 1 }
        return h
    }

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
