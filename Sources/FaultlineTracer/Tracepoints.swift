// Finds the exceptions:page_fault_{user,kernel} tracepoints: their perf ids and where the
// fields we need sit in their raw records. tracefs is mounted if it is not (as perf does).

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

    private static func eventsDirectory() throws -> String {
        for root in roots where access(root + "/events/exceptions", F_OK) == 0 { return root + "/events" }
        // Not mounted: mount tracefs where the kernel expects it.
        if mount("nodev", roots[0], "tracefs", 0, nil) == 0, access(roots[0] + "/events/exceptions", F_OK) == 0 {
            return roots[0] + "/events"
        }
        throw TracerError("tracefs is not mounted and could not be mounted at \(roots[0]) (run as root, or: mount -t tracefs nodev /sys/kernel/tracing)")
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
