// Swap-ins against the kernel: samples/swap_in writes a region larger than its memory
// cgroup allows, with a swap file on, then reads it back. The writes must be first touches,
// exactly; every fault of the read loop on the region must be a swap-in, and their number
// (and how many read the disk) must be what the kernel counted for the thread over the
// loop (a forked child's, for the fork mode); every process must agree with the kernel's
// counters.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis

final class SwapTests: XCTestCase {
    /// The sample's WINDOW line.
    struct Window {
        var pid: Int32, tid: Int32
        var start: UInt64, end: UInt64
        var fromNs: UInt64, toNs: UInt64
        var minflt: Int, majflt: Int, pages: Int

        init?(_ line: Substring) {
            guard line.hasPrefix("WINDOW ") else { return nil }
            var f: [String: Substring] = [:]
            for part in line.split(separator: " ").dropFirst() {
                let kv = part.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { f[String(kv[0])] = kv[1] }
            }
            func hex(_ k: String) -> UInt64? { f[k].flatMap { UInt64($0.dropFirst(2), radix: 16) } }
            guard let pid = f["pid"].flatMap({ Int32($0) }), let tid = f["tid"].flatMap({ Int32($0) }),
                  let start = hex("start"), let end = hex("end"),
                  let from = f["from_ns"].flatMap({ UInt64($0) }), let to = f["to_ns"].flatMap({ UInt64($0) }),
                  let minflt = f["minflt"].flatMap({ Int($0) }), let majflt = f["majflt"].flatMap({ Int($0) }),
                  let pages = f["pages"].flatMap({ Int($0) }) else { return nil }
            self.pid = pid; self.tid = tid; self.start = start; self.end = end; self.fromNs = from; self.toNs = to
            self.minflt = minflt; self.majflt = majflt; self.pages = pages
        }
    }

    func testAnonymousPagesComeBackFromSwap() throws {
        try check(mode: "anon")
    }

    func testShmemPagesComeBackFromSwap() throws {
        try check(mode: "shmem")
    }

    /// The reads in a forked child: the child's page history is its parent's, so its faults
    /// on the parent's swapped-out pages are swap-ins, not first reads.
    func testAForkedChildBringsBackItsParentsPagesFromSwap() throws {
        try check(mode: "fork")
    }

    /// MAP_POPULATE filled the pages without faults, then other memory pushed them to swap:
    /// the reads bring them back, swap-ins and not first reads (the page history knows the
    /// populated range).
    func testPagesMapPopulateFilledComeBackFromSwap() throws {
        try check(mode: "populate")
    }

