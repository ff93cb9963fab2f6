// Whole stacks on real samples, leaf to the outermost frame, in order: every frame the
// recorder keeps is compared, so a lost outer frame, a frame too many or a wrong order fails.
// first_touch and cow_fork write from main; deep_nofp (built without frame pointers) faults
// inside memset three of its own calls deep, and its child dies of SIGSEGV three calls deep.

import XCTest
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis
import FaultlineSymbolize

/// How glibc starts main, outermost last: what a whole unwind finds above main.
let libcStart = ["__libc_start_call_main", "__libc_start_main", "_start"]

/// A fault's frames by name, leaf first. Symbol versions (`__libc_start_main@@GLIBC_2.34`)
/// are dropped: they name the same function on every glibc.
func stackNames(_ log: LoadedLog, _ fault: FaultEvent, _ namer: FrameNamer) -> [String] {
    log.frames(of: fault.stack).map { name in
        let function = namer.name(name).function
        return function.range(of: "@@").map { String(function[..<$0.lowerBound]) } ?? function
    }
}

/// memset's leaf is whichever variant libc picked for this CPU (__memset_avx2_unaligned_erms…).
func isMemset(_ name: String?) -> Bool { name?.contains("memset") ?? false }

final class WholeStackTests: XCTestCase {
    func names(_ run: SampleRun, _ fault: FaultEvent, _ namer: FrameNamer) -> [String] { stackNames(run.log, fault, namer) }

    /// Frame-pointer mode: main keeps a frame pointer, libc's __libc_start_call_main does
    /// not, so the kernel's walk ends there: exactly two frames, each write of the loop.
    func testFramePointerStacksOfMainsWrites() throws {
        let run = try Samples.record("first_touch")
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())
        let e = try XCTUnwrap(run.expectations.first)
        let writes = run.faults(pid: e.pid, in: e.start..<e.end)
        XCTAssertEqual(writes.count, 1000)
        for fault in writes {
            XCTAssertEqual(names(run, fault, namer), ["main", "__libc_start_call_main"])
        }
    }

    /// The same in a forked child: its stacks are its own, whole.
    func testFramePointerStacksInAForkedChild() throws {
        let run = try Samples.record("cow_fork")
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())
        for e in run.expectations {
            let faults = run.faults(pid: e.pid, in: e.start..<e.end)
            XCTAssertEqual(faults.count, e.count, "\(e.kind)")
            for fault in faults { XCTAssertEqual(names(run, fault, namer), ["main", "__libc_start_call_main"], "\(e.kind)") }
        }
    }

    func testDwarfModeUnwindsCodeWithoutFramePointersToStart() throws {
        let run = try Samples.record("deep_nofp", callGraph: .dwarf)
        assertExpectations(run)
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())

        let anon = try XCTUnwrap(run.expectations.first { $0.kind == .anon })
        let filled = run.faults(pid: anon.pid, in: anon.start..<anon.end).filter { $0.kind == .anon }
        XCTAssertEqual(filled.count, 256)
        for fault in filled {
            let stack = names(run, fault, namer)
            XCTAssertTrue(isMemset(stack.first), "leaf is libc's memset: \(stack)")
            XCTAssertEqual(Array(stack.dropFirst()), ["fill_level3", "fill_level2", "fill_level1", "main"] + libcStart)
        }

        let segv = try XCTUnwrap(run.expectations.first { $0.kind == .segv })
        let crash = run.faults(pid: segv.pid, in: segv.start..<segv.end).filter { $0.kind == .segv }
        XCTAssertEqual(crash.count, 1)
        XCTAssertEqual(crash.first.map { names(run, $0, namer) }, ["crash_level3", "crash_level2", "crash_level1", "main"] + libcStart)
        XCTAssertNil(StackReach(log: run.log, namer: namer), "DWARF stacks are not judged")
    }

    /// Documents what frame-pointer mode loses here (README, "How it records"): the kernel's
    /// walk cannot pass a function without a frame pointer, so callers beyond it are gone.
    /// The leaf's own caller is not: memset keeps no frame, and its CFI finds fill_level3
    /// in the few stack bytes sampled with each fault. Exactly those two frames.
    func testFramePointerModeLosesCallersOfCodeWithoutThem() throws {
        let run = try Samples.record("deep_nofp", callGraph: .fp)
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())
        let anon = try XCTUnwrap(run.expectations.first { $0.kind == .anon })
        let filled = run.faults(pid: anon.pid, in: anon.start..<anon.end).filter { $0.kind == .anon }
        XCTAssertEqual(filled.count, 256)
        for fault in filled {
            let stack = names(run, fault, namer)
            XCTAssertEqual(stack.count, 2, "\(stack)")
            XCTAssertTrue(isMemset(stack.first), "\(stack)")
            XCTAssertEqual(stack.last, "fill_level3")
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
    /// whole in frame-pointer mode too: from the faulting function to _start.
    func testSegfaultStackIsWholeInFramePointerMode() throws {
        let run = try Samples.record("deep_nofp", callGraph: .fp)
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())
        let segv = try XCTUnwrap(run.expectations.first { $0.kind == .segv })
        let crash = run.faults(pid: segv.pid, in: segv.start..<segv.end).filter { $0.kind == .segv }
        XCTAssertEqual(crash.count, 1)
        XCTAssertEqual(crash.first.map { names(run, $0, namer) }, ["crash_level3", "crash_level2", "crash_level1", "main"] + libcStart)
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
        // Named from the log alone, whole: the 256 pages filled, and the child's crash. The
        // fills are first touches of anonymous memory: a code page that reclaim took (this
        // machine runs a DAMON pageout scheme) and memset faulted back is a file fault that
        // also passes through fill_level3.
        let stacks = log.faults.map { stackNames(log, $0, namer) }
        let filled = log.faults.filter { $0.kind == .anon }.map { stackNames(log, $0, namer) }.filter { $0.contains("fill_level3") }
        XCTAssertEqual(filled.count, 256)
        for stack in filled {
            XCTAssertTrue(isMemset(stack.first), "\(stack)")
            XCTAssertEqual(Array(stack.dropFirst()), ["fill_level3", "fill_level2", "fill_level1", "main"] + libcStart)
        }
        XCTAssertEqual(stacks.filter { $0.first == "crash_level3" },
                       [["crash_level3", "crash_level2", "crash_level1", "main"] + libcStart])
    }
}
