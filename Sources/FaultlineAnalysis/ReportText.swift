// The text report: what happened, at a glance. Totals and time first, then anything that
// makes the numbers doubtful (lost events, damage) where it cannot be missed, then the top
// rows, the slowest faults and refused accesses. Long names are cut to a readable width
// here (JSON keeps them whole).

import Foundation
import FaultlineCore

/// What the text report shows beyond its defaults.
public struct TextReportOptions: Sendable {
    /// Latency histograms per kind (log2 buckets, as bpftrace prints them).
    public var histograms = false
    /// How many threads the time-share table lists.
    public var threads = 5
    /// How many processes the service-time table lists (`report --top`).
    public var processes = 10
    public init(histograms: Bool = false, processes: Int = 10) {
        self.histograms = histograms; self.processes = processes
    }
}

extension FaultReport {
    /// Kinds in the order the totals table lists them: those the kernel always counts as
    /// minor, the subtotal, then swap (minor or major by where the page came from), major, segv.
    private static let minorKinds: [FaultKind] = FaultKind.allCases.filter(\.isAlwaysMinor)
    private static let otherKinds: [FaultKind] = [.swap, .major, .segv]
    /// Function names in a table; a stack's frames each; command lines.
    static let nameWidth = 100
    static let frameWidth = 60
    static let commandWidth = 60

    public func renderText(_ options: TextReportOptions = TextReportOptions()) -> String {
        var out = ""
        out += "faultline report: \(TextFormat.oneLine(command))\(selection.pids == nil ? "" : FaultSelection(pids: selection.pids, label: selection.label).titleSuffix)\n"
        out += "  " + headline + "\n"
        let service = time.summary.all
        if let damage {
            out += "  INCOMPLETE: \(damage)\n"
        }
        out += "\n" + kindTable()
        if totals[.swap] > 0 {
            // The kernel counts a swap-in from the swap cache as minor, one from disk as major.
            out += "swap-ins: \(TextFormat.count(totals[.swap] - totals.swapFromDisk)) from the swap cache (minor), "
                + "\(TextFormat.count(totals.swapFromDisk)) from disk (major); as the kernel counts them: "
                + "\(TextFormat.count(totals.minor)) minor, \(TextFormat.count(totals.accountedMajor)) major\n"
        }
        if let sizes = pageSizes.line { out += sizes + "\n" }
        out += "\n" + lossLine() + "\n"
        for notice in unrecorded { out += notice.warning + "\n" }
        if let shallow = stackReach?.warning { out += shallow + "\n" }
        if service.count > 0 {
            out += "\n" + threadTable(limit: options.threads)
            out += "\n" + processTable(limit: options.processes)
        }

        for section in sections {
            out += "\n" + render(section)
        }
        if options.histograms { out += renderHistograms() }
        if !time.slowest.isEmpty { out += "\n" + renderSlowest() }
        if !crashes.isEmpty { out += "\n" + renderCrashes() }
        return out
    }

    /// "518.18 ms, 19 processes, 11,160 faults; 132 ms in faults (25.4% of the run's wall
    /// time, summed over threads)": the first line of text and HTML.
    var headline: String {
        let processWord = processes.count == 1 ? "process" : "processes"
        var line = "\(TextFormat.duration(ns: durationNs)), \(TextFormat.count(processes.count)) \(processWord), "
            + "\(TextFormat.count(totals.faults)) faults"
        let service = time.summary.all
        if service.count > 0 {
            line += "; \(TextFormat.shortDuration(ns: service.totalNs)) in faults "
                + "(\(TextFormat.percent(service.totalNs, of: durationNs)) of the run's wall time"
                + (time.threads.count > 1 ? ", summed over threads)" : ")")
        }
        return line
    }

