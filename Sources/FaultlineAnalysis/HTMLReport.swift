// `report --html`: one self-contained page for a bug report: the summary tables, the flame
// graph and the heatmap, inlined (no scripts, styles or fonts fetched from anywhere).
// Written as well-formed XML (XHTML syntax in an HTML5 page) so tests can parse it, and so
// the inlined SVGs need no changes beyond dropping their XML declarations.

import Foundation
import FaultlineCore
import FaultlineLog

public enum HTMLReport {
    public static func render(report: FaultReport, flameGraph: String, heatmap: String) -> String {
        var out = """
        <!DOCTYPE html>
        <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
        <head>
        <meta charset="utf-8"/>
        <title>\(SVG.escape("faultline: " + report.command))</title>
        <style>
        body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 24px; color: #222; background: #fff; max-width: 1240px; }
        h1 { font-size: 22px; margin-bottom: 4px; }
        h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
        code, td.name { font-family: DejaVu Sans Mono, Menlo, Consolas, monospace; font-size: 12px; }
        table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
        th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
        td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        td.name { word-break: break-all; max-width: 760px; }
        td.addr { font-family: DejaVu Sans Mono, Menlo, Consolas, monospace; font-size: 12px; white-space: nowrap; }
        .swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
        .warn { background: #fff1d6; border: 1px solid #e5a50a; padding: 8px 12px; margin: 10px 0; font-weight: bold; }
        .meta { color: #555; }
        .picture { overflow-x: auto; }
        .tables { display: flex; flex-wrap: wrap; gap: 8px 40px; }
        </style>
        </head>
        <body>

        """
        out += "<h1>faultline report</h1>\n"
        out += "<p class=\"meta\"><code>\(SVG.escape(report.command + FaultSelection(pids: report.selection.pids, label: report.selection.label).titleSuffix))</code><br/>"
            + SVG.escape(report.headline) + "</p>\n"
        if let damage = report.damage {
            out += "<p class=\"warn\">INCOMPLETE: \(SVG.escape(damage))</p>\n"
        }
        if let loss = LossWarning.line(lost: report.lost, throttled: report.throttled) {
            out += "<p class=\"warn\">\(SVG.escape(loss))</p>\n"
        }
        for notice in report.unrecorded { out += "<p class=\"warn\">\(SVG.escape(notice.warning))</p>\n" }
        if let shallow = report.stackReach?.warning { out += "<p class=\"warn\">\(SVG.escape(shallow))</p>\n" }

        out += "<div class=\"tables\">\n<div>\n<h2>Faults and time by kind</h2>\n" + kindTable(report) + "</div>\n"
        out += "<div>\n<h2>Processes by time in faults</h2>\n" + processTable(report) + "</div>\n"
        if report.pageSizes.hasHugePages {
            out += "<div>\n<h2>Page sizes mapped</h2>\n" + pageSizeTable(report.pageSizes) + "</div>\n"
        }
        out += "</div>\n"
        if report.time.summary.all.count > 0 {
            out += "<h2>Time in faults by thread</h2>\n<p class=\"meta\">Each thread's share of its process's recorded lifetime "
                + "(threads' own starts and ends are not recorded).</p>\n" + threadTable(report)
            out += "<h2>Service time distribution</h2>\n<p class=\"meta\">Faults per power-of-two range of service time "
                + "(entry to completion), per kind.</p>\n"
            out += "<div class=\"picture\">\n" + inline(LatencyHistogramSVG.render(report.time.summary)) + "</div>\n"
        }
        for section in report.sections {
            out += "<h2>\(SVG.escape(sectionTitle(section)))</h2>\n" + sectionTable(section)
        }
        if !report.time.slowest.isEmpty {
            out += "<h2>Slowest faults</h2>\n" + slowestTable(report)
        }
        let widthIs = report.weight == .time ? "time in faults" : "faults"
        out += "<h2>Flame graph</h2>\n<p class=\"meta\">Callers below callees, one tower per process; "
            + "width is \(widthIs). Hover for counts, click to zoom, Search to highlight.</p>\n"
        out += "<div class=\"picture\">\n" + inline(flameGraph) + "</div>\n"
        out += "<h2>Heatmap</h2>\n<p class=\"meta\">Time left to right, address space top to bottom, "
            + "compressed to the ranges that faulted. Lines mark forks, execs and exits.</p>\n"
        out += "<div class=\"picture\">\n" + inline(heatmap) + "</div>\n"
        out += "</body>\n</html>\n"
        return out
    }

    /// An SVG document as an element of the page: without its XML declaration.
    static func inline(_ svg: String) -> String {
        guard svg.hasPrefix("<?xml"), let end = svg.range(of: "?>") else { return svg }
        return String(svg[end.upperBound...]).drop { $0 == "\n" } + ""
    }

