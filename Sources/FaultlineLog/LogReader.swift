// Reads a log chunk by chunk. Anything malformed stops the reading at the last good chunk
// with a warning that names the byte offset; nothing in the file can make the reader trap,
// loop or allocate more than one bounded chunk at a time.
// A regular file is read as it was when opened (a log still being written stops at the
// size it had); anything else (a pipe, `report <(cat x.flt)`, /dev/stdin, a device) has no
// size and is read to its end, one chunk at a time, so a device that never ends (/dev/zero)
// is refused by its first bytes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FaultlineCore

/// The file cannot be read as a log at all.
public enum LogReadError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, errno: Int32)
    case empty(path: String)
    case isDirectory(path: String)
    case notALog(path: String)
    case unsupportedVersion(path: String, version: UInt16)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let e): return "cannot open \(path): \(String(cString: strerror(e)))"
        case .empty(let path): return "\(path) is empty, not a faultline log"
        case .isDirectory(let path): return "\(path) is a directory, not a faultline log"
        case .notALog(let path): return "\(path) is not a faultline log (bad magic)"
        case .unsupportedVersion(let path, let v):
            return "\(path) is a version \(v) log; this faultline reads versions \(LogFormat.readableVersions.lowerBound) to \(LogFormat.readableVersions.upperBound)"
        }
    }
}

/// Why reading stopped before the end of the file: the records before `offset` are good.
public struct LogDamage: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case truncated, corrupt }
    public var kind: Kind
    public var offset: UInt64
    public var reason: String
    public var description: String {
        let what = kind == .truncated ? "truncated" : "corrupt"
        return "log is \(what) at byte \(offset): \(reason); reading what came before"
    }
}

public final class LogReader {
    public let path: String
    public private(set) var damage: LogDamage?
    /// A regular file's size when it was opened; for a pipe or a device, the bytes read so
    /// far (the whole stream's size once reading has ended).
    public private(set) var fileSize: UInt64
    /// Where reading stops: the regular file's size when opened, nil for a stream.
    private let sizeLimit: UInt64?
    /// The file's format version (LogFormat.readableVersions).
    public private(set) var version: UInt16 = LogFormat.version
    private var fd: Int32
    private var offset: UInt64 = 0

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LogReadError.cannotOpen(path: path, errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw LogReadError.cannotOpen(path: path, errno: e)
        }
        let type = st.st_mode & S_IFMT
        if type == S_IFDIR { close(fd); throw LogReadError.isDirectory(path: path) }
        // Only a regular file's size can be trusted (files in /proc say 0 and have content).
        sizeLimit = type == S_IFREG && st.st_size > 0 ? UInt64(st.st_size) : nil
        fileSize = sizeLimit ?? 0
        let head = readUpTo(LogFormat.fileHeaderSize)
        guard !head.isEmpty else { close(fd); throw LogReadError.empty(path: path) }
        guard head.count >= LogFormat.magic.count, Array(head.prefix(LogFormat.magic.count)) == LogFormat.magic else {
            close(fd); fd = -1
            throw LogReadError.notALog(path: path)
        }
        guard head.count == LogFormat.fileHeaderSize else {
            damage = LogDamage(kind: .truncated, offset: UInt64(head.count), reason: "file header is incomplete")
            return
        }
        version = UInt16(head[8]) | UInt16(head[9]) << 8
        guard LogFormat.readableVersions.contains(version) else {
            close(fd); fd = -1
            throw LogReadError.unsupportedVersion(path: path, version: version)
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The records of the next chunk, or nil at the end of the log or at the first damage
    /// (see `damage`). One chunk at a time, in order: the reference that LoadedLog's
    /// parallel reading must agree with.
    public func nextChunk() -> [LogRecord]? {
        guard let chunk = readChunk() else { return nil }
        switch Self.records(of: chunk, version: version) {
        case .success(let records): return records
        case .failure(let d): damage = d; return nil
        }
    }

    /// The next chunk's stored bytes, with what its header says, or nil at the end of the
    /// log or at damage in its header or length (see `damage`). Its checksum and payload
    /// are checked when it is decoded (`records(of:version:)`, `columns(of:version:)`).
    func readChunk() -> RawChunk? {
        guard damage == nil, fd >= 0 else { return nil }
        let chunkStart = offset
        let head = readUpTo(LogFormat.chunkHeaderSize)
        if head.isEmpty { return nil }
        guard head.count == LogFormat.chunkHeaderSize else {
            return stop(.truncated, at: chunkStart, "chunk header is incomplete")
        }
        var d = ByteDecoder(head)
        let magic = try! d.u32le(), length = try! d.u32le(), rawLength = try! d.u32le()
        let count = try! d.u32le(), flags = try! d.u32le(), crc = try! d.u32le()
        guard magic == LogFormat.chunkMagic else { return stop(.corrupt, at: chunkStart, "bad chunk magic") }
        guard length <= LogFormat.maxChunkSize, rawLength <= LogFormat.maxChunkSize else {
            return stop(.corrupt, at: chunkStart, "chunk length \(max(length, rawLength)) exceeds \(LogFormat.maxChunkSize)")
        }
        guard flags & ~LogFormat.chunkFlags(version: version) == 0 else {
            return stop(.corrupt, at: chunkStart, "unknown chunk flags 0x\(String(flags, radix: 16))")
        }
        if let sizeLimit, UInt64(length) > sizeLimit - offset {
            return stop(.truncated, at: chunkStart, "chunk of \(length) bytes runs past the end of the file")
        }
        let stored = readUpTo(Int(length))
        guard stored.count == Int(length) else {
            return stop(.truncated, at: chunkStart, "chunk payload is incomplete")
        }
        return RawChunk(start: chunkStart, end: offset, rawLength: rawLength, count: count, flags: flags, crc: crc,
                        stored: stored)
    }

    /// Whether the log is a regular file (it can be read again, from any offset).
    public var isRegularFile: Bool { sizeLimit != nil }

    /// Whether `path` is a regular file with content, as a reader would find it, without
    /// opening it (a pipe read once cannot be read again).
    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && st.st_size > 0
    }

