// The context of each refused access (SIGSEGV/SIGBUS): what the signal said, the mapping at
// the address or the nearest ones around it, what this process did to that page before,
// and the stack. The questions one asks of a crash, answered from the log.

import FaultlineCore
import FaultlineLog

public struct Crash: Sendable, Equatable {
    public var pid: Int32
    public var tid: Int32
    public var command: String
    /// Nanoseconds since the recording started.
    public var atNs: UInt64
    public var signal: String
    public var code: String
    public var address: UInt64
    public var access: Access
    /// "in NAME [start-end) prot", or the mappings below and above an unmapped address.
    public var mapping: String
    /// Faults this process took on the same page before, by kind.
    public var earlierOnPage: KindCounts
    public var stack: String
}

enum CrashReport {
    static func crashes(log: LoadedLog, namer: FrameNamer, mappings: MappingIndex, limit: Int) -> [Crash] {
        let pageSize = max(log.header.pageSize, 1)
        var crashes: [Crash] = []
        // Earlier faults per (pid, page), counted as we go in time order.
        var seen: [PageKey: KindCounts] = [:]
        for (index, f) in log.faults.enumerated().sorted(by: { $0.element.timeNs < $1.element.timeNs }) {
            let key = PageKey(pid: f.pid, page: f.address / pageSize)
            if f.kind == .segv && crashes.count < limit {
                crashes.append(Crash(pid: f.pid, tid: f.tid, command: log.processes[f.pid]?.command ?? "?",
                                     atNs: f.timeNs &- min(f.timeNs, log.header.startTimeNs),
                                     signal: signalName(f.signal), code: codeName(signal: f.signal, code: f.signalCode),
                                     address: f.address, access: f.access,
                                     mapping: describeMapping(f, index: index, log: log, mappings: mappings),
                                     earlierOnPage: seen[key] ?? KindCounts(),
                                     stack: namer.stackDescription(f.stack)))
            }
            seen[key, default: KindCounts()].add(f.kind)
        }
        return crashes
    }

    private struct PageKey: Hashable { let pid: Int32; let page: UInt64 }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case 11: return "SIGSEGV"
        case 7: return "SIGBUS"
        default: return "signal \(signal)"
        }
    }

    /// si_code names from <asm-generic/siginfo.h>.
    static func codeName(signal: Int32, code: Int32) -> String {
        let segv = [1: "SEGV_MAPERR (no mapping)", 2: "SEGV_ACCERR (permission)", 3: "SEGV_BNDERR",
                    4: "SEGV_PKUERR (protection key)", 5: "SEGV_ACCADI", 6: "SEGV_ADIDERR", 7: "SEGV_ADIPERR",
                    8: "SEGV_MTEAERR", 9: "SEGV_MTESERR", 10: "SEGV_CPERR (shadow stack)"]
        let bus = [1: "BUS_ADRALN (alignment)", 2: "BUS_ADRERR (no backing page: past the end of a file?)",
                   3: "BUS_OBJERR", 4: "BUS_MCEERR_AR (memory error)", 5: "BUS_MCEERR_AO (memory error)"]
        let names = signal == 7 ? bus : segv
        return names[Int(code)] ?? "si_code \(code)"
    }

    private static func describeMapping(_ f: FaultEvent, index: Int, log: LoadedLog, mappings: MappingIndex) -> String {
        /// A mapping over [start, end): its name, that range and its protection.
        func describe(_ m: MmapEvent, _ start: UInt64, _ end: UInt64) -> String {
            // The protection as of the crash: the latest mprotect over the address, if any.
            var protection = m.prot
            for a in log.addressSpaceEvents where a.pid == f.pid && a.timeNs <= f.timeNs && a.timeNs >= m.timeNs {
                if case .mprotect(let start, let length, let newProt) = a.change,
                   start <= f.address && f.address - start < length, m.start <= f.address && f.address < m.end {
                    protection = newProt
                }
            }
            let prot = (protection & 1 != 0 ? "r" : "-") + (protection & 2 != 0 ? "w" : "-") + (protection & 4 != 0 ? "x" : "-")
            return "\(log.modulePath(m.module)) [\(FrameNamer.hex(start))-\(FrameNamer.hex(end))) \(prot)"
        }
        if let i = mappings.mapping(ofFault: index) {
            let m = mappings.mmaps[i]
            return "in " + describe(m, m.start, m.end)
        }
        // Unmapped: the nearest mappings below and above, as they were then: the live spans,
        // not the ranges their mmaps announced. munmap may have clipped a mapping (the
        // kernel announces merged neighbours as one range, and a free() unmaps part of it),
        // so a recorded range can reach past the very address that faulted.
        let live = mappings.spans(pid: f.pid, at: f.timeNs)
        var parts = ["unmapped"]
        if let below = live.last(where: { $0.end <= f.address }) {
            parts.append("\(FrameNamer.hex((f.address - below.end).addingSaturated(1))) bytes past "
                + describe(mappings.mmaps[Int(below.mapping)], below.start, below.end))
        }
        if let above = live.first(where: { $0.start > f.address }) {
            parts.append("\(FrameNamer.hex(above.start - f.address)) bytes before "
                + describe(mappings.mmaps[Int(above.mapping)], above.start, above.end))
        }
        return parts.joined(separator: "; ")
    }
}
