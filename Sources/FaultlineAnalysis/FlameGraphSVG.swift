// `faultline flamegraph`: the flame tree as one self-contained, interactive SVG (no external
// scripts, styles or fonts): hover names a frame with its faults and share, click zooms,
// Search (or Ctrl-F) highlights frames matching a regular expression. Frames are coloured by
// the kind of most of their faults, or by module.
//
// Positions are kept in fault units (data-s: faults to the left, data-c: faults) so the
// script zooms with exact integer containment, not with rounded pixels.

import FaultlineCore
import FaultlineLog

public struct FlameGraphOptions: Sendable {
    public enum ColorBy: String, Sendable, CaseIterable { case kind, module }
    public var title: String
    public var colorBy: ColorBy = .kind
    public var width: Double = 1200
    /// Frames narrower than this many pixels are left out, with their callees: they could
    /// not be seen or pointed at, and a million of them would make the file unusable.
    public var minFrameWidth: Double = 0.1
    /// The root element's id; scripts and styles are scoped by it, so two pictures can
    /// share one HTML page.
    public var id = "faultline-flame"
    /// A line under the title: what was counted.
    public var subtitle: String?

    public init(title: String) { self.title = title }
}

public enum FlameGraphSVG {
    static let frameHeight = 16.0
    static let fontSize = 11.0
    /// DejaVu Sans Mono's advance at 11 px, rounded up so labels never overflow.
    static let charWidth = 6.7
    static let pad = 10.0
    static let top = 76.0

