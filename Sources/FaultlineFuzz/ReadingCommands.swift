// Every reading command of the command line, run in-process through the library calls
// the command makes (load, build the model, render), so thousands of inputs a minute can
// go through all of them. The calls mirror Sources/faultline/*Command.swift; the output is
// rendered in memory and thrown away, after a few checks every correct output passes.
// Hazard: keep this in step with the commands; ReadingCommandsTests compares the two
// through the binary.

import Foundation
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis
import FaultlineReplay

/// One command line of a reading command, without its file.
public struct ReadingCommand: Sendable, Equatable, CustomStringConvertible {
    public enum Action: Sendable, Equatable {
        case info
        /// nil: the default groupings.
        case report(Grouping?, json: Bool)
        case reportHTML
        case export(String)
        case flamegraph(FlameGraphOptions.ColorBy)
        case heatmap
        case replay(json: Bool)
        /// `diff FILE FILE --format json`: the log against itself, where nothing may change.
        case diff
    }

    public var action: Action
    /// `--kind`, for the commands that take it.
    public var filter: FaultKindFilter?
    /// `--weight time` (and for a report by function, `--children`).
    public var byTime: Bool

    public init(_ action: Action, filter: FaultKindFilter? = nil, byTime: Bool = false) {
        self.action = action
        self.filter = Self.takesKind(action) ? filter : nil
        self.byTime = byTime
    }

    static func takesKind(_ action: Action) -> Bool {
        switch action {
        case .report, .reportHTML, .flamegraph, .heatmap, .diff: return true
        default: return false
        }
    }

    var weight: Weight { byTime ? .time : .faults }

    /// The arguments after `faultline`, with `file` where the command wants it.
    public func arguments(file: String) -> [String] {
        var args: [String]
        switch action {
        case .info: args = ["info", file]
        case .report(let by, let json):
            args = ["report", file] + (by.map { ["--by", $0.rawValue] } ?? []) + (json ? ["--format", "json"] : [])
        case .reportHTML: args = ["report", file, "--html", "/dev/null"]
        case .export(let format): args = ["export", file, "--format", format, "-o", "/dev/null"]
        case .flamegraph(let color): args = ["flamegraph", file, "--color", color.rawValue, "-o", "/dev/null"]
        case .heatmap: args = ["heatmap", file, "-o", "/dev/null"]
        case .replay(let json):
            args = ["replay", file, "--page-size", ReadingCommand.replayPageSizes, "--thp", ReadingCommand.replayTHP]
                + (json ? ["--format", "json"] : [])
        case .diff: args = ["diff", file, file, "--format", "json"]
        }
        if byTime {
            args += ["--weight", "time"]
            if case .report(.function?, _) = action { args.append("--children") }
        }
        if let filter { args += ["--kind", filter.description] }
        return args
    }

    /// Every page size and THP policy: the fuzzer wants every path of the model.
    static let replayPageSizes = "4k,16k,64k,2m,1g"
    static let replayTHP = "never,madvise,always"

    /// `report --by origin --format json`: the name `--commands` selects by prefix.
    public var description: String {
        arguments(file: "FILE").filter { $0 != "FILE" }.joined(separator: " ")
            .replacingOccurrences(of: " -o /dev/null", with: "").replacingOccurrences(of: " --html /dev/null", with: " --html")
            .replacingOccurrences(of: " --page-size \(Self.replayPageSizes) --thp \(Self.replayTHP)", with: "")
            .replacingOccurrences(of: "diff FILE FILE", with: "diff")
    }

