// `faultline heatmap`: time across, address down, one cell per (time bin, page range),
// coloured by the kind of most of its faults and darker with more faults. Above the map a
// strip shows faults per time bin by kind (phases and storms); vertical lines mark forks,
// execs and exits, so copy-on-write bursts after a fork line up under their cause.
// Self-contained; each cell's tooltip says when, where, what and how many.

import Foundation
import FaultlineCore
import FaultlineLog

public enum HeatmapSVG {
    static let width = 1200.0
    static let plotX = 250.0
    static let rightPad = 20.0
    static let stripTop = 100.0
    static let stripHeight = 70.0
    static let plotTop = 184.0

    public static func render(_ map: Heatmap, title: String, id: String = "faultline-heatmap") -> String {
        let plotWidth = width - plotX - rightPad
        let columnWidth = plotWidth / Double(map.columns)
        let height = plotTop + max(map.plotHeight, 40) + 44
        let id = SVG.escape(id)
        var out = """
        <?xml version="1.0" encoding="UTF-8" standalone="no"?>
        <svg version="1.1" id="\(id)" class="faultline-heatmap" width="\(SVG.num(width))" height="\(SVG.num(height))" \
        viewBox="0 0 \(SVG.num(width)) \(SVG.num(height))" xmlns="http://www.w3.org/2000/svg">
        <style>
        #\(id) { font-family: \(SVG.fontFamily); font-size: 11px; }
        #\(id) .bg { fill: #fdfcf7; }
        #\(id) .title { font-size: 17px; font-weight: bold; }
        #\(id) .sub { fill: #333; }
        #\(id) .band { fill: #f1efe6; }
        #\(id) .label { fill: #222; }
        #\(id) .addr { fill: #777; font-size: 9px; }
        #\(id) .axis { stroke: #999; stroke-width: 1; }
        #\(id) .fork { stroke: #c01c28; stroke-width: 1.2; stroke-dasharray: 4 2; }
        #\(id) .exec { stroke: #1a5fb4; stroke-width: 1.2; stroke-dasharray: 4 2; }
        #\(id) .exit { stroke: #888; stroke-width: 1; stroke-dasharray: 2 3; }
        #\(id) .mark-fork { fill: #c01c28; font-size: 10px; }
        #\(id) .mark-exec { fill: #1a5fb4; font-size: 10px; }
        #\(id) .mark-exit { fill: #666; font-size: 10px; }
        #\(id) rect.c:hover { stroke: #000; stroke-width: 0.8; }
        </style>
        <rect class="bg" x="0" y="0" width="\(SVG.num(width))" height="\(SVG.num(height))"/>
        <text class="title" x="\(SVG.num(width / 2))" y="24" text-anchor="middle">\(SVG.escape(title))</text>

        """
        let duration = TextFormat.duration(ns: map.endNs - map.startNs)
        let w = map.weight
        let amount = w == .time ? "\(TextFormat.shortDuration(ns: map.total.timeNs)) in \(TextFormat.count(map.total.faults)) faults"
            : "\(TextFormat.count(map.total.faults)) faults"
        let subtitle = "\(amount) over \(duration), \(TextFormat.count(map.segments.count)) address ranges"
            + " (mappings cut to the pages they touched; file pages by offset)"
        out += "<text class=\"sub\" x=\"\(SVG.num(width / 2))\" y=\"42\" text-anchor=\"middle\">\(SVG.escape(subtitle))</text>\n"
        out += legend(map, y: 54)

        // Rate strip: faults (or time in faults) per bin, stacked by kind.
        let maxRate = map.rate.map { $0.weight(w) }.max() ?? 0
        let perBin = TextFormat.duration(ns: Heatmap.wholeNs(map.nsPerColumn))
        out += "<text class=\"sub\" x=\"\(SVG.num(plotX - 6))\" y=\"\(SVG.num(stripTop + 12))\" text-anchor=\"end\">"
            + (w == .time ? "time in faults per \(perBin)" : "faults per \(perBin)") + "</text>\n"
        let peak = w == .time ? TextFormat.shortDuration(ns: maxRate) : TextFormat.count(maxRate)
        out += "<text class=\"addr\" x=\"\(SVG.num(plotX - 6))\" y=\"\(SVG.num(stripTop + 26))\" text-anchor=\"end\">peak \(peak)</text>\n"
        out += "<line class=\"axis\" x1=\"\(SVG.num(plotX))\" y1=\"\(SVG.num(stripTop + stripHeight))\" x2=\"\(SVG.num(plotX + plotWidth))\" y2=\"\(SVG.num(stripTop + stripHeight))\"/>\n"
        out += "<g class=\"rate\">"
        for (column, tally) in map.rate.enumerated() where tally.weight(w) > 0 {
            var y = stripTop + stripHeight
            let x = plotX + Double(column) * columnWidth
            for kind in FaultKind.allCases where tally.weight(w, of: kind) > 0 {
                let h = stripHeight * Double(tally.weight(w, of: kind)) / Double(maxRate)
                y -= h
                out += "<rect x=\"\(SVG.num(x))\" y=\"\(SVG.num(y))\" width=\"\(SVG.num(columnWidth + 0.3))\" height=\"\(SVG.num(h))\" fill=\"\(KindPalette.legendColor(kind))\"/>"
            }
        }
        out += "</g>\n"

        // Address bands, alternately shaded, labelled on the left.
        out += "<g class=\"bands\">"
        for (i, band) in map.bands.enumerated() {
            let y = plotTop + band.y
            if i % 2 == 0 {
                out += "<rect class=\"band\" x=\"\(SVG.num(plotX))\" y=\"\(SVG.num(y))\" width=\"\(SVG.num(plotWidth))\" height=\"\(SVG.num(band.height))\"/>"
            }
            var info = "\(band.label) \(band.detail): \(TextFormat.count(band.pagesTouched)) pages touched, \(TextFormat.count(band.faults)) faults"
            if !band.owners.isEmpty { info += "; by \(band.owners)" }
            // Anonymous memory of many unrelated processes all reads "[heap]": say whose it is.
            let label = band.owner.isEmpty ? band.label : "\(band.label) · \(band.owner)"
            out += "<g><title>\(SVG.escape(info))</title>"
            if band.height >= 11 {
                let twoLines = band.height >= 24
                let textY = band.height / 2 + y + (twoLines ? -1 : 4)
                out += "<text class=\"label\" x=\"\(SVG.num(plotX - 6))\" y=\"\(SVG.num(textY))\" text-anchor=\"end\">\(SVG.escape(shorten(label, to: 36)))</text>"
                if twoLines {
                    let detail = shorten(band.detail + (band.firstPage != nil ? ", \(TextFormat.count(band.pagesTouched)) pages" : ""), to: 44)
                    out += "<text class=\"addr\" x=\"\(SVG.num(plotX - 6))\" y=\"\(SVG.num(textY + 11))\" text-anchor=\"end\">\(SVG.escape(detail))</text>"
                }
            }
            out += "<rect x=\"0\" y=\"\(SVG.num(y))\" width=\"\(SVG.num(plotX))\" height=\"\(SVG.num(band.height))\" fill-opacity=\"0\"/></g>"
        }
        out += "</g>\n"

        // Cells.
        let maxCell = map.cells.values.map { $0.weight(w) }.max() ?? 1
        let logMax = log(1 + Double(maxCell))
        out += "<g class=\"cells\">\n"
        let ordered = map.cells.keys.sorted { ($0.band, $0.row, $0.column) < ($1.band, $1.row, $1.column) }
        for cell in ordered {
            let tally = map.cells[cell]!
            let band = map.bands[cell.band]
            let rowHeight = band.height / Double(band.rows)
            let x = plotX + Double(cell.column) * columnWidth
            let y = plotTop + band.y + Double(cell.row) * rowHeight
            let intensity = logMax > 0 ? log(1 + Double(tally.weight(w))) / logMax : 1
            let kind = tally.dominantKind(w)
            let t0 = Heatmap.wholeNs(Double(cell.column) * map.nsPerColumn)
            var place = band.label
            if let first = band.firstPage {
                // Saturated: the pages of a log's addresses reach up to 2^64-1.
                let page = first.addingSaturated(UInt64(cell.row).multipliedSaturated(by: band.pagesPerRow))
                place += (band.isFileOffset ? " file offset " : " ")
                    + "\(FrameNamer.hex(page.multipliedSaturated(by: map.pageSize)))–"
                    + FrameNamer.hex(page.addingSaturated(band.pagesPerRow).multipliedSaturated(by: map.pageSize))
            }
            let tip = "\(TextFormat.duration(ns: t0))–\(TextFormat.duration(ns: t0.addingSaturated(Heatmap.wholeNs(map.nsPerColumn)))), "
                + "\(place): \(TextFormat.count(tally.faults)) faults, \(TextFormat.shortDuration(ns: tally.timeNs)) (\(TextFormat.breakdown(tally.counts)))"
            out += "<rect class=\"c\" x=\"\(SVG.num(x))\" y=\"\(SVG.num(y))\" width=\"\(SVG.num(columnWidth + 0.3))\" height=\"\(SVG.num(max(rowHeight, 1)))\" "
                + "fill=\"\(KindPalette.heat(kind, intensity: intensity))\"><title>\(SVG.escape(tip))</title></rect>\n"
        }
        out += "</g>\n"

        out += markers(map, plotWidth: plotWidth)
        out += timeAxis(map, plotWidth: plotWidth, y: plotTop + max(map.plotHeight, 40))
        if map.total.faults == 0 {
            out += "<text class=\"sub\" x=\"\(SVG.num(plotX + plotWidth / 2))\" y=\"\(SVG.num(plotTop + 24))\" text-anchor=\"middle\">no faults recorded</text>\n"
        }
        return out + "</svg>\n"
    }

