// The one rule for handing out a log's faults by time without sorting them all: the
// recorder writes a fault when it completes, so faults of threads running at once come a
// little out of entry-time order, but never by much. Blocks of faults arrive in log order,
// each with a bound (no later block holds an earlier time); a fault is handed on once it is
// at or below the bound, and only the few that are not wait. FaultColumns (every field) and
// CompactFaults (the model's fields) both sweep with it, so their orders cannot drift.
//
// Order: by time, faults at the same time by index (log order): a stable sort by time.

struct TimeOrderMerge<Item> {
    struct Waiting {
        var time: UInt64
        var index: Int
        var item: Item
    }

    /// How many waiting faults make a sweep give up and sort what is left whole (a log far
    /// out of time order, e.g. a lying file): slower and larger, never wrong.
    static var maxWaiting: Int { 1 << 14 }

    private var waiting: [Waiting] = []
    private var incoming: [Waiting] = []
    private var merged: [Waiting] = []
    /// Faults added, and waiting faults copied from one block's merge to the next: a file of
    /// one-fault blocks behind a wall of faults late in time (just under `maxWaiting`) made
    /// each fault cost a copy of all of them.
    private var added = 0, carried = 0

    /// Whether the waiting faults have been copied too often for what was added: past
    /// `maxCarriedPerFault` on average (and a floor for short logs), sorting the rest
    /// whole is cheaper. A log in time order carries a few hundred per block of thousands.
    var carriedTooOften: Bool { carried > Self.maxCarriedPerFault * added + Self.maxWaiting * 64 }
    static var maxCarriedPerFault: Int { 64 }

    var isEmpty: Bool { waiting.isEmpty }
    var waitingCount: Int { waiting.count }
    /// What still waits, by (time, index).
    var pending: [Waiting] { waiting }

    @inline(__always)
    static func before(_ a: Waiting, _ b: Waiting) -> Bool { a.time != b.time ? a.time < b.time : a.index < b.index }

    /// Starts the next block (in log order).
    mutating func beginBlock() { incoming.removeAll(keepingCapacity: true) }

    mutating func add(time: UInt64, index: Int, _ item: Item) {
        incoming.append(Waiting(time: time, index: index, item: item))
        added += 1
    }

    /// Merges the block with what waits and hands on, in order, every fault at or below
    /// `bound` (the earliest time of every later block).
    mutating func endBlock(bound: UInt64, _ body: (_ index: Int, _ item: Item) throws -> Void) rethrows {
        Self.insertionSort(&incoming)
        merged.removeAll(keepingCapacity: true)
        var i = 0, j = 0
        while i < waiting.count || j < incoming.count {
            if j == incoming.count || (i < waiting.count && Self.before(waiting[i], incoming[j])) {
                merged.append(waiting[i]); i += 1
            } else {
                merged.append(incoming[j]); j += 1
            }
        }
        var handed = 0
        while handed < merged.count && merged[handed].time <= bound {
            try body(merged[handed].index, merged[handed].item)
            handed += 1
        }
        waiting.removeAll(keepingCapacity: true)
        waiting.append(contentsOf: merged[handed...])
        carried += waiting.count
    }

    /// Hands on everything still waiting (after the last block).
    mutating func finish(_ body: (_ index: Int, _ item: Item) throws -> Void) rethrows {
        for w in waiting { try body(w.index, w.item) }
        waiting.removeAll()
    }

    /// The sweep both column stores make (FaultColumns, CompactFaults): units in log order,
    /// each bounded by the earliest time of every later unit. While nothing waits,
    /// `handWhole(u, bound)` may hand unit u on by itself (true) when it needs no
    /// reordering; otherwise `add(u, &merge)` adds its faults and the merge hands on what
    /// the bound allows. When too many wait, `sortRest(waiting, u)` sorts the rest whole,
    /// from unit u on, and the sweep ends.
    static func sweep(units: Int, minimumTime: (Int) -> UInt64,
                      handWhole: (_ unit: Int, _ bound: UInt64) throws -> Bool,
                      add: (_ unit: Int, _ merge: inout TimeOrderMerge) -> Void,
                      sortRest: (_ waiting: [(time: UInt64, index: Int)], _ fromUnit: Int) throws -> Void,
                      _ body: (_ index: Int, _ item: Item) throws -> Void) rethrows {
        var merge = TimeOrderMerge()
        if let u = try merge.sweepPart(units: units, minimumTime: minimumTime, later: .max, isLast: true,
                                       handWhole: handWhole, add: add, body) {
            try sortRest(merge.pending.map { (time: $0.time, index: $0.index) }, u)
            return
        }
        try merge.finish(body)
    }

    /// The same sweep over one part of the faults (a chunk of a log still being decoded):
    /// its `units` in log order, `later` the earliest time of every part after it (.max
    /// when `isLast`). What the bounds do not yet allow keeps waiting in this merge for the
    /// next part; `finish` hands it on after the last. Returns nil, or, when too many
    /// faults wait, the unit of this part to sort whole from (with `pending` and every
    /// later part; it may be `units`, the next part's first): the sweep ends there.
    mutating func sweepPart(units: Int, minimumTime: (Int) -> UInt64, later: UInt64, isLast: Bool,
                            handWhole: (_ unit: Int, _ bound: UInt64) throws -> Bool,
                            add: (_ unit: Int, _ merge: inout TimeOrderMerge) -> Void,
                            _ body: (_ index: Int, _ item: Item) throws -> Void) rethrows -> Int? {
        guard units > 0 else { return nil }
        let bounds = Self.laterMinimum(units: units, minimumTime: minimumTime, after: later)
        for u in 0..<units {
            // Nothing in a later unit is earlier than this.
            let bound = bounds[u + 1]
            if isEmpty, try handWhole(u, bound) { continue }
            beginBlock()
            add(u, &self)
            try endBlock(bound: bound, body)
            if waitingCount > Self.maxWaiting || carriedTooOften, u + 1 < units || !isLast { return u + 1 }
        }
        return nil
    }

    /// The earliest time in each unit and every later one: `[u]` bounds units u and on;
    /// `after` bounds whatever comes after the last unit.
    static func laterMinimum(units: Int, minimumTime: (Int) -> UInt64, after: UInt64 = .max) -> [UInt64] {
        var later = [UInt64](repeating: after, count: units + 1)
        for u in stride(from: units - 1, through: 0, by: -1) { later[u] = Swift.min(later[u + 1], minimumTime(u)) }
        return later
    }

    /// Nearly sorted input: linear in its length and in how far each element is out of place.
    private static func insertionSort(_ a: inout [Waiting]) {
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
