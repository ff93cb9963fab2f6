// The flame graph, heatmap and HTML report of the fixture log: well-formed XML (parsed
// with Foundation's XMLParser), every fault accounted for, the fixture's names present,
// and names that would break XML escaped.

import Foundation
import XCTest
import FaultlineTestSupport
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class PictureTests: FixtureTestCase {
    private func flame(_ filter: FaultKindFilter? = nil, colorBy: FlameGraphOptions.ColorBy = .kind,
                       name: String = #function) throws -> String {
        let log = try FixtureLog.load(name)
        return FlameGraphSVG.render(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer()),
                                    filter: filter, colorBy: colorBy)
    }

    func testFlameGraphIsWellFormedAndCountsEveryFault() throws {
        let xml = try XMLCollector.parse(try flame())
        let frames = xml.all("g", where: "class", is: "f")
        let byName = Dictionary(frames.map { ($0["data-n"]!, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byName["all"]?["data-c"], "31")
        XCTAssertEqual(byName["all"]?["data-d"], "0")
        // Both processes are called prog: one tower.
        XCTAssertEqual(byName["prog"]?["data-c"], "31")
        XCTAssertEqual(byName["main"]?["data-c"], "31")
        XCTAssertEqual(byName["fill"]?["data-c"], "23", "16 in fill itself + 7 under memset")
        XCTAssertEqual(byName["memset"]?["data-c"], "7")
        XCTAssertEqual(byName["0xdead0"]?["data-c"], "1")
        XCTAssertEqual(frames.count, 6)
        XCTAssertTrue(xml.text.contains("fill prog.c:20 (prog): 23 faults, 74.2%; 11.5 µs in faults (anon 12, zero 5, cow 5, other 1)"),
                      "hover text names the function, its line, module, count, share, time and kinds")
        XCTAssertEqual(xml.all("script").count, 1)
    }

    func testFlameGraphKindFilterAndModuleColours() throws {
        let cow = try XMLCollector.parse(try flame(.kind(.cow)))
        let names = cow.all("g", where: "class", is: "f").map { $0["data-n"]! + " " + $0["data-c"]! }
        XCTAssertEqual(names, ["all 5", "prog 5", "main 5", "fill 5"])

        let byModule = try XMLCollector.parse(try flame(colorBy: .module))
        XCTAssertTrue(byModule.text.contains("colour: module"))
        XCTAssertTrue(byModule.text.contains("libc.so.6"), "the legend names the modules")
    }

    func testFlameGraphEscapesHostileNames() throws {
        let path = FixtureLog.temporaryPath("hostile.flt")
        let w = try LogWriter(path: path, header: LogHeader(pageSize: 4096, command: ["./a<b>&\"c\""]))
        let module = w.module(path: "/bin/x", buildID: [])
        let frame = w.frame(Frame(module: module, offset: 0x10))
        w.append(.symbol(FrameSymbol(frame: frame, function: w.intern("operator<<<int&>\u{1}]]>'"), file: nil, line: 0)))
        let stack = w.stack(leafFirst: [frame])
        w.append(.process(ProcessEvent(pid: 7, ppid: 0, timeNs: 1, command: w.intern("a<b"))))
        w.append(.fault(FaultEvent(pid: 7, tid: 7, timeNs: 2, address: 0x1000, ip: 0, kind: .anon, access: .write,
                                   kernelMode: false, errorCode: 6, serviceNs: nil, stack: stack)))
        try w.finish(LogSummary(endTimeNs: 3, faults: 1, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let log = try LoadedLog.load(path: path)
        let svg = FlameGraphSVG.render(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer()),
                                       filter: nil, colorBy: .kind)
        let xml = try XMLCollector.parse(svg)
        let names = xml.all("g", where: "class", is: "f").map { $0["data-n"]! }
        XCTAssertEqual(names, ["all", "a<b", "operator<<<int&>\u{FFFD}]]>'"])
        let heatmap = try XMLCollector.parse(HeatmapSVG.render(Heatmap(timeline: try Timeline.load(path: path)), title: "a<b>&"))
        // The title reads back as it was given, and the one fault is one cell.
        XCTAssertEqual(heatmap.elements.indices.first { heatmap.elements[$0].attributes["class"] == "title" }.flatMap { heatmap.ownText[$0] },
                       "a<b>&")
        XCTAssertEqual(heatmap.all("rect", where: "class", is: "c").count, 1)
    }

    func testHeatmapIsWellFormedAndPlacesEveryFault() throws {
        let path = FixtureLog.temporaryPath("heatmap.flt")
        try FixtureLog.write(to: path)
        let map = Heatmap(timeline: try Timeline.load(path: path))
        XCTAssertEqual(map.total.faults, 31)
        XCTAssertEqual(map.cells.values.reduce(0) { $0 + $1.faults }, 31)
        XCTAssertEqual(map.rate.reduce(0) { $0 + $1.faults }, 31)
        XCTAssertEqual(map.bands.reduce(0) { $0 + $1.faults }, 31)
        // The fork is inside the recorded span; the exec (before the first fault) and the
        // exits (after the last) are not.
        XCTAssertEqual(map.markers.map(\.label), ["fork 101"])
        // The child's copy-on-write faults land after the fork, on [heap] rows.
        let forkColumn = Int(Double(5_000 - map.startNs) / map.nsPerColumn)
        let heap = try XCTUnwrap(map.bands.firstIndex { $0.label == "[heap]" })
        let cowCells = map.cells.filter { $0.value.counts[.cow] > 0 }
        XCTAssertEqual(cowCells.values.reduce(UInt64(0)) { $0 + $1.counts[.cow] }, 5)
        XCTAssertTrue(cowCells.keys.allSatisfy { $0.column >= forkColumn })
        XCTAssertEqual(cowCells.filter { $0.key.band == heap }.values.reduce(UInt64(0)) { $0 + $1.counts[.cow] }, 4)
        // File pages are placed by offset inside their file: prog's three text pages.
        let prog = try XCTUnwrap(map.bands.first { $0.label == "prog" })
        XCTAssertTrue(prog.isFileOffset)
        XCTAssertEqual(prog.pagesTouched, 3)
        XCTAssertEqual(prog.firstPage, 0)

        let svg = HeatmapSVG.render(map, title: "fixture")
        let xml = try XMLCollector.parse(svg)
        XCTAssertEqual(xml.all("rect", where: "class", is: "c").count, map.cells.count)
        for label in ["[heap]", "libc.so.6", "prog", "fork 101"] {
            XCTAssertTrue(xml.text.contains(label), "\(label) is labelled")
        }
    }

    /// Bands go in address order, not in name order: "//anon" sorts before "[heap]" and has
    /// two ranges, but the heap lies lowest. Each fault must land in its own range's band.
    func testBandsInAddressOrderKeepTheirFaults() throws {
        let path = FixtureLog.temporaryPath("heatmap-order.flt")
        let w = try LogWriter(path: path, header: LogHeader(pageSize: 4096, thpMode: "never", startTimeNs: 0))
        let heap = w.module(path: "[heap]", buildID: [])
        let anon = w.module(path: "//anon", buildID: [])
        w.append(.process(ProcessEvent(pid: 7, ppid: 1, timeNs: 1, command: w.intern("p"))))
        let ranges: [(UInt64, ModuleID, Int)] = [(0x7f10_0000_0000, anon, 4), (0x1000_0000, heap, 3), (0x7f00_0000_0000, anon, 2)]
        for (start, module, _) in ranges {
            w.append(.mmap(MmapEvent(pid: 7, timeNs: 2, start: start, length: 16 * 4096, pageOffset: 0, prot: 3, flags: 2,
                                     inode: 0, module: module)))
        }
        var time: UInt64 = 10
        for (start, _, faults) in ranges {
            for k in 0..<faults {
                time += 1
                w.append(.fault(FaultEvent(pid: 7, tid: 7, timeNs: time, address: start + UInt64(k) * 4096, ip: 0, kind: .anon,
                                           access: .write, kernelMode: false, errorCode: 6, serviceNs: nil, stack: .empty)))
            }
        }
        try w.finish(LogSummary(endTimeNs: 100, faults: 9, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let map = Heatmap(timeline: try Timeline.load(path: path))
        XCTAssertEqual(map.bands.map(\.faults), [3, 2, 4])
        XCTAssertEqual(map.bands.map(\.firstPage), [0x1000_0000 / 4096, 0x7f00_0000_0000 / 4096, 0x7f10_0000_0000 / 4096])
        XCTAssertEqual(map.cells.values.reduce(0) { $0 + $1.faults }, 9)
    }

    func testManySmallRangesShareOneBand() throws {
        let path = FixtureLog.temporaryPath("heatmap-bands.flt")
        try FixtureLog.write(to: path)
        var options = HeatmapOptions()
        options.maxBands = 3
        let map = Heatmap(timeline: try Timeline.load(path: path), options: options)
        XCTAssertEqual(map.bands.count, 3)
        XCTAssertTrue(try XCTUnwrap(map.bands.last).label.hasSuffix("smaller ranges"))
        XCTAssertEqual(map.cells.values.reduce(0) { $0 + $1.faults }, 31)
        // Each band is drawn and labelled, and every cell is a rect.
        let xml = try XMLCollector.parse(HeatmapSVG.render(map, title: "bands"))
        XCTAssertEqual(xml.all("rect", where: "class", is: "c").count, map.cells.count)
        for band in map.bands { XCTAssertTrue(xml.text.contains(band.label), "\(band.label) is labelled") }
    }

    func testHTMLReportIsOnePageWithTablesAndBothPictures() throws {
        let path = FixtureLog.temporaryPath("html.flt")
        try FixtureLog.write(to: path)
        let timeline = try Timeline.load(path: path)
        let namer = FrameNamer(log: timeline.log, symbolizer: NullSymbolizer())
        let report = FaultReport(log: timeline.log, namer: namer, options: ReportOptions(groupings: [.function, .mapping]))
        let page = HTMLReport.render(report: report,
                                     flameGraph: FlameGraphSVG.render(log: timeline.log, namer: namer, filter: nil, colorBy: .kind),
                                     heatmap: HeatmapSVG.render(Heatmap(timeline: timeline), title: "heat"))
        XCTAssertFalse(page.contains("<?xml"), "inlined SVGs lose their declarations")
        let xml = try XMLCollector.parse(page)
        // Nothing is fetched: no element names anything outside the page (the SVGs' xmlns
        // URIs are names, not fetches), and no style imports or links out.
        let fetching = ["src", "href", "xlink:href", "action", "data", "poster", "srcset"]
        let outside = xml.elements.flatMap { e in
            fetching.compactMap { e.attributes[$0] }.filter { !$0.hasPrefix("#") }.map { "<\(e.name)> \($0)" }
        }
        XCTAssertEqual(outside, [], "the page refers to nothing outside itself")
        XCTAssertEqual(xml.all("link").count + xml.all("img").count + xml.all("iframe").count, 0)
        XCTAssertNil(page.range(of: #"url\(|@import"#, options: .regularExpression), "no style fetches anything")
        XCTAssertEqual(xml.all("svg").count, 3)
        XCTAssertEqual(Set(xml.all("svg").compactMap { $0["id"] }), ["faultline-flame", "faultline-latency", "faultline-heatmap"])
        XCTAssertTrue(xml.text.contains("LOST 3 events"), "the loss warning is on the page")
        for text in ["Faults and time by kind", "Slowest faults", "Processes", "Top functions", "Top mappings", "fill", "[heap]", "./prog --fill"] {
            XCTAssertTrue(xml.text.contains(text), "\(text) is on the page")
        }
    }
}
