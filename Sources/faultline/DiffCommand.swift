// `faultline diff A.flt B.flt`: what changed between two recordings, per kind, function,
// stack and mapping, in faults and time; a differential flame graph; and, for CI, a
// non-zero exit when B has more faults or time in faults than A by more than a share.

import ArgumentParser
import FaultlineAnalysis
import FaultlineLog
import FaultlineSymbolize

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two logs: the change in faults and time per kind, function, stack and mapping.",
        discussion: """
            Rows are matched by name (functions, stacks, mapping paths), largest change first. \
            --flamegraph OUT.svg draws B's flame graph coloured by the change: red grew, blue \
            shrank. --fail-if-more PCT exits with status 2 when B has more faults or more time \
            in faults (--fail-on) than A by more than PCT percent, so CI can keep page faults \
            from creeping up.
            """)

    @Argument(help: "The baseline log (.flt).")
    var a: String

    @Argument(help: "The log compared with it (.flt).")
    var b: String

    @Option(parsing: .unconditional, help: "How many rows each grouping shows.")
    var top: Int = 10

    @Option(help: "text or json.")
    var format: String = "text"

    @OptionGroup var kindOption: KindOption

    @Option(name: .customLong("comm"), parsing: .singleValue,
            help: ArgumentHelp("Count only processes that ran this program, in both logs (repeat, or separate with commas).",
                               valueName: "name"))
    var commands: [String] = []

    @OptionGroup var weightOption: WeightOption

    @Option(help: ArgumentHelp("Write the differential flame graph here.", valueName: "OUT.svg"))
    var flamegraph: String?

    // Unconditional: "-5" is taken as the value (and refused by validate) rather than as
    // an unknown option, which left "Missing value for '--fail-if-more'".
    @Option(name: .customLong("fail-if-more"), parsing: .unconditional,
            help: ArgumentHelp("Exit with status 2 when B has more than PCT percent more faults or time in faults than A.",
                               valueName: "PCT"))
    var failIfMore: Double?

    @Option(name: .customLong("fail-on"), help: ArgumentHelp("What --fail-if-more compares: faults, time or both.", valueName: "faults|time|both"))
    var failOn: String = "both"

    @OptionGroup var fileMode: FileModeOption

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top must be at least 1, not \(top)") }
        guard format == "text" || format == "json" else {
            throw ValidationError("unknown --format '\(format)': use text or json")
        }
        if let failIfMore, !(failIfMore >= 0 && failIfMore.isFinite) {
            throw ValidationError("--fail-if-more takes a share in percent, 0 or more (B may have that much more than A), not \(failIfMore.formatted())")
        }
        guard measures != nil else { throw ValidationError("unknown --fail-on '\(failOn)': use faults, time or both") }
    }

    private var measures: [Weight]? {
        switch failOn {
        case "faults": return [.faults]
        case "time": return [.time]
        case "both": return [.faults, .time]
        default: return nil
        }
    }

    func run() throws {
        let reasons: [String]
        do {
            let logA = try Diagnostics.loadLog(path: a)
            let logB = try Diagnostics.loadLog(path: b)
            let names = commands.flatMap { $0.split(separator: ",") }.map(String.init)
            func selection(_ log: LoadedLog) -> FaultSelection {
                FaultSelection(kind: kindOption.filter, pids: FaultSelection.processes(in: log, pids: [], commands: names),
                               label: names.isEmpty ? nil : names.joined(separator: ", "))
            }
            let namerA = FrameNamer(log: logA, symbolizer: LibdwSymbolizer())
            let namerB = FrameNamer(log: logB, symbolizer: LibdwSymbolizer())
            let diff = LogDiff(a: logA, b: logB, namerA: namerA, namerB: namerB, selectionA: selection(logA),
                               selectionB: selection(logB), weight: weightOption.value, top: top)
            if let flamegraph {
                let svg = FlameGraphSVG.renderDifference(a: logA, b: logB, namerA: namerA, namerB: namerB,
                                                         selectionA: selection(logA), selectionB: selection(logB),
                                                         weight: weightOption.value)
                try PictureOutput.write(svg, to: flamegraph, what: "differential flame graph", mode: fileMode.value)
            }
            let output = BufferedOutput.standardOutput()
            try output.write(format == "json" ? try diff.renderJSON() : diff.renderText())
            try output.close()
            reasons = failIfMore.map { diff.excess(percent: $0, on: measures ?? []) } ?? []
        } catch {
            guard let message = Diagnostics.failureMessage(error) else { throw error }
            Diagnostics.error(message)
            throw ExitCode(1)
        }
        for reason in reasons { Diagnostics.error("\(b) against \(a): \(reason)") }
        if !reasons.isEmpty { throw ExitCode(2) }
    }
}
