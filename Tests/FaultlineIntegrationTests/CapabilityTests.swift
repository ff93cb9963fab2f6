// Recording as an unprivileged user with capabilities, the README's non-root mode, run
// through setpriv: with CAP_PERFMON and CAP_SYS_PTRACE alone, tracefs (mode 0700, root's)
// cannot be read, and the error must say that and what to add; with CAP_DAC_READ_SEARCH as
// well, the recording is whole.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineLog

final class CapabilityTests: XCTestCase {
    func testNonRootRecordingWithCapabilities() throws {
        guard geteuid() == 0 else { throw Skip.because("setting up an unprivileged user with capabilities needs root") }
        let setpriv = "/usr/bin/setpriv"
        guard FileManager.default.isExecutableFile(atPath: setpriv) else { throw Skip.because("no \(setpriv) (util-linux)") }
        _ = Samples.built
        let cli = try CLI(test: name)
        XCTAssertEqual(chmod(cli.scratch.path, 0o777), 0) // nobody writes the log here
        func recordAsNobody(_ caps: [String]) throws -> CLI.Outcome {
            let list = caps.map { "+" + $0 }.joined(separator: ",")
            return try cli.run(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=\(list)", "--ambient-caps=\(list)",
                                CLI.binary, "record", "-q", "-o", cli.scratch.appendingPathComponent("nobody.flt").path,
                                "--", Samples.path("first_touch")], executable: setpriv)
        }

        let tracefsMode = try FileManager.default.attributesOfItem(atPath: "/sys/kernel/tracing")[.posixPermissions] as? Int
        if tracefsMode.map({ $0 & 0o005 == 0 }) ?? false {
            let denied = try recordAsNobody(["perfmon", "sys_ptrace"])
            XCTAssertEqual(denied.status, 1, denied.stderr)
            XCTAssertTrue(denied.stderr.hasPrefix("faultline: cannot read the tracepoints in /sys/kernel/tracing: permission denied"), denied.stderr)
            XCTAssertTrue(denied.stderr.contains("add CAP_DAC_READ_SEARCH"), denied.stderr)
            XCTAssertFalse(denied.stderr.contains("not mounted"), "tracefs is mounted: \(denied.stderr)")
        }

        let whole = try recordAsNobody(["perfmon", "sys_ptrace", "dac_read_search"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let expected = whole.stdout.split(separator: "\n").compactMap(Expectation.init(line:))
        XCTAssertFalse(expected.isEmpty, whole.stdout)
        let log = try LoadedLog.load(path: cli.scratch.appendingPathComponent("nobody.flt").path)
        XCTAssertEqual(log.lost, 0)
        for e in expected {
            XCTAssertEqual(log.faults.filter { $0.tid == e.tid && $0.kind == e.kind && (e.start..<e.end).contains($0.address) }.count,
                           e.count, "\(e.kind) faults of \(e.tid)")
        }
        var info = stat()
        XCTAssertEqual(stat(log.path, &info), 0)
        XCTAssertEqual(info.st_uid, 65534, "the log belongs to the user who recorded")
    }
}
