// `--mode OCTAL`, shared by every command that writes a file (record, export, flamegraph,
// heatmap, report --html): the permissions of what it writes. 0600 by default, because logs
// and exports hold command lines, paths from the environment, and addresses; sharing them
// is a choice made out loud (`--mode 0644`).

import ArgumentParser
import FaultlineLog
#if canImport(Glibc)
import Glibc
#endif

struct FileModeOption: ParsableArguments {
    @Option(name: .customLong("mode"),
            help: ArgumentHelp("Permissions of the file written, in octal: 0600 by default (logs and exports hold "
                               + "command lines, paths and addresses); e.g. 0644 to let others read it.",
                               valueName: "octal"))
    var mode: String?

    func validate() throws { _ = try parsed() }

    /// The mode to create files with.
    var value: mode_t { (try? parsed()) ?? OutputFile.defaultMode }

    private func parsed() throws -> mode_t {
        guard let mode else { return OutputFile.defaultMode }
        guard !mode.isEmpty, mode.count <= 4, let bits = UInt32(mode, radix: 8), bits & ~0o666 == 0 else {
            throw ValidationError("--mode takes octal read/write permissions such as 0600 or 0644 (no execute or special bits), not '\(mode)'")
        }
        return mode_t(bits)
    }
}
