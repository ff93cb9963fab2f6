// One fuzzing run: for each iteration, a seed log mutated (by bytes or by record fields,
// chosen from the iteration's own generator, so iteration N is the same input however the
// run got there), written to one work file, and every selected reading command run on it.
// A command that traps ends the process: the caller saves the work file (tools/fuzz does).
// A command that returns something wrong is a finding, kept in `findings`.

import Foundation
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis

public enum FuzzMutator: String, Sendable, CaseIterable {
    case bytes, records
}

public struct FuzzInput: Sendable {
    public var iteration: UInt64
    public var seedName: String
    public var mutator: FuzzMutator
    public var bytes: [UInt8]
    public var description: String
    /// For a raw byte mutation: the first changed offset (a file header left intact must
    /// not make a command refuse the file).
    public var firstChange: Int?
    public var filter: FaultKindFilter?
}

public struct FuzzFinding: Sendable, CustomStringConvertible {
    public var input: FuzzInput
    public var command: ReadingCommand
    public var problem: String
    public var description: String {
        "iteration \(input.iteration) (\(input.mutator.rawValue) of \(input.seedName): \(input.description)): "
            + "`\(command)`: \(problem)"
    }
}

/// Counts a run keeps, for the summary line and for tests that check mutations reach the
/// analysis.
public struct FuzzStats: Sendable {
    public var iterations = 0
    /// Per mutator: how the reader took the inputs (clean, corrupt, truncated, refused).
    public var loads: [FuzzMutator: [String: Int]] = [:]
    /// Per command: rendered, refused, wrong.
    public var results: [String: [String: Int]] = [:]
    public var checksumMismatches = 0
}

public final class FuzzRun {
    public let seeds: [FuzzSeed]
    public let seed: UInt64
    public let commands: [String]
    public let mutators: [FuzzMutator]
    public let workPath: String
    public private(set) var findings: [FuzzFinding] = []
    public private(set) var stats = FuzzStats()
    private let runner = ReadingCommandRunner()

    /// - Parameters:
    ///   - commands: selectors as for `ReadingCommand.selected`; empty for every command.
    ///   - workPath: the file each input is written to before the commands read it.
    public init(seeds: [FuzzSeed], seed: UInt64, commands: [String] = [], mutators: [FuzzMutator] = FuzzMutator.allCases,
                workPath: String) {
        precondition(!seeds.isEmpty && !mutators.isEmpty)
        self.seeds = seeds; self.seed = seed; self.commands = commands; self.mutators = mutators; self.workPath = workPath
    }

    /// The input of one iteration.
    public func input(_ iteration: UInt64) -> FuzzInput {
        var rng = FuzzRandom(seed: seed, iteration: iteration)
        let base = rng.pick(seeds)
        // Most inputs are record mutations: byte mutations mostly stop at a checksum.
        let mutator = mutators.count == 1 ? mutators[0] : (rng.oneIn(4) ? .bytes : .records)
        let filter: FaultKindFilter? = rng.oneIn(4) ? FaultKindFilter(name: rng.pick(FaultKindFilter.names)) : nil
        switch mutator {
        case .bytes:
            let m = ByteMutator.mutate(base.bytes, using: &rng)
            return FuzzInput(iteration: iteration, seedName: base.name, mutator: .bytes, bytes: m.bytes,
                             description: m.description, firstChange: m.firstChange, filter: filter)
        case .records:
            let m = RecordMutator.mutate(base, using: &rng)
            return FuzzInput(iteration: iteration, seedName: base.name, mutator: .records, bytes: m.bytes,
                             description: m.description, filter: filter)
        }
    }

    /// Writes iteration `iteration`'s input to the work file and runs the commands on it;
    /// `willRun` is told each command first. Returns this iteration's findings.
    @discardableResult
    public func run(iteration: UInt64, willRun: (FuzzInput, ReadingCommand) -> Void = { _, _ in }) throws -> [FuzzFinding] {
        let input = input(iteration)
        try Data(input.bytes).write(to: URL(fileURLWithPath: workPath))
        let selected = ReadingCommand.selected(commands, filter: input.filter)
        let outcomes = runner.run(selected, path: workPath) { willRun(input, $0) }
        stats.iterations += 1
        stats.loads[input.mutator, default: [:]][loadOutcome(), default: 0] += 1
        var found: [FuzzFinding] = []
        for o in outcomes {
            switch o.result {
            case .rendered:
                stats.results[o.command.description, default: [:]]["rendered", default: 0] += 1
            case .refused(let why):
                stats.results[o.command.description, default: [:]]["refused", default: 0] += 1
                // Only a broken file header may make a command refuse the file outright.
                if input.mutator == .records || (input.firstChange ?? 0) >= LogFormat.fileHeaderSize {
                    found.append(FuzzFinding(input: input, command: o.command, problem: "refused an intact file header: \(why)"))
                }
            case .wrong(let problem):
                stats.results[o.command.description, default: [:]]["wrong", default: 0] += 1
                found.append(FuzzFinding(input: input, command: o.command, problem: problem))
            }
        }
        findings += found
        return found
    }

    private func loadOutcome() -> String {
        guard let log = runner.lastLog else { return "refused" }
        guard let damage = log.damage else { return "clean" }
        if damage.reason.contains("checksum") { stats.checksumMismatches += 1 }
        return damage.kind == .corrupt ? "corrupt" : "truncated"
    }

    /// One line per mutator and per command with anything but rendered outputs.
    public var summary: String {
        var lines = ["\(stats.iterations) inputs, \(findings.count) findings"]
        for m in FuzzMutator.allCases {
            guard let loads = stats.loads[m] else { continue }
            lines.append("  \(m.rawValue): " + loads.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}
