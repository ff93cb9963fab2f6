// Frames in JIT-compiled code are named from the runtime's perf map (/tmp/perf-PID.map).

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis
import FaultlineSymbolize
import FaultlineTracer

final class JITFrameTests: XCTestCase {
    /// samples/jit_map runs code from anonymous memory that only its perf map names, in a
    /// child whose map the parent deletes as soon as the child has exited.
    private func checkSyntheticJIT(_ callGraph: CallGraphMode) throws {
        let run = try Samples.record("jit_map", callGraph: callGraph)
        try Skip.if(run.stdout.hasPrefix("SKIP"), run.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        assertExpectations(run)
        let jitLine = try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("JIT ") })
        let name = String(jitLine[try XCTUnwrap(jitLine.range(of: "name=")).upperBound...])
        let child = try XCTUnwrap(Int32(jitLine.split(separator: " ")[1].dropFirst(4)))
        XCTAssertEqual(name, "jit::touch_page [faultline sample]")
        XCTAssertFalse(FileManager.default.fileExists(atPath: PerfMap.path(pid: child)),
                       "the sample deleted its child's map: it was read when the child exited")

        let anon = try XCTUnwrap(run.expectations.first { $0.kind == .anon })
        let faults = run.faults(pid: anon.pid, in: anon.start..<anon.end).filter { $0.kind == .anon }
        XCTAssertEqual(faults.count, 32)
        // Named in the log itself: the map is gone, and no symbolizer is needed.
        let namer = FrameNamer(log: run.log, symbolizer: NullSymbolizer())
        for fault in faults {
            let functions = namer.stackNames(fault.stack).map(\.function)
            XCTAssertEqual(Array(functions.prefix(4)), [name, "call_jit", "run_child", "main"], "\(callGraph)")
        }
    }

    func testSyntheticJITFramesAreNamedInFramePointerMode() throws { try checkSyntheticJIT(.fp) }
    func testSyntheticJITFramesAreNamedInDwarfMode() throws { try checkSyntheticJIT(.dwarf) }

    /// A Python 3.12 or later that writes a perf map under `-X perf` (built with the perf
    /// trampoline: sys.activate_stack_trampoline exists): python3 and python3.N on PATH
    /// (pyenv's shims left out: they run the real interpreter through a shell script), then
    /// pyenv's versions ($PYENV_ROOT, ~/.pyenv, /root/.pyenv). Debian 12's python3 is 3.11
    /// and its apt has no later one; tools/setup installs one where apt has it.
    static let pythonWithPerfMaps: String? = {
        let environment = ProcessInfo.processInfo.environment
        let files = FileManager.default
        var candidates: [String] = []
        for dir in (environment["PATH"] ?? "/usr/local/bin:/usr/bin").split(separator: ":").map(String.init)
        where !dir.hasSuffix("/shims") {
            let names = ((try? files.contentsOfDirectory(atPath: dir)) ?? [])
                .filter { $0 == "python3" || $0.range(of: #"^python3\.[0-9]+$"#, options: .regularExpression) != nil }
            candidates += names.sorted().reversed().map { dir + "/" + $0 }
        }
        let roots = [environment["PYENV_ROOT"], environment["HOME"].map { $0 + "/.pyenv" }, "/root/.pyenv"].compactMap { $0 }
        for root in roots {
            let versions = ((try? files.contentsOfDirectory(atPath: root + "/versions")) ?? []).sorted().reversed()
            candidates += versions.map { "\(root)/versions/\($0)/bin/python3" }
        }
        var tried: Set<String> = []
        return candidates.first { path in
            guard tried.insert(path).inserted, files.isExecutableFile(atPath: path) else { return false }
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: path)
            probe.arguments = ["-c", "import sys; sys.exit(0 if sys.version_info >= (3, 12) and hasattr(sys, 'activate_stack_trampoline') else 1)"]
            probe.standardOutput = FileHandle.nullDevice
            probe.standardError = FileHandle.nullDevice
            guard (try? probe.run()) != nil else { return false }
            probe.waitUntilExit()
            return probe.terminationStatus == 0
        }
    }()

    /// CPython 3.12+ `-X perf` runs each Python function through a trampoline in anonymous
    /// memory and names it `py::FUNCTION:FILE` in its map: a fault under a Python function
    /// must have that frame in its stack (DWARF mode: libpython keeps no frame pointers).
    func testPythonFunctionsAreNamedUnderXPerf() throws {
        guard let python = Self.pythonWithPerfMaps else {
            throw Skip.because("no Python 3.12 or later with the perf trampoline (python3 and python3.N on PATH, pyenv's versions): "
                               + "-X perf writes no perf map before 3.12")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-it-\(getpid())-py")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let script = dir.appendingPathComponent("probe.py").path
        try """
            def faultline_jit_probe():
                blocks = [bytearray(1 << 20) for _ in range(8)]
                return len(blocks)
            faultline_jit_probe()

            """.write(toFile: script, atomically: true, encoding: .utf8)
        let run = try Samples.recordCommand([python, "-X", "perf", script],
                                            logPath: dir.appendingPathComponent("py.flt").path, callGraph: .dwarf)
        XCTAssertEqual(run.result.exitStatus, 0)
        let namer = FrameNamer(log: run.log, symbolizer: NullSymbolizer())
        let frame = "py::faultline_jit_probe:\(script)"
        let under = run.log.faults.filter { namer.stackNames($0.stack).contains { $0.function == frame } }
        // 8 MiB of bytearrays: at least 2,048 pages touched by memset under the function.
        XCTAssertGreaterThanOrEqual(under.count, 2048, "faults under \(frame)")
    }
}
