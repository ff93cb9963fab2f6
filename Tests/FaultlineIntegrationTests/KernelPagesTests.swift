// The kernel's own mappings ([vdso], [vvar], [vvar_vclock]) before and after fork, with the
// kernel as the oracle: its fault counters and each process's smaps, which vdso_fork prints
// after its clock_gettime calls. Recorders before 0.4.0 read these mappings as anonymous
// memory: the first touch was `zero`, and a fork child's fault on the vDSO, which fork does
// not copy, a `swap` on a machine without swap.

import XCTest
import FaultlineCore
import FaultlineLog
import FaultlineReplay

final class KernelPagesTests: XCTestCase {
    /// One line of vdso_fork's: a special mapping and the kernel's Rss of it.
    struct Special {
        var pid: Int32
        var name: String
        var range: Range<UInt64>
        var rssBytes: UInt64

        init?(line: Substring) {
            guard let fields = sampleLineFields(line, tag: "SPECIAL"),
                  let pid = fields["pid"].flatMap({ Int32($0) }), let name = fields["name"],
                  let start = hexField(fields, "start"), let end = hexField(fields, "end"), start < end,
                  let rss = fields["rss_kb"].flatMap({ UInt64($0) }) else { return nil }
            self.pid = pid; self.name = name; range = start..<end; rssBytes = rss * 1024
        }
    }

    func testTheKernelsOwnPagesBeforeAndAfterFork() throws {
        let children = 6
        let run = try Samples.record("vdso_fork", [String(children)])
        let specials = run.stdout.split(separator: "\n").compactMap(Special.init(line:))
            .filter { $0.name != "[vsyscall]" }
        let parent = try XCTUnwrap(specials.first?.pid, "vdso_fork printed no mappings:\n\(run.stdout)")
        let childPids = Set(specials.map(\.pid)).subtracting([parent])
        XCTAssertEqual(childPids.count, children)
        let vdso = try XCTUnwrap(specials.first { $0.pid == parent && $0.name == "[vdso]" })

        XCTAssertEqual(run.log.faults.filter { $0.kind == .swap }.count, 0, "no memory was ever reclaimed")
        for s in specials {
            for f in run.faults(pid: s.pid, in: s.range) {
                XCTAssertEqual(f.kind, .file, "\(s.name) of pid \(s.pid) at 0x\(String(f.address, radix: 16)): the kernel's page")
            }
        }
        for child in childPids {
            // fork copied [vvar]'s page tables (a PFN map), not the vDSO's.
            XCTAssertGreaterThanOrEqual(run.faults(pid: child, in: vdso.range).count, 1, "child \(child) runs the vDSO again")
            for s in specials where s.pid == child && s.name.hasPrefix("[vvar") {
                XCTAssertEqual(run.faults(pid: child, in: s.range).count, 0, "child \(child): \(s.name) was copied by fork")
            }
            let process = try XCTUnwrap(run.log.processes[child])
            let recorded = UInt64(run.log.faults.filter { $0.pid == child }.count)
            XCTAssertEqual(recorded, process.kernelCountedMinor, "child \(child): faults against the kernel's count")
        }

        // The model, at the recorded configuration: the same faults, and the vDSO's row as
        // the kernel's Rss of it: the parent's page(s) and one child's, as the children ran
        // one at a time. [vvar] is a PFN map, in nobody's Rss.
        let input = ReplayInput(log: run.log)
        let recorded = try XCTUnwrap(SelfCheck.recordedConfig(of: input))
        let report = try ReplaySweep.run(input: input, configs: [recorded], tlb: nil, source: .recordedFaults,
                                         selfCheck: true, log: true)
        let check = try XCTUnwrap(report.selfCheck)
        XCTAssertTrue(check.matches, report.renderText())
        // The sample's own rows (the shell that exec'ed it had others at other addresses).
        func row(_ s: Special) -> MappingResult? {
            report.configs[0].mappings.last { $0.pid == parent && $0.name == s.name && $0.start == s.range.lowerBound }
        }
        let pids = childPids.union([parent])
        let vdsoFaults = UInt64(run.log.faults.filter { pids.contains($0.pid) && vdso.range.contains($0.address) }.count)
        XCTAssertEqual(row(vdso)?.faults, vdsoFaults, "the model faults on the vDSO where the kernel did")
        let childVDSO = try XCTUnwrap(specials.first { childPids.contains($0.pid) && $0.name == "[vdso]" })
        XCTAssertEqual(row(vdso)?.peakResidentBytes, vdso.rssBytes + childVDSO.rssBytes)
        for s in specials where s.pid == parent && s.name.hasPrefix("[vvar") {
            XCTAssertEqual(row(s)?.peakResidentBytes ?? 0, s.rssBytes, s.name)
        }
    }
}
