// CompactFaults in time order (the rule is TimeOrderMerge's, as for FaultColumns), with
// the common case kept packed: a unit that nothing waits on, whose times never fall and
// that no later unit precedes is handed on whole, for its owner to move without unpacking.
//
// Hazard: a log may be in any order (a lying file). When too many faults wait, the rest
// is sorted whole by (time, index): slower and larger, never wrong.

import FaultlineCore

extension CompactFaults {
    /// Hands on every fault by time; faults at the same time in index (log) order, as a
    /// stable sort by time gives. A unit that needs no reordering goes whole to `unit`
    /// (its faults are the next ones in order, by `firstIndex(ofUnit:)`); every other
    /// fault goes to `row` with its index.
    public func forEachInTimeOrder(unit wholeUnit: (_ unit: Int) throws -> Void,
                                   row body: (_ index: Int, _ row: Row) throws -> Void) rethrows {
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.scratchCount)
        defer { scratch.deallocate() }
        try TimeOrderMerge<Row>.sweep(units: unitCount, minimumTime: minimumTime(ofUnit:), handWhole: { u, bound in
            // Decided from the unit's header, without unpacking it.
            let (sorted, last) = order(ofUnit: u)
            guard sorted && last <= bound else { return false }
            try wholeUnit(u)
            return true
        }, add: { u, merge in
            let n = decode(unit: u, into: scratch), first = firstIndex(ofUnit: u)
            for r in 0..<n {
                let row = Self.row(scratch, r)
                merge.add(time: row.time, index: first + r, row)
            }
        }, sortRest: { waiting, u in try sortRest(waiting: waiting, fromUnit: u, body) }, body)
    }

    /// The fallback for a log far out of time order: whatever waits and every fault from
    /// unit `u` on, sorted whole.
    private func sortRest(waiting: [(time: UInt64, index: Int)], fromUnit u: Int,
                          _ body: (_ index: Int, _ row: Row) throws -> Void) rethrows {
        var rest = waiting.map { ($0.time, $0.index) }
        let from = firstIndex(ofUnit: u)
        rest.reserveCapacity(waiting.count + count - from)
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.scratchCount)
        defer { scratch.deallocate() }
        for v in u..<unitCount {
            let n = decode(unit: v, into: scratch), first = firstIndex(ofUnit: v)
            for r in 0..<n { rest.append((scratch[Field.time.rawValue * Self.rows + r], first + r)) }
        }
        rest.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        for (_, i) in rest { try body(i, row(at: i)) }
    }
}
