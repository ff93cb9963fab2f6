// Stacks through code built without frame pointers: deep_nofp faults inside memset three
// of its own calls deep, and its child dies of SIGSEGV three calls deep.

import XCTest
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis
import FaultlineSymbolize

final class DwarfStackTests: XCTestCase {
    func names(_ run: SampleRun, _ fault: FaultEvent, _ namer: FrameNamer) -> [String] {
        run.log.frames(of: fault.stack).map { namer.name($0).function }
    }

    /// `expected` appear in `names` in this order, one right after the other.
    func assertChain(_ names: [String], _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        guard let first = names.firstIndex(of: expected[0]) else {
            return XCTFail("\(expected[0]) not in \(names)", file: file, line: line)
        }
        XCTAssertEqual(Array(names.dropFirst(first).prefix(expected.count)), expected, "\(names)", file: file, line: line)
    }

    func testDwarfModeUnwindsCodeWithoutFramePointers() throws {
        let run = try Samples.record("deep_nofp", callGraph: .dwarf)
        assertExpectations(run)
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())

        let anon = try XCTUnwrap(run.expectations.first { $0.kind == .anon })
        let filled = run.faults(pid: anon.pid, in: anon.start..<anon.end).filter { $0.kind == .anon }
        XCTAssertEqual(filled.count, 256)
        for fault in filled {
            let stack = names(run, fault, namer)
            XCTAssertTrue(stack.first?.contains("memset") ?? false, "leaf is libc's memset: \(stack)")
            assertChain(stack, ["fill_level3", "fill_level2", "fill_level1", "main"])
        }

        let segv = try XCTUnwrap(run.expectations.first { $0.kind == .segv })
        let crash = run.faults(pid: segv.pid, in: segv.start..<segv.end).filter { $0.kind == .segv }
        XCTAssertEqual(crash.count, 1)
        assertChain(names(run, crash[0], namer), ["crash_level3", "crash_level2", "crash_level1", "main"])
        XCTAssertNil(StackReach(log: run.log, namer: namer), "DWARF stacks are not judged")
    }

    /// Documents what frame-pointer mode loses here (README, "How it records"): the kernel's
    /// walk cannot pass a function without a frame pointer, so callers beyond it are gone.
    /// The leaf's own caller is not: memset keeps no frame, and its CFI finds fill_level3
    /// in the few stack bytes sampled with each fault.
    func testFramePointerModeLosesCallersOfCodeWithoutThem() throws {
        let run = try Samples.record("deep_nofp", callGraph: .fp)
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())
        let anon = try XCTUnwrap(run.expectations.first { $0.kind == .anon })
        let filled = run.faults(pid: anon.pid, in: anon.start..<anon.end).filter { $0.kind == .anon }
        XCTAssertEqual(filled.count, 256)
        XCTAssertTrue(filled.allSatisfy { !names(run, $0, namer).contains("fill_level2") })
        for fault in filled {
            let stack = names(run, fault, namer)
            XCTAssertTrue(stack.count >= 2 && stack[0].contains("memset") && stack[1] == "fill_level3", "\(stack)")
        }
        // report says so: at least the 256 fills stop short of main.
        let reach = try XCTUnwrap(StackReach(log: run.log, namer: namer))
        XCTAssertGreaterThanOrEqual(reach.cutShort, 256)
        XCTAssertTrue(reach.isShallow, "\(reach)")
        XCTAssertTrue(FaultReport(log: run.log, namer: namer).renderText().contains("--call-graph dwarf"))
    }

    /// Code built with frame pointers: the fp walk reaches main, and report does not call
    /// the stacks shallow; its 1000 first touches are all among the whole ones.
    func testFramePointerStacksThroughCodeWithThemAreNotShallow() throws {
        let run = try Samples.record("first_touch", callGraph: .fp)
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())
        let reach = try XCTUnwrap(StackReach(log: run.log, namer: namer))
        XCTAssertGreaterThanOrEqual(reach.faultsJudged - reach.cutShort, 1000, "\(reach)")
        XCTAssertFalse(reach.isShallow, "\(reach)")
    }

    /// A segfault's stack is unwound from the stopped thread with libunwind-ptrace, so it is
    /// whole in frame-pointer mode too.
    func testSegfaultStackIsWholeInFramePointerMode() throws {
        let run = try Samples.record("deep_nofp", callGraph: .fp)
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())
        let segv = try XCTUnwrap(run.expectations.first { $0.kind == .segv })
        let crash = run.faults(pid: segv.pid, in: segv.start..<segv.end).filter { $0.kind == .segv }
        XCTAssertEqual(crash.count, 1)
        assertChain(names(run, crash[0], namer), ["crash_level3", "crash_level2", "crash_level1", "main"])
    }
}

/// Frames are named before the log is closed, so a report still names functions after
/// the binary is gone (another machine, a rebuild).
final class RecordedSymbolTests: XCTestCase {
    func testLogNamesFunctionsAfterTheBinaryIsDeleted() throws {
        _ = Samples.built
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-it-\(getpid())-gone")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let copy = dir.appendingPathComponent("deep_copy").path
        try FileManager.default.copyItem(atPath: Samples.path("deep_nofp"), toPath: copy)
        let run = try Samples.recordCommand([copy], logPath: dir.appendingPathComponent("gone.flt").path, callGraph: .dwarf)
        try FileManager.default.removeItem(atPath: copy)

        let log = try LoadedLog.load(path: run.log.path)
        let namer = FrameNamer(log: log, symbolizer: NullSymbolizer())
        let functions = Set(log.faults.flatMap { log.frames(of: $0.stack).map { namer.name($0).function } })
        for expected in ["fill_level3", "fill_level2", "fill_level1", "crash_level3", "main"] {
            XCTAssertTrue(functions.contains(expected), "\(expected) is named from the log alone")
        }
    }
}
