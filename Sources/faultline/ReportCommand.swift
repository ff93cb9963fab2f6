// `faultline report FILE`: totals and time by kind and the top sources of faults, as text
// or JSON, or with `--html OUT.html` as one page with the pictures for a bug report.

import ArgumentParser
import Foundation
import FaultlineAnalysis
import FaultlineSymbolize

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Summarize a log: faults and time in faults by kind, and where they come from.")

    @Argument(help: "The log to read (.flt).")
    var file: String

    @Option(help: ArgumentHelp("Group by \(Grouping.allCases.map(\.rawValue).joined(separator: ", ")). "
        + "Default: the top functions and the top mappings."))
    var by: String?

    @OptionGroup var kindOption: KindOption

    @OptionGroup var processOption: ProcessOption

    @OptionGroup var weightOption: WeightOption

    @Flag(help: "With functions: count each function with its callees' faults (perf report --children), and rank by that.")
    var children = false

    @Flag(help: "Print a log2 histogram of service time per kind, as bpftrace's hist() does.")
    var latency = false

    @Option(parsing: .unconditional, help: "How many of the slowest faults to list, with their stacks (0 for none).")
    var slowest: Int = 5

    @Option(parsing: .unconditional, help: "How many rows each grouping shows.")
    var top: Int = 10

    @Option(help: "text or json.")
    var format: String = "text"

    @Option(help: ArgumentHelp("Write a self-contained HTML page (tables, flame graph, heatmap) here instead.",
                               valueName: "OUT.html"))
    var html: String?

    @OptionGroup var fileMode: FileModeOption

    func validate() throws {
        if let by, Grouping(rawValue: by) == nil {
            throw ValidationError("unknown --by '\(by)': use one of \(Grouping.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if children, let by, by != Grouping.function.rawValue {
            throw ValidationError("--children counts functions with their callees: it goes with --by function, not --by \(by)")
        }
        guard top > 0 else { throw ValidationError("--top must be at least 1, not \(top)") }
        guard slowest >= 0 && slowest <= 10_000 else { throw ValidationError("--slowest must be from 0 to 10000, not \(slowest)") }
        guard format == "text" || format == "json" else {
            throw ValidationError("unknown --format '\(format)': use text or json")
        }
        if html != nil && format != "text" {
            throw ValidationError("--html writes a page of its own: leave out --format \(format)")
        }
    }

    func run() throws {
        do {
            if let html {
                try writeHTML(to: html)
                return
            }
            let log = try Diagnostics.loadLog(path: file)
            let groupings: [Grouping]
            if let by, let grouping = Grouping(rawValue: by) {
                groupings = [grouping]
            } else {
                // JSON carries one grouping (`by` and `top`); text shows both defaults.
                groupings = format == "json" || children ? [.function] : ReportOptions.defaultGroupings
            }
            let options = ReportOptions(groupings: groupings, selection: processOption.selection(in: log, kind: kindOption.filter),
                                        weight: weightOption.value, children: children, top: top,
                                        slowest: slowest)
            let report = FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: LibdwSymbolizer()), options: options)
            let output = BufferedOutput.standardOutput()
            try output.write(format == "json" ? try report.renderJSON() : report.renderText(TextReportOptions(histograms: latency, processes: top)))
            try output.close()
        } catch {
            guard let message = Diagnostics.failureMessage(error) else { throw error }
            Diagnostics.error(message)
            throw ExitCode(1)
        }
    }

    private func writeHTML(to path: String) throws {
        let timeline = try Diagnostics.loadTimeline(path: file)
        let log = timeline.log
        let selection = processOption.selection(in: log, kind: kindOption.filter)
        let weight = weightOption.value
        let groupings = by.flatMap(Grouping.init(rawValue:)).map { [$0] } ?? [.function, .stack, .mapping]
        let namer = FrameNamer(log: log, symbolizer: LibdwSymbolizer())
        let report = FaultReport(log: log, namer: namer,
                                 options: ReportOptions(groupings: groupings, selection: selection, weight: weight,
                                                        children: children, top: top, slowest: slowest))
        let flame = FlameGraphSVG.render(log: log, namer: namer, request: FlameGraphRequest(selection: selection, weight: weight))
        var options = HeatmapOptions()
        options.selection = selection
        options.weight = weight
        let heatmap = HeatmapSVG.render(FaultlineAnalysis.Heatmap(timeline: timeline, options: options),
                                        title: HeatmapSVG.title(log: log, selection: selection, weight: weight))
        let page = HTMLReport.render(report: report, flameGraph: flame, heatmap: heatmap)
        let out = try BufferedOutput.named(path, mode: fileMode.value)
        try out.write(page)
        try out.close()
        if !BufferedOutput.isStandardOutput(path) {
            FileHandle.standardError.write(Data("faultline: HTML report written to \(path)\n".utf8))
        }
    }
}
