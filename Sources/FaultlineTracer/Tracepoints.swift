// Finds the exceptions:page_fault_{user,kernel} tracepoints: their perf ids and where the
// fields we need sit in their raw records. tracefs is mounted if it is not (as perf does).
// Hazard: tracefs is usually mode 0700, root's alone; a non-root recorder needs more than the
// perf capabilities to read it, and the error says exactly what.

import Glibc

struct PageFaultTracepoint {
    let id: UInt64
    let addressOffset: Int
    let ipOffset: Int
    let errorCodeOffset: Int
}

enum Tracepoints {
    static let roots = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

    static func pageFault(_ name: String) throws -> PageFaultTracepoint {
        let dir = try eventsDirectory() + "/exceptions/" + name
        guard let idText = readTextFile(dir + "/id"), let id = UInt64(idText.trimmingWhitespace()) else {
            throw TracerError("cannot read the tracepoint exceptions:\(name) (\(dir)/id): this kernel needs CONFIG_TRACEPOINTS and x86 page-fault tracepoints")
        }
        guard let format = readTextFile(dir + "/format") else {
            throw TracerError("cannot read \(dir)/format")
        }
        let offsets = fieldOffsets(format)
        guard let address = offsets["address"], let ip = offsets["ip"], let code = offsets["error_code"] else {
            throw TracerError("exceptions:\(name) has no address/ip/error_code fields in \(dir)/format")
        }
        return PageFaultTracepoint(id: id, addressOffset: address, ipOffset: ip, errorCodeOffset: code)
    }

    /// The perf id of any tracepoint, e.g. syscalls:sys_enter_munmap.
    static func id(category: String, name: String) throws -> UInt64 {
        let path = try eventsDirectory() + "/\(category)/\(name)/id"
        guard let text = readTextFile(path), let id = UInt64(text.trimmingWhitespace()) else {
            throw TracerError("cannot read the tracepoint \(category):\(name) (\(path)): this kernel needs CONFIG_FTRACE_SYSCALLS")
        }
        return id
    }

    /// Whether the kernel has the tracepoint (where `id` would not throw).
    static func exists(category: String, name: String) -> Bool {
        (try? id(category: category, name: name)) != nil
    }

    /// The tracefs events directory, mounting tracefs where the kernel expects it if it is
    /// not mounted (as perf does). Whether the ids can be read is found by opening one:
    /// access(2) checks the real uid and drops capabilities, so it refuses a user whose
    /// CAP_DAC_READ_SEARCH would let the open succeed.
    private static func eventsDirectory() throws -> String {
        let probe = "/events/exceptions/page_fault_user/id"
        var denied: String?
        for root in roots {
            let fd = open(root + probe, O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                close(fd)
                return root + "/events"
            }
            if errno == EACCES || errno == EPERM {
                denied = denied ?? root
            } else if isTracefs(root) {
                return root + "/events" // mounted, but without this tracepoint: pageFault() says so
            }
        }
        if let root = denied { throw TracerError(permissionDenied(root)) }
        if mount("nodev", roots[0], "tracefs", 0, nil) == 0 { return roots[0] + "/events" }
        if errno == EPERM {
            throw TracerError("tracefs is not mounted, and mounting it at \(roots[0]) needs CAP_SYS_ADMIN: "
                + "have root run mount -t tracefs nodev \(roots[0])")
        }
        throw SystemError("tracefs is not mounted and could not be mounted at \(roots[0])",
                          hint: "mount -t tracefs nodev \(roots[0])")
    }

    /// Whether tracefs is mounted at `path` (/proc/self/mounts: "nodev /sys/kernel/tracing tracefs ...").
    private static func isTracefs(_ path: String) -> Bool {
        guard let mounts = readTextFile("/proc/self/mounts") else { return false }
        return mounts.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 2 && fields[1] == path && fields[2] == "tracefs"
        }
    }

    /// Why a user who may record (root, CAP_PERFMON or perf_event_paranoid) still cannot
    /// read tracefs: it is mounted for root alone, which no perf capability changes.
    private static func permissionDenied(_ root: String) -> String {
        var info = stat()
        let mode = stat(root, &info) == 0 ? " (mode 0\(String(info.st_mode & 0o777, radix: 8)), owner uid \(info.st_uid))" : ""
        return "cannot read the tracepoints in \(root): permission denied\(mode). Recording needs the ids of "
            + "exceptions:page_fault_user and the syscall tracepoints, and CAP_PERFMON and CAP_SYS_PTRACE do not "
            + "open tracefs: add CAP_DAC_READ_SEARCH, or have root open it to a group "
            + "(mount -o remount,mode=750,gid=GROUP \(root)), or run as root"
    }

    /// Parses lines like "field:unsigned long address;\toffset:8;\tsize:8;\tsigned:0;".
    static func fieldOffsets(_ format: String) -> [String: Int] {
        var result: [String: Int] = [:]
        for line in format.split(separator: "\n") {
            let parts = line.split(separator: ";")
            guard parts.count >= 2, let decl = parts.first, decl.contains("field:") else { continue }
            guard let name = decl.split(whereSeparator: { $0 == " " || $0 == "\t" }).last.map(String.init) else { continue }
            for part in parts.dropFirst() {
                let kv = part.trimmingWhitespace()
                if kv.hasPrefix("offset:"), let v = Int(kv.dropFirst("offset:".count)) { result[name] = v }
            }
        }
        return result
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(self.drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