    /// Every reading command in every form: report by each grouping (and the default) in
    /// text and JSON, and as HTML; each export; flame graphs by kind and by module; the
    /// heatmap; info; replay in text and JSON; diff; and each form that weighs by time.
    public static func all(filter: FaultKindFilter? = nil) -> [ReadingCommand] {
        var list: [ReadingCommand] = [ReadingCommand(.info)]
        for by in [nil] + Grouping.allCases.map(Optional.some) {
            list.append(ReadingCommand(.report(by, json: false), filter: filter))
            list.append(ReadingCommand(.report(by, json: true), filter: filter))
        }
        for json in [false, true] { list.append(ReadingCommand(.report(.function, json: json), filter: filter, byTime: true)) }
        list.append(ReadingCommand(.reportHTML, filter: filter))
        list.append(ReadingCommand(.reportHTML, filter: filter, byTime: true))
        for format in ["folded", "jsonl", "pprof", "speedscope"] { list.append(ReadingCommand(.export(format))) }
        for format in ["folded", "pprof", "speedscope"] { list.append(ReadingCommand(.export(format), byTime: true)) }
        for color in FlameGraphOptions.ColorBy.allCases { list.append(ReadingCommand(.flamegraph(color), filter: filter)) }
        list.append(ReadingCommand(.flamegraph(.kind), filter: filter, byTime: true))
        list.append(ReadingCommand(.heatmap, filter: filter))
        list.append(ReadingCommand(.heatmap, filter: filter, byTime: true))
        list.append(ReadingCommand(.replay(json: false)))
        list.append(ReadingCommand(.replay(json: true)))
        list.append(ReadingCommand(.diff, filter: filter))
        return list
    }

    /// The commands whose name starts with one of `selectors` ("report", "export --format
    /// pprof", "replay"); all of them for an empty list.
    public static func selected(_ selectors: [String], filter: FaultKindFilter? = nil) -> [ReadingCommand] {
        let all = all(filter: filter)
        guard !selectors.isEmpty else { return all }
        return all.filter { command in selectors.contains { command.description.hasPrefix($0) } }
    }
}

/// What one command made of one input.
public enum CommandResult: Sendable, Equatable {
    /// Rendered; the size of the output.
    case rendered(bytes: Int)
    /// The file is not a log (LogReadError): the one line the command prints.
    case refused(String)
    /// Anything a correct command must not do short of crashing: an unexpected error, or an
    /// output that contradicts the log.
    case wrong(String)
}

public struct CommandOutcome: Sendable {
    public var command: ReadingCommand
    public var result: CommandResult
}

/// Runs reading commands on one file, loading it once for all of them. Not thread-safe.
public final class ReadingCommandRunner {
    private let symbolizer: Symbolizer

    /// `symbolizer` stands for libdw: the default names some frames, not others, in ways
    /// a symbolizer may (no function but a line, names with separators in them).
    public init(symbolizer: Symbolizer = FuzzSymbolizer()) {
        self.symbolizer = symbolizer
    }

    /// Runs `commands` on the log at `path`; `willRun` is told each command before it
    /// runs, so a caller can say which one crashed.
    public func run(_ commands: [ReadingCommand], path: String,
                    willRun: (ReadingCommand) -> Void = { _ in }) -> [CommandOutcome] {
        var loaded: Result<LoadedLog, Error>?
        var timeline: Result<Timeline, Error>?
        func log() throws -> LoadedLog {
            if loaded == nil { loaded = Result { try LoadedLog.load(path: path) } }
            return try loaded!.get()
        }
        func events() throws -> Timeline {
            if timeline == nil { timeline = Result { try Timeline.load(path: path) } }
            return try timeline!.get()
        }
        let outcomes = commands.map { command in
            willRun(command)
            do {
                return CommandOutcome(command: command, result: try run(command, log: log, timeline: events))
            } catch let e as LogReadError {
                return CommandOutcome(command: command, result: .refused(e.description))
            } catch {
                return CommandOutcome(command: command, result: .wrong("unexpected error: \(error)"))
            }
        }
        lastLog = (try? loaded?.get()) ?? (try? timeline?.get())?.log
        return outcomes
    }

    /// The log the last `run` read, nil when it read none or the file was refused.
    public private(set) var lastLog: LoadedLog?

