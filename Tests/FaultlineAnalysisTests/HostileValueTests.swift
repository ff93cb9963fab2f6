// Logs whose records are well formed but whose values sit at the edges of their types, or
// describe address spaces the naive arithmetic gets wrong: every reading must render them,
// with the numbers the log holds (saturated only where they cannot be held).

import Foundation
import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class HostileValueTests: FixtureTestCase {
    private static let start: UInt64 = 1_000

    /// A log written by `body`, loaded back.
    private func log(_ name: String = #function, _ body: (LogWriter) throws -> Void) throws -> LoadedLog {
        let path = FixtureLog.temporaryPath("\(name).flt")
        let w = try LogWriter(path: path, header: LogHeader(pageSize: 4096, thpMode: "never", command: ["./hostile"],
                                                            startTimeNs: Self.start))
        try body(w)
        let log = try LoadedLog.load(path: path)
        XCTAssertNil(log.damage)
        return log
    }

    private func fault(_ w: LogWriter, pid: Int32 = 1, at time: UInt64, _ address: UInt64, _ kind: FaultKind = .anon,
                       stack: StackID = .empty) {
        w.append(.fault(FaultEvent(pid: pid, tid: pid, timeNs: time, address: address, ip: 0x401000, kind: kind,
                                   access: .write, kernelMode: false, errorCode: 6, serviceNs: kind == .segv ? nil : 100,
                                   signal: kind == .segv ? 11 : 0, signalCode: kind == .segv ? 1 : 0, stack: stack)))
    }

    private func namer(_ log: LoadedLog) -> FrameNamer { FrameNamer(log: log, symbolizer: NullSymbolizer()) }

    // MARK: report --format json

    func testReportJSONCarriesSummaryValuesAtTheirMaximum() throws {
        let log = try log { w in
            w.append(.process(ProcessEvent(pid: 1, ppid: 0, timeNs: Self.start, command: w.intern("hostile"))))
            fault(w, at: .max, 0x10, .segv)
            try w.finish(LogSummary(endTimeNs: .max, faults: .max, lost: .max, throttled: .max,
                                    unaccountedEntries: .max, exitCode: .min))
        }
        let text = try FaultReport(log: log, namer: namer(log)).renderJSON()
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        // Exactly what the log says, not clamped to a signed integer.
        XCTAssertEqual((json["duration_ns"] as? NSNumber)?.uint64Value, UInt64.max - Self.start)
        XCTAssertEqual((json["lost"] as? NSNumber)?.uint64Value, UInt64.max)
        XCTAssertEqual((json["throttled"] as? NSNumber)?.uint64Value, UInt64.max)
        XCTAssertTrue(text.contains("\"lost\" : 18446744073709551615"), text)
        let crash = try XCTUnwrap((json["crashes"] as? [[String: Any]])?.first)
        XCTAssertEqual((crash["at_ns"] as? NSNumber)?.uint64Value, UInt64.max - Self.start)
    }

    /// segv faults that have a service time (no recorder writes one; a damaged log may) and
    /// an anon fault without one: the note on untimed faults counts the untimed segv by
    /// their own times. It took all segv as untimed and subtracted them from one: a trap
    /// (tools/fuzz, seed 7301).
    func testTimedSegvFaultsAreNotCountedAsUntimed() throws {
        let log = try log { w in
            w.append(.process(ProcessEvent(pid: 1, ppid: 0, timeNs: Self.start, command: w.intern("hostile"))))
            for (i, timed) in [true, true, false].enumerated() {
                w.append(.fault(FaultEvent(pid: 1, tid: 1, timeNs: Self.start + UInt64(i), address: 0x10 + UInt64(i) << 12, ip: 0,
                                           kind: i < 2 ? .segv : .anon, access: .write, kernelMode: false, errorCode: 6,
                                           serviceNs: timed ? 100 : nil, signal: i < 2 ? 11 : 0, signalCode: i < 2 ? 1 : 0,
                                           stack: .empty)))
            }
            fault(w, at: Self.start + 3, 0x5000, .segv)
            try w.finish(LogSummary(endTimeNs: Self.start + 10, faults: 4, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        }
        let text = FaultReport(log: log, namer: namer(log)).renderText()
        XCTAssertTrue(text.contains("2 faults have no service time (1 segv, which never complete, and 1 whose completion was not recorded)"), text)
    }

    // MARK: heatmap

    func testHeatmapPlacesFaultsAtTheLastNanosecond() throws {
        let log = try log { w in
            fault(w, at: 0, 0x1000)
            fault(w, at: .max - 1, 0x2000)
            fault(w, at: .max, 0x3000)
            try w.finish(LogSummary(endTimeNs: .max, faults: 3, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        }
        let path = FixtureLog.temporaryPath("heatmap-time.flt")
        try FileManager.default.copyItem(atPath: log.path, toPath: path)
        let map = Heatmap(timeline: try Timeline.load(path: path))
        XCTAssertEqual(map.total.faults, 3)
        XCTAssertEqual(map.startNs, 0)
        XCTAssertEqual(map.endNs, .max)
        // The first fault opens the first column, the last two share the last one.
        XCTAssertEqual(map.rate.first?.faults, 1)
        XCTAssertEqual(map.rate.last?.faults, 2)
        let svg = HeatmapSVG.render(map, title: "t")
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
        XCTAssertTrue(svg.contains("3 faults over"), svg)
    }

    func testHeatmapOfFaultsAllAtTheLastNanosecond() throws {
        let log = try log { w in
            for i: UInt64 in 0..<4 { fault(w, at: .max, 0x1000 * i) }
            try w.finish(LogSummary(endTimeNs: .max, faults: 4, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        }
        let map = Heatmap(timeline: try Timeline.load(path: log.path))
        XCTAssertEqual(map.total.faults, 4)
        XCTAssertEqual(map.rate.first?.faults, 4)
        XCTAssertFalse(HeatmapSVG.render(map, title: "t").contains("nan"))
    }

    func testHeatmapOfPagesAtTheTopOfTheAddressSpace() throws {
        // A page size of 1 makes every address its own page, up to 2^64-1.
        let path = FixtureLog.temporaryPath("heatmap-top.flt")
        let w = try LogWriter(path: path, header: LogHeader(pageSize: 1, command: ["./top"], startTimeNs: 0))
        let file = w.module(path: "/lib/top.so", buildID: [])
        // A file mapped near the top at an offset near 2^64: address - start + offset overflows.
        w.append(.mmap(MmapEvent(pid: 1, timeNs: 0, start: 0xffff_ffff_ffff_0000, length: 0xf000, pageOffset: .max - 8,
                                 prot: 5, flags: 2, inode: 1, module: file)))
        fault(w, at: 1, 0)
        fault(w, at: 2, .max)
        fault(w, at: 3, .max - 1)
        fault(w, at: 4, 0xffff_ffff_ffff_0010)
        try w.finish(LogSummary(endTimeNs: 9, faults: 4, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let map = Heatmap(timeline: try Timeline.load(path: path))
        XCTAssertEqual(map.total.faults, 4)
        XCTAssertEqual(map.bands.reduce(0) { $0 + $1.faults }, 4)
        XCTAssertTrue(HeatmapSVG.render(map, title: "t").hasSuffix("</svg>\n"))
    }

    // MARK: pprof

    func testPprofKeepsAFrameAtTheLargestOffset() throws {
        let log = try log { w in
            let lib = w.module(path: "/lib/top.so", buildID: [1])
            let stack = w.stack(leafFirst: [w.frame(Frame(module: lib, offset: .max)), w.frame(Frame(module: lib, offset: 0x10))])
            w.append(.mmap(MmapEvent(pid: 1, timeNs: 0, start: 0x400000, length: 0x1000, pageOffset: 0, prot: 5, flags: 2,
                                     inode: 1, module: lib)))
            fault(w, at: 5, 0x1000, stack: stack)
            fault(w, at: 6, 0x2000, stack: stack)
            try w.finish(LogSummary(endTimeNs: 9, faults: 2, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        }
        let profile = PprofExporter.build(log: log, namer: namer(log))
        XCTAssertEqual(profile.sample.map { $0.value[0] }.reduce(0, +), 2)
        let mapping = try XCTUnwrap(profile.mapping.first)
        // The module's synthetic range is as wide as a range can be; the frame beyond it
        // keeps its offset as its address, outside every mapping.
        XCTAssertEqual(mapping.memoryLimit - mapping.memoryStart, PprofExporter.syntheticStride)
        XCTAssertEqual(profile.location.map(\.address).sorted(), [mapping.memoryStart + 0x10, .max])
        XCTAssertFalse(try PprofExporter.data(log: log, namer: namer(log)).isEmpty)
    }

    // MARK: crash context

    /// Two 1 MiB malloc blocks the kernel merged into one mapping (the second mmap is
    /// announced with the merged range), the first one freed (munmap), then written.
    private func useAfterMunmap(_ name: String = #function) throws -> (LoadedLog, first: UInt64, second: UInt64) {
        let block: UInt64 = 0x101000
        let first: UInt64 = 0x7f00_0020_0000, second = first - block
        let log = try log(name) { w in
            let anon = w.module(path: "//anon", buildID: [])
            w.append(.process(ProcessEvent(pid: 1, ppid: 0, timeNs: Self.start, command: w.intern("uaf"))))
            w.append(.mmap(MmapEvent(pid: 1, timeNs: 1_100, start: first, length: block, pageOffset: 0, prot: 3,
                                     flags: 0x22, inode: 0, module: anon)))
            w.append(.mmap(MmapEvent(pid: 1, timeNs: 1_200, start: second, length: 2 * block, pageOffset: 0, prot: 3,
                                     flags: 0x22, inode: 0, module: anon)))
            fault(w, at: 1_300, first + 0x10)
            w.append(.addressSpace(AddressSpaceEvent(pid: 1, tid: 1, timeNs: 1_400, change: .munmap(address: first, length: block))))
            fault(w, at: 1_500, first + 0x10, .segv)
            try w.finish(LogSummary(endTimeNs: 2_000, faults: 2, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 139))
        }
        return (log, first, second)
    }

    func testCrashInAMappingThatMunmapClippedNamesWhatIsLeftOfIt() throws {
        let (log, first, second) = try useAfterMunmap()
        let report = FaultReport(log: log, namer: namer(log), options: ReportOptions(groupings: Grouping.allCases))
        let crash = try XCTUnwrap(report.crashes.first)
        XCTAssertEqual(report.crashes.count, 1)
        // What is left of the merged mapping ends where the freed block began: the write is
        // 0x10 bytes into the hole, 16 bytes past the end (the byte at the end is 0 past it).
        XCTAssertEqual(crash.mapping, "unmapped; 16 bytes past the end of [anon] [\(FrameNamer.hex(second))-\(FrameNamer.hex(first))) rw-")
        XCTAssertEqual(crash.earlierOnPage[.anon], 1)
        XCTAssertTrue(report.renderText().contains("mapping: \(crash.mapping)"))
        XCTAssertFalse(try report.renderJSON().isEmpty)
    }

    func testCrashInAHoleCutIntoAMappingNamesBothSides() throws {
        let log = try log { w in
            let anon = w.module(path: "//anon", buildID: [])
            w.append(.mmap(MmapEvent(pid: 1, timeNs: 1_100, start: 0x10000, length: 0x10000, pageOffset: 0, prot: 1,
                                     flags: 0x22, inode: 0, module: anon)))
            w.append(.addressSpace(AddressSpaceEvent(pid: 1, tid: 1, timeNs: 1_200, change: .munmap(address: 0x14000, length: 0x4000))))
            fault(w, at: 1_300, 0x15000, .segv)
            try w.finish(LogSummary(endTimeNs: 2_000, faults: 1, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 139))
        }
        let crash = try XCTUnwrap(FaultReport(log: log, namer: namer(log)).crashes.first)
        // 0x15000 - 0x14000: 4 KiB past the end; 0x18000 - 0x15000: 12 KiB before.
        XCTAssertEqual(crash.mapping, "unmapped; 4 KiB past the end of [anon] [0x10000-0x14000) r--; "
                       + "12 KiB before [anon] [0x18000-0x20000) r--")
    }

    /// An access below mmap_min_addr is a null pointer's: said so, not measured from the
    /// program's image terabytes above. Far distances have their digits grouped.
    func testCrashNearNullSaysNullAndFarDistancesAreGrouped() throws {
        let image: UInt64 = 0x55d0_0000_0000
        let log = try log { w in
            let prog = w.module(path: "/usr/bin/prog", buildID: [])
            w.append(.mmap(MmapEvent(pid: 1, timeNs: 1_100, start: image, length: 0x1000, pageOffset: 0, prot: 5,
                                     flags: 0x2, inode: 1, module: prog)))
            fault(w, at: 1_200, 0x10, .segv)
            fault(w, at: 1_300, 0, .segv)
            fault(w, at: 1_400, 0x10000, .segv)
            try w.finish(LogSummary(endTimeNs: 2_000, faults: 3, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 139))
        }
        let crashes = FaultReport(log: log, namer: namer(log)).crashes
        XCTAssertEqual(crashes.map(\.mapping), [
            "unmapped; near NULL (NULL + 16 bytes)",
            "unmapped; NULL",
            // 64 KiB is where mappings may begin: measured from the image, digits grouped.
            "unmapped; 94,351,841,492,992 bytes (85.81 TiB) before /usr/bin/prog [0x55d000000000-0x55d000001000) r-x",
        ])
    }
}
