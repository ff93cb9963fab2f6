// `--pid`, `--comm` and `--weight`, shared by the reading commands: pick processes out of a
// recording of many (report, export, flamegraph, heatmap, info, replay; diff takes --comm
// only, as pids differ between recordings), and weigh faults by their number or by the
// time they took.

import ArgumentParser
import FaultlineAnalysis
import FaultlineLog

struct ProcessOption: ParsableArguments {
    @Option(name: .customLong("pid"), parsing: .singleValue,
            help: ArgumentHelp("Count only the faults of this process (repeat, or separate with commas).", valueName: "pid"))
    var pids: [String] = []

    @Option(name: .customLong("comm"), parsing: .singleValue,
            help: ArgumentHelp("Count only processes that ran this program (its name without the directory, e.g. cc1; repeat, or separate with commas).",
                               valueName: "name"))
    var commands: [String] = []

    func validate() throws { _ = try parsedPids() }

    private func parsedPids() throws -> [Int32] {
        try commaSeparatedWords(pids).map { word in
            guard let pid = Int32(word) else {
                throw ValidationError("--pid takes process ids such as 4242 or 4242,4250, not '\(word)'")
            }
            return pid
        }
    }

    var commandNames: [String] {
        commaSeparatedWords(commands).filter { !$0.isEmpty }
    }

    var isEmpty: Bool { pids.isEmpty && commandNames.isEmpty }

    /// The selection in `log`, with `kind`; a warning when it matches no process, or when
    /// a pid given names none.
    func selection(in log: LoadedLog, kind: FaultKindFilter?) -> FaultSelection {
        let given = (try? parsedPids()) ?? []
        let selected = FaultSelection.processes(in: log, pids: given, commands: commandNames)
        let unknown = FaultSelection.unknownPids(given, in: log)
        if let selected, selected.subtracting(unknown).isEmpty {
            Diagnostics.warning("no process in \(log.path) matches --pid/--comm: nothing is counted")
        } else {
            for pid in unknown { Diagnostics.warning("no process \(pid) in \(log.path): --pid \(pid) counts nothing") }
        }
        // Titles name programs by name; pids alone name themselves.
        let label = commandNames.isEmpty ? nil : (pids.flatMap { $0.split(separator: ",") }.map { "pid \($0)" } + commandNames)
            .joined(separator: ", ")
        return FaultSelection(kind: kind, pids: selected, label: label)
    }
}

struct WeightOption: ParsableArguments {
    @Option(help: ArgumentHelp("Weigh each fault as one (faults), or by its service time, entry to completion (time): where the program waits in page faults.",
                               valueName: "faults|time"))
    var weight: String = "faults"

    func validate() throws {
        guard Weight(rawValue: weight) != nil else {
            throw ValidationError("unknown --weight '\(weight)': use faults or time")
        }
    }

    var value: Weight { Weight(rawValue: weight) ?? .faults }
}

