// From a log to a picture in one call, with the titles the command line and the HTML
// report share: what was recorded and, when selected, which faults were counted.

import FaultlineLog

/// What a flame graph of a log shows: which faults, by what width, how coloured, and
/// whether each process gets a tower of its own.
public struct FlameGraphRequest: Sendable {
    public var selection: FaultSelection
    public var weight: Weight
    public var colorBy: FlameGraphOptions.ColorBy
    public var perProcess: Bool
    public init(selection: FaultSelection = .everything, weight: Weight = .faults,
                colorBy: FlameGraphOptions.ColorBy = .kind, perProcess: Bool = false) {
        self.selection = selection; self.weight = weight; self.colorBy = colorBy; self.perProcess = perProcess
    }
}

extension FlameGraphSVG {
    public static func render(log: LoadedLog, namer: FrameNamer, filter: FaultKindFilter?,
                              colorBy: FlameGraphOptions.ColorBy, id: String = "faultline-flame") -> String {
        render(log: log, namer: namer, request: FlameGraphRequest(selection: FaultSelection(kind: filter), colorBy: colorBy), id: id)
    }

    public static func render(log: LoadedLog, namer: FrameNamer, request: FlameGraphRequest,
                              id: String = "faultline-flame") -> String {
        let tree = FlameTree(counts: StackCounts(log: log, selection: request.selection), namer: namer, log: log,
                             perProcess: request.perProcess)
        let what = request.weight == .time ? "Time in page faults: " : "Page faults: "
        var options = FlameGraphOptions(title: what + Pictures.shortCommand(log.commandLine) + request.selection.titleSuffix)
        options.colorBy = request.colorBy
        options.weight = request.weight
        options.id = id
        return render(tree, options: options)
    }
}

extension HeatmapSVG {
    public static func title(log: LoadedLog, filter: FaultKindFilter?) -> String {
        title(log: log, selection: FaultSelection(kind: filter))
    }

    public static func title(log: LoadedLog, selection: FaultSelection, weight: Weight = .faults) -> String {
        (weight == .time ? "Time in faults over time and address: " : "Faults over time and address: ")
            + Pictures.shortCommand(log.commandLine) + selection.titleSuffix
    }
}

enum Pictures {
    /// A title must fit on one line of a 1200-pixel picture (17-pixel bold monospace
    /// holds about 115 characters), beside its prefix.
    static func shortCommand(_ command: String, room: Int = 80) -> String {
        command.count <= room ? command : String(command.prefix(room - 2)) + ".."
    }
}
