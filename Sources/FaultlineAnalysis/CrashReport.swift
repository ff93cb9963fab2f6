// The context of each refused access (SIGSEGV/SIGBUS): what the signal said, the mapping at
// the address or the nearest ones around it, what this process did to that page before,
// and the stack. The questions one asks of a crash, answered from the log.

import FaultlineAddressSpace
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
    /// The stack's named frames, leaf first: what text shortens frame by frame.
    public var frames: [FrameName] = []
}

enum CrashReport {
    static func crashes(log: LoadedLog, namer: FrameNamer, mappings: MappingIndex, limit: Int,
                        selection: FaultSelection = .everything) -> [Crash] {
        let pageSize = max(log.header.pageSize, 1)
        // The first `limit` refused accesses in time order, and the pages they hit: only
        // those pages' earlier faults are counted (a log holds millions of pages).
        var shown: [Int] = []
        var pages = Set<PageKey>()
        log.faults.forEachInTimeOrder { index, f in
            guard f.kind == .segv, shown.count < limit, selection.matches(f) else { return }
            shown.append(index)
            pages.insert(PageKey(pid: f.pid, page: f.address / pageSize))
        }
        guard !shown.isEmpty else { return [] }
        var crashes: [Crash] = []
        var next = 0
        // Earlier faults per (pid, page), counted as we go in time order.
        var seen: [PageKey: KindCounts] = [:]
        log.faults.forEachInTimeOrder { index, f in
            guard next < shown.count else { return }
            let key = PageKey(pid: f.pid, page: f.address / pageSize)
            guard pages.contains(key) else { return }
            if index == shown[next] {
                next += 1
                crashes.append(Crash(pid: f.pid, tid: f.tid, command: log.processes[f.pid]?.command ?? "?",
                                     atNs: f.timeNs &- min(f.timeNs, log.header.startTimeNs),
                                     signal: signalName(f.signal), code: codeName(signal: f.signal, code: f.signalCode),
                                     address: f.address, access: f.access,
                                     mapping: describeMapping(f, index: index, log: log, mappings: mappings),
                                     earlierOnPage: seen[key] ?? KindCounts(),
                                     stack: namer.stackDescription(f.stack), frames: namer.stackNames(f.stack)))
            }
            seen[key, default: KindCounts()].add(f)
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

    /// vm.mmap_min_addr's usual value (64 KiB): no mapping starts below it, so an access
    /// there is a null pointer's.
    static let nullPageLimit: UInt64 = 1 << 16

    /// "; NULL", "; near NULL (NULL + 16 bytes)" for an address below `nullPageLimit`.
    private static func nearNull(_ address: UInt64) -> String {
        guard address < nullPageLimit else { return "" }
        return address == 0 ? "; NULL" : "; near NULL (NULL + \(TextFormat.distance(address)))"
    }

    private static func describeMapping(_ f: FaultEvent, index: Int, log: LoadedLog, mappings: MappingIndex) -> String {
        /// A VMA as the address space had it at the crash, with the protection it had then.
        func describe(_ vma: VMA) -> String {
            let path = vma.label >= 0 && Int(vma.label) < mappings.mmaps.count
                ? log.modulePath(mappings.mmaps[Int(vma.label)].module) : "?"
            return "\(MappingName.display(path)) [\(FrameNamer.hex(vma.start))-\(FrameNamer.hex(vma.end))) \(Protection.text(vma.prot))"
        }
        guard let around = mappings.surroundings(ofFault: index) else { return "unmapped" + nearNull(f.address) }
        if let inside = around.inside { return "in " + describe(inside) }
        // Unmapped: the nearest mappings below and above, as they were then;
        // below.end <= address < above.start, as the sweep found them. Distances are
        // counted as AddressSanitizer counts them: the byte at `end` is 0 bytes past the
        // end, the byte below `start` 1 byte before it.
        // Nothing is mapped below mmap_min_addr: an address there is a null pointer's
        // field or element, and the program's image far above says nothing.
        if around.below == nil, f.address < nullPageLimit { return "unmapped" + nearNull(f.address) }
        var parts = ["unmapped"]
        if let below = around.below, below.end <= f.address {
            parts.append("\(TextFormat.distance(f.address - below.end)) past the end of " + describe(below))
        }
        if let above = around.above, above.start > f.address {
            parts.append("\(TextFormat.distance(above.start - f.address)) before " + describe(above))
        }
        return parts.joined(separator: "; ")
    }
}
