// The command line's root: it only lists the subcommands, one file each.

import ArgumentParser

@main
struct Faultline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faultline",
        abstract: "Record every page fault a program takes, and tell where they come from.",
        subcommands: [Record.self, Report.self, Export.self, Flamegraph.self, Heatmap.self, Info.self, Replay.self]
    )
}
