// The report model: totals, per-process counts and top-N groupings, computed once from a
// loaded log. Text and JSON renderings work from this model only.

import FaultlineCore
import FaultlineLog

public struct ProcessCounts: Sendable, Equatable {
    public var pid: Int32
    public var ppid: Int32
    public var command: String
    public var counts: KindCounts
    public var exit: ExitEvent?
}

public struct ReportOptions: Sendable {
    public var groupings: [Grouping]
    public var filter: FaultKindFilter?
    public var top: Int

    /// What `report` shows when no `--by` is given: where faults come from in the code,
    /// and in the address space.
    public static let defaultGroupings: [Grouping] = [.function, .mapping]

    public init(groupings: [Grouping] = ReportOptions.defaultGroupings, filter: FaultKindFilter? = nil, top: Int = 10) {
        self.groupings = groupings; self.filter = filter; self.top = top
    }
}

public struct FaultReport: Sendable {
    public var command: String
    public var durationNs: UInt64
    public var totals: KindCounts
    /// Every process seen, by pid; includes pids that faulted without a process record.
    public var processes: [ProcessCounts]
    public var lost: UInt64
    public var throttled: UInt64
    /// Processes whose faults the kernel hid from the recorder.
    public var unrecorded: [UnrecordedNotice]
    public var complete: Bool
    /// Why the log is incomplete, or nil.
    public var damage: String?
    public var sections: [GroupSection]
    /// Every SIGSEGV/SIGBUS (up to `top`), with its context.
    public var crashes: [Crash]
    /// How many frame-pointer stacks stop short of their thread's start; nil for DWARF logs.
    public var stackReach: StackReach?

    public init(log: LoadedLog, namer: FrameNamer, options: ReportOptions = ReportOptions()) {
        command = log.commandLine
        durationNs = log.durationNs
        lost = log.totalLost
        throttled = log.totalThrottled
        unrecorded = UnrecordedNotice.all(in: log)
        complete = log.isComplete
        damage = log.integrityProblem

        var totals = KindCounts()
        var perPid: [Int32: KindCounts] = [:]
        for f in log.faults {
            totals.add(f.kind)
            perPid[f.pid, default: KindCounts()].add(f.kind)
        }
        self.totals = totals
        let pids = Set(log.processes.keys).union(perPid.keys).sorted()
        processes = pids.map { pid in
            let record = log.processes[pid]
            return ProcessCounts(pid: pid, ppid: record?.ppid ?? 0, command: record?.command ?? "?",
                                 counts: perPid[pid] ?? KindCounts(), exit: record?.exit)
        }

        let needsMappings = options.groupings.contains(.mapping) || options.groupings.contains(.origin)
            || totals.segv > 0
        let mappings = needsMappings ? MappingIndex(log: log) : MappingIndex(log: LoadedLog())
        sections = options.groupings.map {
            GroupAggregator.section($0, filter: options.filter, top: options.top, log: log,
                                    namer: namer, mappings: mappings)
        }
        stackReach = StackReach(log: log, namer: namer)
        crashes = totals.segv > 0 ? CrashReport.crashes(log: log, namer: namer, mappings: mappings,
                                                        limit: max(options.top, 1)) : []
    }
}