    private static func legend(_ map: Heatmap, y: Double) -> String {
        var out = "<g class=\"legend\">"
        var x = plotX
        let w = map.weight
        let kinds = FaultKind.allCases.filter { map.total.weight(w, of: $0) > 0 }
            .sorted { map.total.weight(w, of: $0) != map.total.weight(w, of: $1)
                ? map.total.weight(w, of: $0) > map.total.weight(w, of: $1) : $0.rawValue < $1.rawValue }
        for kind in kinds {
            let amount = map.total.weight(w, of: kind)
            let text = "\(kind.name) \(w == .time ? TextFormat.shortDuration(ns: amount) : TextFormat.count(amount))"
            out += "<rect x=\"\(SVG.num(x))\" y=\"\(SVG.num(y))\" width=\"12\" height=\"11\" rx=\"2\" fill=\"\(KindPalette.legendColor(kind))\"/>"
            out += "<text class=\"sub\" x=\"\(SVG.num(x + 16))\" y=\"\(SVG.num(y + 9))\">\(SVG.escape(text))</text>"
            x += 16 + Double(text.count) * 6.7 + 14
        }
        out += "<text class=\"sub\" x=\"\(SVG.num(x))\" y=\"\(SVG.num(y + 9))\">"
            + (w == .time ? "cell: kind of most time, darker = longer" : "cell: kind of most faults, darker = more") + "</text>"
        return out + "</g>\n"
    }

