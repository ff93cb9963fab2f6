// A function row shows the frames of its most-faulting stack. Where two stacks tie, the
// choice must not depend on hashing (Swift seeds it per process), or the same log reports
// differently run after run: two modules' `_start` once did exactly that.

import XCTest
import FaultlineTestSupport
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class FunctionTieTests: XCTestCase {
    func testTiedStacksOfOneFunctionNameInTwoModulesPickTheSameModuleEveryTime() throws {
        let path = FixtureLog.temporaryPath("\(#function).flt")
        let w = try LogWriter(path: path, header: LogHeader(
            kernelRelease: "6.18.0-test", machine: "x86_64", hostname: "testhost", pageSize: 4096,
            thpMode: "madvise", command: ["./prog"], startTimeNs: 1_000,
            startWallSeconds: 1_700_000_000, callGraph: "fp", recorderVersion: "faultline-test"))
        let program = w.module(path: "/usr/bin/prog", buildID: [1])
        let loader = w.module(path: "/usr/lib/ld-linux-x86-64.so.2", buildID: [2])
        w.append(.process(ProcessEvent(pid: 7, ppid: 1, timeNs: 1_000, command: w.intern("prog"))))
        // Sixteen names, each the leaf of one stack in each module, one fault each: sixteen
        // ties, each of which hashing alone would settle either way.
        // Sixteen more, each in one module twice, from two headers of one name in different
        // directories (the label shows only `x.h:45`).
        let names = (0..<16).map { "f\($0)" }, inlined = (0..<16).map { "g\($0)" }
        var time: UInt64 = 2_000
        func fault(_ frame: FrameID) {
            time += 10
            w.append(.fault(FaultEvent(pid: 7, tid: 7, timeNs: time, address: 0x10000 + time * 4096, ip: 0x401000,
                                       kind: .anon, access: .write, kernelMode: false, errorCode: 6,
                                       serviceNs: 500, stack: w.stack(leafFirst: [frame]))))
        }
        var offset: UInt64 = 0x1000
        for (k, name) in names.enumerated() {
            for module in k % 2 == 0 ? [loader, program] : [program, loader] {
                offset += 16
                let frame = w.frame(Frame(module: module, offset: offset))
                w.append(.symbol(FrameSymbol(frame: frame, function: w.intern(name), file: nil, line: 0)))
                fault(frame)
            }
        }
        for (k, name) in inlined.enumerated() {
            for file in k % 2 == 0 ? ["./x.h", "./a/x.h"] : ["./a/x.h", "./x.h"] {
                offset += 16
                let frame = w.frame(Frame(module: loader, offset: offset))
                w.append(.symbol(FrameSymbol(frame: frame, function: w.intern(name), file: w.intern(file), line: 45)))
                fault(frame)
            }
        }
        try w.finish(LogSummary(endTimeNs: time + 10, faults: 64, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let log = try LoadedLog.load(path: path)
        let report = FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer()),
                                 options: ReportOptions(groupings: [.function], top: 100))
        let section = try XCTUnwrap(report.sections.first)
        XCTAssertEqual(section.rows.map(\.name).sorted(), (names + inlined).sorted())
        for row in section.rows {
            XCTAssertEqual(row.count, 2, row.name)
            // Ties go to the text that sorts first: the module's path, else the file's.
            if row.name.hasPrefix("f") {
                XCTAssertEqual(row.frames.map(\.module), ["/usr/bin/prog"], row.name)
            } else {
                XCTAssertEqual(row.frames.map(\.file), ["./a/x.h"], row.name)
            }
        }
    }
}
