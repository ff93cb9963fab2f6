// `faultline info FILE`: what a log holds (header, processes, counts) and whether it is whole.

import ArgumentParser
import FaultlineAnalysis

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a log: header, processes, counts and integrity.",
        discussion: "--pid and --comm list only those processes, and count only their faults; the header and the integrity are the whole log's.")

    @Argument(help: "The log to read (.flt).")
    var file: String

    @OptionGroup var processOption: ProcessOption

    func run() throws {
        do {
            let log = try Diagnostics.loadLog(path: file)
            let output = BufferedOutput.standardOutput()
            try output.write(LogInfo.render(log, selection: processOption.selection(in: log, kind: nil)))
            try output.close()
        } catch {
            guard let message = Diagnostics.failureMessage(error) else { throw error }
            Diagnostics.error(message)
            throw ExitCode(1)
        }
    }
}
