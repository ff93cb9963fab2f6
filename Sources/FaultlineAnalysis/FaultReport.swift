// The report model: totals, per-process counts, service times and top-N groupings,
// computed once from a loaded log. Text, JSON and HTML renderings work from this model only.

import FaultlineCore
import FaultlineLog

public struct ProcessCounts: Sendable, Equatable {
    public var pid: Int32
    public var ppid: Int32
    public var command: String
    public var counts: KindCounts
    public var exit: ExitEvent?
    /// Service times of this process's faults, by kind.
    public var service: ServiceSummary
}

public struct ReportOptions: Sendable {
    public var groupings: [Grouping]
    public var selection: FaultSelection
    public var weight: Weight
    /// `--children`: functions ranked with their callees' faults (perf report --children).
    public var children: Bool
    public var top: Int
    /// How many of the slowest faults to list.
    public var slowest: Int

    /// What `report` shows when no `--by` is given: where faults come from in the code,
    /// and in the address space.
    public static let defaultGroupings: [Grouping] = [.function, .mapping]

    public init(groupings: [Grouping] = ReportOptions.defaultGroupings, filter: FaultKindFilter? = nil, top: Int = 10) {
        self.init(groupings: groupings, selection: FaultSelection(kind: filter), top: top)
    }

    public init(groupings: [Grouping] = ReportOptions.defaultGroupings, selection: FaultSelection,
                weight: Weight = .faults, children: Bool = false, top: Int = 10, slowest: Int = 5) {
        self.groupings = groupings; self.selection = selection; self.weight = weight
        self.children = children; self.top = top; self.slowest = slowest
    }

    public var filter: FaultKindFilter? {
        get { selection.kind }
        set { selection.kind = newValue }
    }
}

public struct FaultReport: Sendable {
    public var command: String
    public var durationNs: UInt64
    /// Every fault of the selected processes, by kind (the kind filter applies to the
    /// sections, not here).
    public var totals: KindCounts
    /// Faults (of the selected processes) by the size of the page they mapped.
    public var pageSizes: PageSizeCounts
    /// Every process selected, by pid; includes pids that faulted without a process record.
    public var processes: [ProcessCounts]
    public var lost: UInt64
    public var throttled: UInt64
    /// Processes whose faults the kernel hid from the recorder.
    public var unrecorded: [UnrecordedNotice]
    public var complete: Bool
    /// Why the log is incomplete, or nil.
    public var damage: String?
    public var selection: FaultSelection
    public var weight: Weight
    public var sections: [GroupSection]
    /// Every SIGSEGV/SIGBUS (up to `top`), with its context.
    public var crashes: [Crash]
    /// Service times, time in faults per thread, and the slowest faults.
    public var time: TimeReport
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
        selection = options.selection
        weight = options.weight

        let processSelection = FaultSelection(pids: options.selection.pids)
        var totals = KindCounts()
        var perPid: [Int32: KindCounts] = [:]
        var pageSizes = PageSizeCounts()
        for f in log.faults where processSelection.matches(f) {
            totals.add(f)
            perPid[f.pid, default: KindCounts()].add(f)
            pageSizes.add(f)
        }
        self.totals = totals
        self.pageSizes = pageSizes

        // The full index costs a sweep that looks up every fault (a third of a report by
        // function): only for what needs every fault's mapping.
        let needsMappings = options.groupings.contains(.mapping) || options.groupings.contains(.origin)
            || totals.segv > 0
        let mappings = needsMappings ? MappingIndex(log: log) : MappingIndex(log: LoadedLog())
        time = TimeReport(log: log, selection: options.selection, slowest: options.slowest, namer: namer,
                          mappings: needsMappings ? mappings : nil)
        let pids = Set(log.processes.keys).union(perPid.keys).filter(processSelection.matches(pid:)).sorted()
        let time = self.time
        processes = pids.map { pid in
            let record = log.processes[pid]
            return ProcessCounts(pid: pid, ppid: record?.ppid ?? 0, command: record?.command ?? "?",
                                 counts: perPid[pid] ?? KindCounts(), exit: record?.exit,
                                 service: time.perProcess[pid] ?? ServiceSummary())
        }

        let grouping = GroupingOptions(selection: options.selection, weight: options.weight,
                                       children: options.children, top: options.top)
        sections = options.groupings.map {
            GroupAggregator.section($0, options: grouping, log: log, namer: namer, mappings: mappings)
        }
        // Of the faults the report is about: another process's stacks say nothing of these.
        stackReach = StackReach(log: log, namer: namer, selection: options.selection)
        crashes = totals.segv > 0 ? CrashReport.crashes(log: log, namer: namer, mappings: mappings,
                                                        limit: max(options.top, 1), selection: processSelection) : []
    }

    /// The processes, most time in faults first (then most faults, then pid): the order of
    /// the text and HTML service-time tables.
    public var processesByTime: [ProcessCounts] {
        processes.sorted {
            ($0.service.all.totalNs, $0.counts.faults, $1.pid) > ($1.service.all.totalNs, $1.counts.faults, $0.pid)
        }
    }
}
