// Writes bytes to a file descriptor in large blocks: an export of millions of records
// must stream, not build one giant string. Write errors (a full disk, a closed pipe's
// EPIPE) surface as OutputError with the path, never as a crash.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct OutputError: Error, CustomStringConvertible {
    public let path: String
    public let errno: Int32
    public var description: String { "cannot write \(path): \(String(cString: strerror(errno)))" }
}

public final class BufferedOutput {
    public let path: String
    private var fd: Int32
    private let ownsDescriptor: Bool
    private var buffer: [UInt8] = []
    private static let blockSize = 256 * 1024

    /// Standard output; not closed when done.
    public static func standardOutput() -> BufferedOutput {
        BufferedOutput(fd: 1, path: "standard output", owns: false)
    }

    /// Creates or truncates `path`.
    public convenience init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutputError(path: path, errno: errno) }
        self.init(fd: fd, path: path, owns: true)
    }

    private init(fd: Int32, path: String, owns: Bool) {
        self.fd = fd; self.path = path; self.ownsDescriptor = owns
        buffer.reserveCapacity(Self.blockSize + 4096)
    }

    deinit {
        // Best effort: a caller that cares about errors calls close() itself.
        try? flush()
        if ownsDescriptor && fd >= 0 { _ = systemClose(fd) }
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

    /// Flushes and, for a file this opened, closes it, reporting the first error.
    public func close() throws {
        try flush()
        if ownsDescriptor && fd >= 0 {
            let r = systemClose(fd)
            fd = -1
            if r != 0 { throw OutputError(path: path, errno: errno) }
        }
    }
}

// The class's own `write` and `close` hide the C functions; these name them unambiguously.
private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}

private func systemClose(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}
