// `faultline diff A.flt B.flt`: what changed between two recordings, per kind, function,
// stack and mapping, in faults and in time, largest changes first; and whether B has more
// faults or more time in faults than A by more than a given share (for CI). Rows are
// matched by name: pids, addresses and stack ids differ from run to run, names do not.

import Foundation
import FaultlineCore
import FaultlineLog

/// One name in both recordings.
public struct DiffRow: Sendable, Equatable {
    public var name: String
    public var a: FaultTally
    public var b: FaultTally

    public var faultChange: Int64 { Self.change(a.faults, b.faults) }
    public var timeChange: Int64 { Self.change(a.timeNs, b.timeNs) }

    public func change(_ w: Weight) -> Int64 { w == .faults ? faultChange : timeChange }

    /// b - a, saturated to Int64.
    static func change(_ a: UInt64, _ b: UInt64) -> Int64 {
        b >= a ? Int64(clamping: b - a) : -Int64(clamping: a - b)
    }
}

public struct DiffSection: Sendable, Equatable {
    public var by: Grouping
    /// The largest changes (by the diff's weight) first, ties by name.
    public var rows: [DiffRow]
    /// Names in either recording before cutting to the top N.
    public var distinct: Int
}

/// One side of the comparison.
public struct DiffSide: Sendable, Equatable {
    public var path: String
    public var command: String
    public var totals: FaultTally
    public var durationNs: UInt64
}

public struct LogDiff: Sendable {
    public var a: DiffSide
    public var b: DiffSide
    public var weight: Weight
    public var selection: FaultSelection
    /// Every kind, in FaultKind order.
    public var kinds: [DiffRow]
    public var sections: [DiffSection]

    public static let groupings: [Grouping] = [.function, .stack, .mapping]

    public init(a logA: LoadedLog, b logB: LoadedLog, namerA: FrameNamer, namerB: FrameNamer,
                selectionA: FaultSelection = .everything, selectionB: FaultSelection = .everything,
                weight: Weight = .faults, top: Int = 10) {
        self.weight = weight
        selection = FaultSelection(kind: selectionA.kind)
        func side(_ log: LoadedLog, _ selection: FaultSelection) -> DiffSide {
            var totals = FaultTally()
            for f in log.faults where selection.matches(f) { totals.add(f) }
            return DiffSide(path: log.path, command: log.commandLine, totals: totals, durationNs: log.durationNs)
        }
        let (sideA, sideB) = (side(logA, selectionA), side(logB, selectionB))
        a = sideA
        b = sideB
        kinds = FaultKind.allCases.map { kind in
            DiffRow(name: kind.name, a: Self.only(kind, sideA.totals), b: Self.only(kind, sideB.totals))
        }
        let mappingsA = MappingIndex(log: logA), mappingsB = MappingIndex(log: logB)
        let all = Int.max
        sections = Self.groupings.map { by in
            let rowsA = GroupAggregator.section(by, options: GroupingOptions(selection: selectionA, top: all), log: logA,
                                                namer: namerA, mappings: mappingsA).rows
            let rowsB = GroupAggregator.section(by, options: GroupingOptions(selection: selectionB, top: all), log: logB,
                                                namer: namerB, mappings: mappingsB).rows
            var joined: [String: DiffRow] = [:]
            for row in rowsA { joined[row.name] = DiffRow(name: row.name, a: row.tally, b: FaultTally()) }
            for row in rowsB { joined[row.name, default: DiffRow(name: row.name, a: FaultTally(), b: FaultTally())].b = row.tally }
            let ranked = joined.values.filter { $0.change(weight) != 0 }.sorted { x, y in
                let (p, q) = (x.change(weight).magnitude, y.change(weight).magnitude)
                return p != q ? p > q : x.name < y.name
            }
            return DiffSection(by: by, rows: Array(ranked.prefix(max(top, 0))), distinct: ranked.count)
        }
    }

    private static func only(_ kind: FaultKind, _ t: FaultTally) -> FaultTally {
        var one = FaultTally()
        one.counts.add(kind, t.counts[kind])
        one.time.add(kind, t.time[kind])
        return one
    }

    /// B's growth over A in percent: nil when A is 0 (any growth from nothing is unbounded).
    static func growth(_ a: UInt64, _ b: UInt64) -> Double? {
        a == 0 ? nil : (Double(b) - Double(a)) / Double(a) * 100
    }

    /// What B has more of than A allows, one sentence each; empty when within `percent`.
    /// `on` says which measures count: faults, time or both.
    public func excess(percent: Double, on measures: [Weight]) -> [String] {
        var reasons: [String] = []
        for w in measures {
            let (x, y) = (a.totals.weight(w), b.totals.weight(w))
            guard y > x else { continue }
            let what = w == .faults ? "faults" : "time in faults"
            let amount = { (v: UInt64) in w == .faults ? TextFormat.count(v) : TextFormat.shortDuration(ns: v) }
            if let g = Self.growth(x, y) {
                if g > percent {
                    reasons.append("\(what) grew by \(Self.percentText(g)) (\(amount(x)) → \(amount(y))), more than the \(Self.percentText(percent)) allowed")
                }
            } else {
                reasons.append("\(what) grew from none to \(amount(y)), more than any share of nothing")
            }
        }
        return reasons
    }

