// `faultline heatmap FILE [-o OUT.svg] [--kind K] [--weight time]`: when and where in the
// address space faults happened (or took time), as an SVG.

import ArgumentParser
import FaultlineAnalysis

struct Heatmap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heatmap",
        abstract: "Draw a log's faults over time and address space (SVG).",
        discussion: """
            Time runs left to right; each band is a mapping cut to the pages it touched. \
            Cells are coloured by the kind of most of their faults, darker with more (with \
            --weight time: by time in faults); lines mark forks, execs and exits.
            """)

    @Argument(help: "The log to read (.flt).")
    var file: String

    @Option(name: .shortAndLong, help: "Write here (default: FILE with .heatmap.svg; '-' for standard output).")
    var output: String?

    @OptionGroup var kindOption: KindOption

    @OptionGroup var processOption: ProcessOption

    @OptionGroup var weightOption: WeightOption

    @OptionGroup var fileMode: FileModeOption

    func run() throws {
        do {
            let timeline = try Diagnostics.loadTimeline(path: file)
            var options = HeatmapOptions()
            options.selection = processOption.selection(in: timeline.log, kind: kindOption.filter)
            options.weight = weightOption.value
            let svg = HeatmapSVG.render(FaultlineAnalysis.Heatmap(timeline: timeline, options: options),
                                        title: HeatmapSVG.title(log: timeline.log, selection: options.selection, weight: options.weight))
            try PictureOutput.write(svg, to: output ?? PictureOutput.defaultPath(for: file, suffix: ".heatmap.svg"),
                                    what: "heatmap", mode: fileMode.value)
        } catch {
            guard let message = Diagnostics.failureMessage(error) else { throw error }
            Diagnostics.error(message)
            throw ExitCode(1)
        }
    }
}
