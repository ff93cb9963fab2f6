// `faultline export FILE --format jsonl|folded|pprof|speedscope`: the log's faults for other
// tools. Every format carries every recorded fault: its totals equal `report`'s.

import ArgumentParser
import FaultlineAnalysis
import FaultlineSymbolize

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a log's faults and address-space events for other tools.",
        discussion: """
            jsonl: every fault and address-space event, one JSON object per line.
            folded: collapsed stacks (`main;fill;memset 12`) for flamegraph.pl, inferno, speedscope;
              counts in faults, or nanoseconds with --weight time; --per-process adds a root
              frame per process (name-pid); an inlined function ends in `_[i]`;
              --lines adds `file.c:42` to each frame.
            pprof: gzipped profile.proto for pprof, Pyroscope and Grafana; value columns are
              faults, fault_time (nanoseconds), then one per kind; --weight time makes
              fault_time the default.
            speedscope: speedscope's JSON, one sampled profile per process name (per process
              with --per-process), weights in faults or nanoseconds (--weight time).
            --kind, --pid and --comm keep only those faults (and, for jsonl, only those
            processes' records).
            """)

    @Argument(help: "The log to read (.flt).")
    var file: String

    @Option(help: "Output format: jsonl, folded, pprof or speedscope.")
    var format: String

    @Option(name: .shortAndLong, help: "Write here instead of standard output (`-`: standard output).")
    var output: String?

    @Flag(help: "folded: follow each function with its file and line (`fill file.c:42`), as perf's srcline.")
    var lines = false

    @OptionGroup var fileMode: FileModeOption

    @OptionGroup var kindOption: KindOption

    @OptionGroup var processOption: ProcessOption

    @OptionGroup var weightOption: WeightOption

    @Flag(name: .customLong("per-process"), help: "folded: a root frame per process (name-pid); speedscope: a profile per process rather than per process name.")
    var perProcess = false

    private static let formats = ["jsonl", "folded", "pprof", "speedscope"]

    func validate() throws {
        guard Self.formats.contains(format) else {
            throw ValidationError("unknown --format '\(format)': use one of \(Self.formats.joined(separator: ", "))")
        }
        if weightOption.value == .time && format == "jsonl" {
            throw ValidationError("--weight applies to folded, pprof and speedscope: jsonl has every fault's service_ns")
        }
        if perProcess && !(format == "folded" || format == "speedscope") {
            throw ValidationError("--per-process applies to folded and speedscope")
        }
        if lines && format != "folded" {
            throw ValidationError("--lines is for --format folded (the other formats always carry lines)")
        }
    }

    func run() throws {
        do {
            if format == "jsonl" {
                let timeline = try Diagnostics.loadTimeline(path: file)
                let selection = processOption.selection(in: timeline.log, kind: kindOption.filter)
                // Open the output only after the log proved readable: a failed export must not
                // truncate a file the user already had.
                let out = try openOutput()
                try JSONLExporter(timeline: timeline, symbolizer: LibdwSymbolizer(), selection: selection).write(to: out)
                try out.close()
                return
            }
            let log = try Diagnostics.loadLog(path: file)
            let namer = FrameNamer(log: log, symbolizer: LibdwSymbolizer())
            let selection = processOption.selection(in: log, kind: kindOption.filter)
            let weight = weightOption.value
            switch format {
            case "folded":
                // Name every stack before opening the output, for the same reason.
                let folded = FoldedExporter.lines(StackCounts(log: log, selection: selection), namer: namer,
                                                  weight: weight, perProcess: perProcess, sourceLines: lines)
                let out = try openOutput()
                for line in folded { try out.write(line) }
                try out.close()
            case "pprof":
                let bytes = try PprofExporter.data(log: log, namer: namer, selection: selection, weight: weight)
                let out = try openOutput()
                try out.write(bytes)
                try out.close()
            default:
                let bytes = try SpeedscopeExporter.data(log: log, namer: namer, selection: selection, weight: weight,
                                                        perProcess: perProcess)
                let out = try openOutput()
                try out.write(bytes)
                try out.close()
            }
        } catch {
            guard let message = Diagnostics.failureMessage(error) else { throw error }
            Diagnostics.error(message)
            throw ExitCode(1)
        }
    }

    private func openOutput() throws -> BufferedOutput {
        try BufferedOutput.named(output, mode: fileMode.value)
    }
}