    static func percentText(_ p: Double) -> String {
        p.isFinite ? String(format: "%.1f%%", p) : "∞%"
    }
}

extension LogDiff {
    public func renderText() -> String {
        var out = "faultline diff: \(TextFormat.oneLine(a.path)) → \(TextFormat.oneLine(b.path))\n"
        out += "  A: \(TextFormat.oneLine(a.command))\n  B: \(TextFormat.oneLine(b.command))\n"
        func change(_ x: UInt64, _ y: UInt64, _ w: Weight) -> String {
            "(" + Self.signed(DiffRow.change(x, y), w) + (Self.shareText(x, y).map { ", " + $0 } ?? "") + ")"
        }
        out += "  faults: \(TextFormat.count(a.totals.faults)) → \(TextFormat.count(b.totals.faults)) "
            + change(a.totals.faults, b.totals.faults, .faults) + "\n"
        out += "  time in faults: \(TextFormat.shortDuration(ns: a.totals.timeNs)) → \(TextFormat.shortDuration(ns: b.totals.timeNs)) "
            + change(a.totals.timeNs, b.totals.timeNs, .time) + "\n"
        out += "\nkinds" + selection.titleSuffix + "\n" + table(kinds, by: .kind, keepUnchanged: true)
        for section in sections {
            var title = "\n\(section.by.title), largest change in \(weight == .faults ? "faults" : "time") first"
            if section.rows.count < section.distinct {
                title += " (top \(section.rows.count) of \(TextFormat.count(section.distinct)) that changed)"
            }
            out += title + "\n" + (section.rows.isEmpty ? "  (no change)\n" : table(section.rows, by: section.by, keepUnchanged: false))
        }
        return out
    }

    private func table(_ rows: [DiffRow], by: Grouping, keepUnchanged: Bool) -> String {
        var table = TextTable([.right, .right, .right, .right, .right, .right, .left])
        table.add(["A faults", "B faults", "change", "A time", "B time", "change", by.rawValue])
        for row in rows where keepUnchanged || row.faultChange != 0 || row.timeChange != 0 {
            table.add([TextFormat.count(row.a.faults), TextFormat.count(row.b.faults),
                       Self.signed(row.faultChange, .faults) + (Self.shareText(row.a.faults, row.b.faults).map { " (\($0))" } ?? ""),
                       TextFormat.shortDuration(ns: row.a.timeNs), TextFormat.shortDuration(ns: row.b.timeNs),
                       Self.signed(row.timeChange, .time), FaultReport.readable(row.name, by)])
        }
        return table.render()
    }

    static func signed(_ value: Int64, _ w: Weight) -> String {
        let sign = value > 0 ? "+" : value < 0 ? "-" : "±"
        let magnitude = value.magnitude
        return sign + (w == .faults ? TextFormat.count(magnitude) : TextFormat.shortDuration(ns: magnitude))
    }

    /// "+47.3%" against A; "new" when A had none; nil when nothing changed.
    static func shareText(_ a: UInt64, _ b: UInt64) -> String? {
        guard a != b else { return nil }
        guard let g = growth(a, b) else { return "new" }
        return (g >= 0 ? "+" : "") + percentText(g)
    }

    public var jsonObject: [String: Any] {
        func side(_ s: DiffSide) -> [String: Any] {
            ["path": s.path, "command": s.command, "faults": s.totals.faults, "time_ns": s.totals.timeNs,
             "duration_ns": s.durationNs, "kinds": s.totals.counts.kindsObject]
        }
        func row(_ r: DiffRow) -> [String: Any] {
            ["name": r.name, "a_faults": r.a.faults, "b_faults": r.b.faults, "faults_change": r.faultChange,
             "a_time_ns": r.a.timeNs, "b_time_ns": r.b.timeNs, "time_change_ns": r.timeChange]
        }
        var object: [String: Any] = [
            "a": side(a), "b": side(b), "weight": weight.rawValue,
            "kind": selection.kind.map { $0.description as Any } ?? NSNull(),
            "faults_change": DiffRow.change(a.totals.faults, b.totals.faults),
            "time_change_ns": DiffRow.change(a.totals.timeNs, b.totals.timeNs),
            "kinds": kinds.map(row),
        ]
        for section in sections {
            object[section.by.title] = section.rows.map(row)
        }
        return object
    }

    public func renderJSON() throws -> String {
        let data = try JSONSerialization.data(withJSONObject: jsonObject,
                                              options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
