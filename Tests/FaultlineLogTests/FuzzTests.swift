// Deterministic mutation fuzzing of valid logs. Raw mutations are caught by the checksum;
// resealed ones (decoded payload edited, chunk rebuilt with correct lengths and CRC) reach
// the record decoder. Either way loading must not trap, hang, or invent faults.

import Foundation
import XCTest
import FaultlineTestSupport
import FaultlineCore
import FaultlineLog
import FaultlineFuzz

final class FuzzTests: XCTestCase {
    func testRandomMutationsNeverCrashHangOrInventFaults() throws {
        let dir = try TempDirectory()
        // Two seeds: a small log (every tag, one chunk of faults) and a multi-chunk one.
        var originals: [(bytes: [UInt8], faults: [FaultEvent], faultsBefore: [Int])] = []
        for (n, count) in [400, 9_000].enumerated() {
            let path = dir.file("seed\(n).flt")
            let faults = awkwardFaults(count: count, seed: UInt64(100 + n))
            let w = try LogWriter(path: path, header: sampleHeader)
            let name = w.intern("prog")
            let lib = w.module(path: "/lib/x.so", buildID: [1, 2, 3])
            let fr = w.frame(Frame(module: lib, offset: 0x10))
            _ = w.stack(leafFirst: [fr, w.frame(Frame(module: nil, offset: 9))])
            w.append(.process(ProcessEvent(pid: 1, ppid: 0, timeNs: 1, command: name)))
            w.append(.exec(pid: 1, timeNs: 2, command: name))
            w.append(.mmap(MmapEvent(pid: 1, timeNs: 3, start: 0x1000, length: 0x2000, pageOffset: 0, prot: 3,
                                     flags: 2, inode: 0, module: lib)))
            w.append(.symbol(FrameSymbol(frame: fr, function: name, file: nil, line: 1)))
            w.append(.lost(count: 1, timeNs: 4))
            w.append(.throttled(count: 1, timeNs: 5))
            for (i, f) in faults.enumerated() {
                w.append(.fault(f))
                if i % 1000 == 0 { _ = w.stack(leafFirst: [w.frame(Frame(module: nil, offset: UInt64(i))), fr]) }
            }
            w.append(.exit(ExitEvent(pid: 1, timeNs: 6, exitCode: 0, signal: 0)))
            try w.finish(LogSummary(endTimeNs: 7, faults: UInt64(faults.count), lost: 1, throttled: 1,
                                    unaccountedEntries: 0, exitCode: 0))
            let bytes = try readBytes(path)
            let chunks = try readChunks(path).chunks
            var before = [0]
            for c in chunks {
                before.append(before.last! + c.reduce(0) { n, r in if case .fault = r { return n + 1 } else { return n } })
            }
            originals.append((bytes, faults, before))
        }
        XCTAssertGreaterThan(chunkSpans(originals[1].bytes).count, 2)

        var rng = SeededGenerator(seed: 0xF417_11E5)
        let path = dir.file("mutant.flt")
        let started = Date()
        var slowest = 0.0
        var outcomes: [String: Int] = [:]
        for iteration in 0..<2_000 {
            let original = originals[iteration % originals.count]
            let spans = chunkSpans(original.bytes)
            // The fuzzer's byte mutator (FaultlineFuzz): raw flips, inserts, deletes and cuts,
            // and payload edits resealed with a valid checksum so the decoder sees them.
            let mutation = ByteMutator.mutate(original.bytes, using: &rng)
            let bytes = mutation.bytes
            // Offset of the first changed byte, for raw mutations: every chunk ending before
            // it must survive. nil for resealed mutations.
            let firstChange = mutation.firstChange
            let resealedChunk = mutation.resealedChunk
            let op = mutation.description
            try writeBytes(bytes, to: path)

            let t0 = Date()
            let log: LoadedLog
            do {
                log = try LoadedLog.load(path: path)
            } catch let error as LogReadError {
                // Only a broken file header may stop the load outright.
                XCTAssertLessThan(firstChange ?? Int.max, LogFormat.fileHeaderSize,
                                  "iteration \(iteration) (op \(op)): threw \(error)")
                outcomes["refused", default: 0] += 1
                continue
            }
            slowest = max(slowest, Date().timeIntervalSince(t0))
            outcomes[log.damage == nil ? "clean" : log.damage!.kind == .corrupt ? "corrupt" : "truncated", default: 0] += 1

            XCTAssertLessThanOrEqual(log.faults.count, original.faults.count, "iteration \(iteration) (op \(op))")
            if let at = firstChange {
                // The checksum protects every chunk: what survives is an exact prefix, and
                // nothing ending before the first changed byte is lost.
                let intact = spans.filter { $0.end <= at }.count
                XCTAssertGreaterThanOrEqual(log.faults.count, original.faultsBefore[intact],
                                            "iteration \(iteration) (op \(op)): lost intact chunks")
                XCTAssertTrue(log.faults == Array(original.faults.prefix(log.faults.count)),
                              "iteration \(iteration) (op \(op)): faults are not a prefix of the original")
            }
            if let k = resealedChunk {
                XCTAssertTrue(Array(log.faults.prefix(original.faultsBefore[k])) == Array(original.faults.prefix(original.faultsBefore[k])),
                              "iteration \(iteration): a chunk before the resealed one changed")
                XCTAssertGreaterThanOrEqual(log.faults.count, original.faultsBefore[k], "iteration \(iteration)")
            }
            // The lookups a report makes must be safe whatever was decoded.
            for f in log.faults.prefix(50) { _ = log.frames(of: f.stack) }
            for m in log.mmaps { _ = log.modulePath(m.module) }
        }
        let total = Date().timeIntervalSince(started)
        print("fuzz: 2000 mutants in \(String(format: "%.1f", total)) s, slowest load \(String(format: "%.3f", slowest)) s, outcomes \(outcomes.sorted { $0.key < $1.key })")
    }
}
