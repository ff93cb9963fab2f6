// `export --format folded`: Brendan Gregg's collapsed stacks, `root;caller;leaf COUNT`, one
// line per distinct stack, as FlameGraph's stackcollapse-* scripts write them, so
// flamegraph.pl, inferno, speedscope and Pyroscope read it. Frames only, no process prefix
// (what those tools expect); stacks from different processes with the same names merge.
// An inlined function's frame ends in `_[i]`, as stackcollapse-perf.pl --inline writes it
// (flamegraph.pl colours those apart); `lines` puts `file.c:42` after each function, as
// perf's srcline does.

import FaultlineCore
import FaultlineLog

public enum FoldedExporter {
    /// The lines, sorted (as stackcollapse sorts them), each ending in a newline. Counts
    /// add up to `counts.total.faults`.
    public static func lines(_ counts: StackCounts, namer: FrameNamer, sourceLines: Bool = false) -> [String] {
        var byPath: [String: UInt64] = [:]
        var pathOfStack: [StackID: String] = [:]
        for entry in counts.entries {
            let path: String
            if let cached = pathOfStack[entry.stack] {
                path = cached
            } else {
                path = namer.rootFirstNames(entry.stack).map { frameText(folded($0, sourceLines: sourceLines)) }.joined(separator: ";")
                pathOfStack[entry.stack] = path
            }
            byPath[path, default: 0] += entry.counts.faults
        }
        return byPath.keys.sorted().map { "\($0) \(byPath[$0]!)\n" }
    }

    /// `function`, `function file.c:42` with lines, then `_[i]` for an inlined function.
    static func folded(_ name: FrameName, sourceLines: Bool) -> String {
        var text = name.function
        if sourceLines, let location = name.location { text += " " + location }
        if name.inlined { text += "_[i]" }
        return text
    }

    /// `;` separates frames and a newline ends the record, so neither may appear in a name.
    /// Spaces may: readers split the count off at the last space.
    static func frameText(_ function: String) -> String {
        guard function.contains(where: { $0 == ";" || $0 == "\n" || $0 == "\r" }) else { return function }
        return String(function.map { $0 == ";" ? ":" : ($0 == "\n" || $0 == "\r") ? " " : $0 })
    }
}
