// The swap kind and mapped page sizes through every reading path: counts (the kernel's
// minor and major with swap-ins from the cache and from disk), report text, JSON and HTML,
// `--kind minor`, info, jsonl, pprof, folded, speedscope, flame graph and heatmap, on a
// small log whose numbers are counted out below.

import Foundation
import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class SwapAndPageSizeTests: XCTestCase {
    static let pid: Int32 = 300

    /// anon 4 (4 KiB), anon 1 THP (2 MiB), swap 3 from the swap cache + 2 from disk (4 KiB),
    /// major 1 (4 KiB), segv 1 (no size) = 12 faults; the kernel's minor 8, major 3.
    static func write(_ path: String) throws {
        let w = try LogWriter(path: path, header: LogHeader(
            kernelRelease: "6.18.0-test", machine: "x86_64", hostname: "h", pageSize: 4096, thpMode: "madvise",
            command: ["./swapper"], startTimeNs: 1_000, startWallSeconds: 1_700_000_000, callGraph: "fp",
            recorderVersion: "faultline-test"))
        let prog = w.module(path: "/usr/bin/swapper", buildID: [9])
        let anon = w.module(path: "//anon", buildID: [])
        let fMain = w.frame(Frame(module: prog, offset: 0x1000))
        w.append(.symbol(FrameSymbol(frame: fMain, function: w.intern("main"), file: nil, line: 0)))
        let stack = w.stack(leafFirst: [fMain])
        w.append(.process(ProcessEvent(pid: pid, ppid: 1, timeNs: 1_000, command: w.intern("swapper"))))
        w.append(.kernelCounts(pid: pid, minor: 10, major: 1, baseline: true))
        w.append(.mmap(MmapEvent(pid: pid, timeNs: 1_100, start: 0x7f00_0000_0000, length: 16 << 20, pageOffset: 0,
                                 prot: 3, flags: 0x22, inode: 0, module: anon)))
        var t: UInt64 = 2_000
        func fault(_ page: UInt64, _ kind: FaultKind, shift: UInt8 = 12, fromDisk: Bool = false, access: Access = .write) {
            t += 10
            let segv = kind == .segv
            w.append(.fault(FaultEvent(pid: pid, tid: pid, timeNs: t, address: 0x7f00_0000_0000 + page * 4096, ip: 0x401000,
                                       kind: kind, access: access, kernelMode: false, errorCode: 6, serviceNs: 100,
                                       signal: segv ? 11 : 0, signalCode: segv ? 1 : 0, stack: stack,
                                       pageShift: segv ? 0 : shift, swapFromDisk: fromDisk)))
        }
        for i in 0..<4 { fault(UInt64(i), .anon) }
        fault(512, .anon, shift: 21)
        for i in 0..<3 { fault(UInt64(i), .swap, access: .read) }
        for i in 3..<5 { fault(UInt64(i), .swap, fromDisk: true, access: .read) }
        fault(9, .major, access: .read)
        fault(8192, .segv)
        w.append(.kernelCounts(pid: pid, minor: 18, major: 4, baseline: false))
        w.append(.exit(ExitEvent(pid: pid, timeNs: 9_000, exitCode: 0, signal: 0)))
        try w.finish(LogSummary(endTimeNs: 9_000, faults: 12, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
    }

    var path: String { FixtureLog.temporaryPath("swap-\(name.filter(\.isLetter)).flt") }

    func load() throws -> (LoadedLog, FrameNamer) {
        try Self.write(path)
        let log = try LoadedLog.load(path: path)
        return (log, FrameNamer(log: log, symbolizer: NullSymbolizer()))
    }

    func testCountsKeepTheKernelsMinorAndMajor() throws {
        let (log, _) = try load()
        var c = KindCounts()
        for f in log.faults { c.add(f) }
        XCTAssertEqual(c[.swap], 5)
        XCTAssertEqual(c.swapFromDisk, 2)
        XCTAssertEqual(c.faults, 12)
        XCTAssertEqual(c.minor, 8, "anon 5 + swap from the cache 3")
        XCTAssertEqual(c.major, 1, "the major kind: file I/O")
        XCTAssertEqual(c.accountedMajor, 3, "major 1 + swap from disk 2")
        XCTAssertEqual(log.faults.filter(\.isMajor).count, 3)
        XCTAssertEqual(log.faults.filter(\.isMinor).count, 8)
    }

    func testReportTextJSONAndHTML() throws {
        let (log, namer) = try load()
        let report = FaultReport(log: log, namer: namer)
        let text = report.renderText()
        XCTAssertTrue(text.contains("swap-ins: 3 from the swap cache (minor), 2 from disk (major); as the kernel counts them: 8 minor, 3 major"), text)
        XCTAssertTrue(text.contains("page sizes mapped: 4 KiB 10 faults (40 KiB), 2 MiB 1 fault (2 MiB); size not known for 1"), text)
        let swapRow = text.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("swap ") }
        XCTAssertEqual(swapRow?.split(separator: " ").dropFirst().first, "5")

        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try report.renderJSON().utf8)) as? [String: Any])
        let totals = try XCTUnwrap(json["totals"] as? [String: Int])
        XCTAssertEqual(totals["swap"], 5)
        XCTAssertEqual(totals["swap_from_disk"], 2)
        XCTAssertEqual(totals["minor"], 8)
        XCTAssertEqual(totals["major"], 1)
        XCTAssertEqual(totals["faults"], 12)
        let processCounts = try XCTUnwrap((json["processes"] as? [[String: Any]])?.first?["counts"] as? [String: Int])
        XCTAssertEqual(processCounts["swap"], 5)
        let sizes = try XCTUnwrap(json["page_sizes"] as? [[String: Int]])
        XCTAssertEqual(sizes, [["page_size": 4096, "faults": 10, "mapped_bytes": 40960],
                               ["page_size": 2 << 20, "faults": 1, "mapped_bytes": 2 << 20]])
        XCTAssertEqual(json["page_size_unknown"] as? Int, 1)

        let html = HTMLReport.render(report: report, flameGraph: "", heatmap: "")
        XCTAssertTrue(html.contains("swap-ins from disk</td><td class=\"n\">2</td>"), html)
        XCTAssertTrue(html.contains("<h2>Page sizes mapped</h2>"))
        XCTAssertTrue(html.contains("<td class=\"n\">2 MiB</td><td class=\"n\">1</td><td class=\"n\">2 MiB</td>"))
    }

    func testKindFilters() throws {
        let (log, namer) = try load()
        let minor = FaultReport(log: log, namer: namer, options: ReportOptions(groupings: [.function], filter: .minor))
        XCTAssertEqual(minor.sections.first?.total, 8, "swap-ins from the cache are minor, from disk not")
        let swap = FaultReport(log: log, namer: namer, options: ReportOptions(groupings: [.function], filter: .kind(.swap)))
        XCTAssertEqual(swap.sections.first?.total, 5)
        XCTAssertEqual(FaultKindFilter(name: "swap"), .kind(.swap))
    }

    func testInfoComparesTheKernelsCountsWithSwapInsFromDiskAsMajor() throws {
        let (log, _) = try load()
        let info = LogInfo.render(log)
        XCTAssertTrue(info.contains("8/3"), "kernel min/maj since the baseline: \(info)")
        XCTAssertFalse(info.contains("WARNING"), info)
        XCTAssertTrue(info.contains("(swap from disk)"), info)
    }

    func testExports() throws {
        let (log, namer) = try load()
        // jsonl: the kind, whether a swap-in read the disk, and the size of a huge page.
        let out = FixtureLog.temporaryPath("swap.jsonl")
        let output = try BufferedOutput(path: out)
        try JSONLExporter(timeline: try Timeline.load(path: path), symbolizer: NullSymbolizer()).write(to: output)
        try output.close()
        let faults = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { $0["type"] as? String == "fault" }
        XCTAssertEqual(faults.filter { $0["kind"] as? String == "swap" }.map { $0["from_disk"] as? Bool },
                       [false, false, false, true, true])
        XCTAssertEqual(faults.compactMap { $0["page_size"] as? Int }, [2 << 20], "only the huge page says its size")
        XCTAssertTrue(faults.filter { $0["kind"] as? String != "swap" }.allSatisfy { $0["from_disk"] == nil })

        // pprof: a swap column, each column summing to its kind.
        let profile = try Perftools_Profiles_Profile(serializedBytes: try XCTUnwrap(Gzip.decompress(try PprofExporter.data(log: log, namer: namer))))
        let names = profile.sampleType.map { profile.stringTable[Int($0.type)] }
        let column = try XCTUnwrap(names.firstIndex(of: "swap"))
        XCTAssertEqual(profile.sample.map { $0.value[column] }.reduce(0, +), 5)
        XCTAssertEqual(profile.sample.map { $0.value[0] }.reduce(0, +), 12)

        XCTAssertEqual(FoldedExporter.lines(StackCounts(log: log, filter: .kind(.swap)), namer: namer), ["main 5\n"])
        let speedscope = SpeedscopeExporter.object(log: log, namer: namer)
        let weights = (speedscope["profiles"] as? [[String: Any]])?.flatMap { ($0["weights"] as? [UInt64]) ?? [] } ?? []
        XCTAssertEqual(weights.reduce(0, +), 12)
    }

    func testPicturesColourSwapInsTeal() throws {
        let (log, namer) = try load()
        let swapOnly = FlameGraphSVG.render(log: log, namer: namer, filter: .kind(.swap), colorBy: .kind)
        XCTAssertTrue(swapOnly.contains("swap 5"), "the legend names the kind")
        XCTAssertTrue(swapOnly.contains("hsl(176,70%"), "teal frames")
        let heatmap = HeatmapSVG.render(Heatmap(timeline: try Timeline.load(path: path)), title: "swap")
        XCTAssertTrue(heatmap.contains("swap"), "the heatmap's legend and cells know the kind")
        XCTAssertTrue(heatmap.contains("hsl(176,70%"))
    }
}
