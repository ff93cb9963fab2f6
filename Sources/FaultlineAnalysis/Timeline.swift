// A log loaded together with the order of its events, for exports that replay the
// recording record by record.

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
    /// Every timed event, sorted by time; events at the same time stay in log order,
    /// which is the order the recorder saw them in (a fork before the child's faults).
    public var entries: [TimelineEntry] = []

    /// Reads every complete chunk of `path`, like `LoadedLog.load(path:)`.
    public static func load(path: String) throws -> Timeline {
        let reader = try LogReader(path: path)
        var timeline = Timeline(log: LoadedLog(path: path, fileSize: reader.fileSize))
        timeline.log.formatVersion = reader.version
        var keyed: [(time: UInt64, entry: TimelineEntry)] = []
        while let records = reader.nextChunk() {
            timeline.log.chunks += 1
            for record in records {
                switch record {
                case .fault(let f):
                    keyed.append((f.timeNs, .fault(timeline.log.faults.count)))
                case .mmap(let m):
                    keyed.append((m.timeNs, .mmap(timeline.log.mmaps.count)))
                case .addressSpace(let a):
                    keyed.append((a.timeNs, .addressSpace(timeline.log.addressSpaceEvents.count)))
                case .process(let p):
                    keyed.append((p.timeNs, .lifecycle(timeline.log.lifecycle.count)))
                case .exec(_, let time, _):
                    keyed.append((time, .lifecycle(timeline.log.lifecycle.count)))
                case .exit(let x):
                    keyed.append((x.timeNs, .lifecycle(timeline.log.lifecycle.count)))
                default:
                    break
                }
                timeline.log.apply(record)
            }
        }
        timeline.log.damage = reader.damage
        timeline.log.fileSize = reader.fileSize // a pipe's size is known only now
        timeline.log.retimeExecsOfOlderRecorders()
        for i in keyed.indices {
            if case .lifecycle(let n) = keyed[i].entry { keyed[i].time = timeline.log.lifecycle[n].timeNs }
        }
        timeline.entries = Self.sortedByTime(keyed)
        return timeline
    }

    static func sortedByTime(_ keyed: [(time: UInt64, entry: TimelineEntry)]) -> [TimelineEntry] {
        // Recorders write nearly in time order: skip the sort when they did exactly.
        if zip(keyed, keyed.dropFirst()).allSatisfy({ $0.time <= $1.time }) { return keyed.map(\.entry) }
        // Sort positions, with the position as tie-break: a stable sort by time.
        let order = keyed.indices.sorted { keyed[$0].time != keyed[$1].time ? keyed[$0].time < keyed[$1].time : $0 < $1 }
        return order.map { keyed[$0].entry }
    }
}
