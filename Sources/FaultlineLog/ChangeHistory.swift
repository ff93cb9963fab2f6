// The order in which a log's changes to processes and address spaces happened: the one
// order every reader replays them in (the reports' mapping lookups, the replay model).
//
// Hazard: the recorder writes munmap and mremap at their exit with their entry's time, and
// an exec at the snapshot after it with the time the kernel replaced the address space, so
// log order is not time order. Sorting by time, with log order breaking ties, is.

import FaultlineCore

/// A change to a process or its address space, by its index in the log's tables.
public enum LogChange: Sendable, Equatable {
    /// `LoadedLog.lifecycle[i]`: a process start, exec or exit.
    case lifecycle(Int)
    /// `LoadedLog.mmaps[i]`.
    case mmap(Int)
    /// `LoadedLog.addressSpaceEvents[i]`.
    case addressSpace(Int)
}

extension LoadedLog {
    public func time(of change: LogChange) -> UInt64 {
        switch change {
        case .lifecycle(let i): return lifecycle[i].timeNs
        case .mmap(let i): return mmaps[i].timeNs
        case .addressSpace(let i): return addressSpaceEvents[i].timeNs
        }
    }

    public func pid(of change: LogChange) -> Int32 {
        switch change {
        case .lifecycle(let i):
            switch lifecycle[i] {
            case .fork(let p): return p.pid
            case .exec(let pid, _, _): return pid
            case .exit(let x): return x.pid
            }
        case .mmap(let i): return mmaps[i].pid
        case .addressSpace(let i): return addressSpaceEvents[i].pid
        }
    }

    /// Whether a fault at the same time as `change` comes after it. A process's exit comes
    /// after its faults; everything else before (the mapping exists by the fault).
    public func precedesFaults(atItsTime change: LogChange) -> Bool {
        if case .lifecycle(let i) = change, case .exit = lifecycle[i] { return false }
        return true
    }

    /// Every change, by time; at equal times in log order, which is the order the recorder
    /// saw them in.
    public func changesInTimeOrder() -> [LogChange] {
        let times = changes.map(time(of:))
        if zip(times, times.dropFirst()).allSatisfy({ $0 <= $1 }) { return changes }
        // Nearly in order already: a change out of place is a munmap, mremap or exec a few
        // records late, so an insertion sort moves each a few places. (Sorted outright by
        // comparisons, a shell loop's 145,000 changes took 43M instructions, a fifth of
        // the time between reading its log and the model's start: callgrind.)
        var order = times.indices.map { (time: times[$0], index: $0) }
        order.sortNearlySorted(movesPerElement: 16) { $0.time != $1.time ? $0.time < $1.time : $0.index < $1.index }
        return order.map { changes[$0.index] }
    }
}
