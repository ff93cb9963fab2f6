// When report says a frame-pointer recording's stacks are shallow: the threshold's edges,
// the line in text and HTML, and the count on a log whose stacks stop short.

import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis
import XCTest

final class StackReachTests: FixtureTestCase {
    func testShallowFromAQuarterOfStacksAndAHundredFaults() {
        XCTAssertTrue(StackReach(faultsJudged: 400, cutShort: 100).isShallow, "exactly 25%, exactly 100")
        XCTAssertFalse(StackReach(faultsJudged: 401, cutShort: 100).isShallow, "just under 25%")
        XCTAssertFalse(StackReach(faultsJudged: 99, cutShort: 99).isShallow, "a start-up's worth, all cut")
        XCTAssertTrue(StackReach(faultsJudged: UInt64.max, cutShort: UInt64.max).isShallow, "no overflow")
        XCTAssertNil(StackReach(faultsJudged: 1000, cutShort: 249).warning)
        let warning = StackReach(faultsJudged: 11_170, cutShort: 10_183).warning ?? ""
        XCTAssertTrue(warning.contains("91.2%"), warning)
        XCTAssertTrue(warning.contains("10,183 of 11,170"), warning)
        XCTAssertTrue(warning.contains("--call-graph dwarf"), warning)
    }

    /// 150 faults whose stack is `leaf ← caller` (the walk stopped there), 50 that reach
    /// main, 30 that end in a frame nobody can name (a stripped main: not judged): 75% cut
    /// short, said in text and HTML; the same log recorded as DWARF says nothing.
    func testCountsStacksThatStopShortAndSaysSo() throws {
        for callGraph in ["fp", "dwarf"] {
            let path = FixtureLog.temporaryPath("reach-\(callGraph)")
            let w = try LogWriter(path: path, header: LogHeader(command: ["./cut"], callGraph: callGraph))
            let prog = w.module(path: "/usr/bin/cut-short", buildID: [9])
            let fLeaf = w.frame(Frame(module: prog, offset: 0x100))
            let fCaller = w.frame(Frame(module: prog, offset: 0x200))
            let fMain = w.frame(Frame(module: prog, offset: 0x300))
            let fStripped = w.frame(Frame(module: prog, offset: 0x400))
            for (frame, name) in [(fLeaf, "leaf"), (fCaller, "caller"), (fMain, "main")] {
                w.append(.symbol(FrameSymbol(frame: frame, function: w.intern(name), file: nil, line: 0)))
            }
            let cut = w.stack(leafFirst: [fLeaf, fCaller])
            let whole = w.stack(leafFirst: [fLeaf, fCaller, fMain])
            let unknown = w.stack(leafFirst: [fLeaf, fCaller, fStripped])
            w.append(.process(ProcessEvent(pid: 7, ppid: 1, timeNs: 1, command: w.intern("cut"))))
            for i in 0..<230 {
                w.append(.fault(FaultEvent(pid: 7, tid: 7, timeNs: 10 + UInt64(i), address: 0x10000 + UInt64(i) * 4096,
                                           ip: 0x100, kind: .anon, access: .write, kernelMode: false, errorCode: 6,
                                           serviceNs: 1, signal: 0, signalCode: 0, stack: i < 150 ? cut : i < 200 ? whole : unknown)))
            }
            // No stack at all: not counted either way.
            w.append(.fault(FaultEvent(pid: 7, tid: 7, timeNs: 500, address: 0x900000, ip: 0, kind: .anon,
                                       access: .write, kernelMode: false, errorCode: 6, serviceNs: 1, signal: 0,
                                       signalCode: 0, stack: .empty)))
            try w.finish(LogSummary(endTimeNs: 1000, faults: 231, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))

            let log = try LoadedLog.load(path: path)
            let report = FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer()))
            if callGraph == "dwarf" {
                XCTAssertNil(report.stackReach)
                XCTAssertFalse(report.renderText().contains("SHALLOW"))
                continue
            }
            XCTAssertEqual(report.stackReach, StackReach(faultsJudged: 200, cutShort: 150))
            let text = report.renderText()
            XCTAssertTrue(text.contains("SHALLOW STACKS: 75.0% of stacks (150 of 200)"), text)
            XCTAssertTrue(HTMLReport.render(report: report, flameGraph: "", heatmap: "").contains("SHALLOW STACKS"))
        }
    }

    /// Judged over the faults the report is about: a process whose 150 of 200 stacks stop
    /// short is shallow, though beside another's 500 whole ones the recording is not.
    func testOnlyTheSelectedProcessesStacksAreJudged() throws {
        let path = FixtureLog.temporaryPath("reach-selected")
        let w = try LogWriter(path: path, header: LogHeader(command: ["./two"], callGraph: "fp"))
        let prog = w.module(path: "/usr/bin/two", buildID: [9])
        let fLeaf = w.frame(Frame(module: prog, offset: 0x100))
        let fMain = w.frame(Frame(module: prog, offset: 0x300))
        for (frame, name) in [(fLeaf, "leaf"), (fMain, "main")] {
            w.append(.symbol(FrameSymbol(frame: frame, function: w.intern(name), file: nil, line: 0)))
        }
        let cut = w.stack(leafFirst: [fLeaf])
        let whole = w.stack(leafFirst: [fLeaf, fMain])
        for pid: Int32 in [7, 8] { w.append(.process(ProcessEvent(pid: pid, ppid: 1, timeNs: 1, command: w.intern("two")))) }
        // pid 7: 150 cut, 50 whole; pid 8: 500 whole.
        for i in 0..<700 {
            w.append(.fault(FaultEvent(pid: i < 200 ? 7 : 8, tid: i < 200 ? 7 : 8, timeNs: 10 + UInt64(i),
                                       address: 0x10000 + UInt64(i) * 4096, ip: 0x100, kind: .anon, access: .write,
                                       kernelMode: false, errorCode: 6, serviceNs: 1, signal: 0, signalCode: 0,
                                       stack: i < 150 ? cut : whole)))
        }
        try w.finish(LogSummary(endTimeNs: 1000, faults: 700, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let log = try LoadedLog.load(path: path)
        func report(_ pids: Set<Int32>?) -> FaultReport {
            FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer()),
                        options: ReportOptions(selection: FaultSelection(pids: pids)))
        }
        XCTAssertEqual(report(nil).stackReach, StackReach(faultsJudged: 700, cutShort: 150))
        XCTAssertFalse(report(nil).renderText().contains("SHALLOW"), "21.4% of the whole recording")
        XCTAssertEqual(report([7]).stackReach, StackReach(faultsJudged: 200, cutShort: 150))
        XCTAssertTrue(report([7]).renderText().contains("SHALLOW STACKS: 75.0% of stacks (150 of 200)"))
        XCTAssertEqual(report([8]).stackReach, StackReach(faultsJudged: 500, cutShort: 0))
    }
}
