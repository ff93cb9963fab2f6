// A whole log in memory, its interned tables resolved: what reports and exports work from.
// Lookups are bounds-checked, because a log is input and may lie.

import FaultlineCore

public struct ProcessRecord: Sendable, Equatable {
    public init(pid: Int32, ppid: Int32, startNs: UInt64, commands: [String]) {
        self.pid = pid; self.ppid = ppid; self.startNs = startNs; self.commands = commands
    }
    public var pid: Int32
    public var ppid: Int32
    public var startNs: UInt64
    /// The command as first seen, then each exec's.
    public var commands: [String]
    public var exit: ExitEvent?
    /// The kernel's own minflt/majflt for the process at exit, when the recorder saw it.
    public var kernelMinor: UInt64?
    public var kernelMajor: UInt64?
    /// The kernel's counts when recording of this process began (see LogRecord.kernelCounts).
    public var kernelBaselineMinor: UInt64 = 0
    public var kernelBaselineMajor: UInt64 = 0
    /// The kernel's resident memory for the process as it exited, when the recorder read it.
    public var kernelResident: KernelResident?
    /// Faults the kernel counted while this process was recorded, when known.
    public var kernelCountedMinor: UInt64? { kernelMinor.map { $0 - min($0, kernelBaselineMinor) } }
    public var kernelCountedMajor: UInt64? { kernelMajor.map { $0 - min($0, kernelBaselineMajor) } }
    public var command: String { commands.last ?? "?" }
}

/// A process-lifecycle record as it appeared in the log.
public enum LifecycleEvent: Sendable, Equatable {
    case fork(ProcessEvent)
    case exec(pid: Int32, timeNs: UInt64, command: StringID)
    case exit(ExitEvent)

    public var timeNs: UInt64 {
        switch self {
        case .fork(let p): return p.timeNs
        case .exec(_, let t, _): return t
        case .exit(let x): return x.timeNs
        }
    }
}

public struct LoadedLog: Sendable {
    public var path: String
    public var fileSize: UInt64
    /// The file's format version: from 2, each mmap record is one new mapping; before, they
    /// were perf's MMAP2 records, which also announce VMAs again (see mmapsAreAnnouncements).
    public var formatVersion: UInt16 = LogFormat.version
    public var header = LogHeader()
    public var strings: [String] = []
    public var modules: [Module] = []
    public var frames: [Frame] = []
    /// Trie nodes by StackID; index 0 is the empty stack.
    public var stackParents: [StackID] = [.empty]
    public var stackFrames: [FrameID] = [FrameID(rawValue: 0)]
    public var symbols: [FrameID: FrameSymbol] = [:]
    /// The recorded inline chain of each frame whose code was inlined (see FrameInlining).
    public var inlining: [FrameID: [FrameInlining.Caller]] = [:]
    public var processes: [Int32: ProcessRecord] = [:]
    /// Every process start, exec and exit in log order (`processes` keeps one entry per pid,
    /// without exec times): what replays the processes' address spaces need.
    public var lifecycle: [LifecycleEvent] = []
    public var mmaps: [MmapEvent] = []
    /// munmap, mremap, mprotect, madvise and brk, in log order.
    public var addressSpaceEvents: [AddressSpaceEvent] = []
    /// Every lifecycle, mmap and address-space record, in log order (see changesInTimeOrder).
    public var changes: [LogChange] = []
    /// For each of `changes`, how many faults came before it in the log: where it stands
    /// among the faults, for exports that interleave them in log order at equal times.
    public var faultsBeforeChange: [Int] = []
    /// Packed by column (see FaultColumns); iterate rather than index where you can.
    public var faults = FaultColumns()
    /// The faults with only an address-space model's fields, when loaded with
    /// `faults: .compact` (then `faults` is empty).
    public var compactFaults = CompactFaults()
    public var lost: UInt64 = 0
    public var throttled: UInt64 = 0
    /// Processes the kernel hid from the recorder (a set-user-ID exec), in log order.
    public var unrecorded: [UnrecordedProcess] = []
    /// The pages each new stack held as its exec returned, in log order (format 9 on).
    public var execStacks: [ExecStack] = []
    public var summary: LogSummary?
    public var damage: LogDamage?
    public var chunks = 0
    /// Records that referred to a table entry the log never defined.
    public var danglingReferences = 0

