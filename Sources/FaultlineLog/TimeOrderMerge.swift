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
    /// out of time order, e.g. a lying file): slower and larger, never wrong. A recording
    /// of many threads on few CPUs has stragglers, faults written long after their time
    /// (PartQueue): 128 threads writing 64 MiB each at random on 2 CPUs wrote 54 of 1.3M
    /// faults late, 19 of them by 0.1 to 1 s. Even with their chunks taken early, whose
    /// other faults then wait, 43,891 waited at once; at the old limit of 16,384 the sweep
    /// sorted 1.25M faults whole, and its thread took half of the replay's CPU.
    static var maxWaiting: Int { 1 << 17 }

    /// What waits, by (time, index), from `head` on: the faults before `head` are handed
    /// on, and go when they are half the array (moving the rest down at every block was a
    /// copy of all that waits, a block).
    private var waiting: [Waiting] = []
    private var head = 0
    private var incoming: [Waiting] = []
    private var merged: [Waiting] = []
    /// Faults added, and waiting faults moved to make room for a block's that come before
    /// them: a file of one-fault blocks behind a wall of faults late in time (just under
    /// `maxWaiting`) that must all wait made each fault cost a move of all of them.
    private var added = 0, carried = 0

    /// Whether the waiting faults have been moved too often for what was added: past
    /// `maxCarriedPerFault` on average (and a floor for short logs), sorting the rest
    /// whole is cheaper. A log in time order moves a few a block, where two threads'
    /// faults interleave at a block's edge.
    var carriedTooOften: Bool { carried > Self.maxCarriedPerFault * added + Self.maxWaiting * 64 }
    static var maxCarriedPerFault: Int { 64 }

    var isEmpty: Bool { head == waiting.count }
    var waitingCount: Int { waiting.count - head }
    /// What still waits, by (time, index).
    var pending: [Waiting] { Array(waiting[head...]) }

    @inline(__always)
    static func before(_ a: Waiting, _ b: Waiting) -> Bool { a.time != b.time ? a.time < b.time : a.index < b.index }

    /// How late a block handed on whole (not through the merge) may end: at `bound`, and
    /// before every fault that waits (at the same time, one that waits came first in the
    /// log, or belongs to a part taken early: handing the block through the merge then
    /// decides it). Nil: no block can be handed on whole.
    func wholeBound(_ bound: UInt64) -> UInt64? {
        guard head < waiting.count else { return bound }
        let first = waiting[head].time
        return first == 0 ? nil : min(bound, first - 1)
    }

    /// Starts the next block (in log order).
    mutating func beginBlock() { incoming.removeAll(keepingCapacity: true) }

    mutating func add(time: UInt64, index: Int, _ item: Item) {
        incoming.append(Waiting(time: time, index: index, item: item))
        added += 1
    }

    /// Hands on, in order, every fault of the block and of what waits at or below `bound`
    /// (the earliest time of every later block); the rest of the block waits.
    mutating func endBlock(bound: UInt64, _ body: (_ index: Int, _ item: Item) throws -> Void) rethrows {
        Self.insertionSort(&incoming)
        // The two sorted runs merged as they are handed on: in time order, so the first
        // past the bound ends it.
        var j = 0
        while true {
            let fromWaiting: Bool
            if head < waiting.count {
                fromWaiting = j == incoming.count || Self.before(waiting[head], incoming[j])
            } else if j < incoming.count {
                fromWaiting = false
            } else {
                break
            }
            let next = fromWaiting ? waiting[head] : incoming[j]
            guard next.time <= bound else { break }
            try body(next.index, next.item)
            if fromWaiting { head += 1 } else { j += 1 }
        }
        if j < incoming.count { wait(incoming[j...]) }
        if head == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && 2 * head >= waiting.count {
            waiting.removeSubrange(..<head)
            head = 0
        }
    }

    /// Adds a sorted run to what waits: appended where it all comes after (a log in time
    /// order), else merged from where its first fault belongs, which only a fault late
    /// by more than a block reaches far back for.
    private mutating func wait(_ run: ArraySlice<Waiting>) {
        guard let first = run.first else { return }
        if head == waiting.count || Self.before(waiting[waiting.count - 1], first) {
            waiting.append(contentsOf: run)
            return
        }
        var low = head, high = waiting.count   // the first waiting fault after `first`
        while low < high {
            let mid = (low + high) / 2
            if Self.before(waiting[mid], first) { low = mid + 1 } else { high = mid }
        }
        merged.removeAll(keepingCapacity: true)
        var i = low, j = run.startIndex
        while i < waiting.count || j < run.endIndex {
            if j == run.endIndex || (i < waiting.count && Self.before(waiting[i], run[j])) {
                merged.append(waiting[i]); i += 1
            } else {
                merged.append(run[j]); j += 1
            }
        }
        carried += waiting.count - low
        waiting.replaceSubrange(low..., with: merged)
    }

    /// Hands on everything still waiting (after the last block).
    mutating func finish(_ body: (_ index: Int, _ item: Item) throws -> Void) rethrows {
        for w in waiting[head...] { try body(w.index, w.item) }
        waiting.removeAll()
        head = 0
    }

    /// The sweep both column stores make (FaultColumns, CompactFaults): units in log order,
    /// each bounded by the earliest time of every later unit. `handWhole(u, bound)` may
    /// hand unit u on by itself (true) when it needs no reordering and ends by `bound`
    /// (which also keeps it before every waiting fault: `wholeBound`); otherwise
    /// `add(u, &merge)` adds its faults and the merge hands on what the bound allows. When too many wait, `sortRest(waiting, u)` sorts the rest whole,
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
            if let wholeBound = wholeBound(bound), try handWhole(u, wholeBound) { continue }
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

    /// Moves an insertion sort may make per element before it sorts the block outright.
    static var insertionMovesPerElement: Int { 16 }

    private static func insertionSort(_ a: inout [Waiting]) {
        a.sortNearlySorted(movesPerElement: insertionMovesPerElement, by: before) // no two alike: the index tells every pair apart
    }
}

extension Array {
    /// Nearly sorted input: linear in its length and in how far each element is out of
    /// place. An array far out of order (a lying file; a part taken early is one block of
    /// thousands) is sorted outright instead, past a budget of moves. Not stable past the
    /// budget: `before` must tell every two elements apart.
    mutating func sortNearlySorted(movesPerElement: Int, by before: (Element, Element) -> Bool) {
        guard count > 1 else { return }
        var budget = movesPerElement * count
        for i in 1..<count where before(self[i], self[i - 1]) {
            let moving = self[i]
            var j = i
            while j > 0 && before(moving, self[j - 1]) {
                self[j] = self[j - 1]
                j -= 1
            }
            self[j] = moving
            budget -= i - j
            if budget < 0 {
                sort(by: before)
                return
            }
        }
    }
}
