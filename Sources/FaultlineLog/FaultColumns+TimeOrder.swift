// A log's faults in time order without sorting them all: the recorder writes a fault when
// it completes, so faults of threads running at once come a little out of entry-time order,
// but never by much. Each block knows its earliest time; a fault can be handed on once no
// later block holds an earlier one. So only the few faults waiting for that are held (and
// sorted), never the whole log: what keeps the reports' and replay's memory small.
//
// Hazard: a log may be in any order (a lying file). When too many faults wait, the rest
// is sorted whole by (time, index): slower and larger, never wrong.

import FaultlineCore

extension FaultColumns {
    /// How many waiting faults make the sweep give up and sort what is left.
    static let maxWaiting = 1 << 14

    /// Calls `body` with every fault and its index, by time; faults at the same time in
    /// index (log) order: the order a stable sort by time gives.
    public func forEachInTimeOrder(_ body: (_ index: Int, _ fault: FaultEvent) throws -> Void) rethrows {
        struct Waiting { var time: UInt64; var index: Int; var fault: FaultEvent }
        func before(_ a: Waiting, _ b: Waiting) -> Bool { a.time != b.time ? a.time < b.time : a.index < b.index }

        let units = unitCount
        guard units > 0 else { return }
        // The earliest time in each unit and every later one.
        var laterMinimum = [UInt64](repeating: .max, count: units + 1)
        for u in stride(from: units - 1, through: 0, by: -1) { laterMinimum[u] = Swift.min(laterMinimum[u + 1], minimumTime(ofUnit: u)) }

        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.fieldCount * Self.rows)
        defer { scratch.deallocate() }
        var block: [FaultEvent] = []
        block.reserveCapacity(Self.rows)
        var waiting: [Waiting] = []
        var incoming: [Waiting] = []
        var merged: [Waiting] = []
        for u in 0..<units {
            decode(unit: u, into: &block, scratch: scratch)
            let first = firstIndex(ofUnit: u)
            // Nothing in a later block is earlier than this.
            let bound = laterMinimum[u + 1]
            if waiting.isEmpty, block.last!.timeNs <= bound, Self.isSorted(block) {
                for (k, f) in block.enumerated() { try body(first + k, f) }
                continue
            }
            incoming.removeAll(keepingCapacity: true)
            for (k, f) in block.enumerated() { incoming.append(Waiting(time: f.timeNs, index: first + k, fault: f)) }
            Self.insertionSort(&incoming, by: before)
            // Merge what waits with this block; both are sorted.
            merged.removeAll(keepingCapacity: true)
            var i = 0, j = 0
            while i < waiting.count || j < incoming.count {
                if j == incoming.count || (i < waiting.count && before(waiting[i], incoming[j])) {
                    merged.append(waiting[i]); i += 1
                } else {
                    merged.append(incoming[j]); j += 1
                }
            }
            var handed = 0
            while handed < merged.count && merged[handed].time <= bound {
                try body(merged[handed].index, merged[handed].fault)
                handed += 1
            }
            waiting.removeAll(keepingCapacity: true)
            waiting.append(contentsOf: merged[handed...])
            if waiting.count > Self.maxWaiting, u + 1 < units {
                try sortRest(waiting: waiting.map { ($0.time, $0.index) }, fromUnit: u + 1, body)
                return
            }
        }
        for w in waiting { try body(w.index, w.fault) }
    }

    /// The fallback for a log far out of time order: whatever waits and every fault from
    /// unit `u` on, sorted whole.
    private func sortRest(waiting: [(UInt64, Int)], fromUnit u: Int,
                          _ body: (_ index: Int, _ fault: FaultEvent) throws -> Void) rethrows {
        var rest = waiting
        let from = firstIndex(ofUnit: u)
        rest.reserveCapacity(waiting.count + count - from)
        for i in from..<count { rest.append((timeNs(at: i), i)) }
        rest.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        for (_, i) in rest { try body(i, self[i]) }
    }

    private static func isSorted(_ block: [FaultEvent]) -> Bool {
        block.withUnsafeBufferPointer { b in
            for k in b.indices.dropFirst() where b[k].timeNs < b[k - 1].timeNs { return false }
            return true
        }
    }

    /// Nearly sorted input: linear in its length and in how far each element is out of place.
    private static func insertionSort<T>(_ a: inout [T], by before: (T, T) -> Bool) {
        guard a.count > 1 else { return }
        for i in 1..<a.count where before(a[i], a[i - 1]) {
            let moving = a[i]
            var j = i
            while j > 0 && before(moving, a[j - 1]) {
                a[j] = a[j - 1]
                j -= 1
            }
            a[j] = moving
        }
    }
}
