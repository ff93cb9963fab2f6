// `report --html`: one self-contained page for a bug report: the summary tables, the flame
// graph and the heatmap, inlined (no scripts, styles or fonts fetched from anywhere).
// Written as well-formed XML (XHTML syntax in an HTML5 page) so tests can parse it, and so
// the inlined SVGs need no changes beyond dropping their XML declarations.

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
        td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
        td.name { word-break: break-all; max-width: 760px; }
        .swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
        .warn { background: #fff1d6; border: 1px solid #e5a50a; padding: 8px 12px; margin: 10px 0; font-weight: bold; }
        .meta { color: #555; }
        .picture { overflow-x: auto; }
        .tables { display: flex; flex-wrap: wrap; gap: 8px 40px; }
        </style>
        </head>
        <body>

        """
        let processWord = report.processes.count == 1 ? "process" : "processes"
        out += "<h1>faultline report</h1>\n"
        out += "<p class=\"meta\"><code>\(SVG.escape(report.command))</code><br/>"
            + "\(TextFormat.duration(ns: report.durationNs)), \(report.processes.count) \(processWord), "
            + "\(TextFormat.count(report.totals.faults)) faults</p>\n"
        if let damage = report.damage {
            out += "<p class=\"warn\">INCOMPLETE: \(SVG.escape(damage))</p>\n"
        }
        if let loss = LossWarning.line(lost: report.lost, throttled: report.throttled) {
            out += "<p class=\"warn\">\(SVG.escape(loss))</p>\n"
        }
        for notice in report.unrecorded { out += "<p class=\"warn\">\(SVG.escape(notice.warning))</p>\n" }
        if let shallow = report.stackReach?.warning { out += "<p class=\"warn\">\(SVG.escape(shallow))</p>\n" }

        out += "<div class=\"tables\">\n<div>\n<h2>Faults by kind</h2>\n" + kindTable(report.totals) + "</div>\n"
        out += "<div>\n<h2>Processes</h2>\n" + processTable(report) + "</div>\n</div>\n"
        for section in report.sections {
            out += "<h2>\(SVG.escape(sectionTitle(section)))</h2>\n" + sectionTable(section)
        }
        out += "<h2>Flame graph</h2>\n<p class=\"meta\">Callers below callees, one tower per process; "
            + "width is faults. Hover for counts, click to zoom, Search to highlight.</p>\n"
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

    private static func kindTable(_ totals: KindCounts) -> String {
        var out = "<table>\n<tr><th>kind</th><th class=\"n\">faults</th><th class=\"n\">%</th></tr>\n"
        for kind in FaultKind.allCases {
            out += "<tr><td><span class=\"swatch\" style=\"background:\(KindPalette.legendColor(kind))\"></span>\(kind.name)</td>"
                + "<td class=\"n\">\(TextFormat.count(totals[kind]))</td><td class=\"n\">\(TextFormat.percent(totals[kind], of: totals.faults))</td></tr>\n"
        }
        out += "<tr><td>minor</td><td class=\"n\">\(TextFormat.count(totals.minor))</td><td class=\"n\">\(TextFormat.percent(totals.minor, of: totals.faults))</td></tr>\n"
        out += "<tr><th>total</th><th class=\"n\">\(TextFormat.count(totals.faults))</th><th class=\"n\"></th></tr>\n"
        return out + "</table>\n"
    }

    /// The busiest processes; a shell script can have hundreds.
    private static func processTable(_ report: FaultReport, limit: Int = 25) -> String {
        let busiest = report.processes.sorted { $0.counts.faults != $1.counts.faults ? $0.counts.faults > $1.counts.faults : $0.pid < $1.pid }
        var out = "<table>\n<tr><th class=\"n\">pid</th><th class=\"n\">ppid</th><th class=\"n\">faults</th><th>kinds</th><th>command</th></tr>\n"
        for p in busiest.prefix(limit) {
            out += "<tr><td class=\"n\">\(p.pid)</td><td class=\"n\">\(p.ppid)</td><td class=\"n\">\(TextFormat.count(p.counts.faults))</td>"
                + "<td>\(SVG.escape(TextFormat.breakdown(p.counts)))</td><td class=\"name\">\(SVG.escape(p.command))</td></tr>\n"
        }
        if busiest.count > limit {
            out += "<tr><td colspan=\"5\">\(busiest.count - limit) more processes not shown</td></tr>\n"
        }
        return out + "</table>\n"
    }

    private static func sectionTitle(_ section: GroupSection) -> String {
        var title = "Top \(section.by.title)"
        if let filter = section.filter { title += " (\(filter) faults only)" }
        return title
    }

    private static func sectionTable(_ section: GroupSection) -> String {
        var out = "<table>\n<tr><th class=\"n\">faults</th><th class=\"n\">%</th><th>kinds</th><th>\(section.by.rawValue)</th></tr>\n"
        for row in section.rows {
            out += "<tr><td class=\"n\">\(TextFormat.count(row.count))</td><td class=\"n\">\(TextFormat.percent(row.count, of: section.total))</td>"
                + "<td>\(SVG.escape(TextFormat.breakdown(row.counts)))</td><td class=\"name\">\(SVG.escape(row.label(section.by)))</td></tr>\n"
        }
        if section.rows.count < section.distinct {
            out += "<tr><td colspan=\"4\">\(section.distinct - section.rows.count) more not shown</td></tr>\n"
        }
        return out + "</table>\n"
    }
}
