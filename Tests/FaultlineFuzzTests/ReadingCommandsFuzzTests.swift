// Every reading command on a fixed number of mutated logs, in the normal suite (tools/fuzz
// runs the same for as long as one likes). Input N of a seed is a function of (seed, N), so
// a failure here names the iteration, and `tools/fuzz --seed S` reproduces it. A command
// that traps takes the test process with it: that too is a failure, a loud one.

import Foundation
import XCTest
import FaultlineCore
import FaultlineLog
import FaultlineFuzz

final class ReadingCommandsFuzzTests: XCTestCase {
    /// Commands left out of the suite's fuzzing, and why. replay traps inside ReplayEngine
    /// on mutated logs (a fork from a process it never saw: ReplayEngine+Timeline.swift),
    /// code the shared address-space model replaces; its reproducers are in
    /// Reproducers/replay. Once they pass, remove "replay" here and both tests below take it.
    static let awaitingFixes: Set<String> = ["replay"]

    static let seed: UInt64 = 0x5EED_F022
    /// About 18 s in a debug build on a 2-core machine (120 took 13 s).
    static let iterations: UInt64 = 160

    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "faultline-fuzz-suite-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testMutatedLogsGoThroughEveryReadingCommand() throws {
        let names = Set(ReadingCommand.all().map { String($0.description.split(separator: " ")[0]) })
        XCTAssertEqual(names, ["info", "report", "export", "flamegraph", "heatmap", "replay"])
        let selectors = names.subtracting(Self.awaitingFixes).sorted()
        let run = FuzzRun(seeds: try FuzzSeeds.builtIn(in: directory), seed: Self.seed, commands: selectors,
                          workPath: directory + "/mutant.flt")
        for i in 0..<Self.iterations { try run.run(iteration: i) }

        XCTAssertEqual(run.findings.map(\.description), [])
        XCTAssertEqual(run.stats.iterations, Int(Self.iterations))
        // Every command ran on every input (by name without its --kind, which varies).
        var perCommand: [String: Int] = [:]
        for (name, results) in run.stats.results {
            let base = name.components(separatedBy: " --kind ")[0]
            perCommand[base, default: 0] += results.values.reduce(0, +)
        }
        let expected = ReadingCommand.selected(selectors).map(\.description)
        XCTAssertEqual(Set(perCommand.keys), Set(expected))
        for name in expected { XCTAssertEqual(perCommand[name], Int(Self.iterations), name) }
        // Both mutators were used, and most record mutations reached the analysis whole.
        let records = run.stats.loads[.records] ?? [:], bytes = run.stats.loads[.bytes] ?? [:]
        XCTAssertGreaterThan(bytes.values.reduce(0, +), 0)
        XCTAssertGreaterThan(records["clean"] ?? 0, Int(Self.iterations) / 2, "\(run.summary)")
    }

    /// Logs on which replay trapped, reduced by `tools/fuzz --minimize`: each must read as
    /// any log does (rendered, or refused with one line), in text and in JSON.
    func testReplayReproducers() throws {
        let reproducers = try Self.reproducers(of: "replay")
        XCTAssertFalse(reproducers.isEmpty)
        if Self.awaitingFixes.contains("replay") {
            throw XCTSkip("replay traps on \(reproducers.count) reproducers in Tests/FaultlineFuzzTests/Reproducers/replay "
                          + "inside ReplayEngine, which the address-space rewrite replaces")
        }
        let runner = ReadingCommandRunner()
        for path in reproducers {
            for outcome in runner.run(ReadingCommand.selected(["replay"]), path: path) {
                if case .wrong(let problem) = outcome.result { XCTFail("\(path): \(outcome.command): \(problem)") }
            }
        }
    }

    static func reproducers(of command: String) throws -> [String] {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Reproducers/\(command)").path
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".flt") }.sorted()
            .map { dir + "/" + $0 }
    }
}
