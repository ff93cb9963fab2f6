// Names kept across recordings, by build-id: a build-id names exactly one build of a file,
// so what libdw said about an offset in it once holds for every later recording of it.
// Naming the frames of one Python recording took 0.5 s of libdw (its DWARF walked for
// lines and inline chains); the same frames come back from the cache in milliseconds.
//
// One file per build-id under the cache directory (in a subdirectory per naming version),
// a line per offset:
//   OFFSET(hex) TAB FUNCTION TAB FILE TAB LINE [TAB FUNCTION TAB FILE TAB LINE]...
// the first triple the symbol itself, then its inline chain; "-" alone for an offset the
// recorded build itself has no name for (a stripped binary's). Tabs, newlines and
// backslashes in names are escaped. (After installing a debug package for a build already
// cached, delete the cache, or set FAULTLINE_SYMBOL_CACHE=off once.)
// Hazards: the files are input like any other. A line that does not parse makes the whole
// file ignored (and rewritten when new names are added), a file over `maxFileBytes` is not
// read, and a file is replaced by rename, so a reader never sees half of one. Two
// recorders writing the same build-id's file at once: the last rename wins, and the other's
// new names are asked of libdw again next time.

import Glibc
import FaultlineCore

/// A symbolizer that can say whether it has the very build a frame was recorded from: then
/// its "no name" is the build's own answer, which a cache may keep.
public protocol BuildAwareSymbolizer: Symbolizer {
    func hasModule(path modulePath: String, buildID: [UInt8]) -> Bool
}

extension LibdwSymbolizer: BuildAwareSymbolizer {}

/// A `Symbolizer` that answers from, and adds to, a per-build-id cache on disk, asking
/// `inner` what it does not know. Frames without a build-id go straight to `inner`.
public final class CachingSymbolizer: Symbolizer {
    private let inner: BuildAwareSymbolizer
    private let directory: String
    /// Each module's names as loaded and as learnt, by build-id (hex).
    private var modules: [String: [UInt64: Symbol?]] = [:]
    /// Build-ids with names learnt since loading: the files `save` rewrites.
    private var changed: Set<String> = []
    /// How many answers came from the cache and from `inner`.
    public private(set) var hits = 0
    public private(set) var misses = 0

    static let maxFileBytes = 64 << 20

    /// What the cache's answers were made by: bumped when the naming changes (say, inline
    /// chains or demangling made better), so a new faultline does not keep an old one's names.
    static let namingVersion = 1

    /// `directory`: the cache's root; the files go in a subdirectory per `namingVersion`.
    public init(wrapping inner: BuildAwareSymbolizer, directory: String) {
        self.inner = inner
        self.directory = directory + "/v\(Self.namingVersion)"
    }

