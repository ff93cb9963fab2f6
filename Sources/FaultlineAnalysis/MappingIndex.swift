// Finds the mapping a fault address fell into, as it was when the fault happened.
// A child starts with its parent's address space, so a lookup that finds nothing in the
// process's own mmaps continues in the parent's, as they were when the child was forked.
// The timeline refines this: an mremap places a copy of the moved mapping at its new
// address, and a munmap leaves a tombstone, so a lookup after it finds nothing there.

import FaultlineCore
import FaultlineLog

public struct MappingIndex: Sendable {
    /// Per pid: indices into `mmaps`, sorted by start address, and for each position the
    /// largest end seen so far, so a lookup can stop once nothing earlier reaches the address.
    private struct PerProcess: Sendable {
        var order: [Int] = []
        var maxEndSoFar: [UInt64] = []
    }

    /// The log's mmaps, then one per mremap destination, then one tombstone per munmap.
    public private(set) var mmaps: [MmapEvent]
    private var tombstones: Set<Int> = []
    /// How many of `mmaps` came from the log itself.
    private var baseCount = 0
    private var byPid: [Int32: PerProcess] = [:]
    private let parents: [Int32: (ppid: Int32, startNs: UInt64)]

    /// Ancestors further up than this are not searched: a pid chain that long is a lying
    /// log (or a ppid cycle), not a real process tree.
    private static let maxDepth = 64

    public init(log: LoadedLog) {
        mmaps = log.mmaps
        baseCount = mmaps.count
        var parents: [Int32: (ppid: Int32, startNs: UInt64)] = [:]
        for (pid, p) in log.processes where p.ppid != 0 && p.ppid != pid {
            parents[pid] = (p.ppid, p.startNs)
        }
        self.parents = parents
        addTimeline(log)

        byPid = Self.sortedPerProcess(mmaps)
    }

    private static func sortedPerProcess(_ mmaps: [MmapEvent]) -> [Int32: PerProcess] {
        var byPid: [Int32: PerProcess] = [:]
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
        return byPid
    }

    /// Replays mremap and munmap over the mmaps (in log order), in time order per process.
    private mutating func addTimeline(_ log: LoadedLog) {
        guard !log.addressSpaceEvents.isEmpty else { return }
        let base = MappingIndex(mmapsOnly: mmaps, parents: parents)
        for event in log.addressSpaceEvents {
            switch event.change {
            case .mremap(let address, let length, let newAddress, let newLength):
                // A region may move again and again (a growing buffer): look among the
                // moves made so far before the original mmaps and the parent's.
                guard let i = latestMove(pid: event.pid, address: address, atOrBefore: event.timeNs)
                        ?? base.mapping(pid: event.pid, address: address, timeNs: event.timeNs) else { continue }
                if tombstones.contains(i) { continue }
                var moved = mmaps[i]
                moved.pageOffset += address - moved.start
                moved.start = newAddress
                moved.length = newLength
                moved.timeNs = event.timeNs
                moved.pid = event.pid
                tombstone(pid: event.pid, address: address, length: length, timeNs: event.timeNs)
                mmaps.append(moved)
            case .munmap(let address, let length):
                tombstone(pid: event.pid, address: address, length: length, timeNs: event.timeNs)
            default:
                break
            }
        }
    }

    /// Whether `mmaps[i]` marks a munmap (or an mremap's old place) rather than a mapping.
    public func isTombstone(_ i: Int) -> Bool { tombstones.contains(i) }

    /// The latest mremap destination or munmap tombstone covering `address`.
    private func latestMove(pid: Int32, address: UInt64, atOrBefore limit: UInt64) -> Int? {
        var best: Int?
        for i in baseCount..<mmaps.count {
            let m = mmaps[i]
            if m.pid == pid && m.timeNs <= limit && m.start <= address && address < m.end { best = i }
        }
        return best
    }

    private mutating func tombstone(pid: Int32, address: UInt64, length: UInt64, timeNs: UInt64) {
        tombstones.insert(mmaps.count)
        mmaps.append(MmapEvent(pid: pid, timeNs: timeNs, start: address, length: length, pageOffset: 0,
                               prot: 0, flags: 0, inode: 0, module: ModuleID(rawValue: 0)))
    }

    /// An index over mmaps alone, to find what an mremap moved.
    private init(mmapsOnly: [MmapEvent], parents: [Int32: (ppid: Int32, startNs: UInt64)]) {
        mmaps = mmapsOnly
        baseCount = mmapsOnly.count
        self.parents = parents
        byPid = Self.sortedPerProcess(mmapsOnly)
    }

    /// The index in `mmaps` of the mapping that covered `address` in `pid` at `timeNs`,
    /// or nil when no recorded mapping did.
    public func mapping(pid: Int32, address: UInt64, timeNs: UInt64) -> Int? {
        var pid = pid
        var before = timeNs
        for _ in 0..<Self.maxDepth {
            if let found = latestCovering(pid: pid, address: address, atOrBefore: before) {
                return tombstones.contains(found) ? nil : found
            }
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
