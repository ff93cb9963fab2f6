// The live status line on a terminal while recording: elapsed time, faults per second,
// totals by kind, processes, lost. Rewritten in place a few times a second and erased at
// the end, so the terminal is left as the program's own output made it.

import Glibc
import CFaultlineLinux
import FaultlineCore

final class StatusLine {
    private let started = fl_monotonic_ns()
    private var lastDraw: UInt64 = 0
    private var lastFaults: UInt64 = 0
    private var drawn = false
    static let intervalNs: UInt64 = 250_000_000
    static let firstDrawNs: UInt64 = 500_000_000

    /// Draws the line if a quarter second has passed since the last one.
    func update(_ counts: RecordingCounts, paused: Bool) {
        let now = fl_monotonic_ns()
        // Short runs never see it; then a few times a second.
        guard now - started >= Self.firstDrawNs, now - lastDraw >= Self.intervalNs else { return }
        let rate = lastDraw == 0 ? 0 : Double(counts.faults - min(counts.faults, lastFaults)) / (Double(now - lastDraw) / 1e9)
        lastDraw = now
        lastFaults = counts.faults
        let seconds = Double(now - started) / 1e9
        var text = "faultline: \(Self.fixed(seconds, 1)) s  \(counts.faults) faults  \(Int(rate))/s "
        for kind in FaultKind.allCases {
            let n = counts.byKind[kind] ?? 0
            if n > 0 { text += " \(kind.name) \(n)" }
        }
        text += "  \(counts.processes.count) proc"
        if counts.lost > 0 { text += "  LOST \(counts.lost)" }
        if paused { text += "  (paused to keep up)" }
        // The cursor goes back to the start of the line afterwards, so the program's own
        // output overwrites the status rather than being appended to it.
        write("\r\u{1B}[K" + String(text.prefix(max(20, Self.terminalWidth() - 1))) + "\r")
        drawn = true
    }

    /// Erases the line, leaving the cursor where it was before the first draw.
    func erase() {
        if drawn { write("\r\u{1B}[K") }
        drawn = false
    }

    private func write(_ text: String) {
        var bytes = text
        bytes.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }

    private static func fixed(_ v: Double, _ digits: Int) -> String {
        let scale = pow(10.0, Double(digits))
        let n = Int((v * scale).rounded())
        return "\(n / Int(scale)).\(n % Int(scale))"
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        return ioctl(2, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
    }

    /// Whether a status line belongs on stderr at all.
    static var stderrIsTerminal: Bool { isatty(2) != 0 }
}