    /// Reads every complete chunk of `path`, decoding many chunks at once on every core
    /// (see ParallelLoad.swift). Throws only when the file is not a log at all; damage
    /// later in the file is reported in `damage`.
    public static func load(path: String) throws -> LoadedLog {
        try load(path: path, parallel: true)
    }

    public init(path: String = "", fileSize: UInt64 = 0) {
        self.path = path
        self.fileSize = fileSize
    }

    public mutating func apply(_ record: LogRecord) {
        apply(record, faultsBefore: faults.count)
    }

    /// Applies `record`, which came after `faultsBefore` of the log's faults.
    mutating func apply(_ record: LogRecord, faultsBefore: Int) {
        switch record {
        case .header(let h): header = h
        case .string(let id, let s): Self.store(s, at: id.index, in: &strings, filler: "", dangling: &danglingReferences)
        case .module(let id, let m): Self.store(m, at: id.index, in: &modules, filler: Module(path: StringID(rawValue: 0), buildID: []), dangling: &danglingReferences)
        case .frame(let id, let f): Self.store(f, at: id.index, in: &frames, filler: Frame(module: nil, offset: 0), dangling: &danglingReferences)
        case .stack(let id, let parent, let frame):
            // A node's parent is always defined before it; refusing anything else keeps
            // stack walks finite whatever the file says.
            guard id.rawValue > 0, parent < id else { danglingReferences += 1; return }
            Self.store(parent, at: id.index, in: &stackParents, filler: .empty, dangling: &danglingReferences)
            Self.store(frame, at: id.index, in: &stackFrames, filler: FrameID(rawValue: 0), dangling: &danglingReferences)
        case .process(let p):
            changes.append(.lifecycle(lifecycle.count))
            faultsBeforeChange.append(faultsBefore)
            lifecycle.append(.fork(p))
            processes[p.pid] = ProcessRecord(pid: p.pid, ppid: p.ppid, startNs: p.timeNs,
                                             commands: [string(p.command)])
        case .exec(let pid, let time, let command):
            changes.append(.lifecycle(lifecycle.count))
            faultsBeforeChange.append(faultsBefore)
            lifecycle.append(.exec(pid: pid, timeNs: time, command: command))
            processes[pid, default: ProcessRecord(pid: pid, ppid: 0, startNs: time, commands: [])]
                .commands.append(string(command))
        case .exit(let x):
            changes.append(.lifecycle(lifecycle.count))
            faultsBeforeChange.append(faultsBefore)
            lifecycle.append(.exit(x))
            processes[x.pid]?.exit = x
        case .mmap(let m):
            changes.append(.mmap(mmaps.count))
            faultsBeforeChange.append(faultsBefore)
            mmaps.append(m)
        case .addressSpace(let a):
            changes.append(.addressSpace(addressSpaceEvents.count))
            faultsBeforeChange.append(faultsBefore)
            addressSpaceEvents.append(a)
        case .fault(let f): faults.append(f)
        // Counts from the file may add up past 2^64: then at least that many were dropped.
        case .lost(let n, _): lost = lost.addingSaturated(n)
        case .throttled(let n, _): throttled = throttled.addingSaturated(n)
        case .symbol(let s): symbols[s.frame] = s
        case .unrecorded(let u): unrecorded.append(u)
        case .inlined(let x): inlining[x.frame] = x.callers
        case .summary(let s): summary = s
        case .kernelResident(let r): processes[r.pid]?.kernelResident = r
        case .execStack(let x): execStacks.append(x)
        case .kernelCounts(let pid, let minor, let major, let baseline):
            if baseline {
                processes[pid]?.kernelBaselineMinor = minor
                processes[pid]?.kernelBaselineMajor = major
            } else {
                processes[pid]?.kernelMinor = minor
                processes[pid]?.kernelMajor = major
            }
        }
    }