    /// Faults and time by kind: count, share, total time, share, percentiles.
    private func kindTable() -> String {
        let faults = totals.faults
        let service = time.summary
        var table = TextTable([.left, .right, .right, .right, .right, .right, .right, .right, .right])
        table.add(["kind", "faults", "%", "time", "%", "p50", "p90", "p99", "max"])
        func row(_ name: String, _ count: UInt64, _ stats: ServiceStats?, timeNs: UInt64) {
            var cells = [name, TextFormat.count(count), TextFormat.percent(count, of: faults)]
            // No time where none was measured (a segv never completes), rather than "0 ns".
            if let stats, stats.count == 0 {
                cells += ["-", "-"]
            } else {
                cells += [TextFormat.shortDuration(ns: timeNs), TextFormat.percent(timeNs, of: service.all.totalNs)]
            }
            if let stats, stats.count > 0 {
                cells += [stats.p50Ns, stats.p90Ns, stats.p99Ns, stats.maxNs].map { TextFormat.shortDuration(ns: $0) }
            } else {
                cells += ["-", "-", "-", "-"]
            }
            table.add(cells)
        }
        for kind in Self.minorKinds { row(kind.name, totals[kind], service[kind], timeNs: service[kind].totalNs) }
        let minorTime = Self.minorKinds.reduce(UInt64(0)) { $0.addingSaturated(service[$1].totalNs) }
        let alwaysMinor = Self.minorKinds.reduce(UInt64(0)) { $0.addingSaturated(totals[$1]) }
        row("minor", alwaysMinor, nil, timeNs: minorTime)
        for kind in Self.otherKinds { row(kind.name, totals[kind], service[kind], timeNs: service[kind].totalNs) }
        row("total", faults, service.all, timeNs: service.all.totalNs)
        return table.render() + (untimedNote.map { $0 + "\n" } ?? "")
    }

    /// Says which faults have no service time, when some have none: JSON's `count` in
    /// `service` leaves them out too.
    var untimedNote: String? {
        let untimed = totals.faults - min(totals.faults, time.summary.all.count)
        guard untimed > 0 else { return nil }
        // The segv faults without a time, counted by their own kind's times: a damaged log
        // may give a segv one, or miscount them, and then a difference must not underflow.
        let segv = min(untimed, totals.segv - min(totals.segv, time.summary[.segv].count))
        let why = segv == untimed ? (segv == 1 ? "a segv never completes" : "segv faults never complete")
            : segv > 0 ? "\(TextFormat.count(segv)) segv, which never complete, and \(TextFormat.count(untimed - segv)) whose completion was not recorded"
            : "their completion was not recorded"
        return "\(TextFormat.count(untimed)) fault\(untimed == 1 ? " has" : "s have") no service time (\(why)): "
            + "\"-\" in the time columns; times and percentiles are of the faults that have one"
    }

    /// The threads that spent most time in faults, each against its process's lifetime.
    private func threadTable(limit: Int) -> String {
        let shown = time.threads.prefix(limit)
        var out = "time in faults by thread (share of its process's recorded lifetime)"
        if time.threads.count > shown.count {
            out += ", top \(shown.count) of \(TextFormat.count(time.threads.count))"
        }
        out += "\n"
        var table = TextTable([.right, .right, .right, .right, .right, .left])
        table.add(["tid", "pid", "faults", "time", "share", "command"])
        for t in shown {
            table.add(["\(t.tid)", "\(t.pid)", TextFormat.count(t.faults), TextFormat.shortDuration(ns: t.timeNs),
                       TextFormat.percent(t.timeNs, of: t.wallNs), TextFormat.cut(t.command, to: Self.commandWidth)])
        }
        return out + table.render()
    }

    /// The processes that spent most time in faults, with their service-time percentiles
    /// (JSON's `processes[].service.all`).
    private func processTable(limit: Int) -> String {
        let ranked = processesByTime
        let shown = ranked.prefix(max(limit, 1))
        var out = "time in faults by process"
        if ranked.count > shown.count {
            out += ", top \(shown.count), \(TextFormat.count(ranked.count - shown.count)) more not shown"
        }
        out += "\n"
        var table = TextTable([.right, .right, .right, .right, .right, .right, .right, .left])
        table.add(["pid", "faults", "time", "p50", "p90", "p99", "max", "command"])
        for p in shown {
            let s = p.service.all
            let percentiles = s.count > 0 ? [s.p50Ns, s.p90Ns, s.p99Ns, s.maxNs].map { TextFormat.shortDuration(ns: $0) }
                : ["-", "-", "-", "-"]
            table.add(["\(p.pid)", TextFormat.count(p.counts.faults), s.count > 0 ? TextFormat.shortDuration(ns: s.totalNs) : "-"]
                      + percentiles + [TextFormat.cut(p.command, to: Self.commandWidth)])
        }
        return out + table.render()
    }

