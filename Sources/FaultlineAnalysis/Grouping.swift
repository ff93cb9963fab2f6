// Top-N groupings of faults: by kind, process, leaf function, whole stack, mapping or page,
// ranked by faults or by the time they took. Faults are first tallied under a cheap key
// (stack id, mapping index, page number), and only the distinct keys are named and merged
// by name: naming is the expensive part, and a recording holds millions of faults but only
// thousands of distinct stacks.

import FaultlineCore
import FaultlineLog

public enum Grouping: String, CaseIterable, Sendable {
    case kind, process, function, stack, mapping, page
    /// The stack that made the mapping a fault hit (its mmap or brk): where the memory
    /// came from, as opposed to where it was touched.
    case origin

    /// What a section of the text report is titled.
    public var title: String {
        switch self {
        case .kind: return "kinds"
        case .process: return "processes"
        case .function: return "functions"
        case .stack: return "stacks"
        case .mapping: return "mappings"
        case .page: return "pages"
        case .origin: return "origins (stacks that mapped the memory)"
        }
    }
}

/// One line of a grouping: a name, its faults and their time by kind.
public struct GroupRow: Sendable, Equatable {
    public var name: String
    public var tally: FaultTally
    /// For functions: the faults whose stack holds the function anywhere, itself or its
    /// callees (perf report's "children"); nil for other groupings.
    public var inclusive: FaultTally?
    /// For rows of code: a stack's named frames, leaf first; for a function, its frame
    /// where most of the row's faults were (file:line of the faulting line). Empty otherwise.
    public var frames: [FrameName]

    public init(name: String, tally: FaultTally, inclusive: FaultTally? = nil, frames: [FrameName] = []) {
        self.name = name; self.tally = tally; self.inclusive = inclusive; self.frames = frames
    }

    public var counts: KindCounts { tally.counts }
    public var count: UInt64 { tally.faults }
    public var timeNs: UInt64 { tally.timeNs }

    /// What text and HTML show: a function with its place (`fill sample.c:42`), else the name.
    public func label(_ by: Grouping) -> String {
        by == .function ? frames.first?.label ?? name : name
    }
}

/// A grouping's top rows, with the total they are a share of.
public struct GroupSection: Sendable, Equatable {
    public var by: Grouping
    public var selection: FaultSelection
    /// What the rows are ranked by and their percentages are of.
    public var weight: Weight
    /// Ranked by the inclusive tally (functions with their callees), not the rows' own.
    public var children: Bool
    /// Every fault that passed the selection: the 100% the rows' percentages refer to.
    public var totals: FaultTally
    /// How many distinct names there were before cutting to the top N.
    public var distinct: Int
    public var rows: [GroupRow]

    public var filter: FaultKindFilter? { selection.kind }
    /// Faults that passed the selection.
    public var total: UInt64 { totals.faults }

    /// The weight a row is ranked by.
    public func rank(_ row: GroupRow) -> UInt64 {
        ((children ? row.inclusive : nil) ?? row.tally).weight(weight)
    }
}

/// How to cut a grouping: which faults, ranked how, how many rows.
public struct GroupingOptions: Sendable {
    public var selection: FaultSelection
    public var weight: Weight
    public var children: Bool
    public var top: Int
    public init(selection: FaultSelection = .everything, weight: Weight = .faults, children: Bool = false, top: Int = 10) {
        self.selection = selection; self.weight = weight; self.children = children; self.top = top
    }
}

/// Shown for a fault whose address no recorded mapping covered (typically a segv).
public let unmappedName = "[unmapped]"

enum GroupAggregator {
    static func section(_ by: Grouping, options: GroupingOptions, log: LoadedLog,
                        namer: FrameNamer, mappings: MappingIndex) -> GroupSection {
        let top = max(options.top, 0)
        let o = Cut(by: by, options: options, top: top)
        switch by {
        case .kind:
            return ranked(o, log, key: { $1.kind.rawValue }, name: { FaultKind(rawValue: $0)?.name ?? "?" })
        case .process:
            return ranked(o, log, key: { $1.pid },
                          name: { pid in "\(pid) \(TextFormat.oneLine(log.processes[pid]?.command ?? "?"))" })
        case .page:
            let pageSize = max(log.header.pageSize, 1)
            return ranked(o, log, key: { $1.address / pageSize * pageSize }, name: { FrameNamer.hex($0) })
        case .function:
            return functions(o, log, namer: namer)
        case .stack:
            return merged(o, log, key: { $1.stack }, name: { namer.stackDescription($0) }, frames: { namer.stackNames($0) })
        case .mapping:
            return merged(o, log, key: { i, _ in mappings.mapping(ofFault: i) ?? -1 },
                          name: { i in i < 0 ? unmappedName : MappingName.display(log.modulePath(mappings.mmaps[i].module)) })
        case .origin:
            return merged(o, log, key: { i, _ in mappings.mapping(ofFault: i) ?? -1 }, name: { i in
                guard i >= 0 else { return unmappedName }
                let m = mappings.mmaps[i]
                let short = FrameNamer.shortModuleName(MappingName.display(log.modulePath(m.module)))
                // The program's image and mappings found at start have no recorded maker.
                guard m.stack != .empty else { return "[\(short): no recorded origin]" }
                return namer.stackDescription(m.stack) + "  (\(short))"
            }, frames: { i in i >= 0 ? namer.stackNames(mappings.mmaps[i].stack) : [] })
        }
    }

