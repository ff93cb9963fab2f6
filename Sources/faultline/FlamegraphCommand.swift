// `faultline flamegraph FILE [-o OUT.svg] [--kind K] [--color kind|module] [--weight time]`:
// where faults come from in the code (or where the program waits in them), as an
// interactive SVG to open in a browser.

import ArgumentParser
import Foundation
import FaultlineAnalysis
import FaultlineSymbolize

struct Flamegraph: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flamegraph",
        abstract: "Draw a log's faults as an interactive flame graph (SVG).",
        discussion: """
            Frames are stacked caller below callee, one tower per process name (per process \
            with --per-process); width is faults, or time in faults with --weight time. Hover \
            for counts, click to zoom, Search (or Ctrl-F) to highlight.
            """)

    @Argument(help: "The log to read (.flt).")
    var file: String

    @Option(name: .shortAndLong, help: "Write here (default: FILE with .flame.svg; '-' for standard output).")
    var output: String?

    @OptionGroup var kindOption: KindOption

    @OptionGroup var processOption: ProcessOption

    @OptionGroup var weightOption: WeightOption

    @Flag(name: .customLong("per-process"), help: "One tower per process (name-pid) rather than per process name.")
    var perProcess = false

    @OptionGroup var fileMode: FileModeOption

    @Option(help: "Colour frames by the kind of most of their faults (kind) or by module.")
    var color: String = "kind"

    func validate() throws {
        guard FlameGraphOptions.ColorBy(rawValue: color) != nil else {
            throw ValidationError("unknown --color '\(color)': use kind or module")
        }
    }

    func run() throws {
        do {
            let log = try Diagnostics.loadLog(path: file)
            let request = FlameGraphRequest(selection: processOption.selection(in: log, kind: kindOption.filter),
                                            weight: weightOption.value,
                                            colorBy: FlameGraphOptions.ColorBy(rawValue: color) ?? .kind, perProcess: perProcess)
            let svg = FlameGraphSVG.render(log: log, namer: FrameNamer(log: log, symbolizer: LibdwSymbolizer()), request: request)
            let path = output ?? PictureOutput.defaultPath(for: file, suffix: ".flame.svg")
            try PictureOutput.write(svg, to: path, what: "flame graph", mode: fileMode.value)
        } catch {
            guard let message = Diagnostics.failureMessage(error) else { throw error }
            Diagnostics.error(message)
            throw ExitCode(1)
        }
    }
}

/// Where pictures go: a file named after the log unless told otherwise, because an SVG
/// poured onto a terminal helps nobody; `-` still means standard output for pipes.
enum PictureOutput {
    static func defaultPath(for log: String, suffix: String) -> String {
        // A log read from a pipe (`<(cat x.flt)`, /dev/stdin) or a device has no place to put
        // a picture beside it: it goes to the working directory.
        var st = stat()
        guard stat(log, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return "faultline" + suffix }
        let base = log.hasSuffix(".flt") ? String(log.dropLast(4)) : log
        return base + suffix
    }

    static func write(_ text: String, to path: String, what: String, mode: mode_t) throws {
        let out = try BufferedOutput.named(path, mode: mode)
        try out.write(text)
        try out.close()
        if !BufferedOutput.isStandardOutput(path) {
            FileHandle.standardError.write(Data("faultline: \(what) written to \(path)\n".utf8))
        }
    }
}
