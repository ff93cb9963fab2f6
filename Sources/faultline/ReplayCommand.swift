// `faultline replay [FILE]`: what the recording would have cost with other page sizes, THP
// policies and TLBs, side by side, with the model's self-check. The model lives in
// FaultlineReplay; this file only parses flags and prints.

import ArgumentParser
import Foundation
import FaultlineAnalysis
import FaultlineLog
import FaultlineReplay

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a log (or an access trace) through a page-table and TLB model: what if the pages, THP or TLB were different.",
        discussion: """
            --pid and --comm count only those processes' faults: the faults by kind, the \
            self-check and the mappings table are theirs. The model still replays every \
            process, as a forked child's pages are its parent's (its copy-on-write faults \
            need the parent's), so resident memory and page tables stay the whole recording's.
            """)

    @Argument(help: "The log to replay (.flt). Optional with --accesses.")
    var file: String?

    @Option(help: "An access trace to replay instead of the recorded faults.")
    var accesses: String?

    @Option(name: .customLong("access-format"), help: "The trace's format: lackey (valgrind --tool=lackey --trace-mem=yes).")
    var accessFormat: String = "lackey"

    @Option(name: .customLong("page-size"), help: "Comma-separated page sizes: 4k, 16k, 64k (granules), 2m, 1g (explicit huge pages for anonymous memory).")
    var pageSize: String = "4k,16k,64k,2m"

    @Option(help: "Comma-separated THP policies: never, madvise, always.")
    var thp: String = "never,always"

    @Option(help: ArgumentHelp(tlbHelp))
    var tlb: String?
    /// Built once: ArgumentParser makes the command several times while it parses, and each
    /// made every preset again to name them.
    private static let tlbHelp = "A TLB preset (\(TLBPresets.all.map(\.name).joined(separator: ", "))) or a JSON hierarchy file, for --accesses traces (default generic)."

    @Flag(name: .customLong("five-level"), help: "Model x86-64 5-level page tables for the 4k configurations.")
    var fiveLevel = false

    @Flag(name: .customLong("no-self-check"), help: "Skip replaying at the recorded configuration.")
    var noSelfCheck = false

    @Option(help: "How to play khugepaged, which collapses base pages into THPs after the fact: paced (the recording host's pages_to_scan every scan_sleep_millisecs), eager (everything it may collapse, every 10 ms: the upper bound), off.")
    var khugepaged: String = "paced"

    @Option(help: "text or json.")
    var format: String = "text"

    @Flag(help: "Print how long loading and each configuration took, and events per second, on standard error.")
    var timing = false

    @OptionGroup var processOption: ProcessOption

    @Option(parsing: .unconditional, help: "How many CPUs replay may use (default: all online). A log is decoded on several cores and its faults put in time order while the models run; configurations run side by side; a lone trace replay splits into reading, page-table and TLB stages. 1: one thread for everything.")
    var jobs: Int?

    func validate() throws {
        guard file != nil || accesses != nil else {
            throw ValidationError("give a log to replay, --accesses FILE, or both")
        }
        if tlb != nil && accesses == nil {
            // Recorded faults are first touches: every one would miss every TLB level, so the
            // miss rates and walk cycles would say nothing. One line, not the usage text.
            Diagnostics.error("--tlb needs --accesses TRACE: recorded faults are first touches, so every one misses the TLB and its numbers would mean nothing; "
                + "get a full trace with valgrind --tool=lackey --trace-mem=yes --log-file=trace.txt COMMAND")
            throw ExitCode.validationFailure
        }
        if !processOption.isEmpty && (file == nil || accesses != nil) {
            throw ValidationError("--pid and --comm pick recorded faults: they need a log, and do not apply to --accesses")
        }
        guard accessFormat == "lackey" else {
            throw ValidationError("unknown --access-format '\(accessFormat)': use lackey")
        }
        _ = try parsedPageSizes()
        _ = try parsedTHP()
        guard KhugepagedModel(rawValue: khugepaged) != nil else {
            throw ValidationError("unknown --khugepaged '\(khugepaged)': use paced, eager or off")
        }
        guard format == "text" || format == "json" else {
            throw ValidationError("unknown --format '\(format)': use text or json")
        }
        if let jobs, jobs < 1 || jobs > 4096 {
            throw ValidationError("--jobs \(jobs): give 1 to 4096 CPUs")
        }
    }

    private func parsedPageSizes() throws -> [PageSizeChoice] {
        let words = commaSeparatedWords([pageSize])
        guard !words.isEmpty else { throw ValidationError("--page-size is empty: use \(PageSizeChoice.words.joined(separator: ","))") }
        return try words.map { w in
            guard let size = PageSizeChoice(word: w) else {
                throw ValidationError("unknown page size '\(w)': use \(PageSizeChoice.words.joined(separator: ", "))")
            }
            return size
        }
    }

    private func parsedTHP() throws -> [THPMode] {
        let words = commaSeparatedWords([thp])
        guard !words.isEmpty else { throw ValidationError("--thp is empty: use never, madvise, always") }
        return try words.map { w in
            guard let mode = THPMode(rawValue: w.lowercased()) else {
                throw ValidationError("unknown THP policy '\(w)': use never, madvise or always")
            }
            return mode
        }
    }

    func run() throws {
        do {
            var configs: [ReplayConfig] = []
            for size in try parsedPageSizes() {
                for mode in try parsedTHP() {
                    let layout = PageTableLayout.standard(granule: size.granule, fiveLevel: fiveLevel)
                    let c = ReplayConfig(pageSize: size, thp: mode, layout: layout)
                    if !configs.contains(c) { configs.append(c) }
                }
            }
            var spec: TLBSpec?
            if let tlb { spec = try TLBSpec.named(tlb) } else if accesses != nil { spec = TLBPresets.generic }

            let clock = ContinuousClock()
            let started = clock.now
            var input = ReplayInput.wholeAddressSpace()
            var read = started
            var selection: FaultSelection?
            // A log scanned, its faults decoded while the models run (or, for several
            // models, before they start); nil: loaded whole.
            var scanned: ScannedLog?
            if let file {
                // The models start before the faults are all decoded (LogScan.swift), unless
                // `--jobs 1` asks for one thread for everything, or --pid/--comm must first
                // look through every fault's pid.
                if jobs != 1 && processOption.isEmpty {
                    scanned = ScannedLog.scan(path: file, decodingFaults: accesses == nil && ReplaySweep.runsSeveralModels(configs))
                }
                if let scanned {
                    input = ReplayInput(scanned: scanned)
                } else {
                    let log = try loadWhole(file)
                    if !processOption.isEmpty { selection = processOption.selection(in: log, kind: nil) }
                    input = ReplayInput(log: log, sortAlongside: jobs != 1)
                }
                read = clock.now
            }
            let loaded = clock.now
            let source: AccessSource = accesses.map { .lackey(path: $0) } ?? .recordedFaults
            // An access trace has no times: khugepaged cannot be paced in it.
            let collapsing = accesses == nil ? KhugepagedModel(rawValue: khugepaged) ?? .paced : .off
            let replay = { (input: ReplayInput) in
                try ReplaySweep.run(input: input, configs: configs, tlb: spec, source: source,
                                    selfCheck: !noSelfCheck && file != nil, log: file != nil, khugepaged: collapsing,
                                    cores: jobs, counted: selection?.pids)
            }
            var report = try replay(input)
            if let scanned, let file {
                if input.faults.isIncomplete {
                    // A chunk's faults were damaged (or the file changed under us): what was
                    // replayed is dropped, and the log is read whole, which says where it is
                    // damaged, and replayed as every damaged log is.
                    input = ReplayInput(log: try loadWhole(file))
                    report = try replay(input)
                } else {
                    for line in scanned.log.readWarnings { Diagnostics.warning(line) }
                }
            }
            report.selectionName = selection.map { String(FaultSelection(pids: $0.pids).titleSuffix.dropFirst(2).dropLast())
                + ($0.label.map { " (\($0))" } ?? "") }
            for w in report.warnings where format == "json" { Diagnostics.warning(w) }
            if timing {
                printTiming(report, read: read - started, load: loaded - started, total: clock.now - started, input: input,
                            decodedAlongside: scanned.map { !$0.faultsDecodedFirst } == true && !input.faults.isIncomplete)
            }
            let output = BufferedOutput.standardOutput()
            if format == "json" {
                // Written as it is built (16 MB for 100,000 mappings); the first write error
                // stops the writing and is thrown.
                var failure: Error?
                report.renderJSON { block in
                    guard failure == nil else { return }
                    do { try output.write(block) } catch { failure = error }
                }
                if let failure { throw failure }
            } else {
                try output.write(report.renderText())
            }
            try output.close()
            // The report is out: the kernel takes the model's memory back at once, where
            // freeing it piece by piece (a shell loop's thousands of processes, a log's
            // packed faults) took up to 6 ms more before the exit (perf trace).
            Foundation.exit(0)
        } catch let e as TLBSpecError {
            Diagnostics.error(e.description)
            throw ExitCode(1)
        } catch let e as TraceReadError {
            Diagnostics.error(e.description)
            throw ExitCode(1)
        } catch {
            guard let message = Diagnostics.failureMessage(error) else { throw error }
            Diagnostics.error(message)
            throw ExitCode(1)
        }
    }

    /// The log loaded whole, with only the model's fields of each fault, packed once, as
    /// they are decoded (`--jobs 1`: on one thread), its warnings said.
    private func loadWhole(_ file: String) throws -> LoadedLog {
        try Diagnostics.loadLog(path: file, faults: .compact, parallel: jobs != 1)
    }

    /// `decodedAlongside`: the faults were decoded while the models ran (the log scanned for
    /// one model; for several, the first pass decodes them).
    private func printTiming(_ report: ReplayReport, read: Duration, load: Duration, total: Duration, input: ReplayInput,
                             decodedAlongside: Bool) {
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        // The faults are put in time order while the models run (ReplayFaults.inTimeOrder):
        // a model's time includes any wait for them.
        let overlap = decodedAlongside ? "decoding the faults and sorting them by time overlap the models"
            : "sorting them by time overlaps the models"
        let reading = decodedAlongside ? "reading the log's records and fault times" : "reading the log"
        var lines = ["timing: load and prepare \(String(format: "%.3f", seconds(load))) s (\(reading) \(String(format: "%.3f", seconds(read))) s; \(input.faultCount) fault events, \(input.changes.count) other events; \(overlap))"]
        func pace(_ r: ConfigResult) -> String {
            let rate = Double(r.accesses) / max(r.seconds, 1e-9)
            return "\(r.accesses) accesses in \(String(format: "%.3f", r.seconds)) s = \(String(format: "%.1f", rate / 1e6))M/s"
        }
        for r in report.configs {
            var line = "timing: \(r.config.pageSize) thp=\(r.config.thp.rawValue): \(pace(r))"
            if r.parseSeconds > 0 {
                let model = Double(r.accesses) / max(r.seconds - r.parseSeconds, 1e-9)
                line += " (parsing \(String(format: "%.3f", r.parseSeconds)) s; model alone \(String(format: "%.1f", model / 1e6))M/s)"
            }
            lines.append(line)
        }
        if let b = report.baseline, !report.configs.contains(where: { $0.config == b.config }) {
            // Replayed beside the configurations asked for, and often the longest of them.
            lines.append("timing: 4k thp=never, the baseline bloat is measured against: \(pace(b))")
        }
        lines.append("timing: total \(String(format: "%.3f", seconds(total))) s")
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
