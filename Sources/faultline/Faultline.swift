// The command line's root: it only lists the subcommands, one file each.

import ArgumentParser
import FaultlineTracer

@main
struct Faultline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faultline",
        abstract: "Record every page fault a program takes, and tell where they come from.",
        version: Recorder.version,
        subcommands: [Record.self, Report.self, Export.self, Flamegraph.self, Heatmap.self, Diff.self, Info.self, Replay.self]
    )

    /// `record`'s command is split off first and handed over unparsed (see RecordArguments).
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.first == "record" else { return main(arguments) }
        let split = RecordArguments.split(Array(arguments.dropFirst()))
        Record.handedOverCommand = split.command
        main(["record"] + split.options)
    }
}
