// From a log to a picture in one call, with the titles the command line and the HTML
// report share: what was recorded and, when filtered, which faults were counted.

import FaultlineLog

extension FlameGraphSVG {
    public static func render(log: LoadedLog, namer: FrameNamer, filter: FaultKindFilter?,
                              colorBy: FlameGraphOptions.ColorBy, id: String = "faultline-flame") -> String {
        let tree = FlameTree(counts: StackCounts(log: log, filter: filter), namer: namer, log: log)
        var options = FlameGraphOptions(title: "Page faults: " + Pictures.shortCommand(log.commandLine)
            + (filter.map { " (\($0) faults only)" } ?? ""))
        options.colorBy = colorBy
        options.id = id
        return render(tree, options: options)
    }
}

extension HeatmapSVG {
    public static func title(log: LoadedLog, filter: FaultKindFilter?) -> String {
        "Faults over time and address: " + Pictures.shortCommand(log.commandLine)
            + (filter.map { " (\($0) faults only)" } ?? "")
    }
}

enum Pictures {
    /// A title must fit on one line of a 1200-pixel picture (17-pixel bold monospace
    /// holds about 115 characters), beside its prefix.
    static func shortCommand(_ command: String, room: Int = 80) -> String {
        command.count <= room ? command : String(command.prefix(room - 2)) + ".."
    }
}
