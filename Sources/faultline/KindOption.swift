// `--kind K`, shared by report, export, flamegraph, heatmap and diff: count only faults of one kind.

import ArgumentParser
import FaultlineAnalysis

struct KindOption: ParsableArguments {
    @Option(help: ArgumentHelp("Count only faults of this kind: \(FaultKindFilter.names.joined(separator: ", "))."))
    var kind: String?

    func validate() throws {
        if let kind, FaultKindFilter(name: kind) == nil {
            throw ValidationError("unknown --kind '\(kind)': use one of \(FaultKindFilter.names.joined(separator: ", "))")
        }
    }

    /// The filter, or nil for every kind.
    var filter: FaultKindFilter? { kind.flatMap(FaultKindFilter.init(name:)) }
}
