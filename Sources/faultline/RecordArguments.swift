// `faultline record`'s arguments split as perf splits them: record's own options come first,
// and the command starts at `--` or at the first word that is not an option (so
// `faultline record -o x.flt ls -l` records `ls -l`, and `-l` is ls's). The command is handed
// to Record without going through swift-argument-parser, whose parsing is quadratic in the
// number of arguments (10,000 took 4.6 s, 20,000 took 21.7 s), and which would take a
// command's own `--help` for record's.
//
// Hazard: the split must know which options take a value, or it would take the value for
// the command. `optionsTakingValues` lists them; a test compares it with `record --help`.

enum RecordArguments {
    /// Every name of every record option that takes a value.
    static let optionsTakingValues: Set<String> = [
        "-o", "--output", "--call-graph", "--stack-size", "--pid", "--duration", "--mmap-pages", "--mode",
    ]

    /// Splits record's arguments (after the word `record`) into its options and the command.
    static func split(_ arguments: [String]) -> (options: [String], command: [String]) {
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--" { return (Array(arguments[..<i]), Array(arguments[(i + 1)...])) }
            guard argument.hasPrefix("-"), argument != "-" else { break }
            i += optionsTakingValues.contains(argument) ? 2 : 1
        }
        return (Array(arguments[..<min(i, arguments.count)]), Array(arguments[min(i, arguments.count)...]))
    }
}
