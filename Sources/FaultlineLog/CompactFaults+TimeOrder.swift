// CompactFaults in time order (the rule is TimeOrderMerge's, as for FaultColumns), with
// the common case kept packed: a unit that nothing waits on, whose times never fall and
// that no later unit precedes is handed on whole, for its owner to move without unpacking.
// The faults may also come a part at a time (a log's chunks, decoded while replay already
// reads the first ones): what each part's earliest time is must then be known before the
// parts are, and the order handed on is the one the parts joined would give.
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
        _ = try Self.forEachInTimeOrder(parts: 1, earliest: [0], part: { _ in self },
                                        unit: { _, u in try wholeUnit(u) }, row: body)
    }

    /// The same, over `parts` parts that join into one log's faults: `part(k)` gives part
    /// k, asked for once each, in order (nil: it cannot be had, and the sweep stops there,
    /// returning false); `earliest[k]` is the earliest time in part k (or lower). Indices
    /// count across the parts; a unit handed whole comes with its part.
    public static func forEachInTimeOrder(parts: Int, earliest: [UInt64], part: (_ k: Int) -> CompactFaults?,
                                          unit wholeUnit: (_ part: CompactFaults, _ unit: Int) throws -> Void,
                                          row body: (_ index: Int, _ row: Row) throws -> Void) rethrows -> Bool {
        precondition(earliest.count >= parts)
        // later[k]: nothing in part k or after it is earlier.
        let later = TimeOrderMerge<Row>.laterMinimum(units: parts, minimumTime: { earliest[$0] })
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.scratchCount)
        defer { scratch.deallocate() }
        var merge = TimeOrderMerge<Row>()
        var start = 0   // index of the part's first fault
        for k in 0..<parts {
            guard let faults = part(k) else { return false }
            let overflow = try merge.sweepPart(units: faults.unitCount, minimumTime: faults.minimumTime(ofUnit:),
                                               later: later[k + 1], isLast: k + 1 == parts, handWhole: { u, bound in
                // Decided from the unit's header, without unpacking it.
                let (sorted, last) = faults.order(ofUnit: u)
                guard sorted && last <= bound else { return false }
                try wholeUnit(faults, u)
                return true
            }, add: { u, merge in
                let n = faults.decode(unit: u, into: scratch), first = start + faults.firstIndex(ofUnit: u)
                for r in 0..<n {
                    let row = Self.row(scratch, r)
                    merge.add(time: row.time, index: first + r, row)
                }
            }, body)
            if let u = overflow {
                return try sortRest(waiting: merge.pending, from: (faults, start, u), parts: (k + 1)..<parts, part: part, body)
            }
            start += faults.count
        }
        try merge.finish(body)
        return true
    }

    /// The fallback for a log far out of time order: whatever waits, every fault of the
    /// current part from unit `u` on and every later part's, sorted whole. Only each
    /// fault's time, index and part are held while sorting; its row is read again after.
    private static func sortRest(waiting: [TimeOrderMerge<Row>.Waiting], from current: (faults: CompactFaults, start: Int, unit: Int),
                                 parts: Range<Int>, part: (Int) -> CompactFaults?,
                                 _ body: (_ index: Int, _ row: Row) throws -> Void) rethrows -> Bool {
        // holder: the part in `held`, or -1 - i for waiting[i].
        var rest = waiting.enumerated().map { (time: $1.time, index: $1.index, holder: -1 - $0) }
        var held: [(faults: CompactFaults, start: Int)] = []
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.scratchCount)
        defer { scratch.deallocate() }
        func hold(_ faults: CompactFaults, start: Int, fromUnit first: Int) {
            held.append((faults, start))
            for u in first..<faults.unitCount {
                let n = faults.decode(unit: u, into: scratch), at = start + faults.firstIndex(ofUnit: u)
                for r in 0..<n { rest.append((scratch[Field.time.rawValue * Self.rows + r], at + r, held.count - 1)) }
            }
        }
        hold(current.faults, start: current.start, fromUnit: current.unit)
        var start = current.start + current.faults.count
        for k in parts {
            guard let faults = part(k) else { return false }
            hold(faults, start: start, fromUnit: 0)
            start += faults.count
        }
        rest.sort { $0.time != $1.time ? $0.time < $1.time : $0.index < $1.index }
        for r in rest {
            if r.holder < 0 { try body(r.index, waiting[-1 - r.holder].item); continue }
            let (faults, first) = held[r.holder]
            try body(r.index, faults.row(at: r.index - first))
        }
        return true
    }
}
