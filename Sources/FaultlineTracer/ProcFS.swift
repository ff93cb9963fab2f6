// What the recorder reads from /proc: mappings the perf stream never describes (the stack,
// vdso, and everything mapped before an attach), command lines, and the kernel's own fault
// counters to check a recording against.

import Glibc

enum ProcFS {
    /// Parses /proc/PID/maps lines: "start-end perms offset dev inode   name".
    static func mappings(pid: Int32) -> [MappingRecord] {
        guard let text = readTextFile("/proc/\(pid)/maps") else { return [] }
        var result: [MappingRecord] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
                  let offset = UInt64(fields[2], radix: 16), let inode = UInt64(fields[4]) else { continue }
            let perms = Array(fields[1].utf8)
            var prot: UInt32 = 0
            if perms.count >= 4 {
                if perms[0] == UInt8(ascii: "r") { prot |= UInt32(PROT_READ) }
                if perms[1] == UInt8(ascii: "w") { prot |= UInt32(PROT_WRITE) }
                if perms[2] == UInt8(ascii: "x") { prot |= UInt32(PROT_EXEC) }
            }
            let shared = perms.count >= 4 && perms[3] == UInt8(ascii: "s")
            let name = fields.count > 5 ? fields[5].trimmingWhitespace() : ""
            result.append(MappingRecord(start: start, end: end, pageOffset: offset, prot: prot,
                                        flags: shared ? 0x1 : 0x2, inode: inode, name: name, buildID: []))
        }
        return result
    }

    /// The thread ids of a process (/proc/PID/task).
    static func threads(pid: Int32) -> [Int32] {
        guard let dir = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(dir) }
        var tids: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let tid = Int32(name) { tids.append(tid) }
        }
        return tids.sorted()
    }

    /// TracerPid from /proc/TID/status: who ptraces it (0: nobody).
    static func tracer(of tid: Int32) -> Int32? {
        statusField("TracerPid:", of: tid).flatMap { Int32($0) }
    }

    /// Whether thread `tid` of `pid` has exited and waits to be reaped with its process (a
    /// leader that called pthread_exit while other threads run): it cannot be traced.
    static func isZombie(pid: Int32, tid: Int32) -> Bool {
        threadState(tid, of: pid) == "Z"
    }

    /// Whether thread `tid` of `pid` has ended: gone from /proc/PID/task, or dead (state X),
    /// waiting to be unhashed.
    static func hasEnded(_ tid: Int32, of pid: Int32) -> Bool {
        guard let state = threadState(tid, of: pid) else { return true }
        return state == "X"
    }

    /// The state letter of /proc/PID/task/TID/stat (the field after the command, which may
    /// hold spaces and parentheses), or nil when the thread is gone.
    private static func threadState(_ tid: Int32, of pid: Int32) -> Substring? {
        guard let text = readTextFile("/proc/\(pid)/task/\(tid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ").first
    }

    /// Tgid from /proc/TID/status: the process a thread belongs to (itself for a leader).
    /// /proc/TID exists for every thread, though only leaders are listed in /proc.
    static func threadGroup(of tid: Int32) -> Int32? {
        statusField("Tgid:", of: tid).flatMap { Int32($0) }
    }

    /// Whether task `tid` is a thread of process `pid`: /proc/PID/task/TID exists. One path
    /// lookup, where /proc/TID/status has the kernel write out the whole file.
    static func isThread(_ tid: Int32, of pid: Int32) -> Bool {
        access("/proc/\(pid)/task/\(tid)", F_OK) == 0
    }

    /// Name from /proc/PID/status: the command name (comm), which kernel threads have too.
    static func name(pid: Int32) -> String? { statusField("Name:", of: pid) }

    /// Whether `pid` is a kernel thread: PF_KTHREAD (0x00200000) in the flags, field 9 of
    /// /proc/PID/stat (older kernels have no "Kthread:" line in status).
    static func isKernelThread(pid: Int32) -> Bool {
        guard let text = readTextFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return false }
        let rest = text[text.index(after: close)...].split(separator: " ")
        return rest.count > 6 && (UInt64(rest[6]) ?? 0) & 0x0020_0000 != 0
    }

    /// A field of /proc/PID/status, from the file's first 4 KiB (every field asked for is
    /// in its first lines), found in the bytes. Read whole and split into lines, it cost the
    /// recorder about 0.1 ms a thread at each new thread's exit stop (where it learns the
    /// thread's process), half its CPU while a program started and joined 4,000 threads.
    private static func statusField(_ key: String, of pid: Int32) -> String? {
        let fd = open("/proc/\(pid)/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer -> String? in
            var n = 0
            while n < buffer.count {
                let got = read(fd, buffer.baseAddress! + n, buffer.count - n)
                if got < 0 && errno == EINTR { continue }
                if got <= 0 { break }
                n += got
            }
            let bytes = UnsafeBufferPointer(rebasing: buffer[0..<n])
            let wanted = Array(key.utf8)
            var line = 0
            while line < n {
                let end = bytes[line...].firstIndex(of: UInt8(ascii: "\n")) ?? n
                if end - line >= wanted.count && bytes[line..<line + wanted.count].elementsEqual(wanted) {
                    return String(decoding: bytes[(line + wanted.count)..<end], as: UTF8.self).trimmingWhitespace()
                }
                line = end + 1
            }
            return nil
        }
    }

    /// Field 4 of /proc/PID/stat.
    static func parent(pid: Int32) -> Int32? {
        guard let text = readTextFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let rest = text[text.index(after: close)...].split(separator: " ")
        return rest.count > 1 ? Int32(rest[1]) : nil
    }

    /// Whether the exec `pid` has just made left it non-dumpable, so that the kernel removed
    /// its perf events (begin_new_exec calls perf_event_exit_task unless the new image is
    /// dumpable by its user). No file says "dumpable", but /proc shows it: a dumpable
    /// process's files in /proc/PID are owned by its effective uid and gid, a non-dumpable
    /// one's by root (task_dump_owner; the directory itself keeps the effective ids). For a process whose effective ids are root that tells nothing; there the
    /// kernel's own rule decides: exec made it non-dumpable if its real and effective ids
    /// differ, unless fs.suid_dumpable is 1.
    static func execRemovedPerfEvents(pid: Int32) -> Bool {
        guard let status = readTextFile("/proc/\(pid)/status") else { return false }
        func ids(_ key: String) -> [UInt32] {
            for line in status.split(separator: "\n") where line.hasPrefix(key) {
                return line.dropFirst(key.count).split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) }
            }
            return []
        }
        let uids = ids("Uid:"), gids = ids("Gid:")
        var info = stat()
        guard uids.count >= 2, gids.count >= 2, stat("/proc/\(pid)/status", &info) == 0 else { return false }
        if uids[1] != 0 || gids[1] != 0 {
            return info.st_uid != uids[1] || info.st_gid != gids[1]
        }
        let idsDiffer = uids[0] != uids[1] || gids[0] != gids[1]
        return idsDiffer && readTextFile("/proc/sys/fs/suid_dumpable")?.trimmingWhitespace() != "1"
    }

    static func commandLine(pid: Int32) -> String? {
        guard let raw = readTextFile("/proc/\(pid)/cmdline"), !raw.isEmpty else { return nil }
        return LoggedCommand.text(raw.split(separator: "\0").joined(separator: " "))
    }

    /// minflt and majflt (fields 10 and 12 of /proc/PID/stat), for the whole process.
    static func faultCounts(pid: Int32) -> (minor: UInt64, major: UInt64)? {
        guard let text = readTextFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        // Fields after the command (which may contain spaces) start at field 3.
        let rest = text[text.index(after: close)...].split(separator: " ")
        guard rest.count > 10, let minor = UInt64(rest[7]), let major = UInt64(rest[9]) else { return nil }
        return (minor, major)
    }

    /// The resident memory of `tid`'s process (/proc/TID/status RssAnon, RssFile, RssShmem,
    /// and VmHWM, the peak of their sum), in bytes; nil when unreadable or the task has no
    /// memory left (its exit let go of it). Read through the thread, not the process: a
    /// leader that left first has none.
    static func resident(tid: Int32) -> (anon: UInt64, file: UInt64, shmem: UInt64, peak: UInt64)? {
        guard let text = readTextFile("/proc/\(tid)/status") else { return nil }
        var fields: [Substring: UInt64] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("Rss") || line.hasPrefix("VmHWM") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kB = UInt64(parts[1]), kB < 1 << 50 else { continue }
            fields[parts[0]] = kB << 10
        }
        guard let anon = fields["RssAnon:"], let file = fields["RssFile:"], let shmem = fields["RssShmem:"],
              let peak = fields["VmHWM:"] else { return nil }
        return (anon, file, shmem, peak)
    }

    /// The pages of [start, end) present in the process's memory (/proc/PID/pagemap, bit 63;
    /// swapped pages, bit 62, count too), as runs in address order; nil when unreadable. At
    /// most `maxPages` pages are read. (Without CAP_SYS_ADMIN the frame numbers read as 0,
    /// but the bits are the same.)
    static func presentPages(pid: Int32, from start: UInt64, to end: UInt64, pageSize: UInt64,
                             maxPages: UInt64 = 1 << 14) -> [Range<UInt64>]? {
        guard pageSize > 0, start < end, (end - start) / pageSize <= maxPages else { return nil }
        let first = start / pageSize, count = Int((end - start + pageSize - 1) / pageSize)
        let fd = open("/proc/\(pid)/pagemap", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var entries = [UInt64](repeating: 0, count: count)
        let wanted = count * 8
        let got = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, wanted, off_t(first * 8)) }
        guard got == wanted else { return nil }
        var runs: [Range<UInt64>] = []
        for (i, entry) in entries.enumerated() where entry & (3 << 62) != 0 {
            let page = (first + UInt64(i)) * pageSize
            if let last = runs.last, last.upperBound == page {
                runs[runs.count - 1] = last.lowerBound..<(page + pageSize)
            } else {
                runs.append(page..<(page + pageSize))
            }
        }
        return runs
    }

    /// Where the process's stack started at its exec (/proc/PID/stat field 28, startstack):
    /// the arguments and environment execve wrote lie above it. nil when unreadable.
    static func startStack(pid: Int32) -> UInt64? {
        guard let text = readTextFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let rest = text[text.index(after: close)...].split(separator: " ")
        guard rest.count > 25 else { return nil }
        return UInt64(rest[25])
    }
}
