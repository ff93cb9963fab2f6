// The merged call tree behind a flame graph: root "all", then the process name (so a
// forked child's copy-on-write faults stand apart from its parent's), then each stack's
// frames outermost first, merged by function name as flamegraph.pl merges them. Pictures
// only: exports keep every frame as recorded.

import FaultlineCore
import FaultlineLog

public struct FlameTree: Sendable {
    public struct Node: Sendable {
        public var name: String
        /// The module of the first frame merged here; nil for the root, processes and
        /// frames without one.
        public var module: String?
        /// The first frame merged here was an inlined function (see FrameName.inlined).
        public var inlined = false
        /// Where in the source the frames merged here are (`file.c:42`), in order first
        /// seen, at most `maxLocations`: a function called from several lines has several.
        public var locations: [String] = []
        /// Faults at or below this node, by kind.
        public var counts: KindCounts
        public var children: [Int] = []
        public var depth: Int
    }

    /// Index 0 is the root.
    public private(set) var nodes: [Node]
    public var total: KindCounts { nodes[0].counts }

    /// How many distinct source locations a node keeps for its tooltip.
    public static let maxLocations = 4

    public init(counts: StackCounts, namer: FrameNamer, log: LoadedLog) {
        nodes = [Node(name: "all", module: nil, counts: counts.total, depth: 0)]
        var childByName: [[String: Int]] = [[:]]
        func child(_ parent: Int, _ name: String, _ module: String?, inlined: Bool = false) -> Int {
            if let existing = childByName[parent][name] { return existing }
            var node = Node(name: name, module: module, counts: KindCounts(), depth: nodes[parent].depth + 1)
            node.inlined = inlined
            nodes.append(node)
            childByName.append([:])
            let index = nodes.count - 1
            childByName[parent][name] = index
            nodes[parent].children.append(index)
            return index
        }
        var namesOfStack: [StackID: [FrameName]] = [:]
        for entry in counts.entries {
            let names: [FrameName]
            if let cached = namesOfStack[entry.stack] { names = cached } else {
                names = namer.rootFirstNames(entry.stack)
                namesOfStack[entry.stack] = names
            }
            var node = child(0, log.processName(entry.pid), nil)
            nodes[node].counts.add(entry.counts)
            for (i, name) in names.enumerated() {
                // Direct recursion is folded, as speedscope's "merge recursion" does: a
                // function calling itself (or an unwinder looping on one address) would
                // otherwise raise a tower of identical frames.
                if i > 0 && names[i - 1].function == name.function { continue }
                node = child(node, name.function, name.module, inlined: name.inlined)
                nodes[node].counts.add(entry.counts)
                if let location = name.location, nodes[node].locations.count < Self.maxLocations,
                   !nodes[node].locations.contains(location) {
                    nodes[node].locations.append(location)
                }
            }
        }
        // Children in name order, as flamegraph.pl draws them: the picture does not depend
        // on which stack happened to be seen first.
        let names = nodes.map(\.name)
        for i in nodes.indices {
            nodes[i].children.sort { names[$0] < names[$1] }
        }
    }

    public var maxDepth: Int { nodes.map(\.depth).max() ?? 0 }

    /// The kind with the most faults at or below a node (ties in FaultKind order).
    public static func dominantKind(_ counts: KindCounts) -> FaultKind {
        var best = FaultKind.anon
        for kind in FaultKind.allCases where counts[kind] > counts[best] { best = kind }
        return best
    }
}
