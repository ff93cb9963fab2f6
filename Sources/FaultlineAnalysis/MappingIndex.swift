// Finds the mapping a fault address fell into, as it was when the fault happened.
//
// One sweep through the log in time order replays every process's address space: an mmap
// places its mapping (over whatever was there), munmap removes, mremap moves a copy of the
// mapping to its new place, so faults there still belong to the code that first mapped the
// memory; exec and exit empty the space, and a fork gives the child a copy of its parent's
// as it was then. Each fault is looked up as the sweep passes its time, so a report costs
// O((faults + changes) · log spans) however much the program mapped and unmapped. Other
// questions (a crash's neighbours, a lookup at any time) are answered from the history of
// spans the sweep leaves behind.

import FaultlineCore
import FaultlineLog

public struct MappingIndex: Sendable {
    /// The log's mmaps, then one copy per mremap destination.
    public private(set) var mmaps: [MmapEvent]
    /// Per fault of the log, by the same index: the mapping it fell into, or -1.
    private var faultMappings: [Int32] = []
    /// Per pid: every span its address space held during the recording.
    private var history: [Int32: [MappingSpan]] = [:]

    public init(log: LoadedLog) {
        mmaps = log.mmaps
        var sweep = Sweep(pageSize: max(log.header.pageSize, 1))
        var next = 0
        let changes = Self.changesInTimeOrder(log)
        faultMappings = [Int32](repeating: -1, count: log.faults.count)
        for f in Self.inTimeOrder(log.faults.count, time: { log.faults[$0].timeNs }) {
            let fault = log.faults[f]
            // A change at the very time of a fault comes first: the mapping exists by then.
            while next < changes.count && changes[next].time <= fault.timeNs {
                sweep.apply(changes[next].change, log: log, mmaps: &mmaps)
                next += 1
            }
            faultMappings[f] = sweep.live[fault.pid]?.mapping(at: fault.address) ?? -1
        }
        while next < changes.count {
            sweep.apply(changes[next].change, log: log, mmaps: &mmaps)
            next += 1
        }
        history = sweep.finish()
    }

    /// The index in `mmaps` of the mapping `log.faults[index]` fell into, or nil when no
    /// recorded mapping covered it.
    public func mapping(ofFault index: Int) -> Int? {
        guard faultMappings.indices.contains(index), faultMappings[index] >= 0 else { return nil }
        return Int(faultMappings[index])
    }

    /// The mapping that covered `address` in `pid` at `timeNs`, or nil. Scans the process's
    /// history: for occasional questions; faults have `mapping(ofFault:)`.
    public func mapping(pid: Int32, address: UInt64, timeNs: UInt64) -> Int? {
        guard let spans = history[pid] else { return nil }
        // The latest span to begin wins where a process was seen twice (a reused pid).
        let hit = spans.last { $0.from <= timeNs && timeNs < $0.to && $0.start <= address && address < $0.end }
        return hit.map { Int($0.mapping) }
    }

    /// The spans `pid`'s address space held at `timeNs`, by start address.
    func spans(pid: Int32, at timeNs: UInt64) -> [MappingSpan] {
        (history[pid] ?? []).filter { $0.from <= timeNs && timeNs < $0.to }.sorted { $0.start < $1.start }
    }

    // MARK: the sweep

    private enum Change {
        case lifecycle(Int)
        case mmap(Int)
        case addressSpace(Int)
    }

    /// Process starts, execs and exits, mmaps, then munmap/mremap, each in time order; at
    /// equal times in that order, and in log order within each.
    private static func changesInTimeOrder(_ log: LoadedLog) -> [(time: UInt64, change: Change)] {
        var changes: [(time: UInt64, change: Change)] = []
        changes.reserveCapacity(log.lifecycle.count + log.mmaps.count + log.addressSpaceEvents.count)
        for (i, e) in log.lifecycle.enumerated() { changes.append((e.timeNs, .lifecycle(i))) }
        for (i, m) in log.mmaps.enumerated() { changes.append((m.timeNs, .mmap(i))) }
        for (i, a) in log.addressSpaceEvents.enumerated() {
            switch a.change {
            case .munmap, .mremap: changes.append((a.timeNs, .addressSpace(i)))
            default: break
            }
        }
        return inTimeOrder(changes.count, time: { changes[$0].time }).map { changes[$0] }
    }

