// `faultline-fuzz`: the long-running side of the fuzzer, driven by tools/fuzz; also reproduces
// (--run) and shrinks (--minimize) a crashing input. Runs every
// reading command in-process on mutations of the seed logs for a time or a number of
// iterations. Before each command it writes which input and command are running to
// WORK/state, so that when a command traps (and takes this process with it) tools/fuzz
// can save WORK/current.flt as the reproducer. An input that runs longer than --timeout
// seconds is killed by SIGALRM, for tools/fuzz to save as a hang.

import ArgumentParser
import Foundation
import FaultlineAnalysis
import FaultlineFuzz
#if canImport(Glibc)
import Glibc
#endif

@main
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faultline-fuzz",
        abstract: "Run faultline's reading commands on mutated logs (see tools/fuzz).")

    @Option(help: "Stop after this many seconds.")
    var seconds: Double?

    @Option(help: "Stop after this many iterations.")
    var iterations: UInt64?

    @Option(help: "The run's seed: with --start, iteration N is always the same input.")
    var seed: UInt64 = 1

    @Option(help: "The first iteration.")
    var start: UInt64 = 0

    @Option(help: "Comma-separated command prefixes (report, export --format pprof, replay, ...); default all.")
    var commands: String = ""

    @Option(help: "bytes, records or both.")
    var mutators: String = "bytes,records"

    @Option(help: "Comma-separated built-in seeds to use (processes, extremes, merged-mappings); default all.")
    var seeds: String = ""

    @Option(help: "Add every whole .flt in this directory to the seeds.")
    var corpus: String?

    @Option(help: "Where the current input and state go.")
    var work: String = ".build/fuzz/work"

    @Option(help: "Save the inputs of findings (wrong output, not crashes) here.")
    var findings: String = ".build/fuzz/findings"

    @Option(help: "Kill an input that runs longer than this (seconds).")
    var timeout: UInt32 = 60

    @Option(name: .customLong("run"), help: "Run the commands once on this file and print what each made of it.")
    var runFile: String?

    @Option(help: "Reduce this crashing input to the fewest records that still crash --commands.")
    var minimize: String?

    @Option(name: .customLong("out"), help: "Where --minimize writes (default: FILE with .min.flt).")
    var minimizedOutput: String?

    @Option(help: "Print where --commands trap on this file (with gdb) and exit.")
    var site: String?

    @Flag(help: "List the commands and exit.")
    var list = false

    @Option(help: "Write the built-in seed logs into this directory and exit (a libFuzzer corpus).")
    var writeSeeds: String?

    var selectors: [String] {
        commands.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() throws {
        if list {
            for c in ReadingCommand.all() { print(c) }
            return
        }
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        if let writeSeeds {
            try FileManager.default.createDirectory(atPath: writeSeeds, withIntermediateDirectories: true)
            _ = try FuzzSeeds.builtIn(in: writeSeeds)
            return
        }
        if let site {
            print(try CrashSite.of(site, commands: commands) ?? "")
            return
        }
        if let minimize {
            guard !selectors.isEmpty else { throw ValidationError("--minimize needs --commands: the command that crashes") }
            let out = minimizedOutput ?? (minimize.hasSuffix(".flt") ? String(minimize.dropLast(4)) : minimize) + ".min.flt"
            try Minimizer.minimize(minimize, commands: commands, output: out, work: work)
            return
        }
        if let runFile {
            let runner = ReadingCommandRunner()
            for command in ReadingCommand.selected(selectors) {
                // Named before it runs: if it traps, the last name printed is the one.
                print("\(command): ", terminator: "")
                fflush(stdout)
                print(runner.run([command], path: runFile)[0].result)
            }
            return
        }
        let mutatorList = try mutators.split(separator: ",").map { word -> FuzzMutator in
            guard let m = FuzzMutator(rawValue: String(word)) else { throw ValidationError("unknown mutator \(word)") }
            return m
        }
        let names = seeds.split(separator: ",").map(String.init)
        var logs = try FuzzSeeds.builtIn(in: work).filter { names.isEmpty || names.contains($0.name) }
        if let corpus { logs += try FuzzSeeds.corpus(in: corpus) }
        guard !logs.isEmpty else { throw ValidationError("no seeds: --seeds '\(seeds)' names none of processes, extremes, merged-mappings") }
        let fuzz = FuzzRun(seeds: logs, seed: seed, commands: selectors, mutators: mutatorList,
                           workPath: work + "/current.flt")
        let statePath = work + "/state"
        try FileManager.default.createDirectory(atPath: findings, withIntermediateDirectories: true)
        signal(SIGALRM, SIG_DFL)
        let clock = ContinuousClock()
        let began = clock.now
        var iteration = start
        var lastReport = began
        while true {
            if let iterations, iteration >= start + iterations { break }
            if let seconds, clock.now - began >= .milliseconds(Int64(seconds * 1000)) { break }
            alarm(timeout)
            let found = try fuzz.run(iteration: iteration) { input, command in
                let state = "seed \(seed)\niteration \(iteration)\ncommand \(command)\n"
                    + "arguments \(command.arguments(file: "FILE").joined(separator: " "))\n"
                    + "input \(input.mutator.rawValue) of \(input.seedName): \(input.description)\n"
                try? Data(state.utf8).write(to: URL(fileURLWithPath: statePath))
            }
            alarm(0)
            for f in found {
                let name = "\(findings)/wrong-s\(seed)-i\(iteration).flt"
                try? FileManager.default.copyItem(atPath: work + "/current.flt", toPath: name)
                FileHandle.standardError.write(Data("faultline-fuzz: FINDING \(f)\n  input saved as \(name)\n".utf8))
            }
            iteration += 1
            if clock.now - lastReport >= .seconds(10) {
                lastReport = clock.now
                FileHandle.standardError.write(Data("faultline-fuzz: iteration \(iteration), \(fuzz.findings.count) findings\n".utf8))
            }
        }
        try? FileManager.default.removeItem(atPath: statePath)
        print("faultline-fuzz: seed \(seed), iterations \(start)..<\(iteration): \(fuzz.summary)")
        if !fuzz.findings.isEmpty { throw ExitCode(1) }
    }
}
