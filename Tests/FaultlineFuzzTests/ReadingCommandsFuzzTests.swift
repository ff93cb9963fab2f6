// Every reading command on a fixed number of mutated logs, in the normal suite (tools/fuzz
// runs the same for as long as one likes). Input N of a seed is a function of (seed, N), so
// a failure here names the iteration, and `tools/fuzz --seed S` reproduces it. A command
// that traps takes the test process with it: that too is a failure, a loud one.

import Foundation
import XCTest
import FaultlineTestSupport
import FaultlineCore
import FaultlineLog
import FaultlineFuzz

final class ReadingCommandsFuzzTests: XCTestCase {
    /// Reproducers of traps in code the shared address-space model is replacing, by their
    /// directory under Reproducers/ (see its README), with the commands the suite's fuzzing
    /// leaves out until then. replay traps inside ReplayEngine on nearly any mutated log, so
    /// it is left out; MappingIndex traps only on rare inputs (a mremap inside a mapping at
    /// a file offset near 2^64), which the fixed seed below does not make. Remove an entry
    /// once its reproducers pass: the test of that directory then runs, and the fuzzing
    /// takes its commands again.
    static let awaitingRewrite: [String: Set<String>] = [:]
    static var awaitingFixes: Set<String> { awaitingRewrite.values.reduce([], { $0.union($1) }) }

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
        XCTAssertEqual(names, ["info", "report", "export", "flamegraph", "heatmap", "replay", "diff"])
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

    func testReplayReproducers() throws { try runReproducers(in: "replay") }

    func testMappingIndexReproducers() throws { try runReproducers(in: "mapping-index") }

    /// Every reading command on each log of Reproducers/DIRECTORY (reduced by `tools/fuzz
    /// --minimize`): each must read it as any log (rendered, or refused with one line).
    private func runReproducers(in directory: String) throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Reproducers/\(directory)").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".flt") }.sorted()
        XCTAssertFalse(files.isEmpty)
        if Self.awaitingRewrite[directory] != nil {
            throw Skip.because("\(files.count) logs in Tests/FaultlineFuzzTests/Reproducers/\(directory) trap in code the "
                          + "address-space rewrite replaces (see its README)")
        }
        let runner = ReadingCommandRunner()
        for file in files {
            for outcome in runner.run(ReadingCommand.all(), path: dir + "/" + file) {
                if case .wrong(let problem) = outcome.result { XCTFail("\(file): `\(outcome.command)`: \(problem)") }
            }
        }
    }
}
