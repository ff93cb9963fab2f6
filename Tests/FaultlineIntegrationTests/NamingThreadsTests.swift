// The names a recording gets do not depend on how many threads named them. A real
// recording's frames (DWARF stacks through sh, ls, libc, ld.so and a sample with inline
// chains) are named again into fresh logs: with one thread, and with three that join every
// module they can (so the same files are open in several threads' libdw at once). The logs
// must be equal byte for byte, and equal again when named from the name cache.

import XCTest
import Foundation
import FaultlineCore
import FaultlineLog
import FaultlineSymbolize
@testable import FaultlineTracer

final class NamingThreadsTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-naming-\(getpid())").path
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A log holding `log`'s modules and frames, named by RecordedSymbols; its bytes.
    private func renamed(_ log: LoadedLog, as name: String, threads: Int, join: NamingJoinPolicy,
                         cache: CachingSymbolizer? = nil) throws -> [UInt8] {
        let path = directory + "/" + name + ".flt"
        let writer = try LogWriter(path: path, header: log.header)
        for module in log.modules {
            _ = writer.module(path: log.strings[module.path.index], buildID: module.buildID)
        }
        for frame in log.frames { _ = writer.frame(frame) }
        RecordedSymbols.append(to: writer, cache: cache, threads: threads, join: join)
        try writer.finish(LogSummary(endTimeNs: 1, faults: 0, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Where two logs part: "byte N of M and K", or nil when they are equal.
    private func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String? {
        guard a != b else { return nil }
        let at = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
        return "byte \(at) of \(a.count) and \(b.count)"
    }

    func testOneThreadAndSeveralWriteTheSameLog() throws {
        XCTAssertTrue(Samples.built, "make -C samples failed")
        let run = try Samples.recordCommand(
            ["/bin/sh", "-c", "\"$0\" > /dev/null && ls -l / > /dev/null", Samples.path("inline_chain")],
            logPath: directory + "/run.flt", callGraph: .dwarf)
        XCTAssertEqual(run.result.exitStatus, 0)

        let one = try renamed(run.log, as: "one", threads: 1, join: .whenWorthIt)
        let named = try LoadedLog.load(path: directory + "/one.flt")
        let modulesNamed = Set(named.symbols.keys.compactMap { named.frames[$0.index].module })
        XCTAssertGreaterThan(named.symbols.count, 100, "frames named of \(run.log.frames.count)")
        XCTAssertGreaterThanOrEqual(modulesNamed.count, 4, "frames named in sh, ls, libc, ld.so, inline_chain")
        XCTAssertFalse(named.inlining.isEmpty, "inline_chain's inlined frames")

        let several = try renamed(run.log, as: "several", threads: 3, join: .always)
        XCTAssertNil(firstDifference(several, one), "three threads, sharing modules, wrote another log")
        let measured = try renamed(run.log, as: "measured", threads: 2, join: .whenWorthIt)
        XCTAssertNil(firstDifference(measured, one))

        // Named with the cache empty, then from it: the same bytes, the second time without libdw.
        let names = directory + "/names"
        let cold = CachingSymbolizer(wrapping: LibdwSymbolizer(), directory: names)
        XCTAssertNil(firstDifference(try renamed(run.log, as: "cold", threads: 3, join: .always, cache: cold), one))
        cold.save()
        let warm = CachingSymbolizer(wrapping: LibdwSymbolizer(), directory: names)
        let fromCache = try renamed(run.log, as: "warm", threads: 3, join: .always, cache: warm)
        XCTAssertNil(firstDifference(fromCache, one))
        XCTAssertGreaterThan(warm.hits, 100)
        XCTAssertEqual(warm.misses, 0, "every frame with a build-id answered from the cache")
    }
}
