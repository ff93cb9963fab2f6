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
    /// Short options may be clustered as perf's allow (`-qo x.flt`, `-ox.flt`): each cluster
    /// is handed on as separate options, its value (the rest of the cluster, or the next
    /// word) kept with the option that takes it.
    static func split(_ arguments: [String]) -> (options: [String], command: [String]) {
        var options: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--" { return (options, Array(arguments[(i + 1)...])) }
            guard argument.hasPrefix("-"), argument != "-" else { break }
            if !argument.hasPrefix("--") && argument.count > 2 && !argument.contains("=") {
                i += unclustered(argument, next: i + 1 < arguments.count ? arguments[i + 1] : nil, into: &options)
                continue
            }
            options.append(argument)
            if optionsTakingValues.contains(argument), i + 1 < arguments.count { options.append(arguments[i + 1]) }
            i += optionsTakingValues.contains(argument) ? 2 : 1
        }
        return (options, Array(arguments[min(i, arguments.count)...]))
    }

    /// `-qo` and `-ofile` as `-q -o` and `-o file`; returns how many words it used.
    private static func unclustered(_ cluster: String, next: String?, into options: inout [String]) -> Int {
        let letters = Array(cluster.dropFirst())
        for (k, letter) in letters.enumerated() {
            let option = "-\(letter)"
            options.append(option)
            guard optionsTakingValues.contains(option) else { continue }
            if k + 1 < letters.count {
                options.append(String(letters[(k + 1)...]))
                return 1
            }
            if let next { options.append(next) }
            return 2
        }
        return 1
    }
}
