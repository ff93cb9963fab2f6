// The service-time distribution as a picture for `report --html`: one bar chart per fault
// kind, faults per power-of-two range of nanoseconds, on a shared axis so the kinds can be
// compared at a glance (minor faults in microseconds, major ones in milliseconds).

import FaultlineCore

public enum LatencyHistogramSVG {
    static let width = 1200.0
    static let panelHeight = 150.0
    static let columns = 2
    static let gap = 30.0

    public static func render(_ summary: ServiceSummary, id: String = "faultline-latency") -> String {
        let kinds = FaultKind.allCases.filter { summary.histograms[$0]?.occupied != nil }
        let ranges = kinds.compactMap { summary.histograms[$0]?.occupied }
        let low = ranges.map(\.lowerBound).min() ?? 0
        let high = ranges.map(\.upperBound).max() ?? 0
        let buckets = high - low + 1
        let rows = (kinds.count + columns - 1) / columns
        let panelWidth = (width - gap * Double(columns + 1)) / Double(columns)
        let height = 20 + Double(max(rows, 1)) * (panelHeight + 40)
        let id = SVG.escape(id)
        var out = """
        <?xml version="1.0" encoding="UTF-8" standalone="no"?>
        <svg version="1.1" id="\(id)" class="faultline-latency" width="\(SVG.num(width))" height="\(SVG.num(height))" \
        viewBox="0 0 \(SVG.num(width)) \(SVG.num(height))" xmlns="http://www.w3.org/2000/svg">
        <style>
        #\(id) { font-family: \(SVG.fontFamily); font-size: 11px; }
        #\(id) .bg { fill: #fdfcf7; }
        #\(id) .sub { fill: #333; }
        #\(id) .tick { fill: #666; font-size: 9px; }
        #\(id) .axis { stroke: #999; stroke-width: 1; }
        #\(id) rect.b:hover { stroke: #000; stroke-width: 0.8; }
        </style>
        <rect class="bg" x="0" y="0" width="\(SVG.num(width))" height="\(SVG.num(height))"/>

        """
        if kinds.isEmpty {
            out += "<text class=\"sub\" x=\"\(SVG.num(width / 2))\" y=\"40\" text-anchor=\"middle\">no fault has a service time</text>\n"
        }
        for (i, kind) in kinds.enumerated() {
            guard let h = summary.histograms[kind] else { continue }
            let x0 = gap + Double(i % columns) * (panelWidth + gap)
            let y0 = 20 + Double(i / columns) * (panelHeight + 40)
            let stats = summary[kind]
            let title = "\(kind.name): \(TextFormat.count(stats.count)) faults, \(TextFormat.shortDuration(ns: stats.totalNs)) in all; "
                + "p50 \(TextFormat.shortDuration(ns: stats.p50Ns)), p99 \(TextFormat.shortDuration(ns: stats.p99Ns)), "
                + "max \(TextFormat.shortDuration(ns: stats.maxNs))"
            out += "<text class=\"sub\" x=\"\(SVG.num(x0))\" y=\"\(SVG.num(y0 + 2))\">\(SVG.escape(title))</text>\n"
            let plotTop = y0 + 10
            let plotHeight = panelHeight - 24
            let base = plotTop + plotHeight
            let slot = panelWidth / Double(buckets)
            let peak = Double(h.buckets[low...high].max() ?? 1)
            out += "<line class=\"axis\" x1=\"\(SVG.num(x0))\" y1=\"\(SVG.num(base))\" x2=\"\(SVG.num(x0 + panelWidth))\" y2=\"\(SVG.num(base))\"/>\n"
            for k in low...high {
                let x = x0 + Double(k - low) * slot
                let n = h.buckets[k]
                if n > 0 {
                    let barHeight = max(1, plotHeight * Double(n) / peak)
                    let range = "[\(TextFormat.shortDuration(ns: LatencyHistogram.lowerBound(k))), "
                        + (k == 64 ? "2^64 ns" : TextFormat.shortDuration(ns: LatencyHistogram.lowerBound(k + 1))) + ")"
                    out += "<rect class=\"b\" x=\"\(SVG.num(x + 1))\" y=\"\(SVG.num(base - barHeight))\" width=\"\(SVG.num(max(slot - 2, 1)))\" "
                        + "height=\"\(SVG.num(barHeight))\" fill=\"\(KindPalette.legendColor(kind))\">"
                        + "<title>\(SVG.escape("\(kind.name) \(range): \(TextFormat.count(n)) faults"))</title></rect>\n"
                }
                // A tick every other bucket (every one when there are few).
                if (k - low) % (buckets > 12 ? 2 : 1) == 0 {
                    out += "<text class=\"tick\" x=\"\(SVG.num(x + 1))\" y=\"\(SVG.num(base + 11))\">"
                        + "\(TextFormat.shortDuration(ns: LatencyHistogram.lowerBound(k)))</text>\n"
                }
            }
            out += "<text class=\"tick\" x=\"\(SVG.num(x0 + panelWidth))\" y=\"\(SVG.num(plotTop))\" text-anchor=\"end\">peak \(TextFormat.count(UInt64(peak)))</text>\n"
        }
        return out + "</svg>\n"
    }
}
