// `faultline diff --flamegraph`: the second log's flame graph coloured by how each frame
// changed against the same path of names in the first (red grew, blue shrank).

import FaultlineLog

extension FlameGraphSVG {
    /// A differential flame graph: B's tree, each frame red where it grew against the same
    /// path in A and blue where it shrank (as Brendan Gregg's difffolded draws them). A
    /// path only A has takes no width here; the text and JSON forms of `diff` list it.
    public static func renderDifference(a logA: LoadedLog, b logB: LoadedLog, namerA: FrameNamer, namerB: FrameNamer,
                                        selectionA: FaultSelection, selectionB: FaultSelection, weight: Weight,
                                        perProcess: Bool = false, id: String = "faultline-diff") -> String {
        let treeA = FlameTree(counts: StackCounts(log: logA, selection: selectionA), namer: namerA, log: logA, perProcess: perProcess)
        let treeB = FlameTree(counts: StackCounts(log: logB, selection: selectionB), namer: namerB, log: logB, perProcess: perProcess)
        var options = FlameGraphOptions(title: "Change in \(weight == .time ? "time in page faults" : "page faults"): "
            + Pictures.shortCommand(logB.commandLine, room: 50) + " against " + Pictures.shortCommand(logA.commandLine, room: 30))
        options.weight = weight
        options.id = id
        options.baseline = matchedWeights(treeB, against: treeA, weight: weight)
        let (x, y) = (treeA.totals.weight(weight), treeB.totals.weight(weight))
        options.subtitle = "\(amount(x, weight)) → \(amount(y, weight)) (\(signedAmount(change(y, x), weight)))"
        return render(treeB, options: options)
    }

    /// For each node of `tree`, the weight of the node at the same path of names in `base`.
    static func matchedWeights(_ tree: FlameTree, against base: FlameTree, weight: Weight) -> [Int: UInt64] {
        var result: [Int: UInt64] = [0: base.nodes[0].tally.weight(weight)]
        var pairs = [(0, 0)]
        while let (i, j) = pairs.popLast() {
            var baseChildren: [String: Int] = [:]
            for c in base.nodes[j].children { baseChildren[base.nodes[c].name] = c }
            for c in tree.nodes[i].children {
                guard let match = baseChildren[tree.nodes[c].name] else { continue }
                result[c] = base.nodes[match].tally.weight(weight)
                pairs.append((c, match))
            }
        }
        return result
    }
}
