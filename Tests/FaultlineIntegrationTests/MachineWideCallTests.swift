// The memory-lock calls and prctl are watched on every process of each CPU, not opened on
// each task the command starts (AddressSpaceSyscall.watchedSystemWide). The traced
// command's calls must be in the log, and no other process's: here another process locks
// memory and turns THP off for itself over and over while a command that does the same
// once is recorded.

import XCTest
import Foundation
import FaultlineCore
import FaultlineAddressSpace
import FaultlineAnalysis
import FaultlineLog
import FaultlineReplay
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

    /// Opens of the THP settings are watched the same way, through a filter on the file's
    /// name: the traced program's one read of its mode is logged, and nothing else it opens
    /// (its libraries, the loader's cache, the huge page's size), nor another process
    /// reading the setting over and over. `info` names the program, and replay warns at the
    /// other modes.
    func testOnlyTheTracedProgramsReadOfTheTHPSettingIsLogged() throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let release = ProcessInfo.processInfo.operatingSystemVersion
        guard (release.majorVersion, release.minorVersion) >= (5, 17) else {
            throw Skip.because("the recorder watches opens of the THP settings on Linux 5.17 and later (tracepoint filters on user-space strings); this is \(release.majorVersion).\(release.minorVersion)")
        }
        let other = Process()
        other.executableURL = URL(fileURLWithPath: "/bin/sh")
        other.arguments = ["-c", "while :; do cat /sys/kernel/mm/transparent_hugepage/enabled; done > /dev/null"]
        try other.run()
        defer { other.terminate(); other.waitUntilExit() }
        Thread.sleep(forTimeInterval: 0.2)

        let run = try Samples.record("thp_aware", ["4"])
        XCTAssertTrue(other.isRunning, "the untraced loop must run through the recording")
        let line = try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("THP_AWARE ") }, run.stdout)
        let fields = Dictionary(uniqueKeysWithValues: line.split(separator: " ").dropFirst().map { field -> (String, String) in
            let parts = field.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        })
        let pid = try XCTUnwrap(fields["pid"].flatMap { Int32($0) })
        XCTAssertNotEqual(fields["huge_page_size"], "0", "the program read hpage_pmd_size too")
        let reads = run.log.addressSpaceEvents.filter { $0.change == .readTHPSetting }
        XCTAssertEqual(reads.map(\.pid), [pid], "one read, the program's of its mode")
        XCTAssertEqual(fields["mode"], run.log.header.thpMode, "the program read the host's mode")
        XCTAssertTrue(LogInfo.render(run.log).contains("read the THP setting (\(run.log.header.thpMode)) and may have chosen by it: pid \(pid)\n"))

        let input = ReplayInput(log: run.log)
        XCTAssertEqual(input.thpSettingReaders, [pid])
        let host = try XCTUnwrap(THPMode(rawValue: run.log.header.thpMode))
        let elsewhere = THPMode.allCases.first { $0 != host }!
        func warned(_ modes: [THPMode]) throws -> Bool {
            let configs = modes.map { ReplayConfig(pageSize: .k4, thp: $0) }
            let report = try ReplaySweep.run(input: input, configs: configs, tlb: nil, source: .recordedFaults, selfCheck: false, log: true)
            return report.warnings.contains { $0.hasPrefix("pid \(pid) read the host's THP setting") }
        }
        XCTAssertFalse(try warned([host]))
        XCTAssertTrue(try warned([host, elsewhere]))
    }
}