    struct Cut {
        var by: Grouping
        var options: GroupingOptions
        var top: Int
        var weight: Weight { options.weight }
    }

    private static func tally<Key: Hashable>(_ log: LoadedLog, _ selection: FaultSelection,
                                             key: (Int, FaultEvent) -> Key) -> (byKey: [Key: FaultTally], total: FaultTally) {
        var byKey: [Key: FaultTally] = [:]
        var total = FaultTally()
        for (i, f) in log.faults.enumerated() where selection.matches(f) {
            byKey[key(i, f), default: FaultTally()].add(f)
            total.add(f)
        }
        return (byKey, total)
    }

    /// For keys that are their own names (kind, pid, page): rank by weight, ties in key
    /// order (pages by address), and name only the rows shown. A recording can touch
    /// millions of distinct pages.
    private static func ranked<Key: Hashable & Comparable>(_ o: Cut, _ log: LoadedLog, key: (Int, FaultEvent) -> Key,
                                                           name: (Key) -> String) -> GroupSection {
        let (byKey, total) = tally(log, o.options.selection, key: key)
        var candidates = Array(byKey)
        let w = o.weight
        if candidates.count > o.top && o.top > 0 {
            // Everything below the N-th largest weight cannot be shown: drop it before sorting.
            let threshold = byKey.values.map { $0.weight(w) }.sorted(by: >)[o.top - 1]
            candidates.removeAll { $0.value.weight(w) < threshold }
        }
        candidates.sort { a, b in
            let (x, y) = (a.value.weight(w), b.value.weight(w))
            return x != y ? x > y : a.key < b.key
        }
        let rows = candidates.prefix(o.top).map { GroupRow(name: name($0.key), tally: $0.value) }
        return GroupSection(by: o.by, selection: o.options.selection, weight: w, children: false, totals: total,
                            distinct: byKey.count, rows: rows)
    }

    /// For keys whose names can coincide (two stacks with the same leaf function, two
    /// mappings of one file): merge by name first, then rank, ties by name. A merged row's
    /// frames are those of the keys that brought it the most faults.
    private static func merged<Key: Hashable>(_ o: Cut, _ log: LoadedLog, key: (Int, FaultEvent) -> Key,
                                              name: (Key) -> String,
                                              frames: ((Key) -> [FrameName])? = nil) -> GroupSection {
        let (byKey, total) = tally(log, o.options.selection, key: key)
        var byName: [String: FaultTally] = [:]
        var framesByName: [String: [[FrameName]: UInt64]] = [:]
        for (k, t) in byKey {
            let n = name(k)
            byName[n, default: FaultTally()].add(t)
            if let frames { framesByName[n, default: [:]][frames(k), default: 0] += t.faults }
        }
        let rows = byName.map { GroupRow(name: $0.key, tally: $0.value) }
        return finish(o, rows: rows, total: total, children: false, framesByName: framesByName)
    }

    /// Leaf functions, each with its inclusive tally: every stack adds itself once to each
    /// distinct function on it (a recursive function is not counted twice).
    private static func functions(_ o: Cut, _ log: LoadedLog, namer: FrameNamer) -> GroupSection {
        let (byStack, total) = tally(log, o.options.selection, key: { $1.stack })
        var own: [String: FaultTally] = [:]
        var inclusive: [String: FaultTally] = [:]
        var framesByName: [String: [[FrameName]: UInt64]] = [:]
        for (stack, t) in byStack {
            let leaf = namer.leafFunction(of: stack)
            own[leaf, default: FaultTally()].add(t)
            framesByName[leaf, default: [:]][namer.leafName(of: stack).map { [$0] } ?? [], default: 0] += t.faults
            var seen = Set<String>()
            for name in namer.rootFirstNames(stack) where seen.insert(name.function).inserted {
                inclusive[name.function, default: FaultTally()].add(t)
            }
        }
        // Ranked by their own faults, every function that is a leaf somewhere is a row; with
        // children, every function on any stack is.
        let names = o.options.children ? Array(inclusive.keys) : Array(own.keys)
        let rows = names.map { GroupRow(name: $0, tally: own[$0] ?? FaultTally(), inclusive: inclusive[$0]) }
        return finish(o, rows: rows, total: total, children: o.options.children, framesByName: framesByName)
    }

    /// Every frame's label, whole source path and module: what tells two frames of one
    /// function name apart (the label holds only the file's last component).
    private static func tieKey(_ frames: [FrameName]) -> String {
        frames.map { [$0.label, $0.file ?? "", $0.module ?? ""].joined(separator: "\u{1}") }.joined(separator: "\u{2}")
    }

    private static func finish(_ o: Cut, rows: [GroupRow], total: FaultTally, children: Bool,
                               framesByName: [String: [[FrameName]: UInt64]] = [:]) -> GroupSection {
        var section = GroupSection(by: o.by, selection: o.options.selection, weight: o.weight, children: children,
                                   totals: total, distinct: rows.count, rows: [])
        section.rows = Array(rows.sorted { a, b in
            let (x, y) = (section.rank(a), section.rank(b))
            return x != y ? x > y : a.name < b.name
        }.prefix(o.top))
        for i in section.rows.indices {
            // Most faults first; ties by the whole text, module and source path included
            // (two modules' `_start` have the same label), so hashing does not choose.
            section.rows[i].frames = framesByName[section.rows[i].name]?.max {
                $0.value != $1.value ? $0.value < $1.value : tieKey($0.key) > tieKey($1.key)
            }?.key ?? []
        }
        return section
    }
}