    /// Room for `records` in the arrays they append to, and past a full array for about
    /// `scale` times what it will then hold (the whole file's records, reckoned from the
    /// part read so far; at most eight times). Grown by doubling, 300,000 records' arrays
    /// were copied again and again into fresh pages: most of the time of applying them
    /// (mapping_churn, perf).
    mutating func reserve<S: Sequence<LogRecord>>(for records: S, scale: Double) {
        var lifecycles = 0, maps = 0, others = 0
        for record in records {
            switch record {
            case .process, .exec, .exit: lifecycles += 1
            case .mmap: maps += 1
            case .addressSpace: others += 1
            default: break
            }
        }
        func grow<T>(_ array: inout [T], by n: Int) {
            let needed = array.count + n
            guard needed > array.capacity else { return }
            let reckoned = Double(needed) * min(max(scale, 1) * 1.1, 8)
            array.reserveCapacity(max(Int(reckoned), array.capacity * 2))
        }
        grow(&lifecycle, by: lifecycles)
        grow(&mmaps, by: maps)
        grow(&addressSpaceEvents, by: others)
        grow(&changes, by: lifecycles + maps + others)
        grow(&faultsBeforeChange, by: lifecycles + maps + others)
    }

    private static func store<T>(_ value: T, at index: Int, in array: inout [T], filler: T, dangling: inout Int) {
        // The writer defines IDs densely, in order; anything else is a lying file, and must
        // not make us allocate more than one entry per record read.
        if index < array.count { array[index] = value; return }
        guard index == array.count else { dangling += 1; return }
        array.append(value)
    }

    // MARK: lookups

    public func string(_ id: StringID) -> String {
        id.index < strings.count ? strings[id.index] : "?"
    }

    public func module(_ id: ModuleID) -> Module? {
        id.index < modules.count ? modules[id.index] : nil
    }

    public func modulePath(_ id: ModuleID) -> String {
        module(id).map { string($0.path) } ?? "?"
    }

    public func frame(_ id: FrameID) -> Frame? {
        id.index < frames.count ? frames[id.index] : nil
    }

    /// The frames of a stack, leaf first, at most `maxStackDepth` of them.
    public func frames(of stack: StackID) -> [FrameID] {
        var result: [FrameID] = []
        var node = stack
        while node != .empty && node.index < stackParents.count && result.count < Self.maxStackDepth {
            result.append(stackFrames[node.index])
            node = stackParents[node.index]
        }
        return result
    }

    /// The deepest stack a reader walks: eight times what the recorder writes (128 frames
    /// unwound by DWARF, 127 by perf's frame pointers unless kernel.perf_event_max_stack is
    /// raised). Stack records chain to any earlier one, so a file of a few bytes a record
    /// could otherwise make every stack as deep as the file is long, and each walk of one
    /// as long (a million faults on a million-deep chain: 10^12 steps).
    public static let maxStackDepth = 1024

    public var isComplete: Bool { damage == nil && summary != nil }

    /// Whether mmap records are perf's announcements of whole VMAs (format 1), to be read
    /// with AddressSpace.announce, rather than new mappings (AddressSpace.map).
    public var mmapsAreAnnouncements: Bool { formatVersion < 2 }

    /// The pids that opened the kernel's THP settings (AddressSpaceChange.readTHPSetting),
    /// each once, in order: what they did may hold only under the host's mode. (A set beside
    /// the list: a log may hold a read for each of a million pids.)
    public var thpSettingReaders: [Int32] {
        var readers: [Int32] = [], seen: Set<Int32> = []
        // Matched by case: the enum's derived == compared every event's payload first (a
        // tenth of replay's flattening of mapping_churn's 300,000 changes, perf).
        for e in addressSpaceEvents {
            if case .readTHPSetting = e.change, seen.insert(e.pid).inserted { readers.append(e.pid) }
        }
        return readers
    }
}