    /// 48 MiB through a 16 MiB cgroup with a 128 MiB swap file.
    func check(mode: String, file: StaticString = #filePath, line: UInt = #line) throws {
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let swapDirectory = Samples.root.appendingPathComponent(".build").path
        try SwapFile.with(mib: 128, in: swapDirectory) {
            try MemoryCgroup.with(limitBytes: 16 << 20) { group in
                let pswpin = vmstat("pswpin") ?? 0
                let groupMajor = group.stat("pgmajfault") ?? 0
                let run = try Samples.record("swap_in", [mode, "48"], setup: group.enterCommand, file: file, line: line)
                let readFromSwap = (vmstat("pswpin") ?? 0) - pswpin
                let groupMajorDelta = (group.stat("pgmajfault") ?? 0) - groupMajor

                // The writes: exactly one first touch per page (anon, or shmem's page cache).
                assertExpectations(run, file: file, line: line)
                guard let w = run.stdout.split(separator: "\n").compactMap(Window.init).first else {
                    return XCTFail("no WINDOW line: \(run.stdout)", file: file, line: line)
                }
                let window = run.log.faults.filter { $0.tid == w.tid && $0.timeNs >= w.fromNs && $0.timeNs <= w.toNs }
                let inRegion = window.filter { $0.address >= w.start && $0.address < w.end }
                let outside = window.count - inRegion.count
                let kernel = w.minflt + w.majflt
                // Without memory pressure nothing would be swapped and the test would prove nothing.
                XCTAssertGreaterThan(kernel, w.pages / 2, "most of the 48 MiB went to swap in a 16 MiB cgroup", file: file, line: line)
                XCTAssertEqual(inRegion.filter { $0.kind != .swap }.map(\.kind), [],
                               "every fault of the read loop on the region is a swap-in", file: file, line: line)
                // The kernel counted between two reads of its counters inside [from, to]; what
                // else faulted inside the window (not on the region) is the only slack.
                XCTAssertLessThanOrEqual(inRegion.count, kernel, file: file, line: line)
                XCTAssertGreaterThanOrEqual(inRegion.count + outside, kernel,
                                            "the kernel counted \(w.minflt) minor + \(w.majflt) major faults over the reads; recorded \(inRegion.count) swap-ins and \(outside) other faults",
                                            file: file, line: line)
                let fromDisk = inRegion.filter(\.isMajor).count
                XCTAssertLessThanOrEqual(fromDisk, w.majflt, file: file, line: line)
                XCTAssertGreaterThanOrEqual(fromDisk + window.filter { $0.isMajor && ($0.address < w.start || $0.address >= w.end) }.count,
                                            w.majflt, "swap-ins from disk against the kernel's major faults", file: file, line: line)
                XCTAssertGreaterThan(fromDisk, 0, "some pages were read from disk", file: file, line: line)
                XCTAssertGreaterThan(inRegion.count - fromDisk, 0, "some pages came from the swap cache", file: file, line: line)
                // Every page the disk gave back was read from swap (with its neighbours, read ahead).
                XCTAssertGreaterThanOrEqual(Int(readFromSwap), fromDisk, "/proc/vmstat pswpin", file: file, line: line)
                // The cgroup counted a major fault for each read from disk it started; a fault
                // that found a read under way is major too, for the thread only.
                XCTAssertLessThanOrEqual(Int(groupMajorDelta), run.log.faults.filter(\.isMajor).count,
                                         "the cgroup's pgmajfault", file: file, line: line)
                print("swap_in \(mode): kernel \(w.minflt) minor + \(w.majflt) major over the reads; recorded \(inRegion.count) swap-ins (\(fromDisk) from disk), \(outside) other; pswpin +\(readFromSwap), cgroup pgmajfault +\(groupMajorDelta)")

                // The whole process, minor and major, against the kernel's counters.
                if mode == "populate" {
                    // MAP_POPULATE faults each page in through get_user_pages: the kernel
                    // counts one minor fault per page, and no perf event says so.
                    guard let p = run.log.processes[w.pid], let kernelMinor = p.kernelCountedMinor,
                          let kernelMajor = p.kernelCountedMajor else {
                        return XCTFail("no kernel counters for pid \(w.pid)", file: file, line: line)
                    }
                    let faults = run.log.faults.filter { $0.pid == w.pid }
                    let gap = Int(kernelMinor) - faults.filter(\.isMinor).count
                    XCTAssertGreaterThanOrEqual(gap, w.pages, "the populate's faults are the kernel's and not recorded", file: file, line: line)
                    XCTAssertLessThanOrEqual(gap, w.pages + Int(KernelCounterTests.getUserPagesAllowancePerExec) * max(1, p.commands.count),
                                             "kernel counted \(kernelMinor) minor, recorded \(faults.filter(\.isMinor).count)", file: file, line: line)
                    XCTAssertEqual(faults.filter(\.isMajor).count, Int(kernelMajor), file: file, line: line)
                } else {
                    assertRecordedMatchesKernel(run, file: file, line: line)
                }

                // Reports count them as a kind of their own, summing to every fault.
                let report = FaultReport(log: run.log, namer: FrameNamer(log: run.log, symbolizer: NullSymbolizer()))
                let json = report.jsonObject["totals"] as? [String: Int] ?? [:]
                XCTAssertEqual(json["swap"], run.log.faults.filter { $0.kind == .swap }.count, file: file, line: line)
                XCTAssertEqual(json["swap_from_disk"], run.log.faults.filter { $0.kind == .swap && $0.swapFromDisk }.count,
                               file: file, line: line)
                XCTAssertEqual(FaultKind.allCases.reduce(0) { $0 + (json[$1.name] ?? 0) }, run.log.faults.count, file: file, line: line)
                XCTAssertTrue(report.renderText().contains("swap-ins: "), file: file, line: line)
            }
        }
    }
}
