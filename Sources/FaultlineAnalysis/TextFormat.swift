// Small formatting helpers for text a person reads: grouped digits, percentages,
// durations, byte sizes and aligned tables. No locale: output must not change by machine.

import FaultlineCore

enum TextFormat {
    /// `text` with its control characters written as escapes (a newline as \n), so that it
    /// stays on one line of a table or a heading.
    static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.properties.generalCategory == .control {
                    out += "\\x" + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// 1234567 → "1,234,567".
    static func count<I: BinaryInteger>(_ n: I) -> String { n.grouped }

    /// Share of `part` in `whole` with one decimal: "12.3%"; "-" when there is no whole.
    static func percent(_ part: UInt64, of whole: UInt64) -> String {
        guard whole > 0 else { return "-" }
        // Integer arithmetic with rounding, so 2/3 prints 66.7% on every platform; in 128
        // bits, because times in nanoseconds from a log may be anything up to 2^64-1.
        let (high, low) = part.multipliedFullWidth(by: 1000)
        let (scaled, carry) = low.addingReportingOverflow(whole / 2)
        let numerator = (high: high + (carry ? 1 : 0), low: scaled)
        guard numerator.high < whole else { return ">" + count(UInt64.max / 10) + "%" }
        let tenths = whole.dividingFullWidth(numerator).quotient
        return "\(count(tenths / 10)).\(tenths % 10)%"
    }

    /// A service time in three significant digits: "850 ns", "1.23 µs", "138 µs", "4.02 s".
    static func shortDuration(ns: UInt64) -> String {
        if ns < 1_000 { return "\(ns) ns" }
        let units: [(size: UInt64, name: String)] = [(1_000, "µs"), (1_000_000, "ms"), (1_000_000_000, "s")]
        let index = units.lastIndex { ns >= $0.size } ?? 0
        let (size, unit) = units[index]
        let whole = ns / size
        if index == units.count - 1 && whole >= 1_000 { return count(whole) + " s" }
        let decimals = whole >= 100 ? 0 : whole >= 10 ? 1 : 2
        let scale: UInt64 = decimals == 0 ? 1 : decimals == 1 ? 10 : 100
        // Rounded half up at the last digit shown.
        let scaled = whole * scale + ((ns % size) * scale + size / 2) / size
        if decimals == 0 && scaled >= 1_000 && index + 1 < units.count {
            // 999.6 µs rounds to 1000 µs: that is 1.00 ms.
            return shortDuration(ns: units[index + 1].size)
        }
        guard decimals > 0 else { return "\(scaled) \(unit)" }
        let fraction = String(scaled % scale)
        return "\(scaled / scale)." + String(repeating: "0", count: decimals - fraction.count) + fraction + " " + unit
    }

    static func duration(ns: UInt64) -> String {
        if ns >= 60_000_000_000 {
            let s = ns / 1_000_000_000
            return "\(s / 60) min \(s % 60) s"
        }
        if ns >= 1_000_000_000 { return decimal(ns, 1_000_000_000) + " s" }
        if ns >= 1_000_000 { return decimal(ns, 1_000_000) + " ms" }
        if ns >= 1_000 { return decimal(ns, 1_000) + " µs" }
        return "\(ns) ns"
    }

    /// `text` whole if it fits in `width` characters, else its start and "…".
    static func cut(_ text: String, to width: Int) -> String {
        text.count <= width ? text : String(text.prefix(max(width - 1, 0))) + "…"
    }

    /// How many times `part` is `whole`, rounded: one decimal below 10 ("2.6×"), whole
    /// above ("16×", "1,532×"); nil without a whole.
    static func times(_ part: UInt64, _ whole: UInt64) -> String? {
        guard whole > 0 else { return nil }
        let ratio = Double(part) / Double(whole)
        let tenths = (ratio * 10).rounded()
        if tenths < 100 { return "\(Int(tenths) / 10).\(Int(tenths) % 10)×" }
        // In Double: a ratio of two 64-bit times can exceed Int.
        let whole = ratio.rounded()
        return (whole < 1e18 ? count(Int64(whole)) : String(format: "%.3g", whole)) + "×"
    }

    static func bytes(_ n: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, unit) in units where n >= size { return decimal(n, size) + " " + unit }
        return "\(n) bytes"
    }

    /// A distance in memory, exact (a crash 17 bytes past a buffer is an overflow by 17):
    /// "4 KiB" when whole, "12 bytes", "4,097 bytes (4.00 KiB)".
    static func distance(_ n: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, unit) in units where n >= size {
            return n % size == 0 ? "\(count(n / size)) \(unit)" : "\(count(n)) bytes (\(decimal(n, size)) \(unit))"
        }
        return n == 1 ? "1 byte" : "\(n) bytes"
    }

    /// value/unit with two decimals, rounded.
    private static func decimal(_ value: UInt64, _ unit: UInt64) -> String {
        // Whole units and the rest apart, so that no value overflows (units are below 2^40).
        let hundredths = (value / unit) * 100 + ((value % unit) * 100 + unit / 2) / unit
        let frac = hundredths % 100
        return "\(hundredths / 100)." + (frac < 10 ? "0" : "") + "\(frac)"
    }

    /// "anon 812, cow 40": a row's kinds, largest first.
    static func breakdown(_ counts: KindCounts) -> String {
        counts.nonZeroKinds.map { "\($0.kind.name) \(count($0.count))" }.joined(separator: ", ")
    }
}

/// Rows of cells printed in aligned columns. Right-aligned columns hold numbers; the last
/// column is never padded, so a long name at the end does not push trailing spaces.
struct TextTable {
    enum Alignment { case left, right }
    var alignments: [Alignment]
    var rows: [[String]] = []
    var indent = "  "

    init(_ alignments: [Alignment]) { self.alignments = alignments }

    /// Cells are shown on one line: a command line may hold newlines (`python3 -c '…'`).
    mutating func add(_ cells: [String]) { rows.append(cells.map(TextFormat.oneLine)) }

    func render() -> String {
        var widths = [Int](repeating: 0, count: alignments.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        var out = ""
        for row in rows {
            var line = indent
            for (i, cell) in row.enumerated() where i < widths.count {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                let isLast = i == row.count - 1
                switch alignments[i] {
                case .right: line += pad + cell
                case .left: line += isLast ? cell : cell + pad
                }
                if !isLast { line += "  " }
            }
            out += line + "\n"
        }
        return out
    }
}
