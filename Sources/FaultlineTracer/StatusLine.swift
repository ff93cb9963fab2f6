// The live status line on a terminal while recording: elapsed time, faults per second,
// totals by kind, processes, lost.
//
// The traced program writes to the same terminal whenever it likes, so the line lives
// where its output cannot reach: the terminal's last row, taken out of the scrolling
// region (DECSTBM, as apt's progress bar does). The program's output scrolls above it
// untouched; each redraw saves the cursor, writes the bottom row and restores the cursor.
// At the end the region is given back and the row cleared, so the terminal is left as the
// program's own output made it.

import Glibc
import CFaultlineLinux
import FaultlineCore

final class StatusLine {
    private let started = fl_monotonic_ns()
    private var lastDraw: UInt64 = 0
    private var lastFaults: UInt64 = 0
    private var rate = 0.0
    /// The terminal's height when the bottom row was reserved; 0 while it is not.
    private var reservedRows = 0
    static let intervalNs: UInt64 = 250_000_000
    static let firstDrawNs: UInt64 = 500_000_000

    private static let saveCursor = "\u{1B}7"
    private static let restoreCursor = "\u{1B}8"
    private static let clearLine = "\u{1B}[2K"
    private static let plainColours = "\u{1B}[0m"
    private static let wholeScreenScrolls = "\u{1B}[r"
    /// Index, then reverse index: if the cursor is on the last row, the screen scrolls up
    /// one line so that row is free, and the cursor keeps its column on the same text.
    private static let freeTheRowBelow = "\u{1B}D\u{1B}M"

    deinit { erase() }

    /// The terminal changed size: if the line is shown, move it to the new bottom row now.
    func terminalResized(_ counts: RecordingCounts, paused: Bool) {
        guard reservedRows > 0 else { return }
        update(counts, paused: paused, force: true)
    }

    /// Draws the line if a quarter second has passed since the last one.
    func update(_ counts: RecordingCounts, paused: Bool, force: Bool = false) {
        let now = fl_monotonic_ns()
        // Short runs never see it; then a few times a second.
        guard force || (now - started >= Self.firstDrawNs && now - lastDraw >= Self.intervalNs) else { return }
        // The rate is over the last quarter second; a redraw forced sooner keeps the last one.
        if !force {
            rate = lastDraw == 0 ? 0 : Double(counts.faults - min(counts.faults, lastFaults)) / (Double(now - lastDraw) / 1e9)
            lastDraw = now
            lastFaults = counts.faults
        }
        draw(Self.describe(counts, seconds: Double(now - started) / 1e9, rate: rate, paused: paused))
    }

    /// After the run, while the recorded frames are named (which takes seconds on a large
    /// program, with the program gone and nothing else to show): how far it has got.
    func updateNaming(done: Int, of total: Int) {
        let now = fl_monotonic_ns()
        guard now - started >= Self.firstDrawNs && now - lastDraw >= Self.intervalNs else { return }
        lastDraw = now
        let seconds = Double(now - started) / 1e9
        draw("faultline: naming frames: \(done) of \(total) (\(Self.fixed(seconds, 1)) s)")
    }

    private func draw(_ text: String) {
        // Too small a terminal to spare a row: no line rather than one over the program's.
        guard let size = Self.terminalSize(), size.rows >= 4 else { return }
        if size.rows != reservedRows { reserveBottomRow(rows: size.rows) }
        // Plain colours for the status; restoring the cursor restores the program's.
        write(Self.saveCursor + "\u{1B}[\(size.rows);1H" + Self.plainColours + Self.clearLine
              + String(text.prefix(max(20, size.columns - 1))) + Self.restoreCursor)
    }

    /// Gives the bottom row back to the terminal and clears it; the cursor stays where the
    /// program's output left it. After a resize not yet redrawn, the row that held the
    /// status may hold the program's lines by now: it is left alone.
    func erase() {
        guard reservedRows > 0 else { return }
        var sequence = Self.saveCursor + Self.wholeScreenScrolls
        if Self.terminalSize()?.rows == reservedRows { sequence += "\u{1B}[\(reservedRows);1H" + Self.clearLine }
        write(sequence + Self.restoreCursor)
        reservedRows = 0
    }

    /// Takes the last row out of the scrolling region, on the first draw and again after
    /// every resize. After a resize the whole screen scrolls again first, so that freeing
    /// the row below the cursor works wherever the resize left it (on the last row, outside
    /// the old region, a line feed would not scroll); then everything below the cursor's
    /// row is cleared. The old status is there, wherever the terminal moved it (xterm adds
    /// rows at the bottom, tmux pulls lines back from the scrollback), and a program that
    /// writes line by line has nothing there.
    private func reserveBottomRow(rows: Int) {
        var sequence = ""
        if reservedRows > 0 {
            sequence += Self.saveCursor + Self.wholeScreenScrolls + Self.restoreCursor
        }
        sequence += Self.freeTheRowBelow
        if reservedRows > 0 {
            sequence += Self.saveCursor + "\u{1B}D\r\u{1B}[J" + Self.restoreCursor
        }
        // Setting the region homes the cursor: save and restore around it.
        sequence += Self.saveCursor + "\u{1B}[1;\(rows - 1)r" + Self.restoreCursor
        write(sequence)
        reservedRows = rows
    }

    static func describe(_ counts: RecordingCounts, seconds: Double, rate: Double, paused: Bool) -> String {
        var text = "faultline: \(fixed(seconds, 1)) s  \(counts.faults.grouped) faults  \(Int(rate).grouped)/s "
        for kind in FaultKind.allCases {
            let n = counts.byKind[kind]
            if n > 0 { text += " \(kind.name) \(n.grouped)" }
        }
        text += "  \(counts.processes.count) proc"
        if counts.lost > 0 { text += "  LOST \(counts.lost.grouped)" }
        if paused { text += "  (paused to keep up)" }
        return text
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

    private static func terminalSize() -> (rows: Int, columns: Int)? {
        var size = winsize()
        guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 else { return nil }
        return (Int(size.ws_row), Int(size.ws_col))
    }

    /// Whether a status line belongs on stderr at all: a terminal that understands cursor
    /// movement and scrolling regions.
    static var stderrIsTerminal: Bool {
        guard isatty(2) != 0 else { return false }
        let term = getenv("TERM").map { String(cString: $0) } ?? ""
        return !term.isEmpty && term != "dumb"
    }
}
