// A log loaded together with the order of its events, for exports that replay the
// recording record by record. The faults are not sorted into a list of their own (that
// took 24 bytes a fault): they come in time order from the log's columns, and the few
// other events are merged in as they go.

import FaultlineCore
import FaultlineLog

/// One timed event of the log: an index into `log.faults`, `log.mmaps`,
/// `log.addressSpaceEvents` or `log.lifecycle`.
public enum TimelineEntry: Sendable, Equatable {
    case fault(Int)
    case mmap(Int)
    case addressSpace(Int)
    case lifecycle(Int)
}

public struct Timeline: Sendable {
    public var log: LoadedLog
    public var lifecycle: [LifecycleEvent] { log.lifecycle }
    /// Indices into `log.changes`, by time; at equal times in log order.
    private var changeOrder: [Int]

    public init(log: LoadedLog) {
        self.log = log
        let times = log.changes.map(log.time(of:))
        if zip(times, times.dropFirst()).allSatisfy({ $0 <= $1 }) {
            changeOrder = Array(log.changes.indices)
        } else {
            changeOrder = log.changes.indices.sorted { times[$0] != times[$1] ? times[$0] < times[$1] : $0 < $1 }
        }
    }

    /// Reads every complete chunk of `path`, like `LoadedLog.load(path:)`.
    public static func load(path: String) throws -> Timeline {
        Timeline(log: try LoadedLog.load(path: path))
    }

    /// How many events `forEachEntry` visits: every fault and every change.
    public var entryCount: Int { log.faults.count + log.changes.count }

    /// Calls `body` with every timed event, sorted by time; events at the same time in log
    /// order, which is the order the recorder saw them in (a fork before the child's
    /// faults). A fault comes with its event.
    public func forEachEntry(_ body: (TimelineEntry, FaultEvent?) throws -> Void) rethrows {
        var next = 0
        func entry(_ change: LogChange) -> TimelineEntry {
            switch change {
            case .lifecycle(let i): return .lifecycle(i)
            case .mmap(let i): return .mmap(i)
            case .addressSpace(let i): return .addressSpace(i)
            }
        }
        try log.faults.forEachInTimeOrder { index, fault in
            // A change goes first if it is earlier, or as early and before the fault in the log.
            while next < changeOrder.count {
                let c = changeOrder[next]
                let time = log.time(of: log.changes[c])
                guard time < fault.timeNs || (time == fault.timeNs && log.faultsBeforeChange[c] <= index) else { break }
                try body(entry(log.changes[c]), nil)
                next += 1
            }
            try body(.fault(index), fault)
        }
        while next < changeOrder.count {
            try body(entry(log.changes[changeOrder[next]]), nil)
            next += 1
        }
    }

    /// Every timed event in order, as `forEachEntry` visits them (for tests and small logs:
    /// a large log's list is large).
    public var entries: [TimelineEntry] {
        var all: [TimelineEntry] = []
        all.reserveCapacity(entryCount)
        forEachEntry { e, _ in all.append(e) }
        return all
    }
}
