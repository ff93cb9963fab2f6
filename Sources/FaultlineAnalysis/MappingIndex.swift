// Finds the mapping a fault address fell into, as it was when the fault happened.
// A child starts with its parent's address space, so a lookup that finds nothing in the
// process's own mmaps continues in the parent's, as they were when the child was forked.
// Hazard: the log has no munmap yet, so an address unmapped and left unmapped still finds
// its old mapping; a later mmap over the same range wins, as the kernel's would.

import FaultlineCore
import FaultlineLog

public struct MappingIndex: Sendable {
    /// Per pid: indices into `mmaps`, sorted by start address, and for each position the
    /// largest end seen so far, so a lookup can stop once nothing earlier reaches the address.
    private struct PerProcess: Sendable {
        var order: [Int] = []
        var maxEndSoFar: [UInt64] = []
    }

    private let mmaps: [MmapEvent]
    private var byPid: [Int32: PerProcess] = [:]
    private let parents: [Int32: (ppid: Int32, startNs: UInt64)]

    /// Ancestors further up than this are not searched: a pid chain that long is a lying
    /// log (or a ppid cycle), not a real process tree.
    private static let maxDepth = 64

    public init(log: LoadedLog) {
        mmaps = log.mmaps
        var parents: [Int32: (ppid: Int32, startNs: UInt64)] = [:]
        for (pid, p) in log.processes where p.ppid != 0 && p.ppid != pid {
            parents[pid] = (p.ppid, p.startNs)
        }
        self.parents = parents

        var indices: [Int32: [Int]] = [:]
        for (i, m) in mmaps.enumerated() { indices[m.pid, default: []].append(i) }
        for (pid, list) in indices {
            let sorted = list.sorted { mmaps[$0].start != mmaps[$1].start ? mmaps[$0].start < mmaps[$1].start : $0 < $1 }
            var maxEnd: [UInt64] = []
            maxEnd.reserveCapacity(sorted.count)
            var highest: UInt64 = 0
            for i in sorted {
                highest = max(highest, mmaps[i].end)
                maxEnd.append(highest)
            }
            byPid[pid] = PerProcess(order: sorted, maxEndSoFar: maxEnd)
        }
    }

    /// The index in `log.mmaps` of the mapping that covered `address` in `pid` at `timeNs`,
    /// or nil when no recorded mapping did.
    public func mapping(pid: Int32, address: UInt64, timeNs: UInt64) -> Int? {
        var pid = pid
        var before = timeNs
        for _ in 0..<Self.maxDepth {
            if let found = latestCovering(pid: pid, address: address, atOrBefore: before) { return found }
            // Inherited mappings are the parent's as of the fork, not anything it mapped later.
            guard let parent = parents[pid] else { return nil }
            before = min(before, parent.startNs)
            pid = parent.ppid
        }
        return nil
    }

    private func latestCovering(pid: Int32, address: UInt64, atOrBefore limit: UInt64) -> Int? {
        guard let p = byPid[pid] else { return nil }
        // Last position whose start is <= address.
        var low = 0, high = p.order.count
        while low < high {
            let mid = (low + high) / 2
            if mmaps[p.order[mid]].start <= address { low = mid + 1 } else { high = mid }
        }
        var best: Int?
        var position = low - 1
        while position >= 0 && p.maxEndSoFar[position] > address {
            let i = p.order[position]
            let m = mmaps[i]
            if m.timeNs <= limit && address < m.end {
                // The latest mmap wins; at equal times the one later in the log does.
                if let b = best {
                    if m.timeNs > mmaps[b].timeNs || (m.timeNs == mmaps[b].timeNs && i > b) { best = i }
                } else {
                    best = i
                }
            }
            position -= 1
        }
        return best
    }
}
