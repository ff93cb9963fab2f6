// Top-N groupings of faults: by kind, process, leaf function, whole stack, mapping or page.
// Faults are first counted under a cheap key (stack id, mapping index, page number), and
// only the distinct keys are named and merged by name: naming is the expensive part, and
// a recording holds millions of faults but only thousands of distinct stacks.

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

/// One line of a grouping: a name and its faults by kind.
public struct GroupRow: Sendable, Equatable {
    public var name: String
    public var counts: KindCounts
    /// For rows of code: a stack's named frames, leaf first; for a function, its frame
    /// where most of the row's faults were (file:line of the faulting line). Empty otherwise.
    public var frames: [FrameName]
    public var count: UInt64 { counts.faults }
    public init(name: String, counts: KindCounts, frames: [FrameName] = []) {
        self.name = name; self.counts = counts; self.frames = frames
    }

    /// What text and HTML show: a function with its place (`fill sample.c:42`), else the name.
    public func label(_ by: Grouping) -> String {
        by == .function ? frames.first?.label ?? name : name
    }
}

/// A grouping's top rows, with the total they are a share of.
public struct GroupSection: Sendable, Equatable {
    public var by: Grouping
    public var filter: FaultKindFilter?
    /// Faults that passed the filter: the 100% the rows' percentages refer to.
    public var total: UInt64
    /// How many distinct names there were before cutting to the top N.
    public var distinct: Int
    public var rows: [GroupRow]
}

/// Shown for a fault whose address no recorded mapping covered (typically a segv).
public let unmappedName = "[unmapped]"

enum GroupAggregator {
    static func section(_ by: Grouping, filter: FaultKindFilter?, top: Int, log: LoadedLog,
                        namer: FrameNamer, mappings: MappingIndex) -> GroupSection {
        let top = max(top, 0)
        switch by {
        case .kind:
            return ranked(by, log, filter, top, key: { $1.kind.rawValue },
                          name: { FaultKind(rawValue: $0)?.name ?? "?" })
        case .process:
            return ranked(by, log, filter, top, key: { $1.pid },
                          name: { pid in "\(pid) \(TextFormat.oneLine(log.processes[pid]?.command ?? "?"))" })
        case .page:
            let pageSize = max(log.header.pageSize, 1)
            return ranked(by, log, filter, top, key: { $1.address / pageSize * pageSize },
                          name: { FrameNamer.hex($0) })
        case .function:
            return merged(by, log, filter, top, key: { $1.stack }, name: { namer.leafFunction(of: $0) },
                          frames: { namer.leafName(of: $0).map { [$0] } ?? [] })
        case .stack:
            return merged(by, log, filter, top, key: { $1.stack }, name: { namer.stackDescription($0) },
                          frames: { namer.stackNames($0) })
        case .mapping:
            return merged(by, log, filter, top, key: { i, _ in mappings.mapping(ofFault: i) ?? -1 },
                          name: { i in i < 0 ? unmappedName : log.modulePath(mappings.mmaps[i].module) })
        case .origin:
            return merged(by, log, filter, top, key: { i, _ in mappings.mapping(ofFault: i) ?? -1 }, name: { i in
                guard i >= 0 else { return unmappedName }
                let m = mappings.mmaps[i]
                let path = log.modulePath(m.module)
                // The program's image and mappings found at start have no recorded maker.
                guard m.stack != .empty else { return "[\(FrameNamer.shortModuleName(path)): no recorded origin]" }
                return namer.stackDescription(m.stack) + "  (\(FrameNamer.shortModuleName(path)))"
            }, frames: { i in i >= 0 ? namer.stackNames(mappings.mmaps[i].stack) : [] })
        }
    }

    private static func count<Key: Hashable>(_ log: LoadedLog, _ filter: FaultKindFilter?,
                                             key: (Int, FaultEvent) -> Key) -> (counts: [Key: KindCounts], total: UInt64) {
        var byKey: [Key: KindCounts] = [:]
        var total: UInt64 = 0
        for (i, f) in log.faults.enumerated() where filter?.matches(f.kind) ?? true {
            byKey[key(i, f), default: KindCounts()].add(f.kind)
            total += 1
        }
        return (byKey, total)
    }

    /// For keys that are their own names (kind, pid, page): rank by count, ties in key
    /// order (pages by address), and name only the rows shown. A recording can touch
    /// millions of distinct pages.
    private static func ranked<Key: Hashable & Comparable>(_ by: Grouping, _ log: LoadedLog, _ filter: FaultKindFilter?,
                                                           _ top: Int, key: (Int, FaultEvent) -> Key,
                                                           name: (Key) -> String) -> GroupSection {
        let (byKey, total) = count(log, filter, key: key)
        var candidates = Array(byKey)
        if candidates.count > top && top > 0 {
            // Everything below the N-th largest count cannot be shown: drop it before sorting.
            let threshold = byKey.values.map(\.faults).sorted(by: >)[top - 1]
            candidates.removeAll { $0.value.faults < threshold }
        }
        candidates.sort { $0.value.faults != $1.value.faults ? $0.value.faults > $1.value.faults : $0.key < $1.key }
        let rows = candidates.prefix(top).map { GroupRow(name: name($0.key), counts: $0.value) }
        return GroupSection(by: by, filter: filter, total: total, distinct: byKey.count, rows: rows)
    }

    /// For keys whose names can coincide (two stacks with the same leaf function, two
    /// mappings of one file): merge by name first, then rank, ties by name. A merged row's
    /// frames are those of the keys that brought it the most faults.
    private static func merged<Key: Hashable>(_ by: Grouping, _ log: LoadedLog, _ filter: FaultKindFilter?,
                                              _ top: Int, key: (Int, FaultEvent) -> Key,
                                              name: (Key) -> String,
                                              frames: ((Key) -> [FrameName])? = nil) -> GroupSection {
        let (byKey, total) = count(log, filter, key: key)
        var byName: [String: KindCounts] = [:]
        var framesByName: [String: [[FrameName]: UInt64]] = [:]
        for (k, counts) in byKey {
            let n = name(k)
            byName[n, default: KindCounts()].add(counts)
            if let frames { framesByName[n, default: [:]][frames(k), default: 0] += counts.faults }
        }
        let rows = byName.map { GroupRow(name: $0.key, counts: $0.value) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }
        var shown = Array(rows.prefix(top))
        for i in shown.indices {
            // Most faults first; ties by the text, so the choice does not depend on hashing.
            shown[i].frames = framesByName[shown[i].name]?.max {
                $0.value != $1.value ? $0.value < $1.value : $0.key.map(\.label).joined() > $1.key.map(\.label).joined()
            }?.key ?? []
        }
        return GroupSection(by: by, filter: filter, total: total, distinct: rows.count, rows: shown)
    }
}
