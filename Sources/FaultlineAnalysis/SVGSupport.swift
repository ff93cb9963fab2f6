// Shared by the flame graph and the heatmap: XML escaping (names come from binaries and
// logs, and may hold anything), number formatting that does not depend on the locale, and
// the colour of each fault kind, so both pictures and their legends agree.

import FaultlineCore

enum SVG {
    /// Text safe in an XML element or a quoted attribute. Characters XML 1.0 forbids
    /// (control characters from a corrupt symbol table) become U+FFFD, so a strange name
    /// never makes the whole document unreadable.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// A coordinate with at most two decimals, "12.5" not "12.500000".
    static func num(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        return String(rounded)
    }

    /// A stable small hash (FNV-1a), so colours do not change from run to run the way
    /// Swift's seeded Hasher would make them.
    static func hash(_ s: String) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for byte in s.utf8 { h = (h ^ UInt32(byte)) &* 16_777_619 }
        return h
    }

    static let fontFamily = "DejaVu Sans Mono, Menlo, Consolas, monospace"
}

/// One hue per fault kind; lightness varies per frame so neighbours stay apart.
enum KindPalette {
    static func hue(_ kind: FaultKind) -> (h: Int, s: Int) {
        switch kind {
        case .anon: return (28, 90)     // orange: fresh memory
        case .zero: return (52, 85)     // yellow: the zero page
        case .file: return (205, 65)    // blue: page cache
        case .cow: return (350, 80)     // red: copies after fork
        case .swap: return (176, 70)    // teal: back from swap
        case .major: return (275, 55)   // purple: waited for I/O
        case .segv: return (0, 0)       // grey-black: refused
        case .other: return (140, 35)   // green-grey
        }
    }

    /// The colour of a frame or cell of `kind`; `shade` in 0...1 picks the lightness.
    static func color(_ kind: FaultKind, shade: Double) -> String {
        let (h, s) = hue(kind)
        let base = kind == .segv ? 30.0 : 55.0
        let l = base + 20 * min(max(shade, 0), 1)
        return "hsl(\(h),\(s)%,\(Int(l))%)"
    }

    /// The swatch a legend shows.
    static func legendColor(_ kind: FaultKind) -> String { color(kind, shade: 0.4) }
}

extension KindPalette {
    /// A heatmap cell: pale for one fault, deep for the busiest cell.
    static func heat(_ kind: FaultKind, intensity: Double) -> String {
        let (h, s) = hue(kind)
        let l = (kind == .segv ? 70.0 : 86.0) - 50 * min(max(intensity, 0), 1)
        return "hsl(\(h),\(s)%,\(Int(l))%)"
    }
}
