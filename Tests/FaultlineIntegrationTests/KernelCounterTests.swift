// The kernel's own per-process counters (minflt/majflt, read by the recorder at each
// process's exit) against what was recorded. The only faults perf never reports are those
// the kernel takes through get_user_pages (execve copying arguments, ptrace peeks): a few
// per exec, never per page touched.

import XCTest
import FaultlineCore
import FaultlineLog

final class KernelCounterTests: XCTestCase {
    /// Faults the kernel may count without a perf event, per exec.
    static let getUserPagesAllowancePerExec: UInt64 = 8

    func testShellRunningCommandsMatchesKernelCounters() throws {
        let run = try Samples.recordCommand(["/bin/sh", "-c", "ls / > /dev/null; cat /proc/$$/stat > /dev/null; true"])
        XCTAssertGreaterThanOrEqual(run.log.processes.count, 2, "the shell and its children were followed")
        assertRecordedMatchesKernel(run)
    }

    /// The independent view: the shell's own cminflt/cmajflt (fields 11 and 13 of its stat,
    /// read by `cat` after `ls` was waited for) cover exactly the `ls` child.
    func testChildCountsMatchTheShellsAccounting() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-it-\(getpid())-stat").path
        let run = try Samples.recordCommand(["/bin/sh", "-c", "ls -l / > /dev/null; cat /proc/$$/stat > \(out)"])
        let stat = try String(contentsOfFile: out, encoding: .utf8)
        let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
        let childMinor = UInt64(fields[8])!, childMajor = UInt64(fields[10])!
        guard let ls = run.log.processes.values.first(where: { $0.command.hasPrefix("ls") }) else {
            return XCTFail("no ls process in the recording: \(run.log.processes.values.map(\.command))")
        }
        let faults = run.log.faults.filter { $0.pid == ls.pid }
        let minor = UInt64(faults.filter(\.isMinor).count)
        let major = UInt64(faults.filter(\.isMajor).count)
        XCTAssertLessThanOrEqual(minor, childMinor)
        XCTAssertLessThanOrEqual(childMinor - minor, Self.getUserPagesAllowancePerExec,
                                 "shell says its child took \(childMinor) minor faults; recorded \(minor)")
        XCTAssertEqual(major, childMajor)
    }

    func testSamplesMatchKernelCounters() throws {
        for name in ["first_touch", "cow_fork", "threads", "major_faults", "read_into_fresh", "segv_handled"] {
            assertRecordedMatchesKernel(try Samples.record(name))
        }
    }
}

/// Each process's recorded minor+major against the kernel's counters (see above).
func assertRecordedMatchesKernel(_ run: SampleRun, file: StaticString = #filePath, line: UInt = #line) {
    assertRecordedMatchesKernel(run.log, getUserPagesAllowance: KernelCounterTests.getUserPagesAllowancePerExec,
                                file: file, line: line)
}

/// The same for any log; `getUserPagesAllowance` is the gap allowed per exec (0: exact).
func assertRecordedMatchesKernel(_ log: LoadedLog, getUserPagesAllowance: UInt64,
                                 file: StaticString = #filePath, line: UInt = #line) {
    let checked = log.processes.values.filter { $0.kernelMinor != nil }
    XCTAssertFalse(checked.isEmpty, "no process had its kernel counters recorded", file: file, line: line)
    for p in checked {
        let faults = log.faults.filter { $0.pid == p.pid }
        let minor = UInt64(faults.filter(\.isMinor).count)
        let major = UInt64(faults.filter(\.isMajor).count)
        let execs = UInt64(max(1, p.commands.count))
        let kernelMinor = p.kernelCountedMinor!, kernelMajor = p.kernelCountedMajor!
        XCTAssertLessThanOrEqual(minor, kernelMinor, "pid \(p.pid) \(p.command): more minor faults recorded than the kernel counted", file: file, line: line)
        XCTAssertLessThanOrEqual(kernelMinor - min(minor, kernelMinor), getUserPagesAllowance * execs,
                                 "pid \(p.pid) \(p.command): kernel counted \(kernelMinor) minor, recorded \(minor)", file: file, line: line)
        XCTAssertEqual(major, kernelMajor, "pid \(p.pid) \(p.command) major faults", file: file, line: line)
        print("pid \(p.pid) \(p.command): kernel minor \(kernelMinor) major \(kernelMajor); recorded minor \(minor) major \(major)")
    }
}
