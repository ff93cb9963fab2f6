// Writes bytes to a file descriptor in large blocks: an export of millions of records
// must stream, not build one giant string. Write errors (a full disk, a closed pipe's
// EPIPE) surface as OutputError with the path, never as a crash.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FaultlineLog

public struct OutputError: Error, CustomStringConvertible {
    public let path: String
    public let description: String

    public init(path: String, errno: Int32) {
        self.path = path
        description = "cannot write \(path): \(String(cString: strerror(errno)))"
    }

    init(path: String, reason: String) {
        self.path = path
        description = reason
    }
}

public final class BufferedOutput {
    public let path: String
    private var fd: Int32
    /// The file this created (see OutputFile), put in place by `close()`; nil for stdout.
    private let file: OutputFile?
    private var buffer: [UInt8] = []
    private static let blockSize = 256 * 1024

    /// Standard output; not closed when done.
    public static func standardOutput() -> BufferedOutput {
        BufferedOutput(fd: 1, path: "standard output", file: nil)
    }

    /// Standard output for nil or `-` (the usual name for it on a command line), else the
    /// file at `path` as `init(path:mode:)` writes it.
    public static func named(_ path: String?, mode: mode_t = OutputFile.defaultMode) throws -> BufferedOutput {
        guard let path, path != "-" else { return standardOutput() }
        return try BufferedOutput(path: path, mode: mode)
    }

    /// Whether `named(path)` writes standard output.
    public static func isStandardOutput(_ path: String?) -> Bool { path == nil || path == "-" }

    /// Writes `path` (see OutputFile: mode 0600 unless told, never through someone else's
    /// symlink). What was at `path` is replaced only by `close()`, once everything is
    /// written: an export that fails leaves the user's old file as it was.
    public convenience init(path: String, mode: mode_t = OutputFile.defaultMode) throws {
        let file: OutputFile
        do { file = try OutputFile(path: path, mode: mode) } catch let e as OutputFileError {
            throw OutputError(path: path, reason: e.description)
        }
        self.init(fd: file.fd, path: path, file: file)
    }

    private init(fd: Int32, path: String, file: OutputFile?) {
        self.fd = fd; self.path = path; self.file = file
        buffer.reserveCapacity(Self.blockSize + 4096)
    }

    deinit {
        // Not closed: the output is unfinished, and the new file is dropped (OutputFile).
        if file == nil { try? flush() }
    }

    public func write(_ bytes: ArraySlice<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.blockSize { try flush() }
    }

    public func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.blockSize { try flush() }
    }

    public func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.blockSize { try flush() }
    }

    public func flush() throws {
        var offset = 0
        defer { buffer.removeSubrange(0..<offset) }
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { raw in systemWrite(fd, raw.baseAddress! + offset, raw.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw OutputError(path: path, errno: errno)
            }
            offset += n
        }
    }

    /// Flushes and, for a file this opened, puts it in place and closes it, reporting the
    /// first error.
    public func close() throws {
        try flush()
        guard let file, fd >= 0 else { return }
        do { try file.commit() } catch let e as OutputFileError {
            throw OutputError(path: path, reason: e.description)
        }
        fd = -1
        if let e = file.close() { throw OutputError(path: path, errno: e) }
    }
}

// The class's own `write` hides the C function; this names it unambiguously.
private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
