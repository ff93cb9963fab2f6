// What the report says about a refused access: the signal and si_code by name, the
// mapping at the address (or, unmapped, the nearest ones), earlier faults on the page, and
// the whole stack.

import XCTest
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis
import FaultlineSymbolize

final class CrashContextTests: XCTestCase {
    func crashes(_ run: SampleRun) -> [Crash] {
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())
        return FaultReport(log: run.log, namer: namer).crashes
    }

    func testUnmappedWriteNamesMaperrAndTheNeighbours() throws {
        let run = try Samples.record("segv_fatal")
        let all = crashes(run)
        XCTAssertEqual(all.count, 1)
        let crash = try XCTUnwrap(all.first)
        let e = try XCTUnwrap(run.expectations.first)
        XCTAssertEqual(crash.signal, "SIGSEGV")
        XCTAssertTrue(crash.code.hasPrefix("SEGV_MAPERR"), crash.code)
        XCTAssertEqual(crash.address & ~0xfff, e.start)
        XCTAssertTrue(crash.mapping.hasPrefix("unmapped"), crash.mapping)
        XCTAssertTrue(crash.stack.contains("main"), crash.stack)
    }

    func testPermissionFaultNamesAccerrAndTheMapping() throws {
        let run = try Samples.record("deep_nofp")
        let crash = try XCTUnwrap(crashes(run).first)
        XCTAssertTrue(crash.code.hasPrefix("SEGV_ACCERR"), crash.code)
        XCTAssertTrue(crash.mapping.hasPrefix("in [anon]"), crash.mapping)
        XCTAssertTrue(crash.mapping.hasSuffix("---"), "PROT_NONE page: \(crash.mapping)")
        XCTAssertEqual(crash.access, .write)
        XCTAssertTrue(crash.stack.hasPrefix("crash_level3 ← crash_level2 ← crash_level1 ← main"), crash.stack)
    }
}
