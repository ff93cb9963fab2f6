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
        abstract: "Run a command and record every page fault it takes.",
        discussion: "Exits with the command's status (128+N when it died of signal N), like a shell.")

    @Option(name: .shortAndLong, help: "Where to write the log.")
    var output: String = "faultline.flt"

    @Option(name: .customLong("call-graph"), help: "How to get user stacks: fp (frame pointers) or none.")
    var callGraph: String = "fp"

    @Argument(parsing: .captureForPassthrough, help: "The command to run, after --.")
    var command: [String] = []

    func validate() throws {
        if command.first == "--" { return }
        guard !command.isEmpty else { throw ValidationError("give the command to record after --, e.g. faultline record -- ls -l") }
        guard CallGraphMode(rawValue: callGraph) != nil else {
            throw ValidationError("--call-graph must be one of: \(CallGraphMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let argv = command.first == "--" ? Array(command.dropFirst()) : command
        guard !argv.isEmpty else { throw ValidationError("give the command to record after --") }
        let options = RecordOptions(command: argv, output: output, callGraph: CallGraphMode(rawValue: callGraph) ?? .fp)
        let result: RecordResult
        do {
            result = try Recorder.record(options)
        } catch let e as LaunchError {
            printError(e.description)
            throw ExitCode(127)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        printError(RecordSummary.line(result, output: output))
        if let problem = result.writeError { printError("error: \(problem); the log holds what was written before") }
        throw ExitCode(result.exitStatus)
    }
}

enum RecordSummary {
    static func line(_ r: RecordResult, output: String) -> String {
        let kinds = FaultKind.allCases.map { "\($0.name) \(r.counts.byKind[$0] ?? 0)" }.joined(separator: ", ")
        let perFault = r.counts.faults > 0 ? String(format1(Double(r.logBytes) / Double(r.counts.faults))) : "-"
        var text = "recorded \(r.counts.faults) faults (\(kinds)) in \(r.counts.processes.count) process"
        text += r.counts.processes.count == 1 ? "" : "es"
        text += "; lost \(r.counts.lost), throttled \(r.counts.throttled)"
        text += "; \(output) \(r.logBytes) bytes, \(perFault) bytes/fault"
        if r.counts.lost > 0 || r.counts.throttled > 0 {
            text += "\nfaultline: WARNING: the kernel dropped \(r.counts.lost) events and throttled \(r.counts.throttled) times: counts are incomplete"
        }
        if r.interrupted { text += " (interrupted)" }
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
