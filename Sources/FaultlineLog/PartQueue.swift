// The parts of a log's faults (its chunks) in the order the time-order sweep takes them:
// in log order, except a part that holds faults written far behind their time, which is
// taken early.
//
// Why: the recorder writes a fault when it completes, so a thread preempted inside a fault
// writes it late. With many threads on few CPUs that is common: 128 threads writing 64 MiB
// each at random on 2 CPUs wrote 54 faults of 1.3M between 0.1 and 1 s late. The chunk
// such a fault lands in starts before every chunk written in that second, so every fault
// of theirs after its time waited for it: 280,000 at once, each unpacked, merged and
// packed again on the sweep's thread, which then took more CPU than the model it feeds.
// Taken early, the late fault goes on at its time; the rest of its chunk waits for theirs
// (a chunk's worth, mostly in the future, which blocks handed on whole pass by).
//
// Hazard: the earliest times and counts come from a file. A part is taken early only while
// no more than TimeOrderMerge.maxWaiting faults wait (the caller's check; past it the rest
// is sorted whole), and a part that cannot be had is asked for once.

struct PartQueue {
    let count: Int
    /// Each part's earliest time; .max once it is taken early.
    private var earliest: [UInt64]
    /// later[k]: the earliest time in the parts from k on that are not taken early;
    /// later[count] is .max.
    private(set) var later: [UInt64]
    /// Where each part's faults start in the whole.
    let starts: [Int]
    private let counts: [Int]
    private var takenEarly = Set<Int>()
    /// Parts that could not be had when asked for early (each part is asked for once).
    private var missing = Set<Int>()

    init(earliest: [UInt64], counts: [Int]) {
        precondition(earliest.count == counts.count)
        count = earliest.count
        self.earliest = earliest
        self.counts = counts
        var starts = [Int](repeating: 0, count: count)
        for k in starts.indices.dropFirst() { starts[k] = starts[k - 1] &+ counts[k - 1] }
        self.starts = starts
        later = [UInt64](repeating: .max, count: count + 1)
        updateLater(from: count - 1, downTo: 0)
    }

    func isTakenEarly(_ k: Int) -> Bool { takenEarly.contains(k) }

    /// Whether every part after `k` has been taken early.
    func isLast(_ k: Int) -> Bool {
        k + 1 == count || ((k + 1)..<count).allSatisfy(takenEarly.contains)
    }

    /// The part, two or more after part `k` and not taken early, whose earliest fault
    /// comes before every fault of part k: its faults were written more than a part behind
    /// their time. (A part just after k often starts a little before k's end: threads
    /// running at once; that is the merge's everyday work.)
    func straggling(before k: Int) -> Int? {
        guard k + 2 < count, later[k + 2] < earliest[k] else { return nil }
        var late = k + 2
        while earliest[late] != later[k + 2] { late += 1 }
        return missing.contains(late) ? nil : late
    }

    /// Part `k`, at its turn; nil if it cannot be had.
    mutating func take(_ k: Int, _ part: (Int) -> CompactFaults?) -> CompactFaults? {
        guard !missing.contains(k) else { return nil }
        return fetch(k, part)
    }

    /// Part `late`, before its turn (the sweep is at `current`); nil if it cannot be had,
    /// and then it is left for its turn, where it cannot be had either.
    mutating func takeEarly(_ late: Int, current: Int, _ part: (Int) -> CompactFaults?) -> CompactFaults? {
        guard let faults = fetch(late, part) else {
            missing.insert(late)
            return nil
        }
        takenEarly.insert(late)
        earliest[late] = .max
        updateLater(from: late, downTo: current)
        return faults
    }

    private func fetch(_ k: Int, _ part: (Int) -> CompactFaults?) -> CompactFaults? {
        guard let faults = part(k), faults.count == counts[k] else { return nil }
        return faults
    }

    private mutating func updateLater(from high: Int, downTo low: Int) {
        guard high >= low else { return }
        for k in stride(from: high, through: low, by: -1) { later[k] = min(later[k + 1], earliest[k]) }
    }
}
