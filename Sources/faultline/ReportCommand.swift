// `faultline report FILE`: totals by kind and the top sources of faults, as text or JSON.

import ArgumentParser
import FaultlineAnalysis
import FaultlineSymbolize

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarize a log: faults by kind and where they come from.")

    @Argument(help: "The log to read (.flt).")
    var file: String

    @Option(help: ArgumentHelp("Group by \(Grouping.allCases.map(\.rawValue).joined(separator: ", ")). "
        + "Default: the top functions and the top mappings."))
    var by: String?

    @Option(help: ArgumentHelp("Count only faults of this kind: \(FaultKindFilter.names.joined(separator: ", "))."))
    var kind: String?

    @Option(help: "How many rows each grouping shows.")
    var top: Int = 10

    @Option(help: "text or json.")
    var format: String = "text"

    func validate() throws {
        if let by, Grouping(rawValue: by) == nil {
            throw ValidationError("unknown --by '\(by)': use one of \(Grouping.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let kind, FaultKindFilter(name: kind) == nil {
            throw ValidationError("unknown --kind '\(kind)': use one of \(FaultKindFilter.names.joined(separator: ", "))")
        }
        guard top > 0 else { throw ValidationError("--top must be at least 1, not \(top)") }
        guard format == "text" || format == "json" else {
            throw ValidationError("unknown --format '\(format)': use text or json")
        }
    }

    func run() throws {
        do {
            let log = try Diagnostics.loadLog(path: file)
            let groupings: [Grouping]
            if let by, let grouping = Grouping(rawValue: by) {
                groupings = [grouping]
            } else {
                // JSON carries one grouping (`by` and `top`); text shows both defaults.
                groupings = format == "json" ? [.function] : ReportOptions.defaultGroupings
            }
            let options = ReportOptions(groupings: groupings, filter: kind.flatMap(FaultKindFilter.init(name:)), top: top)
            let report = FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: LibdwSymbolizer()), options: options)
            let output = BufferedOutput.standardOutput()
            try output.write(format == "json" ? try report.renderJSON() : report.renderText())
            try output.close()
        } catch {
            guard let message = Diagnostics.failureMessage(error) else { throw error }
            Diagnostics.error(message)
            throw ExitCode(1)
        }
    }
}