    /// The chunk whose header starts at `start`, read again (a regular file's, at an
    /// offset an earlier reading found); nil at damage there (see `damage`).
    func chunk(at start: UInt64) -> RawChunk? {
        guard let limit = sizeLimit, fd >= 0, start <= limit, lseek(fd, off_t(start), SEEK_SET) == off_t(start) else { return nil }
        offset = start
        damage = nil
        return readChunk()
    }

    /// Up to `limit` chunks, or fewer once `bytes` stored bytes are read: what LoadedLog
    /// decodes in parallel, a bounded batch at a time.
    func readChunks(limit: Int, bytes: Int) -> [RawChunk] {
        var batch: [RawChunk] = []
        var total = 0
        while batch.count < limit && total < bytes, let chunk = readChunk() {
            // Counted as decoded: a deflated chunk's stored bytes can be a thousandth of it.
            total += max(chunk.stored.count, Int(chunk.rawLength))
            batch.append(chunk)
        }
        return batch
    }

    /// Reading stops at `damage`, found when decoding a chunk that was read ahead: a
    /// stream's size is then where the reader of one chunk at a time would have stopped.
    func stop(at damage: LogDamage, chunkEnd: UInt64) {
        self.damage = damage
        if sizeLimit == nil { fileSize = chunkEnd }
    }

    private func stop(_ kind: LogDamage.Kind, at where_: UInt64, _ reason: String) -> RawChunk? {
        damage = LogDamage(kind: kind, offset: where_, reason: reason)
        return nil
    }

    /// Reads up to `wanted` bytes (at most one chunk's worth) but never past `sizeLimit`: a
    /// log still being written is read as it was when opened, and `sizeLimit - offset`
    /// above cannot underflow. A stream is read until it ends.
    private func readUpTo(_ wanted: Int) -> [UInt8] {
        let n = sizeLimit.map { Int(min(UInt64(wanted), $0 - offset)) } ?? wanted
        var buffer = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = buffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress! + got, n - got) }
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { break }
            got += r
        }
        offset += UInt64(got)
        if sizeLimit == nil { fileSize = offset }
        if got < n { buffer.removeSubrange(got...) }
        return buffer
    }
}