    private static func kindTable(_ report: FaultReport) -> String {
        let totals = report.totals
        let service = report.time.summary
        var out = "<table>\n<tr><th>kind</th><th class=\"n\">faults</th><th class=\"n\">%</th><th class=\"n\">time</th>"
            + "<th class=\"n\">%</th><th class=\"n\">p50</th><th class=\"n\">p90</th><th class=\"n\">p99</th><th class=\"n\">max</th></tr>\n"
        func cells(_ stats: ServiceStats) -> String {
            // No time where none was measured (a segv never completes), rather than "0 ns".
            var text = stats.count == 0 ? "<td class=\"n\">-</td><td class=\"n\">-</td>"
                : "<td class=\"n\">\(TextFormat.shortDuration(ns: stats.totalNs))</td>"
                    + "<td class=\"n\">\(TextFormat.percent(stats.totalNs, of: service.all.totalNs))</td>"
            for value in [stats.p50Ns, stats.p90Ns, stats.p99Ns, stats.maxNs] {
                text += "<td class=\"n\">\(stats.count > 0 ? TextFormat.shortDuration(ns: value) : "-")</td>"
            }
            return text
        }
        for kind in FaultKind.allCases {
            out += "<tr><td><span class=\"swatch\" style=\"background:\(KindPalette.legendColor(kind))\"></span>\(kind.name)</td>"
                + "<td class=\"n\">\(TextFormat.count(totals[kind]))</td><td class=\"n\">\(TextFormat.percent(totals[kind], of: totals.faults))</td>"
                + cells(service[kind]) + "</tr>\n"
        }
        out += "<tr><td>minor (kernel's count)</td><td class=\"n\">\(TextFormat.count(totals.minor))</td><td class=\"n\">\(TextFormat.percent(totals.minor, of: totals.faults))</td><td colspan=\"6\"></td></tr>\n"
        out += "<tr><td>major (kernel's count)</td><td class=\"n\">\(TextFormat.count(totals.accountedMajor))</td><td class=\"n\">\(TextFormat.percent(totals.accountedMajor, of: totals.faults))</td><td colspan=\"6\"></td></tr>\n"
        if totals[.swap] > 0 {
            out += "<tr><td>swap-ins from disk</td><td class=\"n\">\(TextFormat.count(totals.swapFromDisk))</td><td class=\"n\">\(TextFormat.percent(totals.swapFromDisk, of: totals.faults))</td><td colspan=\"6\"></td></tr>\n"
        }
        out += "<tr><th>total</th><th class=\"n\">\(TextFormat.count(totals.faults))</th><th class=\"n\"></th>"
            + cells(service.all).replacingOccurrences(of: "<td", with: "<th").replacingOccurrences(of: "</td>", with: "</th>") + "</tr>\n"
        out += "</table>\n"
        if let note = report.untimedNote { out += "<p class=\"meta\">\(SVG.escape(note))</p>\n" }
        return out
    }

    private static func threadTable(_ report: FaultReport, limit: Int = 25) -> String {
        var out = "<table>\n<tr><th class=\"n\">tid</th><th class=\"n\">pid</th><th class=\"n\">faults</th><th class=\"n\">time</th>"
            + "<th class=\"n\">share</th><th>command</th></tr>\n"
        for t in report.time.threads.prefix(limit) {
            out += "<tr><td class=\"n\">\(t.tid)</td><td class=\"n\">\(t.pid)</td><td class=\"n\">\(TextFormat.count(t.faults))</td>"
                + "<td class=\"n\">\(TextFormat.shortDuration(ns: t.timeNs))</td><td class=\"n\">\(TextFormat.percent(t.timeNs, of: t.wallNs))</td>"
                + "<td class=\"name\">\(SVG.escape(t.command))</td></tr>\n"
        }
        if report.time.threads.count > limit {
            out += "<tr><td colspan=\"6\">\(TextFormat.count(report.time.threads.count - limit)) more threads not shown</td></tr>\n"
        }
        return out + "</table>\n"
    }

    private static func slowestTable(_ report: FaultReport) -> String {
        var out = "<table>\n<tr><th class=\"n\">time</th><th class=\"n\">× median</th><th>kind</th><th class=\"n\">pid/tid</th>"
            + "<th class=\"n\">at</th><th>address</th><th>mapping</th><th>stack</th></tr>\n"
        for s in report.time.slowest {
            let ratio = TextFormat.times(s.serviceNs, s.kindMedianNs) ?? "-"
            out += "<tr><td class=\"n\">\(TextFormat.shortDuration(ns: s.serviceNs))</td><td class=\"n\">\(ratio)</td>"
                + "<td>\(s.kind.name)</td><td class=\"n\">\(s.pid)/\(s.tid)</td><td class=\"n\">\(TextFormat.duration(ns: s.atNs))</td>"
                + "<td class=\"addr\">\(s.access) \(FrameNamer.hex(s.address))</td><td class=\"name\">\(SVG.escape(s.mapping))</td>"
                + "<td class=\"name\">\(SVG.escape(s.stack))</td></tr>\n"
        }
        return out + "</table>\n"
    }