    public static func render(_ tree: FlameTree, options: FlameGraphOptions) -> String {
        let width = options.width
        let total = tree.total.faults
        let scale = total > 0 ? (width - 2 * pad) / Double(total) : 0
        let (drawn, omitted) = visibleFrames(tree, scale: scale, minWidth: options.minFrameWidth)
        let depth = drawn.map { tree.nodes[$0.node].depth }.max() ?? 0
        let height = top + Double(depth + 1) * frameHeight + 34
        let id = SVG.escape(options.id)
        let moduleHues = options.colorBy == .module
            ? Dictionary(moduleRanking(tree).map { ($0.module, $0.hue) }, uniquingKeysWith: { a, _ in a }) : [:]

        var out = """
        <?xml version="1.0" encoding="UTF-8" standalone="no"?>
        <svg version="1.1" id="\(id)" class="faultline-flame" width="\(SVG.num(width))" height="\(SVG.num(height))" \
        viewBox="0 0 \(SVG.num(width)) \(SVG.num(height))" xmlns="http://www.w3.org/2000/svg">
        <style>
        #\(id) { font-family: \(SVG.fontFamily); font-size: \(SVG.num(fontSize))px; }
        #\(id) .bg { fill: #fdfcf7; }
        #\(id) .title { font-size: 17px; font-weight: bold; }
        #\(id) .sub, #\(id) .details { fill: #333; }
        #\(id) .button { cursor: pointer; fill: #1a5fb4; }
        #\(id) .button:hover { text-decoration: underline; }
        #\(id) g.f { cursor: pointer; }
        #\(id) g.f text { pointer-events: none; fill: #000; }
        #\(id) g.f text.light { fill: #fff; }
        #\(id) g.f:hover rect { stroke: #000; stroke-width: 0.8; }
        #\(id) g.f.parent rect { opacity: 0.55; }
        #\(id) .hit rect { fill: rgb(225,0,225) !important; }
        </style>
        <rect class="bg" x="0" y="0" width="\(SVG.num(width))" height="\(SVG.num(height))"/>
        <text class="title" x="\(SVG.num(width / 2))" y="24" text-anchor="middle">\(SVG.escape(options.title))</text>

        """
        let subtitle = options.subtitle ?? "\(TextFormat.count(total)) faults: \(TextFormat.breakdown(tree.total))"
        out += "<text class=\"sub\" x=\"\(SVG.num(width / 2))\" y=\"42\" text-anchor=\"middle\">\(SVG.escape(subtitle))</text>\n"
        // Controls on the legend's line, at the right, clear of a long title.
        out += "<text class=\"button reset\" x=\"\(SVG.num(width - pad - 110))\" y=\"71\" text-anchor=\"end\" style=\"opacity:0\">Reset zoom</text>\n"
        out += "<text class=\"button search\" x=\"\(SVG.num(width - pad))\" y=\"71\" text-anchor=\"end\">Search</text>\n"
        out += "<text class=\"matched\" x=\"\(SVG.num(width - pad))\" y=\"\(SVG.num(height - 12))\" text-anchor=\"end\"> </text>\n"
        out += "<text class=\"details\" x=\"\(SVG.num(pad))\" y=\"\(SVG.num(height - 12))\"> </text>\n"
        out += legend(tree, options: options, y: 62)

        out += "<g class=\"frames\">\n"
        for (index, start) in drawn {
            let node = tree.nodes[index]
            let count = node.counts.faults
            let w = Double(count) * scale
            let x = pad + Double(start) * scale
            let y = top + Double(depth - node.depth) * frameHeight
            let (fill, light) = color(node, colorBy: options.colorBy, moduleHues: moduleHues)
            out += "<g class=\"f\" data-s=\"\(start)\" data-c=\"\(count)\" data-d=\"\(node.depth)\" data-n=\"\(SVG.escape(node.name))\">"
            out += "<title>\(SVG.escape(tooltip(node, total: total)))</title>"
            out += "<rect x=\"\(SVG.num(x))\" y=\"\(SVG.num(y))\" width=\"\(SVG.num(w))\" height=\"\(SVG.num(frameHeight - 1))\" rx=\"2\" fill=\"\(fill)\"/>"
            out += "<text x=\"\(SVG.num(x + 3))\" y=\"\(SVG.num(y + frameHeight - 4.5))\"\(light ? " class=\"light\"" : "")>\(SVG.escape(label(node.name, width: w)))</text>"
            out += "</g>\n"
        }
        out += "</g>\n"
        if omitted > 0 {
            out += "<text class=\"sub\" x=\"\(SVG.num(width - pad))\" y=\"\(SVG.num(height - 26))\" text-anchor=\"end\">"
                + "\(omitted) frames narrower than \(SVG.num(options.minFrameWidth)) px not drawn</text>\n"
        }
        out += "<script type=\"text/ecmascript\"><![CDATA[\n"
        out += script(id: options.id, width: width, total: total)
        out += "]]></script>\n</svg>\n"
        return out
    }

    /// The frames wide enough to draw, depth first, each with its left edge in fault units,
    /// and how many subtrees were left out for being too narrow.
    static func visibleFrames(_ tree: FlameTree, scale: Double, minWidth: Double) -> (frames: [(node: Int, start: UInt64)], omitted: Int) {
        var result: [(node: Int, start: UInt64)] = []
        var omitted = 0
        var stack: [(node: Int, start: UInt64)] = [(0, 0)]
        while let (index, start) = stack.popLast() {
            let node = tree.nodes[index]
            guard Double(node.counts.faults) * scale >= minWidth else { omitted += 1; continue }
            result.append((index, start))
            var childStart = start
            var children: [(node: Int, start: UInt64)] = []
            for child in node.children {
                children.append((child, childStart))
                childStart += tree.nodes[child].counts.faults
            }
            stack.append(contentsOf: children.reversed())
        }
        return (result, omitted)
    }

    /// The text that fits in `width` pixels: whole, cut with "..", or nothing.
    static func label(_ name: String, width: Double) -> String {
        let fits = Int((width - 6) / charWidth)
        if fits < 3 { return "" }
        if name.count <= fits { return name }
        return String(name.prefix(fits - 2)) + ".."
    }

    static func tooltip(_ node: FlameTree.Node, total: UInt64) -> String {
        var text = node.name
        if node.inlined { text += " (inlined)" }
        if !node.locations.isEmpty { text += " " + node.locations.joined(separator: ", ") }
        if let module = node.module { text += " (\(FrameNamer.shortModuleName(module)))" }
        text += ": \(TextFormat.count(node.counts.faults)) faults, \(TextFormat.percent(node.counts.faults, of: total))"
        text += " (\(TextFormat.breakdown(node.counts)))"
        return text
    }

    private static func color(_ node: FlameTree.Node, colorBy: FlameGraphOptions.ColorBy,
                              moduleHues: [String: Int]) -> (fill: String, light: Bool) {
        let shade = Double(SVG.hash(node.name) % 1000) / 1000
        switch colorBy {
        case .kind:
            let kind = FlameTree.dominantKind(node.counts)
            return (KindPalette.color(kind, shade: shade), kind == .segv)
        case .module:
            guard let module = node.module.map(FrameNamer.shortModuleName), let hue = moduleHues[module] else {
                return ("hsl(0,0%,\(78 + Int(shade * 10))%)", false)
            }
            return ("hsl(\(hue),60%,\(60 + Int(shade * 14))%)", false)
        }
    }

    /// Modules by faults, busiest first, each with a hue: golden-angle steps around the
    /// wheel keep the busiest modules' colours far apart.
    static func moduleRanking(_ tree: FlameTree) -> [(module: String, hue: Int)] {
        var faults: [String: UInt64] = [:]
        for node in tree.nodes {
            guard let module = node.module.map(FrameNamer.shortModuleName) else { continue }
            faults[module] = max(faults[module] ?? 0, node.counts.faults)
        }
        return faults.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .enumerated().map { ($0.element.key, Int((Double($0.offset) * 137.508).truncatingRemainder(dividingBy: 360))) }
    }

    private static func legend(_ tree: FlameTree, options: FlameGraphOptions, y: Double) -> String {
        var items: [(color: String, text: String)] = []
        switch options.colorBy {
        case .kind:
            for (kind, count) in tree.total.nonZeroKinds {
                items.append((KindPalette.legendColor(kind), "\(kind.name) \(TextFormat.count(count))"))
            }
        case .module:
            for (module, hue) in moduleRanking(tree).prefix(8) {
                items.append(("hsl(\(hue),60%,67%)", module))
            }
        }
        var out = "<g class=\"legend\">"
        var x = pad
        let prefix = options.colorBy == .kind ? "colour: kind of most faults" : "colour: module"
        out += "<text class=\"sub\" x=\"\(SVG.num(x))\" y=\"\(SVG.num(y + 9))\">\(prefix)</text>"
        x += Double(prefix.count) * charWidth + 14
        for item in items where x + Double(item.text.count) * charWidth < options.width - 200 {
            out += "<rect x=\"\(SVG.num(x))\" y=\"\(SVG.num(y))\" width=\"12\" height=\"11\" rx=\"2\" fill=\"\(item.color)\"/>"
            out += "<text class=\"sub\" x=\"\(SVG.num(x + 16))\" y=\"\(SVG.num(y + 9))\">\(SVG.escape(item.text))</text>"
            x += 16 + Double(item.text.count) * charWidth + 14
        }
        return out + "</g>\n"
    }
}
