import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class FrameNamerTests: FixtureTestCase {
    /// Five frames, one per way of being named.
    private func makeLog() throws -> (LoadedLog, [FrameID]) {
        let path = FixtureLog.temporaryPath("namer.flt")
        let w = try LogWriter(path: path, header: LogHeader(pageSize: 4096))
        let prog = w.module(path: "/usr/bin/prog", buildID: [1, 2, 3])
        let libc = w.module(path: "/usr/lib/libc.so.6", buildID: [])
        let anon = w.module(path: "//anon", buildID: [])
        let recorded = w.frame(Frame(module: prog, offset: 0x1000))
        let symbolized = w.frame(Frame(module: libc, offset: 0x3000))
        let unknown = w.frame(Frame(module: prog, offset: 0x9000))
        let absolute = w.frame(Frame(module: nil, offset: 0xdead0))
        let anonymous = w.frame(Frame(module: anon, offset: 0x10))
        w.append(.symbol(FrameSymbol(frame: recorded, function: w.intern("main"), file: w.intern("prog.c"), line: 10)))
        _ = w.stack(leafFirst: [symbolized, recorded])
        try w.finish(LogSummary(endTimeNs: 0, faults: 0, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        return (try LoadedLog.load(path: path), [recorded, symbolized, unknown, absolute, anonymous])
    }

    func testEachWayOfNamingAFrame() throws {
        let (log, frames) = try makeLog()
        let symbolizer = TableSymbolizer()
        symbolizer.table["/usr/lib/libc.so.6"] = [0x3000: Symbol(function: "strlen", file: "strlen.S", line: 5)]
        // The recorded symbol must win even when the symbolizer has an answer.
        symbolizer.table["/usr/bin/prog"] = [0x1000: Symbol(function: "wrong")]
        let namer = FrameNamer(log: log, symbolizer: symbolizer)

        XCTAssertEqual(namer.name(frames[0]), FrameName(function: "main", file: "prog.c", line: 10, module: "/usr/bin/prog"))
        XCTAssertEqual(namer.name(frames[1]), FrameName(function: "strlen", file: "strlen.S", line: 5, module: "/usr/lib/libc.so.6"))
        XCTAssertEqual(namer.name(frames[2]), FrameName(function: "prog+0x9000", module: "/usr/bin/prog"))
        XCTAssertEqual(namer.name(frames[3]), FrameName(function: "0xdead0"))
        XCTAssertEqual(namer.name(frames[4]), FrameName(function: "//anon+0x10", module: "//anon"))
        XCTAssertEqual(namer.name(FrameID(rawValue: 999)).function, "?")
    }

    func testSymbolizerIsAskedOncePerFrameWithTheBuildID() throws {
        let (log, frames) = try makeLog()
        let symbolizer = TableSymbolizer()
        let namer = FrameNamer(log: log, symbolizer: symbolizer)
        for _ in 0..<5 { for f in frames { _ = namer.name(f) } }
        // Recorded and absolute frames never reach the symbolizer: 3 module frames, once each.
        XCTAssertEqual(symbolizer.calls.count, 3)
        XCTAssertEqual(symbolizer.calls.first { $0.path == "/usr/bin/prog" }?.buildID, [1, 2, 3])
        XCTAssertEqual(symbolizer.calls.first { $0.path == "/usr/bin/prog" }?.offset, 0x9000)
    }

    /// A file may give every frame of a stack an inline chain of 256 callers: a stack shows
    /// at most `maxStackNames` names, leaf first, however many its frames would expand to.
    func testAStackOfLongInlineChainsShowsAtMostTheLimit() throws {
        let path = FixtureLog.temporaryPath("inline-chains.flt")
        let w = try LogWriter(path: path, header: LogHeader(pageSize: 4096))
        let prog = w.module(path: "/usr/bin/prog", buildID: [])
        let name = w.intern("inlined_here")
        let callers = Array(repeating: FrameInlining.Caller(function: name, file: nil, line: 0), count: FrameInlining.maxCallers)
        var frames: [FrameID] = []
        for i in 0..<UInt64(40) {
            let f = w.frame(Frame(module: prog, offset: 0x1000 + i))
            w.append(.symbol(FrameSymbol(frame: f, function: w.intern("leaf\(i)"), file: nil, line: 0)))
            w.append(.inlined(FrameInlining(frame: f, callers: callers)))
            frames.append(f)
        }
        let stack = w.stack(leafFirst: frames)
        try w.finish(LogSummary(endTimeNs: 0, faults: 0, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let namer = FrameNamer(log: try LoadedLog.load(path: path), symbolizer: TableSymbolizer())
        let names = namer.stackNames(stack)
        XCTAssertEqual(names.count, FrameNamer.maxStackNames, "40 frames of 257 names each, cut at the limit")
        XCTAssertEqual(names.first?.function, "leaf0", "leaf first")
        XCTAssertEqual(names.filter { $0.function.hasPrefix("leaf") }.count, (FrameNamer.maxStackNames + 256) / 257)
    }

    func testStackDescriptionIsLeafFirst() throws {
        let (log, _) = try makeLog()
        let symbolizer = TableSymbolizer()
        symbolizer.table["/usr/lib/libc.so.6"] = [0x3000: Symbol(function: "strlen")]
        let namer = FrameNamer(log: log, symbolizer: symbolizer)
        XCTAssertEqual(namer.stackDescription(StackID(rawValue: 2)), "strlen ← main prog.c:10")
        XCTAssertEqual(namer.leafFunction(of: StackID(rawValue: 2)), "strlen")
        XCTAssertEqual(namer.stackDescription(.empty), "[no stack]")
        XCTAssertEqual(namer.leafFunction(of: .empty), "[no stack]")
    }

    func testShortModuleNames() {
        XCTAssertEqual(FrameNamer.shortModuleName("/usr/lib/libc.so.6"), "libc.so.6")
        XCTAssertEqual(FrameNamer.shortModuleName("//anon"), "//anon")
        XCTAssertEqual(FrameNamer.shortModuleName("[vdso]"), "[vdso]")
        XCTAssertEqual(FrameNamer.shortModuleName("prog"), "prog")
    }
}
