// A set-user-ID or set-group-ID program: its exec makes it non-dumpable and the kernel
// removes its perf events, so none of its faults can be recorded. record, report and info
// must say so, and record must fail (unless --allow-loss), rather than show 0 faults.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineLog

final class SetuidTests: XCTestCase {
    var cli: CLI!
    override func setUpWithError() throws { cli = try CLI(test: name) }

    /// A copy of first_touch in the scratch directory, owned by uid/gid `owner` with `mode`.
    private func copyOfSample(_ name: String, owner: (uid: uid_t, gid: gid_t), mode: mode_t) throws -> String {
        guard geteuid() == 0 else { throw Skip.because("making set-user-ID copies for another user needs root") }
        _ = Samples.built
        let path = cli.scratch.appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: Samples.path("first_touch"), toPath: path)
        XCTAssertEqual(chown(path, owner.uid, owner.gid), 0)
        XCTAssertEqual(chmod(path, mode), 0) // after chown, which clears the set-ID bits
        return path
    }

    func testSetuidAndSetgidProgramsAreSaidToBeUnrecordedAndFail() throws {
        let nobody: uid_t = 65534
        for (name, owner, mode) in [("suid", (nobody, gid_t(0)), mode_t(0o4755)), ("sgid", (uid_t(0), gid_t(nobody)), mode_t(0o2755))] {
            let program = try copyOfSample(name, owner: owner, mode: mode)
            let log = cli.scratch.appendingPathComponent("\(name).flt").path
            let o = try cli.run(["record", "-q", "-o", log, "--", program])
            XCTAssertEqual(o.status, 1, "\(name): \(o.stderr)")
            let lines = o.stderr.split(separator: "\n").map(String.init)
            XCTAssertTrue(lines.first?.hasPrefix("faultline: recorded 0 faults") ?? false, o.stderr)
            XCTAssertTrue(lines.first?.contains("; 1 process NOT RECORDED") ?? false, o.stderr)
            XCTAssertTrue(lines.contains { $0.hasPrefix("faultline: error: pid ") && $0.contains("(\(program)) was not recorded from its exec on: its exec made it non-dumpable") }, o.stderr)

            let loaded = try LoadedLog.load(path: log)
            XCTAssertEqual(loaded.unrecorded.count, 1)
            let pid = try XCTUnwrap(loaded.unrecorded.first?.pid)
            XCTAssertEqual(loaded.processes[pid]?.command, program)

            let text = try cli.run(["report", log])
            XCTAssertEqual(text.status, 0, text.stderr)
            XCTAssertTrue(text.stdout.contains("WARNING: pid \(pid) (\(program)) was NOT RECORDED from its exec on"), text.stdout)
            let json = try cli.run(["report", log, "--format", "json"])
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let unrecorded = try XCTUnwrap(object["unrecorded"] as? [[String: Any]])
            XCTAssertEqual(unrecorded.count, 1)
            XCTAssertEqual(unrecorded.first?["pid"] as? Int, Int(pid))
            XCTAssertEqual(unrecorded.first?["reason"] as? String, "non_dumpable_exec")
            let info = try cli.run(["info", log])
            XCTAssertTrue(info.stdout.contains("was NOT RECORDED"), info.stdout)

            let allowed = try cli.run(["record", "-q", "--allow-loss", "-o", log, "--", program])
            XCTAssertEqual(allowed.status, 0, allowed.stderr)
            XCTAssertTrue(allowed.stderr.contains("faultline: warning: pid "), allowed.stderr)
        }
    }

    /// Root running a set-user-ID-root program changes no ids: it stays dumpable and is
    /// recorded as usual (no false alarm where the ownership of /proc tells nothing).
    func testSetuidRootProgramRunByRootIsRecorded() throws {
        let program = try copyOfSample("suid-root", owner: (0, 0), mode: 0o4755)
        let o = try cli.run(["record", "-q", "-o", cli.scratch.appendingPathComponent("r.flt").path, "--", program])
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertFalse(o.stderr.contains("NOT RECORDED"), o.stderr)
        let expected = o.stdout.split(separator: "\n").compactMap(Expectation.init(line:))
        XCTAssertFalse(expected.isEmpty, o.stdout)
        let loaded = try LoadedLog.load(path: cli.scratch.appendingPathComponent("r.flt").path)
        for e in expected {
            XCTAssertEqual(loaded.faults.filter { $0.tid == e.tid && $0.kind == e.kind && (e.start..<e.end).contains($0.address) }.count, e.count)
        }
    }
}