    /// Vertical lines through strip and map; labels in a lane above the strip, dropped
    /// where they would overlap the previous one (the line and its tooltip remain).
    private static func markers(_ map: Heatmap, plotWidth: Double) -> String {
        var out = "<g class=\"markers\">"
        // Two lanes of labels; each label goes in the first lane where it clears the last one.
        var laneEnd = [-Double.infinity, -Double.infinity]
        let bottom = plotTop + max(map.plotHeight, 40)
        // A shell script forks and execs dozens of times: then exits are left out and the
        // other lines fade, or they would hide the cells.
        let crowded = map.markers.count > 24
        if crowded { out = "<g class=\"markers\" opacity=\"0.45\">" }
        for m in map.markers.sorted(by: { $0.timeNs < $1.timeNs }) where !(crowded && m.kind == "exit") {
            let x = plotX + Double(m.timeNs - map.startNs) / Double(max(map.endNs - map.startNs, 1)) * plotWidth
            let when = TextFormat.duration(ns: m.timeNs - map.startNs)
            out += "<line class=\"\(m.kind)\" x1=\"\(SVG.num(x))\" y1=\"\(SVG.num(stripTop - 4))\" x2=\"\(SVG.num(x))\" y2=\"\(SVG.num(bottom))\">"
                + "<title>\(SVG.escape("\(m.label) at \(when)"))</title></line>"
            let labelWidth = Double(m.label.count) * 6.1
            // Near the right edge a label ends at its line instead of starting there.
            let flip = x + 2 + labelWidth > width - 4
            let labelStart = flip ? x - 2 - labelWidth : x + 2
            guard let lane = laneEnd.firstIndex(where: { labelStart >= $0 + 4 }) else { continue }
            let y = stripTop - 8 - Double(lane) * 11
            out += "<text class=\"mark-\(m.kind)\" x=\"\(SVG.num(labelStart))\" y=\"\(SVG.num(y))\">\(SVG.escape(m.label))</text>"
            laneEnd[lane] = labelStart + labelWidth
        }
        return out + "</g>\n"
    }

    private static func timeAxis(_ map: Heatmap, plotWidth: Double, y: Double) -> String {
        let span = Double(max(map.endNs - map.startNs, 1))
        let step = niceStep(span / 8)
        var out = "<g class=\"time\"><line class=\"axis\" x1=\"\(SVG.num(plotX))\" y1=\"\(SVG.num(y))\" x2=\"\(SVG.num(plotX + plotWidth))\" y2=\"\(SVG.num(y))\"/>"
        var t = 0.0
        while t <= span {
            let x = plotX + t / span * plotWidth
            out += "<line class=\"axis\" x1=\"\(SVG.num(x))\" y1=\"\(SVG.num(y))\" x2=\"\(SVG.num(x))\" y2=\"\(SVG.num(y + 4))\"/>"
            out += "<text class=\"sub\" x=\"\(SVG.num(x))\" y=\"\(SVG.num(y + 16))\" text-anchor=\"middle\">\(tickLabel(t, step: step))</text>"
            t += step
        }
        out += "<text class=\"addr\" x=\"\(SVG.num(plotX - 20))\" y=\"\(SVG.num(y + 16))\" text-anchor=\"end\">time since first fault</text>"
        return out + "</g>\n"
    }

    /// A tick in the unit of the step, so one axis reads "0 ms, 20 ms, 40 ms".
    static func tickLabel(_ ns: Double, step: Double) -> String {
        let units: [(Double, String)] = [(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1, "ns")]
        let (size, name) = units.first { step >= $0.0 } ?? (1, "ns")
        let value = ns / size
        let text = value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
        return "\(text) \(name)"
    }

    /// 1, 2 or 5 times a power of ten, at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0 else { return 1 }
        let magnitude = pow(10, floor(log10(raw)))
        for factor in [1.0, 2, 5, 10] where factor * magnitude >= raw { return factor * magnitude }
        return 10 * magnitude
    }

    static func shorten(_ s: String, to n: Int) -> String {
        s.count <= n ? s : String(s.prefix(n - 2)) + ".."
    }
}
