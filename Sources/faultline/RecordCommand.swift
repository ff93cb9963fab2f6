// `faultline record`: run a command under the recorder, mirror its exit status, and say in
// one line what was recorded.

import ArgumentParser
import FaultlineCore
import FaultlineTracer
#if canImport(Glibc)
import Glibc
#endif

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record every page fault a command (or a running process) takes.",
        discussion: """
            faultline record [-o FILE] [--call-graph fp|dwarf|none] [--] COMMAND [ARG...]
            faultline record [-o FILE] --pid PID [--duration SECONDS]

            Record's options come first; the command starts at -- or at the first word that \
            is not an option, and everything after it is the command's.

            A launched command's exit status is mirrored (128+N when it died of signal N), like \
            a shell. An attached process is left running, exactly as before, when the duration \
            ends, on Ctrl-C or SIGTERM, or when it exits.
            """)

    @Option(name: .shortAndLong, help: "Where to write the log.")
    var output: String = "faultline.flt"

    @OptionGroup var fileMode: FileModeOption

    @Option(name: .customLong("call-graph"),
            help: "How to get user stacks: fp (kernel walks frame pointers; the default, cheapest), dwarf (stack copies unwound with CFI: whole stacks without frame pointers), none.")
    var callGraph: String = "fp"

    @Option(name: .customLong("stack-size"), parsing: .unconditional, help: "Bytes of stack copied per fault with --call-graph dwarf.")
    var stackSize: Int = 8192

    @Option(parsing: .unconditional, help: "Attach to this running process instead of launching a command.")
    var pid: Int32?

    @Option(parsing: .unconditional, help: "With --pid: stop recording after this many seconds.")
    var duration: Double?

    @Flag(name: .customLong("no-pause"),
          help: "Never pause the traced program to let the recorder catch up; the kernel drops events instead (counted as lost).")
    var noPause = false

    @Option(name: .customLong("mmap-pages"), parsing: .unconditional,
            help: "Data pages in each CPU's ring buffer (a power of two; default 8192, 32 MiB, less past 16 CPUs so that all rings together take 512 MiB, at least 2 MiB each).")
    var mmapPages: Int?

    @Flag(name: .customLong("allow-loss"),
          help: "Exit with the command's status even when the kernel dropped events or a process could not be recorded.")
    var allowLoss = false

    @Flag(name: .shortAndLong, help: "No live status line while recording.")
    var quiet = false

    @Flag(name: .customLong("no-thp"),
          help: "Run the command with transparent huge pages off, multi-size THP folios too (PR_SET_THP_DISABLE), so every fault is recorded at base-page size and replay can predict every page size and THP policy.")
    var noTHP = false

    /// Shown in the help only: main hands the command over in `handedOverCommand` and
    /// parses record's options alone (RecordArguments).
    @Argument(help: ArgumentHelp("The command to run and its arguments (after --, or after the last option).",
                                 valueName: "command"))
    var command: [String] = []

    /// The command, split off before parsing; set once by main before anything runs.
    nonisolated(unsafe) static var handedOverCommand: [String]?

    var commandArguments: [String] { Self.handedOverCommand ?? command }

    func validate() throws {
        guard CallGraphMode(rawValue: callGraph) != nil else {
            throw ValidationError("--call-graph must be one of: \(CallGraphMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard stackSize >= 8 && stackSize <= 65528 && stackSize % 8 == 0 else {
            throw ValidationError("--stack-size must be a multiple of 8 from 8 to 65528")
        }
        if let pid {
            guard pid > 0 else { throw ValidationError("--pid must be a process id above 0, not \(pid)") }
            guard commandArguments.isEmpty else { throw ValidationError("give either --pid or a command, not both") }
            guard !noTHP else { throw ValidationError("--no-thp applies to a command faultline launches, not to --pid") }
        } else {
            guard !commandArguments.isEmpty else {
                throw ValidationError("give the command to record (e.g. faultline record ls -l, or after --), or --pid PID")
            }
            guard duration == nil else { throw ValidationError("--duration goes with --pid") }
        }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be a positive number of seconds") }
        if let mmapPages, !(mmapPages >= 1 && mmapPages <= 1 << 20 && mmapPages & (mmapPages - 1) == 0) {
            throw ValidationError("--mmap-pages must be a power of two from 1 to 1048576")
        }
    }

    func run() throws {
        var options = RecordOptions(command: commandArguments, output: output,
                                    callGraph: CallGraphMode(rawValue: callGraph) ?? .fp, ringPages: mmapPages,
                                    stackCopySize: stackSize)
        options.pauseToAvoidLoss = !noPause
        options.outputMode = fileMode.value
        options.statusLine = !quiet
        options.disableTHP = noTHP
        // Said when seen: a debugger refused its tracer may wait for ever (gdb -p does).
        options.announceRefusedTrace = { refusal in
            printError(refusal.description + "; a program left waiting for it ends with Ctrl-C (twice if it "
                       + "ignores the first), and the log keeps what was recorded")
        }
        let result: RecordResult
        do {
            if let pid {
                if let process = Recorder.process(ofThread: pid), process != pid {
                    printError("\(pid) is a thread of process \(process): recording the whole process")
                }
                result = try Recorder.attach(pid: pid, duration: duration, options: options)
            } else {
                result = try Recorder.record(options)
            }
        } catch let e as LaunchError {
            printError(e.description)
            throw ExitCode(e.exitStatus)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        printError(RecordSummary.line(result, output: output))
        let status = pid == nil ? result.exitStatus : 0
        var failed = false
        if let problem = result.writeError {
            printError("error: \(problem); the log holds what was written before")
            failed = true
        }
        for loss in RecordSummary.losses(result) {
            printError((allowLoss ? "warning: " : "error: ") + loss + (allowLoss ? "" : " (--allow-loss accepts this)"))
            failed = failed || !allowLoss
        }
        // A recording that is not whole is a failure even when the command succeeded; a
        // command's own failure status still wins, so scripts see it.
        throw ExitCode(failed && status == 0 ? 1 : status)
    }
}

enum RecordSummary {
    static func line(_ r: RecordResult, output: String) -> String {
        let kinds = FaultKind.allCases.map { "\($0.name) \(r.counts.byKind[$0].grouped)" }.joined(separator: ", ")
        // After a failed write the log holds fewer faults than were recorded: size per kept one.
        let kept = r.writeError == nil ? r.counts.faults : r.faultsKept
        let perFault = kept > 0 ? String(format1(Double(r.logBytes) / Double(kept))) : "-"
        var text = "recorded \(r.counts.faults.grouped) faults (\(kinds)) in \(r.counts.processes.count.grouped) process"
        text += r.counts.processes.count == 1 ? "" : "es"
        text += "; lost \(r.counts.lost.grouped), throttled \(r.counts.throttled.grouped)"
        if r.writeError != nil {
            text += "; \(output) keeps only \(kept.grouped) of them (\(r.logBytes.grouped) bytes, \(perFault) bytes/fault)"
        } else {
            text += "; \(output) \(r.logBytes.grouped) bytes, \(perFault) bytes/fault"
        }
        if !r.unrecorded.isEmpty {
            text += "; \(r.unrecorded.count.grouped) process\(r.unrecorded.count == 1 ? "" : "es") NOT RECORDED"
        }
        if r.pauses > 0 { text += "; paused the program \(r.pauses.grouped) times to keep up" }
        if r.interrupted { text += " (interrupted)" }
        return text
    }

    /// What the recording misses, one line each: events the kernel dropped (and why it may
    /// have), and processes it hid. Empty when the recording is whole.
    static func losses(_ r: RecordResult) -> [String] {
        var lines = r.unrecorded.map { p, command in
            "pid \(p.pid) (\(command)) was not recorded from its exec on: \(p.reason)"
        }
        if let dropped = dropped(r) { lines.append(dropped) }
        return lines
    }

    private static func dropped(_ r: RecordResult) -> String? {
        guard r.counts.lost > 0 || r.counts.throttled > 0 else { return nil }
        var text = "the kernel dropped \(r.counts.lost.grouped) events"
        if r.counts.throttled > 0 { text += " and throttled sampling \(r.counts.throttled.grouped) times" }
        text += ": the counts are incomplete"
        if !r.realTimePriority && r.counts.lost > 0 {
            // Measured: a fair-share recorder among 1000 busy threads went 1.3 s without the CPU.
            text += "; the recorder could not run at real-time priority (needs root or CAP_SYS_NICE), so busy threads could starve it"
        }
        return text
    }

    static func format1(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// One line on stderr, prefixed like every faultline message.
func printError(_ message: String) {
    var line = "faultline: " + message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
