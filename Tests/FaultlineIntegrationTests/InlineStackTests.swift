// Stacks through inlined code: samples/inline_chain faults inside touch_page, inlined into
// touch_range, inlined into fill_pages, which main calls from run_phase, inlined into main.
// Every output must name each function of those chains, in order, with the lines the
// sample's source marks (perf script --inline gives the same stack, checked by hand).

import XCTest
import Foundation
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis
import FaultlineSymbolize
import FaultlineTracer

final class InlineStackTests: XCTestCase {
    /// The line of `inline_chain.c` holding the comment `LINE:name`.
    static func markedLine(_ name: String) throws -> Int {
        let source = try String(contentsOfFile: Samples.root.appendingPathComponent("samples/inline_chain.c").path,
                                encoding: .utf8)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let index = try XCTUnwrap(lines.firstIndex { $0.contains("/* LINE:\(name) */") }, "no LINE:\(name) marker")
        return index + 1
    }

    /// The stack every fault of the sample's range has, leaf to main: (function, line, inlined).
    static func expectedStack() throws -> [(String, Int, Bool)] {
        [("touch_page", try markedLine("fault"), true),
         ("touch_range", try markedLine("touch_page_call"), true),
         ("fill_pages", try markedLine("touch_range_call"), false),
         ("run_phase", try markedLine("fill_pages_call"), true),
         ("main", try markedLine("run_phase_call"), false)]
    }

    /// The named frames of each anon fault in the sample's range, checked whole from the leaf
    /// to main; returns the run and those faults.
    private func recordAndCheck(_ callGraph: CallGraphMode, symbolizer: Symbolizer = LibdwSymbolizer(),
                                file: StaticString = #filePath, line: UInt = #line) throws -> (SampleRun, [FaultEvent]) {
        let run = try Samples.record("inline_chain", callGraph: callGraph)
        assertExpectations(run, file: file, line: line)
        let anon = try XCTUnwrap(run.expectations.first { $0.kind == .anon })
        let faults = run.faults(pid: anon.pid, in: anon.start..<anon.end).filter { $0.kind == .anon }
        XCTAssertEqual(faults.count, 64, file: file, line: line)
        let namer = FrameNamer(log: run.log, symbolizer: symbolizer)
        let expected = try Self.expectedStack()
        for fault in faults {
            let names = namer.stackNames(fault.stack)
            let main = try XCTUnwrap(names.firstIndex { $0.function == "main" }, "no main in \(names.map(\.label))",
                                     file: file, line: line)
            let got = names.prefix(through: main).map { ($0.function, $0.line ?? 0, $0.inlined) }
            XCTAssertTrue(got.elementsEqual(expected, by: { $0 == $1 }),
                          "\(callGraph): \(names.map(\.label))", file: file, line: line)
            XCTAssertTrue(names.prefix(through: main).allSatisfy { $0.file.map { $0.hasSuffix("/inline_chain.c") } ?? false },
                          "every frame to main is in inline_chain.c: \(names.map { $0.file ?? "-" })", file: file, line: line)
        }
        return (run, faults)
    }

    func testFramePointerStacksNameEveryInlinedFunction() throws {
        _ = try recordAndCheck(.fp)
    }

    func testDwarfStacksNameEveryInlinedFunction() throws {
        _ = try recordAndCheck(.dwarf)
    }

    /// The chains are named at recording time and kept in the log: a reader with no
    /// symbolizer (the binary gone, another machine) shows the same stack.
    func testInlineChainsAreKeptInTheLog() throws {
        let (run, _) = try recordAndCheck(.fp, symbolizer: NullSymbolizer())
        XCTAssertFalse(run.log.inlining.isEmpty)
    }

