// The text report: what happened, at a glance. Totals first, then anything that makes the
// numbers doubtful (lost events, damage) where it cannot be missed, then the top rows.

import FaultlineCore

extension FaultReport {
    /// Kinds in the order the totals table lists them: the minor ones, then the rest.
    private static let minorKinds: [FaultKind] = FaultKind.allCases.filter(\.isMinor)

    public func renderText() -> String {
        var out = ""
        let faults = totals.faults
        let processWord = processes.count == 1 ? "process" : "processes"
        out += "faultline report: \(TextFormat.oneLine(command))\n"
        out += "  \(TextFormat.duration(ns: durationNs)), \(processes.count) \(processWord), "
            + "\(TextFormat.count(faults)) faults\n"
        if let damage {
            out += "  INCOMPLETE: \(damage)\n"
        }
        out += "\n"

        var table = TextTable([.left, .right, .right])
        table.add(["kind", "faults", "%"])
        for kind in Self.minorKinds {
            table.add([kind.name, TextFormat.count(totals[kind]), TextFormat.percent(totals[kind], of: faults)])
        }
        table.add(["minor", TextFormat.count(totals.minor), TextFormat.percent(totals.minor, of: faults)])
        for kind in [FaultKind.major, .segv] {
            table.add([kind.name, TextFormat.count(totals[kind]), TextFormat.percent(totals[kind], of: faults)])
        }
        table.add(["total", TextFormat.count(faults), TextFormat.percent(faults, of: faults)])
        out += table.render()
        out += "\n" + lossLine() + "\n"
        for notice in unrecorded { out += notice.warning + "\n" }
        if let shallow = stackReach?.warning { out += shallow + "\n" }

        for section in sections {
            out += "\n" + render(section)
        }
        if !crashes.isEmpty { out += "\n" + renderCrashes() }
        return out
    }

    private func renderCrashes() -> String {
        var out = "refused accesses (SIGSEGV/SIGBUS)\n"
        for c in crashes {
            out += "  pid \(c.pid)/\(c.tid) \(TextFormat.oneLine(c.command)) at \(TextFormat.duration(ns: c.atNs)): "
                + "\(c.signal) \(c.code), \(c.access) of \(FrameNamer.hex(c.address))\n"
            out += "    mapping: \(c.mapping)\n"
            let earlier = FaultKind.allCases.filter { c.earlierOnPage[$0] > 0 }
                .map { "\($0.name) \(c.earlierOnPage[$0])" }.joined(separator: ", ")
            out += "    earlier faults on this page: \(earlier.isEmpty ? "none" : earlier)\n"
            out += "    stack: \(c.stack)\n"
        }
        return out
    }

    /// Lost or throttled events make every count a lower bound: say so in capitals.
    private func lossLine() -> String {
        LossWarning.line(lost: lost, throttled: throttled) ?? "lost events: 0, throttled: 0"
    }

    private func render(_ section: GroupSection) -> String {
        var title = "top \(section.rows.count) \(section.by.title)"
        if section.rows.count == section.distinct { title = "\(section.by.title)" }
        if let filter = section.filter { title += " (\(filter) faults only)" }
        title += " of \(TextFormat.count(section.total)) faults"
        if section.rows.count < section.distinct {
            title += ", \(section.distinct - section.rows.count) more not shown"
        }
        let out = title + "\n"
        if section.rows.isEmpty { return out + "  (none)\n" }

        var table = TextTable([.right, .right, .left, .left])
        table.add(["faults", "%", "kinds", section.by.rawValue])
        for row in section.rows {
            table.add([TextFormat.count(row.count), TextFormat.percent(row.count, of: section.total),
                       TextFormat.breakdown(row.counts), row.label(section.by)])
        }
        return out + table.render()
    }
}
