// A window of one process's faults put in time order while it is decoded, on the decoding
// threads, before it is packed. The recorder writes a fault when it completes, so the
// faults of two threads running at once come interleaved a few places out of entry-time
// order; packed so, nearly every block must be unpacked, merged and packed again by the
// time-order sweep (TimeOrderMerge), on the one thread the models wait for: a fifth of a
// 2M-fault two-thread replay's CPU (perf, thread_storm 1024 4). Sorted here, a block
// needs the merge only at a window's edge, and the sweep moves the rest whole.
//
// The sweep's order is unchanged: it is a stable sort by time, and a stable sort of a
// window keeps the log order of faults at the same time. Only a window of one process is
// sorted, so that the order in which processes first fault (which numbers them) stays the
// log's.
//
// Hazard: a log may be in any order. Insertion sort is linear in how far faults are out
// of place; past a budget of moves the window is left as it was, for the sweep, which is
// never wrong, to sort.

import FaultlineCore

extension CompactFaults {
    /// Moves an insertion sort may make per fault of a window before it gives up.
    static let windowSortMovesPerFault = 16

    /// Puts `rows` faults given by column (Field order, stride `stride`) stably in time
    /// order, when they are all one process's and not far out of order. `order` holds
    /// `rows` indices and `spare` `rows` values, both scratch.
    static func sortWindowByTime(_ columns: UnsafeMutablePointer<UInt64>, stride: Int, rows: Int,
                                 order: UnsafeMutablePointer<Int32>, spare: UnsafeMutablePointer<UInt64>) {
        guard rows > 1 else { return }
        let times = columns + Field.time.rawValue * stride
        guard let firstFall = (1..<rows).first(where: { times[$0] < times[$0 - 1] }) else { return }
        let pids = columns + Field.pid.rawValue * stride
        guard !(1..<rows).contains(where: { pids[$0] != pids[0] }) else { return }

        for r in 0..<rows { order[r] = Int32(r) }
        var budget = windowSortMovesPerFault * rows
        for i in firstFall..<rows {
            let moving = order[i], t = times[i]   // order[i] == i: only places before i have moved
            var j = i
            while j > 0 && t < times[Int(order[j - 1])] {
                order[j] = order[j - 1]
                j -= 1
            }
            order[j] = moving
            budget -= i - j
            if budget < 0 { return }   // columns untouched: the sweep sorts them
        }
        for c in 0..<fieldCount {
            let column = columns + c * stride
            for r in 0..<rows { spare[r] = column[Int(order[r])] }
            column.update(from: spare, count: rows)
        }
    }
}
