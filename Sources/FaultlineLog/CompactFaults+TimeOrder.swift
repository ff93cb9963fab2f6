// CompactFaults in time order (the rule is TimeOrderMerge's, as for FaultColumns), with
// the common case kept packed: a unit that comes before every waiting fault, whose times
// never fall and that no later unit precedes is handed on whole, for its owner to move
// without unpacking. The faults may also come a part at a time (a log's chunks, decoded
// while replay already reads the first ones): what each part's earliest time and count
// are must then be known before the parts are, and the order handed on is the one the
// parts joined would give. A part holding faults written far behind their time is taken
// early (PartQueue).
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
        _ = try Self.forEachInTimeOrder(parts: 1, earliest: [0], counts: [count], part: { _ in self },
                                        unit: { _, u in try wholeUnit(u) }, row: body)
    }

    /// The same, over `parts` parts that join into one log's faults: `part(k)` gives part
    /// k, asked for once each (nil: it cannot be had, and the sweep stops at its turn,
    /// returning false); `earliest[k]` is the earliest time in part k (or lower), and
    /// `counts[k]` its number of faults (a part of another count cannot be had). Indices
    /// count across the parts; a unit handed whole comes with its part.
    ///
    /// Parts are asked for in order, except one that holds faults written more than a part
    /// behind their time: it is taken early (PartQueue).
    public static func forEachInTimeOrder(parts: Int, earliest: [UInt64], counts: [Int], part: (_ k: Int) -> CompactFaults?,
                                          unit wholeUnit: (_ part: CompactFaults, _ unit: Int) throws -> Void,
                                          row body: (_ index: Int, _ row: Row) throws -> Void) rethrows -> Bool {
        precondition(earliest.count >= parts && counts.count >= parts)
        var queue = PartQueue(earliest: Array(earliest.prefix(parts)), counts: Array(counts.prefix(parts)))
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.scratchCount)
        defer { scratch.deallocate() }
        var merge = TimeOrderMerge<Row>()
        func add(_ faults: CompactFaults, unit u: Int, start: Int, to merge: inout TimeOrderMerge<Row>) {
            let n = faults.decode(unit: u, into: scratch), first = start + faults.firstIndex(ofUnit: u)
            for r in 0..<n {
                let row = Self.row(scratch, r)
                merge.add(time: row.time, index: first + r, row)
            }
        }
        for k in 0..<parts where !queue.isTakenEarly(k) {
            while merge.waitingCount <= TimeOrderMerge<Row>.maxWaiting, let late = queue.straggling(before: k),
                  let faults = queue.takeEarly(late, current: k, part) {
                // Its faults join the merge now, and what waited for them goes on.
                merge.beginBlock()
                for u in 0..<faults.unitCount { add(faults, unit: u, start: queue.starts[late], to: &merge) }
                try merge.endBlock(bound: queue.later[k], body)
            }
            guard let faults = queue.take(k, part) else { return false }
            let start = queue.starts[k]
            let overflow = try merge.sweepPart(units: faults.unitCount, minimumTime: faults.minimumTime(ofUnit:),
                                               later: queue.later[k + 1], isLast: queue.isLast(k), handWhole: { u, bound in
                // Decided from the unit's header, without unpacking it.
                let (sorted, last) = faults.order(ofUnit: u)
                guard sorted && last <= bound else { return false }
                try wholeUnit(faults, u)
                return true
            }, add: { u, merge in add(faults, unit: u, start: start, to: &merge) }, body)
            if let u = overflow {
                return try sortRest(waiting: merge.pending, from: (faults, start, u), after: k, queue: &queue, part: part, body)
            }
        }
        try merge.finish(body)
        return true
    }

    /// The fallback for a log far out of time order: whatever waits, every fault of the
    /// current part (part `k`) from unit `u` on and every later part's not taken early,
    /// sorted whole. Only each fault's time, index and part are held while sorting; its row
    /// is read again after.
    private static func sortRest(waiting: [TimeOrderMerge<Row>.Waiting], from current: (faults: CompactFaults, start: Int, unit: Int),
                                 after k: Int, queue: inout PartQueue, part: (Int) -> CompactFaults?,
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
        for later in (k + 1)..<queue.count where !queue.isTakenEarly(later) {
            guard let faults = queue.take(later, part) else { return false }
            hold(faults, start: queue.starts[later], fromUnit: 0)
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
