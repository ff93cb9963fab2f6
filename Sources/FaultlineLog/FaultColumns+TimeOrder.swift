// A log's faults in time order without sorting them all (the rule is TimeOrderMerge's):
// each block knows its earliest time, so only the few faults a later block may still
// precede are held (and sorted), never the whole log: what keeps the reports' and replay's
// memory small.
//
// Hazard: a log may be in any order (a lying file). When too many faults wait, the rest
// is sorted whole by (time, index): slower and larger, never wrong.

import FaultlineCore

extension FaultColumns {
    /// How many waiting faults make the sweep give up and sort what is left.
    static var maxWaiting: Int { TimeOrderMerge<FaultEvent>.maxWaiting }

    /// Calls `body` with every fault and its index, by time; faults at the same time in
    /// index (log) order: the order a stable sort by time gives.
    public func forEachInTimeOrder(_ body: (_ index: Int, _ fault: FaultEvent) throws -> Void) rethrows {
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.fieldCount * Self.rows)
        defer { scratch.deallocate() }
        var block: [FaultEvent] = []
        block.reserveCapacity(Self.rows)
        var decoded = -1    // the unit `block` holds
        func decodeOnce(_ u: Int) {
            if decoded != u { decode(unit: u, into: &block, scratch: scratch); decoded = u }
        }
        try TimeOrderMerge<FaultEvent>.sweep(units: unitCount, minimumTime: minimumTime(ofUnit:), handWhole: { u, bound in
            decodeOnce(u)
            guard block.last!.timeNs <= bound, Self.isSorted(block) else { return false }
            let first = firstIndex(ofUnit: u)
            for (k, f) in block.enumerated() { try body(first + k, f) }
            return true
        }, add: { u, merge in
            decodeOnce(u)
            let first = firstIndex(ofUnit: u)
            for (k, f) in block.enumerated() { merge.add(time: f.timeNs, index: first + k, f) }
        }, sortRest: { waiting, u in try sortRest(waiting: waiting, fromUnit: u, body) }, body)
    }

    /// The fallback for a log far out of time order: whatever waits and every fault from
    /// unit `u` on, sorted whole.
    private func sortRest(waiting: [(time: UInt64, index: Int)], fromUnit u: Int,
                          _ body: (_ index: Int, _ fault: FaultEvent) throws -> Void) rethrows {
        var rest = waiting.map { ($0.time, $0.index) }
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
}
