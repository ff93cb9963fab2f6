// The memory-lock calls and prctl are watched on every process of each CPU, not opened on
// each task the command starts (AddressSpaceSyscall.watchedSystemWide). The traced
// command's calls must be in the log, and no other process's: here another process locks
// memory and turns THP off for itself over and over while a command that does the same
// once is recorded.

import XCTest
import Foundation
import FaultlineCore
import FaultlineLog
import FaultlineTestSupport

final class MachineWideCallTests: XCTestCase {
    func testOnlyTheTracedProcessesCallsAreLogged() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        // Untraced: mlock2, mlock, mlockall and prctl in a loop (thp_shapes' shapes make them).
        let other = Process()
        other.executableURL = URL(fileURLWithPath: "/bin/sh")
        other.arguments = ["-c", "while :; do \"$0\" mlock_onfault 1 aligned; \"$0\" thp_disabled 1 aligned; done > /dev/null",
                           Samples.path("thp_shapes")]
        try other.run()
        defer { other.terminate(); other.waitUntilExit() }
        Thread.sleep(forTimeInterval: 0.2)   // the loop is running before the recording starts

        // Traced: the same calls once each, then a pause while the other keeps going.
        let run = try Samples.recordCommand(["/bin/sh", "-c",
                                             "\"$0\" mlock_half 4 aligned > /dev/null && \"$0\" thp_disabled 4 aligned > /dev/null && sleep 0.3",
                                             Samples.path("thp_shapes")])
        XCTAssertTrue(other.isRunning, "the untraced loop must run through the recording")
        let traced = Set(run.log.processes.keys)
        let watched = run.log.addressSpaceEvents.filter {
            switch $0.change {
            case .mlock, .munlock, .mlockall, .munlockall, .thpDisable: return true
            default: return false
            }
        }
        XCTAssertEqual(watched.filter { !traced.contains($0.pid) }.map(\.pid), [], "calls of processes not traced")
        // Each thp_shapes run: mlockall(MCL_CURRENT) first; then mlock_half's mlock, and
        // thp_disabled's prctl.
        XCTAssertEqual(watched.filter { if case .mlockall(flags: 1) = $0.change { return true }; return false }.count, 2)
        XCTAssertEqual(watched.filter { if case .mlock = $0.change { return true }; return false }.count, 1)
        XCTAssertEqual(watched.filter { if case .thpDisable(.all) = $0.change { return true }; return false }.count, 1)
    }
}