    private func run(_ command: ReadingCommand, log load: () throws -> LoadedLog,
                     timeline loadTimeline: () throws -> Timeline) throws -> CommandResult {
        let filter = command.filter
        let weight = command.weight
        let selection = FaultSelection(kind: filter)
        switch command.action {
        case .info:
            let log = try load()
            _ = log.readWarnings
            let text = LogInfo.render(log)
            return text.hasSuffix("\n") && text.contains("integrity: ") ? .rendered(bytes: text.utf8.count)
                : .wrong("info does not end with its integrity line")
        case .report(let by, let json):
            let log = try load()
            let groupings = by.map { [$0] } ?? (json ? [.function] : ReportOptions.defaultGroupings)
            let report = FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: symbolizer),
                                     options: ReportOptions(groupings: groupings, selection: selection, weight: weight,
                                                            children: command.byTime && by == .function, top: 10))
            guard json else { return .rendered(bytes: report.renderText(TextReportOptions(histograms: true)).utf8.count) }
            let text = try report.renderJSON()
            return Self.checkReportJSON(text, faults: log.faults.count)
        case .reportHTML:
            let timeline = try loadTimeline()
            let log = timeline.log
            let namer = FrameNamer(log: log, symbolizer: symbolizer)
            let report = FaultReport(log: log, namer: namer,
                                     options: ReportOptions(groupings: [.function, .stack, .mapping], selection: selection,
                                                            weight: weight, top: 10))
            let flame = FlameGraphSVG.render(log: log, namer: namer, request: FlameGraphRequest(selection: selection, weight: weight))
            var options = HeatmapOptions()
            options.selection = selection
            options.weight = weight
            let heatmap = HeatmapSVG.render(Heatmap(timeline: timeline, options: options),
                                            title: HeatmapSVG.title(log: log, selection: selection, weight: weight))
            return .rendered(bytes: HTMLReport.render(report: report, flameGraph: flame, heatmap: heatmap).utf8.count)
        case .export("jsonl"):
            let timeline = try loadTimeline()
            let out = try BufferedOutput(path: "/dev/null")
            let lines = try JSONLExporter(timeline: timeline, symbolizer: symbolizer).write(to: out)
            try out.close()
            return lines == timeline.entryCount ? .rendered(bytes: lines)
                : .wrong("jsonl wrote \(lines) lines for \(timeline.entryCount) events")
        case .export("folded"):
            let log = try load()
            let lines = FoldedExporter.lines(StackCounts(log: log), namer: FrameNamer(log: log, symbolizer: symbolizer), weight: weight)
            var sum: UInt64 = 0
            for line in lines {
                guard let count = line.split(separator: " ").last.flatMap({ UInt64($0.dropLast()) }) else {
                    return .wrong("folded line without a count: \(line.prefix(200))")
                }
                sum = sum.addingSaturated(count)
            }
            let expected = Self.total(log, weight)
            return sum == expected ? .rendered(bytes: lines.count)
                : .wrong("folded counts add up to \(sum), the log holds \(expected) (\(weight.unit))")
        case .export("pprof"):
            let log = try load()
            return .rendered(bytes: try PprofExporter.data(log: log, namer: FrameNamer(log: log, symbolizer: symbolizer),
                                                           weight: weight).count)
        case .export("speedscope"):
            let log = try load()
            let bytes = try SpeedscopeExporter.data(log: log, namer: FrameNamer(log: log, symbolizer: symbolizer), weight: weight)
            return Self.checkSpeedscope(bytes, total: Self.total(log, weight))
        case .export(let other):
            return .wrong("no export format \(other)")
        case .flamegraph(let color):
            let log = try load()
            let svg = FlameGraphSVG.render(log: log, namer: FrameNamer(log: log, symbolizer: symbolizer),
                                           request: FlameGraphRequest(selection: selection, weight: weight, colorBy: color))
            return .rendered(bytes: svg.utf8.count)
        case .heatmap:
            let timeline = try loadTimeline()
            var options = HeatmapOptions()
            options.selection = selection
            options.weight = weight
            let svg = HeatmapSVG.render(Heatmap(timeline: timeline, options: options),
                                        title: HeatmapSVG.title(log: timeline.log, selection: selection, weight: weight))
            return .rendered(bytes: svg.utf8.count)
        case .diff:
            let log = try load()
            let diff = LogDiff(a: log, b: log, namerA: FrameNamer(log: log, symbolizer: symbolizer),
                               namerB: FrameNamer(log: log, symbolizer: symbolizer), selectionA: selection, selectionB: selection)
            let text = try diff.renderJSON() + diff.renderText()
            // A log against itself: nothing changed, so no row may show a change.
            let changed = diff.kinds.filter { $0.faultChange != 0 || $0.timeChange != 0 }.count
                + diff.sections.reduce(0) { $0 + $1.rows.count }
            return changed == 0 && diff.excess(percent: 0, on: [.faults, .time]).isEmpty ? .rendered(bytes: text.utf8.count)
                : .wrong("a log compared with itself shows \(changed) changes")
        case .replay(let json):
            let log = try load()
            return .rendered(bytes: try Self.replay(log, json: json).utf8.count)
        }
    }

    /// What `faultline replay FILE --page-size … --thp …` renders.
    static func replay(_ log: LoadedLog, json: Bool) throws -> String {
        var configs: [ReplayConfig] = []
        for word in ReadingCommand.replayPageSizes.split(separator: ",") {
            for mode in ReadingCommand.replayTHP.split(separator: ",") {
                guard let size = PageSizeChoice(word: String(word)), let thp = THPMode(rawValue: String(mode)) else { continue }
                configs.append(ReplayConfig(pageSize: size, thp: thp, layout: .standard(granule: size.granule)))
            }
        }
        let report = try ReplaySweep.run(input: ReplayInput(log: log), configs: configs, tlb: nil, source: .recordedFaults,
                                         selfCheck: true, log: true)
        return json ? report.renderJSON() : report.renderText()
    }

    /// JSON that parses, whose `totals.faults` is the log's fault count, which the kinds
    /// (exclusive) add up to, and so do the kernel's minor and major and the refused accesses.
    static func checkReportJSON(_ text: String, faults: Int) -> CommandResult {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let totals = object["totals"] as? [String: Any], let count = totals["faults"] as? Int else {
            return .wrong("report JSON does not parse or has no totals.faults")
        }
        let kinds = FaultKind.allCases.reduce(0) { $0 + ((totals[$1.name] as? Int) ?? 0) }
        let accounted = ["minor", "major", "swap_from_disk", "segv"].reduce(0) { $0 + ((totals[$1] as? Int) ?? 0) }
        guard count == faults else { return .wrong("report JSON says \(count) faults, the log holds \(faults)") }
        guard kinds == faults else { return .wrong("report JSON's kinds add up to \(kinds), the log holds \(faults) faults") }
        guard accounted == faults else {
            return .wrong("report JSON's minor + major + swap_from_disk + segv is \(accounted), the log holds \(faults) faults")
        }
        return .rendered(bytes: text.utf8.count)
    }

    /// Every fault (or its time, saturated): what an export weighed by `weight` adds up to.
    static func total(_ log: LoadedLog, _ weight: Weight) -> UInt64 {
        weight == .faults ? UInt64(log.faults.count)
            : log.faults.reduce(UInt64(0)) { $0.addingSaturated($1.serviceNs ?? 0) }
    }

    /// JSON that parses, whose weights add up to `total` (saturated).
    static func checkSpeedscope(_ bytes: [UInt8], total: UInt64) -> CommandResult {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let profiles = object["profiles"] as? [[String: Any]] else {
            return .wrong("speedscope JSON does not parse")
        }
        var weights: UInt64 = 0
        for profile in profiles {
            for w in profile["weights"] as? [NSNumber] ?? [] { weights = weights.addingSaturated(w.uint64Value) }
        }
        // Past 2^53 a JSON number need not come back exact: then parsing is the check.
        return weights == total || total > 1 << 53 ? .rendered(bytes: bytes.count)
            : .wrong("speedscope weights add up to \(weights), the log holds \(total)")
    }
}

/// Names some frames and not others, as libdw does: a function with a file and line, a
/// line without a function (stripped symbols, DWARF present), names with `;`, spaces
/// and newlines in them, or nothing.
public final class FuzzSymbolizer: Symbolizer {
    public init() {}
    public func symbolize(modulePath: String, buildID: [UInt8], fileOffset: UInt64) -> Symbol? {
        switch fileOffset % 5 {
        case 0: return Symbol(function: "fn_\(String(fileOffset, radix: 16))", file: "src/\(modulePath.count).c",
                              line: Int(truncatingIfNeeded: fileOffset % 1000))
        case 1: return Symbol(function: nil, file: "unnamed.c", line: 7)
        case 2: return Symbol(function: "ns::f<a;b>(int, char*)\n", file: nil, line: nil)
        default: return nil
        }
    }
}