    private func renderCrashes() -> String {
        var out = "refused accesses (SIGSEGV/SIGBUS)\n"
        for c in crashes {
            out += "  pid \(c.pid)/\(c.tid) \(TextFormat.oneLine(c.command)) at \(TextFormat.duration(ns: c.atNs)): "
                + "\(c.signal) \(c.code), \(c.access) of \(FrameNamer.hex(c.address))\n"
            out += "    mapping: \(c.mapping)\n"
            let earlier = FaultKind.allCases.filter { c.earlierOnPage[$0] > 0 }
                .map { "\($0.name) \(TextFormat.count(c.earlierOnPage[$0]))" }.joined(separator: ", ")
            out += "    earlier faults on this page: \(earlier.isEmpty ? "none" : earlier)\n"
            out += "    stack: \(Self.readableStack(c.frames, whole: c.stack))\n"
        }
        return out
    }

    /// The longest faults, each with how it compares with its kind's median, and its stack.
    private func renderSlowest() -> String {
        let kindNote = selection.kind.map { " \($0)" } ?? ""
        var out = "slowest \(time.slowest.count)\(kindNote) faults\n"
        for s in time.slowest {
            var line = "  \(TextFormat.shortDuration(ns: s.serviceNs)) \(s.kind.name)"
            if s.kindMedianNs > 0 && s.serviceNs / s.kindMedianNs >= 2, let ratio = TextFormat.times(s.serviceNs, s.kindMedianNs) {
                line += " (\(ratio) its kind's median)"
            }
            line += ", pid \(s.pid)/\(s.tid) \(TextFormat.oneLine(FaultSelection.shortName(s.command)))"
                + " at \(TextFormat.duration(ns: s.atNs)), \(s.access) of \(FrameNamer.hex(s.address)) in \(TextFormat.oneLine(s.mapping))"
            out += line + "\n    " + Self.readableStack(s.frames, whole: s.stack) + "\n"
        }
        return out
    }

    /// Log2 histograms of service time per kind, as bpftrace's `hist()` prints them.
    private func renderHistograms() -> String {
        var out = ""
        for kind in FaultKind.allCases {
            guard let h = time.summary.histograms[kind], h.occupied != nil else { continue }
            let n = time.summary[kind].count
            out += "\n\(kind.name) service time, ns (\(TextFormat.count(n)) fault\(n == 1 ? "" : "s"))\n"
            out += Self.render(h)
        }
        return out
    }

    static func render(_ h: LatencyHistogram, barWidth: Int = 52) -> String {
        guard let range = h.occupied else { return "" }
        let peak = h.buckets[range].max() ?? 1
        let labels = range.map(bucketLabel)
        let labelWidth = labels.map(\.count).max() ?? 0
        let counts = range.map { TextFormat.count(h.buckets[$0]) }
        let countWidth = counts.map(\.count).max() ?? 0
        var out = ""
        for (i, k) in range.enumerated() {
            let n = h.buckets[k]
            // Rounded down, as bpftrace does; a non-empty bucket shows at least nothing more.
            let bar = Int((Double(n) / Double(peak) * Double(barWidth)).rounded(.down))
            out += labels[i] + String(repeating: " ", count: labelWidth - labels[i].count + 1)
                + String(repeating: " ", count: countWidth - counts[i].count + 1) + counts[i]
                + " |" + String(repeating: "@", count: bar) + String(repeating: " ", count: barWidth - bar) + "|\n"
        }
        return out
    }

    /// "[0]", "[1]", "[2, 4)", "[1K, 2K)", "[512K, 1M)" in powers of 1024, as bpftrace writes.
    static func bucketLabel(_ k: Int) -> String {
        if k <= 1 { return "[\(k)]" }
        let low = LatencyHistogram.lowerBound(k)
        return "[\(powerOfTwo(low)), \(k == 64 ? "2^64" : powerOfTwo(low << 1)))"
    }

    private static func powerOfTwo(_ n: UInt64) -> String {
        let suffixes = ["", "K", "M", "G", "T", "P", "E"]
        var value = n
        var i = 0
        while value >= 1024 && value % 1024 == 0 && i < suffixes.count - 1 { value /= 1024; i += 1 }
        return "\(value)\(suffixes[i])"
    }

    /// Lost or throttled events make every count a lower bound: say so in capitals.
    private func lossLine() -> String {
        LossWarning.line(lost: lost, throttled: throttled) ?? "lost events: 0, throttled: 0"
    }

