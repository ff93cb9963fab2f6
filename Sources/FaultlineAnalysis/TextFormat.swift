// Small formatting helpers for text a person reads: grouped digits, percentages,
// durations, byte sizes and aligned tables. No locale: output must not change by machine.

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
    static func count<I: BinaryInteger>(_ n: I) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    /// Share of `part` in `whole` with one decimal: "12.3%"; "-" when there is no whole.
    static func percent(_ part: UInt64, of whole: UInt64) -> String {
        guard whole > 0 else { return "-" }
        // Integer arithmetic with rounding, so 2/3 prints 66.7% on every platform.
        let tenths = (part * 1000 + whole / 2) / whole
        return "\(tenths / 10).\(tenths % 10)%"
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

    static func bytes(_ n: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, unit) in units where n >= size { return decimal(n, size) + " " + unit }
        return "\(n) bytes"
    }

    /// A distance in memory, exact (a crash 17 bytes past a buffer is an overflow by 17):
    /// "4 KiB" when whole, "12 bytes", "4097 bytes (4.00 KiB)".
    static func distance(_ n: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, unit) in units where n >= size {
            return n % size == 0 ? "\(n / size) \(unit)" : "\(n) bytes (\(decimal(n, size)) \(unit))"
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