    /// $FAULTLINE_SYMBOL_CACHE, else $XDG_CACHE_HOME/faultline/symbols, else
    /// $HOME/.cache/faultline/symbols; nil when $FAULTLINE_SYMBOL_CACHE is "off" or no
    /// home is known.
    public static var defaultDirectory: String? {
        func env(_ name: String) -> String? { getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        if let set = env("FAULTLINE_SYMBOL_CACHE") { return set == "off" ? nil : set }
        if let xdg = env("XDG_CACHE_HOME") { return xdg + "/faultline/symbols" }
        return env("HOME").map { $0 + "/.cache/faultline/symbols" }
    }

    public func symbolize(modulePath: String, buildID: [UInt8], fileOffset: UInt64) -> Symbol? {
        if let known = cached(buildID: buildID, fileOffset: fileOffset) { return known }
        let frame = FrameAddress(modulePath: modulePath, buildID: buildID, fileOffset: fileOffset)
        let named = NamedFrame(frame, asking: inner)
        learn(named, buildID: buildID, fileOffset: fileOffset)
        return named.symbol
    }

    /// What the cache holds for an offset of a build: `.some` of a name or of "no name", or
    /// nil when it does not know (or the frame has no build-id): then ask a symbolizer, and
    /// `learn` its answer. Counts a hit or a miss.
    public func cached(buildID: [UInt8], fileOffset: UInt64) -> Symbol?? {
        guard !buildID.isEmpty else { return nil }
        let key = Self.key(buildID)
        if modules[key] == nil { modules[key] = load(key) }
        if let known = modules[key]![fileOffset] {
            hits += 1
            return known
        }
        misses += 1
        return nil
    }

    /// Keeps a symbolizer's answer for an offset `cached` did not know. "No name" is kept
    /// only when the recorded build itself said so: a file that is gone or was rebuilt may
    /// be found under its build-id later.
    public func learn(_ named: NamedFrame, buildID: [UInt8], fileOffset: UInt64) {
        guard !buildID.isEmpty, named.fromRecordedBuild else { return }
        let key = Self.key(buildID)
        modules[key, default: [:]][fileOffset] = .some(named.symbol)
        changed.insert(key)
    }

    private static func key(_ buildID: [UInt8]) -> String {
        buildID.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// Writes the files of the build-ids that learnt names. Failures (a read-only home, a
    /// full disk) leave the cache as it was: it only ever saves time.
    public func save() {
        guard !changed.isEmpty, makeDirectories(directory) else { return }
        for key in changed.sorted() {
            guard let names = modules[key] else { continue }
            var text = ""
            for (offset, symbol) in names.sorted(by: { $0.key < $1.key }) {
                text += Self.line(offset: offset, symbol: symbol)
            }
            let path = directory + "/" + key
            let temporary = path + ".tmp.\(getpid())"
            guard write(text, to: temporary) else { unlink(temporary); continue }
            if rename(temporary, path) != 0 { unlink(temporary) }
        }
        changed.removeAll()
    }

    // MARK: the file

    private func load(_ key: String) -> [UInt64: Symbol?] {
        guard let text = read(directory + "/" + key) else { return [:] }
        var names: [UInt64: Symbol?] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let (offset, symbol) = Self.parse(line) else { return [:] }
            names[offset] = .some(symbol)
        }
        return names
    }

    static func line(offset: UInt64, symbol: Symbol?) -> String {
        var fields = [String(offset, radix: 16)]
        if let symbol {
            fields += triple(symbol.function ?? "", symbol.file, symbol.line)
            for caller in symbol.inlinedInto { fields += triple(caller.function, caller.file, caller.line) }
        } else {
            fields.append("-")
        }
        return fields.joined(separator: "\t") + "\n"
    }

    private static func triple(_ function: String, _ file: String?, _ line: Int?) -> [String] {
        [escape(function), file.map(escape) ?? "", line.map { String($0) } ?? ""]
    }

    static func parse(_ line: Substring) -> (UInt64, Symbol?)? {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard let first = fields.first, let offset = UInt64(first, radix: 16), fields.count >= 2 else { return nil }
        if fields.count == 2 { return fields[1] == "-" ? (offset, nil) : nil }
        guard (fields.count - 1) % 3 == 0 else { return nil }
        var triples: [SourceFunction] = []
        for i in stride(from: 1, to: fields.count, by: 3) {
            guard let function = unescape(fields[i]) else { return nil }
            let file = fields[i + 1].isEmpty ? nil : unescape(fields[i + 1])
            if !fields[i + 1].isEmpty && file == nil { return nil }
            var line: Int?
            if !fields[i + 2].isEmpty {
                guard let n = Int(fields[i + 2]), n >= 0 else { return nil }
                line = n
            }
            triples.append(SourceFunction(function: function, file: file, line: line))
        }
        let own = triples.removeFirst()
        return (offset, Symbol(function: own.function.isEmpty ? nil : own.function, file: own.file, line: own.line,
                               inlinedInto: triples))
    }

    private static func escape(_ s: String) -> String {
        guard s.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\\" }) else { return s }
        var out = ""
        for c in s {
            switch c {
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\\": out += "\\\\"
            default: out.append(c)
            }
        }
        return out
    }

    private static func unescape(_ s: Substring) -> String? {
        guard s.contains("\\") else { return String(s) }
        var out = ""
        var escaped = false
        for c in s {
            if escaped {
                switch c {
                case "t": out.append("\t")
                case "n": out.append("\n")
                case "\\": out.append("\\")
                default: return nil
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return escaped ? nil : out
    }

    // MARK: files, with Glibc only (this target does not import Foundation)

    private func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
              info.st_size >= 0, info.st_size <= Self.maxFileBytes else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let complete = bytes.withUnsafeMutableBytes { buffer in
            Self.whole(buffer.count) { done in Glibc.read(fd, buffer.baseAddress! + done, buffer.count - done) }
        }
        return complete ? String(decoding: bytes, as: UTF8.self) : nil
    }

    private func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return Array(text.utf8).withUnsafeBytes { buffer in
            Self.whole(buffer.count) { done in Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done) }
        }
    }

    /// Runs `step` (a read or write from `done` bytes on) until `count` bytes are done;
    /// false at an error or an early end.
    private static func whole(_ count: Int, _ step: (_ done: Int) -> Int) -> Bool {
        var done = 0
        while done < count {
            let n = step(done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    /// mkdir -p, private to the user: 0700 for what it creates.
    private func makeDirectories(_ path: String) -> Bool {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { return false }
        }
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