    /// Faults by the size of the page they mapped, and the memory those pages cover.
    private static func pageSizeTable(_ sizes: PageSizeCounts) -> String {
        var out = "<table>\n<tr><th class=\"n\">page size</th><th class=\"n\">faults</th><th class=\"n\">mapped</th></tr>\n"
        for row in sizes.rows {
            out += "<tr><td class=\"n\">\(TextFormat.distance(row.pageBytes))</td><td class=\"n\">\(TextFormat.count(row.faults))</td>"
                + "<td class=\"n\">\(TextFormat.distance(row.mappedBytes))</td></tr>\n"
        }
        if sizes.unknown > 0 {
            out += "<tr><td class=\"n\">not known</td><td class=\"n\">\(TextFormat.count(sizes.unknown))</td><td class=\"n\"></td></tr>\n"
        }
        return out + "</table>\n"
    }

    /// The processes that spent most time in faults, with their service-time percentiles
    /// (JSON's `processes[].service.all`); a shell script can have hundreds.
    private static func processTable(_ report: FaultReport, limit: Int = 25) -> String {
        let ranked = report.processesByTime
        var out = "<table>\n<tr><th class=\"n\">pid</th><th class=\"n\">ppid</th><th class=\"n\">faults</th><th class=\"n\">time</th>"
            + "<th class=\"n\">p50</th><th class=\"n\">p90</th><th class=\"n\">p99</th><th class=\"n\">max</th>"
            + "<th>kinds</th><th>command</th></tr>\n"
        for p in ranked.prefix(limit) {
            let s = p.service.all
            out += "<tr><td class=\"n\">\(p.pid)</td><td class=\"n\">\(p.ppid)</td><td class=\"n\">\(TextFormat.count(p.counts.faults))</td>"
            for value in [s.totalNs, s.p50Ns, s.p90Ns, s.p99Ns, s.maxNs] {
                out += "<td class=\"n\">\(s.count > 0 ? TextFormat.shortDuration(ns: value) : "-")</td>"
            }
            out += "<td>\(SVG.escape(TextFormat.breakdown(p.counts)))</td><td class=\"name\">\(SVG.escape(p.command))</td></tr>\n"
        }
        if ranked.count > limit {
            out += "<tr><td colspan=\"10\">\(TextFormat.count(ranked.count - limit)) more processes not shown</td></tr>\n"
        }
        return out + "</table>\n"
    }

    private static func sectionTitle(_ section: GroupSection) -> String {
        var title = "Top \(section.by.title)"
        if section.children { title += " with their callees" }
        if section.weight == .time { title += " by time in faults" }
        return title + FaultSelection(kind: section.selection.kind).titleSuffix
    }

    private static func sectionTable(_ section: GroupSection) -> String {
        let w = section.weight
        let whole = section.totals.weight(w)
        let inclusive = section.by == .function
        var out = "<table>\n<tr><th class=\"n\">faults</th><th class=\"n\">time</th><th class=\"n\">%</th>"
        if inclusive {
            out += "<th class=\"n\">with callees: faults</th><th class=\"n\">time</th><th class=\"n\">%</th>"
        }
        out += "<th>kinds</th><th>\(section.by.rawValue)</th></tr>\n"
        for row in section.rows {
            out += "<tr><td class=\"n\">\(TextFormat.count(row.count))</td><td class=\"n\">\(FaultReport.timeCell(row.tally))</td>"
                + "<td class=\"n\">\(TextFormat.percent(row.tally.weight(w), of: whole))</td>"
            if inclusive {
                let all = row.inclusive ?? row.tally
                out += "<td class=\"n\">\(TextFormat.count(all.faults))</td><td class=\"n\">\(TextFormat.shortDuration(ns: all.timeNs))</td>"
                    + "<td class=\"n\">\(TextFormat.percent(all.weight(w), of: whole))</td>"
            }
            out += "<td>\(SVG.escape(TextFormat.breakdown(row.counts)))</td><td class=\"name\">\(SVG.escape(row.label(section.by)))</td></tr>\n"
        }
        if section.rows.count < section.distinct {
            out += "<tr><td colspan=\"\(inclusive ? 8 : 5)\">\(TextFormat.count(section.distinct - section.rows.count)) more not shown</td></tr>\n"
        }
        return out + "</table>\n"
    }
}