    /// A grouping's title: what, ranked how, of what total, and what was left out.
    static func title(_ section: GroupSection) -> String {
        var title = section.rows.count == section.distinct ? "\(section.by.title)" : "top \(section.rows.count) \(section.by.title)"
        if section.children { title += " with their callees (children)" }
        if section.weight == .time { title += " by time in faults" }
        title += FaultSelection(kind: section.selection.kind).titleSuffix
        title += " of \(TextFormat.count(section.total)) faults"
        if section.weight == .time { title += " (\(TextFormat.shortDuration(ns: section.totals.timeNs)))" }
        if section.rows.count < section.distinct {
            title += ", \(TextFormat.count(section.distinct - section.rows.count)) more not shown"
        }
        return title
    }

    /// A row's time in faults; "-" for a row of segv faults only, which have no time.
    static func timeCell(_ t: FaultTally) -> String {
        t.faults > 0 && t.counts[.segv] == t.faults ? "-" : TextFormat.shortDuration(ns: t.timeNs)
    }

    private func render(_ section: GroupSection) -> String {
        let out = Self.title(section) + "\n"
        if section.rows.isEmpty { return out + "  (none)\n" }
        let w = section.weight
        let whole = section.totals.weight(w)
        func weightCell(_ t: FaultTally) -> String {
            w == .faults ? TextFormat.count(t.faults) : Self.timeCell(t)
        }
        func otherCell(_ t: FaultTally) -> String {
            w == .faults ? Self.timeCell(t) : TextFormat.count(t.faults)
        }
        let weightName = w == .faults ? "faults" : "time"
        let otherName = w == .faults ? "time" : "faults"
        var table: TextTable
        if section.children {
            table = TextTable([.right, .right, .right, .right, .right, .left, .left])
            table.add(["children", "%", "self", "%", otherName, "kinds (children)", section.by.rawValue])
            for row in section.rows {
                let all = row.inclusive ?? row.tally
                table.add([weightCell(all), TextFormat.percent(all.weight(w), of: whole),
                           weightCell(row.tally), TextFormat.percent(row.tally.weight(w), of: whole),
                           otherCell(all), TextFormat.breakdown(all.counts), Self.readable(row, section.by)])
            }
        } else {
            table = TextTable([.right, .right, .right, .left, .left])
            table.add([weightName, "%", otherName, "kinds", section.by.rawValue])
            for row in section.rows {
                table.add([weightCell(row.tally), TextFormat.percent(row.tally.weight(w), of: whole), otherCell(row.tally),
                           TextFormat.breakdown(row.counts), Self.readable(row, section.by)])
            }
        }
        return out + table.render()
    }

    /// A row's name cut for a table: a function to `nameWidth`, each function of a stack
    /// (or an origin's) to `frameWidth`, its place kept whole.
    static func readable(_ row: GroupRow, _ by: Grouping) -> String {
        if by == .stack || by == .origin { return readableStack(row.frames, whole: row.name) }
        // The function's place (" (inlined) file.c:42") stays whole after the cut name.
        let label = row.label(by)
        guard by == .function, label.hasPrefix(row.name) else { return readable(label, by) }
        return readable(row.name, by) + label.dropFirst(row.name.count)
    }

    /// A stack described whole (`whole`, leaf first, with anything after it, such as an
    /// origin's "  (libc.so.6)") shown with each frame's function shortened as `--by
    /// function` shortens it: the method's name kept, then " (inlined)" and the place whole.
    /// Without the frames it describes, the description is cut frame by frame.
    static func readableStack(_ frames: [FrameName], whole: String) -> String {
        let described = frames.map(\.label).joined(separator: " ← ")
        guard !frames.isEmpty, whole.hasPrefix(described) else { return readableStack(whole) }
        return frames.map { frame in
            NameShortener.shorten(frame.function, to: frameWidth) + (frame.inlined ? " (inlined)" : "")
                + (frame.location.map { " " + $0 } ?? "")
        }.joined(separator: " ← ") + whole.dropFirst(described.count)
    }

    static func readable(_ name: String, _ by: Grouping) -> String {
        switch by {
        case .function: return NameShortener.shorten(name, to: nameWidth)
        case .stack, .origin: return readableStack(name)
        case .process:
            // "4242 /usr/bin/ld -plugin …": the pid, and the command line cut (a linker's
            // runs to a thousand characters).
            guard let space = name.firstIndex(of: " ") else { return name }
            return String(name[..<space]) + " " + TextFormat.cut(String(name[name.index(after: space)...]), to: commandWidth)
        default: return name
        }
    }

    static func readableStack(_ stack: String) -> String {
        stack.components(separatedBy: " ← ").map { NameShortener.shorten($0, to: frameWidth) }.joined(separator: " ← ")
    }
}
