// `faultline export FILE --format jsonl`: the log's events for other tools. Only JSON Lines
// exists so far; the other formats DESIGN.md names are refused by name, not silently.

import ArgumentParser
import FaultlineAnalysis
import FaultlineSymbolize

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a log's faults and address-space events for other tools.")

    @Argument(help: "The log to read (.flt).")
    var file: String

    @Option(help: "Output format: jsonl (folded, pprof and speedscope are planned).")
    var format: String

    @Option(name: .shortAndLong, help: "Write here instead of standard output.")
    var output: String?

    private static let planned = ["folded", "pprof", "speedscope"]

    func validate() throws {
        if Self.planned.contains(format) {
            throw ValidationError("export --format \(format) is not yet supported; use --format jsonl")
        }
        guard format == "jsonl" else {
            throw ValidationError("unknown --format '\(format)': use jsonl")
        }
    }

    func run() throws {
        do {
            let timeline = try Diagnostics.loadTimeline(path: file)
            // Open the output only after the log proved readable: a failed export must not
            // truncate a file the user already had.
            let out = try output.map { try BufferedOutput(path: $0) } ?? BufferedOutput.standardOutput()
            try JSONLExporter(timeline: timeline, symbolizer: LibdwSymbolizer()).write(to: out)
            try out.close()
        } catch {
            guard let message = Diagnostics.failureMessage(error) else { throw error }
            Diagnostics.error(message)
            throw ExitCode(1)
        }
    }
}