    func testEveryOutputShowsTheChainWithLines() throws {
        let (run, faults) = try recordAndCheck(.dwarf)
        let log = run.log
        let lines = try Self.expectedStack().map(\.1)
        let leafLabel = "touch_page (inlined) inline_chain.c:\(lines[0])"
        let chainText = "touch_page (inlined) inline_chain.c:\(lines[0]) ← touch_range (inlined) inline_chain.c:\(lines[1])"
            + " ← fill_pages inline_chain.c:\(lines[2]) ← run_phase (inlined) inline_chain.c:\(lines[3])"
            + " ← main inline_chain.c:\(lines[4])"
        func namer() -> FrameNamer { FrameNamer(log: log, symbolizer: NullSymbolizer()) }

        // Text: --by function names the innermost function at its faulting line; --by stack
        // the whole chain.
        let report = FaultReport(log: log, namer: namer(), options: ReportOptions(groupings: [.function, .stack], top: 50))
        let text = report.renderText()
        XCTAssertTrue(text.contains(leafLabel), text)
        let functionRow = try XCTUnwrap(report.sections[0].rows.first { $0.name == "touch_page" })
        XCTAssertEqual(functionRow.count, 64)
        XCTAssertEqual(functionRow.label(.function), leafLabel)
        let stackRow = try XCTUnwrap(report.sections[1].rows.first { $0.name.hasPrefix(chainText) }, text)
        XCTAssertEqual(stackRow.count, 64)
        XCTAssertTrue(text.contains(chainText), text)

        // JSON: the rows carry their frames.
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(report.renderJSON().utf8)) as? [String: Any])
        let top = try XCTUnwrap(json["top"] as? [[String: Any]])
        let row = try XCTUnwrap(top.first { $0["name"] as? String == "touch_page" })
        let frame = try XCTUnwrap((row["frames"] as? [[String: Any]])?.first)
        XCTAssertEqual(frame["function"] as? String, "touch_page")
        XCTAssertEqual(frame["line"] as? Int, lines[0])
        XCTAssertEqual(frame["inlined"] as? Bool, true)

        // jsonl: one frame per function, `inlined` on the inlined ones.
        let timeline = try Timeline.load(path: log.path)
        let jsonlPath = log.path + ".jsonl"
        let out = try BufferedOutput(path: jsonlPath)
        try JSONLExporter(timeline: timeline, symbolizer: NullSymbolizer()).write(to: out)
        try out.close()
        let first = faults[0]
        let record = try XCTUnwrap(try String(contentsOfFile: jsonlPath, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { $0["type"] as? String == "fault" && $0["time_ns"] as? UInt64 == first.timeNs && $0["tid"] as? Int == Int(first.tid) })
        let stack = try XCTUnwrap(record["stack"] as? [[String: Any]])
        let expected = try Self.expectedStack()
        XCTAssertEqual(stack.prefix(5).map { $0["function"] as? String ?? "" }, expected.map(\.0))
        XCTAssertEqual(stack.prefix(5).map { $0["line"] as? Int ?? 0 }, lines)
        XCTAssertEqual(stack.prefix(5).map { $0["inlined"] as? Bool ?? false }, expected.map(\.2))

        // folded: root first, `_[i]` on inlined functions; --lines adds file:line.
        let folded = FoldedExporter.lines(StackCounts(log: log), namer: namer())
        XCTAssertTrue(folded.contains { $0.hasSuffix(";main;run_phase_[i];fill_pages;touch_range_[i];touch_page_[i] 64\n") }, "\(folded)")
        let foldedLines = FoldedExporter.lines(StackCounts(log: log), namer: namer(), sourceLines: true)
        XCTAssertTrue(foldedLines.contains { $0.hasSuffix(";fill_pages inline_chain.c:\(lines[2]);touch_range inline_chain.c:\(lines[1])_[i];touch_page inline_chain.c:\(lines[0])_[i] 64\n") }, "\(foldedLines)")

        // pprof: the leaf is one Location whose Lines are the chain, innermost first.
        let profile = PprofExporter.build(log: log, namer: namer())
        func functionName(_ id: UInt64) -> String { profile.stringTable[Int(profile.function[Int(id) - 1].name)] }
        let leafLocations = Set(profile.sample.filter { $0.value[0] == 64 }.map { $0.locationID[0] })
        XCTAssertEqual(leafLocations.count, 1)
        let location = profile.location[Int(leafLocations.first!) - 1]
        XCTAssertEqual(location.line.map { functionName($0.functionID) }, ["touch_page", "touch_range", "fill_pages"])
        XCTAssertEqual(location.line.map(\.line), lines.prefix(3).map(Int64.init))

        // speedscope: each frame has its line; inlined ones say so in the name.
        let speedscope = SpeedscopeExporter.object(log: log, namer: namer())
        let frames = try XCTUnwrap((speedscope["shared"] as? [String: Any])?["frames"] as? [[String: Any]])
        XCTAssertTrue(frames.contains { $0["name"] as? String == "touch_page (inlined)" && $0["line"] as? Int == lines[0] }, "\(frames)")
        XCTAssertTrue(frames.contains { $0["name"] as? String == "fill_pages" && $0["line"] as? Int == lines[2] }, "\(frames)")

        // Flame graph (and so the HTML report): inlined frames are their own boxes, and the
        // tooltip says where.
        let svg = FlameGraphSVG.render(log: log, namer: namer(), filter: nil, colorBy: .kind)
        XCTAssertTrue(svg.contains("<title>touch_page (inlined) inline_chain.c:\(lines[0]) (inline_chain): 64 faults"), svg)
        XCTAssertTrue(svg.contains("<title>touch_range (inlined) inline_chain.c:\(lines[1]) (inline_chain): 64 faults"), svg)
        let html = HTMLReport.render(report: report, flameGraph: svg, heatmap: "")
        XCTAssertTrue(html.contains("<td class=\"name\">\(leafLabel)</td>"), html)
    }
}
