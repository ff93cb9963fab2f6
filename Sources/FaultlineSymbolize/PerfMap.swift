// Names of JIT-compiled code from a runtime's perf map, /tmp/perf-PID.map: one line per
// code region, `START SIZE NAME` with START and SIZE in hex (perf's format, written by
// Python 3.12+ `-X perf`, node `--perf-basic-prof`, the JVM's perf-map-agent, LuaJIT).
// Hazards: the file is in /tmp, where anyone may plant one, so it is read only when the
// traced process's own user (or root) owns it, never through a symbolic link, and at most
// `maxBytes` of it; lines that do not parse are skipped.

import Glibc

public struct PerfMap: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var start: UInt64
        /// Exclusive; saturates at 2^64 - 1.
        public var end: UInt64
        public var name: String
        /// The line's position in the file: where regions overlap (code freed and its
        /// memory reused), the later line wins.
        var order: Int
    }

    /// Sorted by start, then by order.
    public private(set) var entries: [Entry]

    /// A runtime writes a line per compiled function; a long-lived one can write a great many.
    public static let maxBytes = 64 << 20
    /// Names longer than this are cut: a name is for reading.
    public static let maxNameBytes = 4096
    /// How many entries before an address are looked at for one that covers it: regions
    /// overlap only where code was replaced, a few at a time.
    static let overlapLookback = 64

    /// Parses the map's text; what is not a `START SIZE NAME` line is skipped.
    public init<Bytes: Collection>(text: Bytes) where Bytes.Element == UInt8 {
        var entries: [Entry] = []
        var line: [UInt8] = []
        func flush() {
            if let entry = Self.parse(line, order: entries.count) { entries.append(entry) }
            line.removeAll(keepingCapacity: true)
        }
        for byte in text {
            if byte == UInt8(ascii: "\n") { flush() } else { line.append(byte) }
        }
        flush()
        entries.sort { $0.start != $1.start ? $0.start < $1.start : $0.order < $1.order }
        self.entries = entries
    }

    /// The name of the code at `address`, or nil where no line covers it.
    public func name(at address: UInt64) -> String? {
        // The first entry starting after the address; the candidates lie before it.
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].start <= address { low = mid + 1 } else { high = mid }
        }
        var best: Entry?
        var index = low - 1
        while index >= 0 && low - index <= Self.overlapLookback {
            let entry = entries[index]
            if address < entry.end, best.map({ entry.order > $0.order }) ?? true { best = entry }
            index -= 1
        }
        return best?.name
    }

    private static func parse(_ line: [UInt8], order: Int) -> Entry? {
        var fields = line.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: true)
        guard fields.count == 3, let start = hex(fields[0]), let size = hex(fields[1]), size > 0 else { return nil }
        if fields[2].last == UInt8(ascii: "\r") { fields[2] = fields[2].dropLast() }
        guard !fields[2].isEmpty else { return nil }
        let name = String(decoding: fields[2].prefix(maxNameBytes), as: UTF8.self)
        let (end, overflow) = start.addingReportingOverflow(size)
        return Entry(start: start, end: overflow ? UInt64.max : end, name: name, order: order)
    }

    /// Hex digits, with or without `0x`; nil for anything else or more than 64 bits.
    private static func hex(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var digits = digits
        if digits.count > 2, digits.first == UInt8(ascii: "0"), digits.dropFirst().first.map({ $0 | 0x20 }) == UInt8(ascii: "x") {
            digits = digits.dropFirst(2)
        }
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        var value: UInt64 = 0
        for d in digits {
            let nibble: UInt8
            switch d {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = d - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = d - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = d - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    /// The map at `path`, if it is a regular file (not reached through a symbolic link)
    /// owned by `owner` or by root; its first `maxBytes` at most. Nil when there is none or
    /// it may not be trusted.
    public static func read(path: String, owner: uid_t) -> PerfMap? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG,
              status.st_uid == owner || status.st_uid == 0 else { return nil }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while bytes.count < maxBytes {
            let want = min(buffer.count, maxBytes - bytes.count)
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, want) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes.append(contentsOf: buffer.prefix(n))
        }
        // A map cut at maxBytes may end in half a line: drop it.
        if bytes.count >= maxBytes, let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) {
            bytes.removeSubrange((lastNewline + 1)...)
        }
        return PerfMap(text: bytes)
    }

    /// Where a runtime writes the perf map of process `pid`.
    public static func path(pid: Int32) -> String { "/tmp/perf-\(pid).map" }
}