    /// Indices 0..<count sorted by time, stable.
    private static func inTimeOrder(_ count: Int, time: (Int) -> UInt64) -> [Int] {
        let order = Array(0..<count)
        if zip(order, order.dropFirst()).allSatisfy({ time($0) <= time($1) }) { return order }
        return order.sorted { time($0) != time($1) ? time($0) < time($1) : $0 < $1 }
    }

    private struct Sweep {
        let pageSize: UInt64
        var live: [Int32: LiveAddressMap] = [:]
        var ended: [Int32: [MappingSpan]] = [:]

        mutating func apply(_ change: Change, log: LoadedLog, mmaps: inout [MmapEvent]) {
            switch change {
            case .lifecycle(let i):
                switch log.lifecycle[i] {
                case .fork(let p):
                    // A process seen before its start record (an attach snapshot) keeps what
                    // it has; a new one starts as a copy of its parent.
                    guard live[p.pid]?.spans.isEmpty ?? true, p.ppid != p.pid,
                          let parent = live[p.ppid] else { return }
                    live[p.pid] = parent.inherited(at: p.timeNs)
                case .exec(let pid, let time, _):
                    update(pid) { $0.clear(at: time, ended: &$1) }
                case .exit(let x):
                    update(x.pid) { $0.clear(at: x.timeNs, ended: &$1) }
                }
            case .mmap(let i):
                let m = mmaps[i]
                update(m.pid) { $0.assign(m.start, m.end, to: Int32(i), at: m.timeNs, ended: &$1) }
            case .addressSpace(let i):
                let event = log.addressSpaceEvents[i]
                let pid = event.pid
                switch event.change {
                case .munmap(let address, let length):
                    // The kernel unmaps whole pages: a length that is not a multiple rounds up.
                    let end = address &+ roundedUp(length)
                    update(pid) { $0.assign(address, end, to: nil, at: event.timeNs, ended: &$1) }
                case .mremap(let address, let length, let newAddress, let newLength):
                    let source = live[pid]?.mapping(at: address)
                    let oldLength = roundedUp(length), newLength = roundedUp(newLength)
                    let inPlace = newAddress == address
                    // In place, a shrink only unmaps the tail, and the mappings before it stay.
                    let freed = inPlace ? (address &+ min(newLength, oldLength), address &+ oldLength) : (address, address &+ oldLength)
                    update(pid) { $0.assign(freed.0, freed.1, to: nil, at: event.timeNs, ended: &$1) }
                    // A copy of the mapping covers its new place (in place: only what it grew by).
                    guard let source, !inPlace || newLength > oldLength else { return }
                    var copy = mmaps[Int(source)]
                    copy.pageOffset += address &- copy.start
                    copy.start = newAddress
                    copy.length = newLength
                    copy.timeNs = event.timeNs
                    copy.pid = pid
                    mmaps.append(copy)
                    let index = Int32(mmaps.count - 1)
                    let from = inPlace ? address &+ oldLength : newAddress
                    update(pid) { $0.assign(from, copy.end, to: index, at: event.timeNs, ended: &$1) }
                default:
                    break
                }
            }
        }

        /// Runs `body` on `pid`'s live map and its ended spans.
        private mutating func update(_ pid: Int32, _ body: (inout LiveAddressMap, inout [MappingSpan]) -> Void) {
            var map = live.removeValue(forKey: pid) ?? LiveAddressMap()
            var done = ended.removeValue(forKey: pid) ?? []
            body(&map, &done)
            live[pid] = map
            ended[pid] = done
        }

        private func roundedUp(_ length: UInt64) -> UInt64 {
            length > UInt64.max - pageSize ? length : (length + pageSize - 1) / pageSize * pageSize
        }

        /// Every span, ended or still live at the end of the log.
        func finish() -> [Int32: [MappingSpan]] {
            var all = ended
            for (pid, map) in live { all[pid, default: []].append(contentsOf: map.spans) }
            return all
        }
    }
}
