// The command line as the log keeps it. A command may have 100,000 arguments (2 MiB of
// them), but a log reader accepts at most 4096 header fields and 1 MiB strings, and refuses
// the whole header beyond that: keep the first arguments and bytes, and say how many more
// there were, so the log stays readable and honest.

enum LoggedCommand {
    static let maxArguments = 1000
    static let maxBytes = 64 * 1024

    /// `command` for the header: at most `maxArguments` arguments and about `maxBytes`
    /// bytes, the last one saying how many were left out.
    static func arguments(_ command: [String]) -> [String] {
        var kept: [String] = []
        var bytes = 0
        for argument in command {
            guard kept.count < maxArguments - 1, bytes + argument.utf8.count <= maxBytes else { break }
            kept.append(argument)
            bytes += argument.utf8.count
        }
        let omitted = command.count - kept.count
        if omitted > 0 { kept.append("… (\(omitted) more argument\(omitted == 1 ? "" : "s") not kept)") }
        return kept
    }

    /// A command line as one string, cut to about `maxBytes` on a character boundary.
    static func text(_ line: String) -> String {
        guard line.utf8.count > maxBytes else { return line }
        var cut = line.utf8.index(line.utf8.startIndex, offsetBy: maxBytes)
        while cut > line.startIndex && !line.indices.contains(cut) { cut = line.utf8.index(before: cut) }
        let kept = String(line[..<cut])
        return kept + "… (\(line.utf8.count - kept.utf8.count) more bytes not kept)"
    }
}
