// Creates every file faultline writes (logs, exports, pictures, pages) the one safe way:
// - mode 0600 unless the user asked for another: they hold command lines, paths from the
//   environment, and addresses;
// - never through a symbolic link that belongs to someone else (as root, `-o /tmp/x.flt`
//   must not follow a link another user planted there to /etc/shadow), and never into an
//   existing file's inode (a planted hard link): the content goes to a new file made with
//   O_EXCL in the same directory, renamed over the target when it is ready;
// - a failure before that leaves whatever was at the target untouched, and no empty file.
// Devices, FIFOs and terminals (/dev/null, /dev/stdout) are opened and written as they are.
//
// Hazard: a file that cannot be renamed into its directory (no write permission there)
// but may itself be written is opened in place, truncated, as before.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct OutputFileError: Error, CustomStringConvertible {
    public let path: String
    public let description: String

    init(_ path: String, errno: Int32) {
        self.path = path
        description = "cannot write \(path): \(String(cString: strerror(errno)))"
    }

    init(_ path: String, refusing reason: String) {
        self.path = path
        description = "refusing to write \(path): \(reason)"
    }
}

public final class OutputFile {
    /// The permissions an output file gets unless the user asks for others.
    public static let defaultMode: mode_t = 0o600

    /// The path as given (for messages).
    public let path: String
    /// Where the bytes go; valid until `close`.
    public private(set) var fd: Int32
    /// The new file, until it is renamed over `target`; nil once committed, or for files
    /// written in place.
    private var temporary: String?
    private let target: String

    /// Opens `path` for writing (see the top of this file). Nothing replaces what is at
    /// `path` before `commit()`.
    public init(path: String, mode: mode_t = OutputFile.defaultMode) throws {
        self.path = path
        let final: String
        switch try Self.resolve(path) {
        case .descriptor(let n):
            // /dev/stdout and friends: our own descriptor, whatever it is (a file opened for
            // appending stays appended to).
            fd = fcntl(n, F_DUPFD_CLOEXEC, 0)
            guard fd >= 0 else { throw OutputFileError(path, errno: errno) }
            target = path
            temporary = nil
            return
        case .path(let resolved):
            final = resolved
        }
        target = final
        var info = stat()
        if stat(final, &info) == 0 {
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR { throw OutputFileError(path, errno: EISDIR) }
            if type != S_IFREG {
                // A device, FIFO or terminal: written as it is; no mode, no rename.
                fd = open(final, O_WRONLY | O_CLOEXEC | O_NOCTTY)
                guard fd >= 0 else { throw OutputFileError(path, errno: errno) }
                temporary = nil
                return
            }
        }
        let slash = final.lastIndex(of: "/")
        let directory = slash.map { String(final[..<$0]) } ?? "."
        let name = slash.map { String(final[final.index(after: $0)...]) } ?? final
        var template = Array("\(directory.isEmpty ? "/" : directory)/.\(name).XXXXXX".utf8CString)
        // mkstemp: O_CREAT | O_EXCL, mode 0600 (mkostemp, with O_CLOEXEC, needs _GNU_SOURCE).
        let made = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if made >= 0 { _ = fcntl(made, F_SETFD, FD_CLOEXEC) }
        if made < 0 {
            let e = errno
            // No room to make a file beside it, but the file itself may be written: in place.
            guard (e == EACCES || e == EPERM || e == EROFS), info.st_mode & S_IFMT == S_IFREG else {
                throw OutputFileError(path, errno: e)
            }
            fd = open(final, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw OutputFileError(path, errno: errno) }
            temporary = nil
            return
        }
        fd = made
        temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // mkostemp made it 0600; an explicit mode is given exactly (the umask is for defaults).
        if mode != 0o600 && fchmod(fd, mode) != 0 {
            let e = errno
            abandon()
            throw OutputFileError(path, errno: e)
        }
    }

    deinit {
        abandon()
        if fd >= 0 { _ = systemClose(fd) }
    }

    /// Puts the new file in place of what was at the path (rename(2), atomic), keeping the
    /// descriptor open for more writes.
    public func commit() throws {
        guard let temporary else { return }
        guard rename(temporary, target) == 0 else {
            let e = errno
            abandon()
            throw OutputFileError(path, errno: e)
        }
        self.temporary = nil
    }

    /// Removes the new file if it was not committed; what was at the path stays.
    public func abandon() {
        if let temporary { unlink(temporary) }
        temporary = nil
    }

    /// Closes the descriptor; returns close(2)'s errno on failure.
    public func close() -> Int32? {
        guard fd >= 0 else { return nil }
        let r = systemClose(fd)
        fd = -1
        return r == 0 ? nil : errno
    }

    enum Resolved: Equatable {
        case path(String)
        /// One of our own open descriptors, named as /dev/fd/N or /proc/self/fd/N.
        case descriptor(Int32)
    }

    /// Follows the symbolic links at `path` that belong to root or to us, to the file they
    /// name; refuses one that belongs to anyone else. A link to one of our own descriptors
    /// (/dev/stdout is /proc/self/fd/1) ends the walk: that descriptor is written.
    static func resolve(_ path: String) throws -> Resolved {
        var current = path
        for _ in 0..<16 {
            for prefix in ["/proc/self/fd/", "/dev/fd/"] where current.hasPrefix(prefix) {
                if let n = Int32(current.dropFirst(prefix.count)), n >= 0 { return .descriptor(n) }
            }
            var info = stat()
            guard lstat(current, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { return .path(current) }
            guard info.st_uid == 0 || info.st_uid == geteuid() else {
                throw OutputFileError(path, refusing: "\(current) is a symbolic link that belongs to uid \(info.st_uid), "
                    + "not to you or root, so it may point anywhere (remove it, or name the file itself)")
            }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(current, &buffer, buffer.count - 1)
            guard n > 0 else { throw OutputFileError(path, errno: errno) }
            let destination = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if destination.hasPrefix("/") {
                current = destination
            } else {
                let directory = current.lastIndex(of: "/").map { String(current[...$0]) } ?? ""
                current = directory + destination
            }
        }
        throw OutputFileError(path, errno: ELOOP)
    }
}

// The class's own `close` hides the C function; this names it unambiguously.
private func systemClose(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}
