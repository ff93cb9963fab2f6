// The mutators do what the fuzzer relies on: record mutations reach the analysis (their
// chunks pass every check of the reader, checksums included) and change what the log
// says; every input is a function of (seed, iteration) alone.

import Foundation
import XCTest
import FaultlineCore
import FaultlineLog
import FaultlineFuzz

final class MutatorTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "faultline-fuzz-tests-\(getpid())-\(name.hashValue)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testRecordMutationsPassTheReaderAndChangeTheRecords() throws {
        let seeds = try FuzzSeeds.builtIn(in: directory)
        XCTAssertEqual(seeds.map(\.name), ["processes", "extremes", "merged-mappings"])
        let path = directory + "/mutant.flt"
        var rng = FuzzRandom(seed: 42)
        var clean = 0, changed = 0, deflated = 0
        let n = 300
        for i in 0..<n {
            let seed = seeds[i % seeds.count]
            let m = RecordMutator.mutate(seed, using: &rng)
            try Data(m.bytes).write(to: URL(fileURLWithPath: path))
            let reader = try LogReader(path: path)
            var chunks: [[LogRecord]] = []
            while let records = reader.nextChunk() { chunks.append(records) }
            // A mutation may make a record undecodable (a build-id longer than the reader
            // takes, a made-up header): never a checksum or a chunk length.
            if let damage = reader.damage {
                XCTAssertEqual(damage.kind, .corrupt, "\(i): \(m.description): \(damage)")
                XCTAssertFalse(damage.reason.contains("checksum") || damage.reason.contains("chunk length"),
                               "\(i): \(m.description): \(damage)")
            } else {
                clean += 1
                // Not XCTAssertEqual: a failure would print two whole logs.
                XCTAssertTrue(chunks == m.chunks, "\(i): what was encoded is not what reads back: \(m.description)")
            }
            if m.chunks != seed.chunks { changed += 1 }
            deflated += LogChunks.spans(in: m.bytes).filter { m.bytes[$0.lowerBound + 16] & 1 != 0 }.isEmpty ? 0 : 1
        }
        // Counted on this seed: nearly every mutant reads whole and differs from its seed.
        XCTAssertGreaterThan(clean, n * 9 / 10)
        XCTAssertGreaterThan(changed, n * 9 / 10)
        XCTAssertGreaterThan(deflated, n / 4, "some chunks are deflated, so inflation is fuzzed too")
    }

    func testInputsDependOnlyOnSeedAndIteration() throws {
        let seeds = try FuzzSeeds.builtIn(in: directory)
        let a = FuzzRun(seeds: seeds, seed: 7, workPath: directory + "/a.flt")
        let b = FuzzRun(seeds: seeds, seed: 7, workPath: directory + "/b.flt")
        let c = FuzzRun(seeds: seeds, seed: 8, workPath: directory + "/c.flt")
        var differ = 0
        for i: UInt64 in [0, 1, 2, 50, 999] {
            XCTAssertEqual(a.input(i).bytes, b.input(i).bytes, "iteration \(i)")
            XCTAssertEqual(a.input(i).description, a.input(i).description)
            if a.input(i).bytes != c.input(i).bytes { differ += 1 }
        }
        XCTAssertGreaterThanOrEqual(differ, 4, "another seed gives other inputs")
        XCTAssertNotEqual(a.input(3).bytes, a.input(4).bytes)
    }

    func testResealedByteMutationsKeepValidChecksums() throws {
        let seeds = try FuzzSeeds.builtIn(in: directory)
        let path = directory + "/mutant.flt"
        var rng = FuzzRandom(seed: 3)
        var resealed = 0
        for i in 0..<200 {
            let m = ByteMutator.mutate(seeds[i % seeds.count].bytes, using: &rng)
            guard m.resealedChunk != nil else { continue }
            resealed += 1
            try Data(m.bytes).write(to: URL(fileURLWithPath: path))
            let log = try LoadedLog.load(path: path)
            XCTAssertFalse(log.damage?.reason.contains("checksum") ?? false, "\(i): \(m.description)")
        }
        XCTAssertGreaterThan(resealed, 40)
    }

    func testEveryCommandIsListedOnceAndSelectedByPrefix() {
        let all = ReadingCommand.all().map(\.description)
        XCTAssertEqual(Set(all).count, all.count)
        // Each grouping in text and JSON, the default twice, functions by time (with callees)
        // twice, HTML twice, four exports and three by time, three flame graphs, two
        // heatmaps, info, replay twice, diff.
        XCTAssertEqual(all.count, (7 + 1) * 2 + 2 + 2 + 4 + 3 + 3 + 2 + 1 + 2 + 1)
        XCTAssertEqual(ReadingCommand.selected(["report --by origin"]).map(\.description),
                       ["report --by origin", "report --by origin --format json"])
        XCTAssertEqual(ReadingCommand.selected(["export", "info"]).count, 8)
        XCTAssertTrue(all.contains("report --by function --format json --weight time --children"), "\(all)")
        XCTAssertTrue(all.contains("diff --format json"), "\(all)")
    }
}
