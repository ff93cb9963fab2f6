// A recording flattened for the model, built once and shared read-only by every
// configuration's replay (they run in parallel): the changes to processes and address
// spaces in the log's one time order (LoadedLog.changesInTimeOrder), and the faults,
// compact, in time order. The engine merges the two as it goes.
//
// Hazard: order. A fork or an exec put at the wrong place changes every later fault's class;
// the changes keep the log's order, and a change at a fault's very time comes before it
// (a process's exit after it).

import FaultlineAddressSpace
import FaultlineCore
import FaultlineLog

public struct ReplayInput: Sendable {
    /// A change to a process, by dense process index.
    public struct Change: Sendable {
        public enum Operation: Sendable {
            /// A new process, a copy of `parent`'s address space.
            case fork(parent: Int32)
            /// execve: a new, empty address space.
            case exec
            case exit
            /// A recorded mapping: `mappings[row].vma`, charged to the row its label names
            /// (the entry's own, or the first of its process's heap).
            case mapping(row: Int32)
            case change(AddressSpaceChange)
        }
        public var time: UInt64
        public var process: Int32
        public var operation: Operation
        /// Applied before a fault at the same time (all but exits).
        public var precedesFaults: Bool
    }

    /// One recorded fault, 24 bytes.
    public struct Fault: Sendable {
        public var address: UInt64
        public var time: UInt64
        public var process: Int32
        public var access: Access
        public var kernelMode: Bool
        public var recorded: FaultKind
        /// log2 of the page it mapped, 0 when the log does not say.
        public var pageShift: UInt8
    }

    /// A mapping as the log describes it.
    public struct Mapping: Sendable {
        public var vma: VMA
        public var name: String
        public var pid: Int32
        /// The record's MAP_* flags: whether the kernel filled the new mapping's pages itself
        /// (MAP_POPULATE, MAP_LOCKED: AddressSpace.mmapFills).
        public var mapFlags: UInt32 = 0
    }

    public var changes: [Change] = []
    /// In time order, packed (see ReplayFaults).
    public var faults = ReplayFaults()
    public var mappings: [Mapping] = []
    /// Per process index, the mapping row of a heap that brk grows where no mapping record
    /// describes the growth.
    public var heapRows: [Int32: Int32] = [:]
    /// pid of each dense process index.
    public var pids: [Int32] = []
    /// Faults by process index, to size each process's page map up front.
    public var faultsPerProcess: [Int] = []
    public var hostPageSize: UInt64 = 4096
    public var hostTHP: THPMode?
    /// The recorder turned THP off for the command (`record --no-thp`): the recording is at
    /// base-page granularity whatever the host's mode, and the model does not hold the
    /// process to that prctl, which was the recorder's and not the program's.
    public var thpDisabledByRecorder = false
    /// The recorder classed faults on the kernel's special mappings as anonymous memory's
    /// (LogHeader.classedKernelPagesAsAnonymous).
    public var recordedKernelPagesAsAnonymous = false
    /// The kernel the log was recorded on: its rules (KernelBehaviour) apply.
    public var kernel: KernelBehaviour = .newest
    /// The host maps the huge zero page for a read (transparent_hugepage/use_zero_page).
    public var hugeZeroPage = true
    /// The host's multi-size THP modes of anonymous memory (none where the log does not say):
    /// a first write there may have mapped a folio larger than the page the log says.
    public var anonFolios = AnonFolioModes()
    /// The host's multi-size THP modes of shmem (none where the log does not say): a fault
    /// there may have mapped a folio larger than the page the log says.
    public var shmemFolios = ShmemFolioModes()
    /// The kernel's resident memory of each process as it exited, by pid, where the
    /// recorder read it (ResidentAtExit).
    public var kernelResident: [Int32: KernelResident] = [:]
    /// log2 of the host's default hugetlb page size.
    public var defaultHugePageShift: UInt8 = 21
    /// khugepaged's settings on the recording host (the kernel's defaults where unknown).
    public var khugepaged = KhugepagedSettings()
    /// The pids that opened the kernel's THP settings while recorded, in order
    /// (AddressSpaceChange.readTHPSetting): what they did may hold only under the host's mode.
    public var thpSettingReaders: [Int32] = []
    /// The log carried munmap/mremap/mprotect/madvise/brk records.
    public var hasAddressSpaceTimeline = false
    /// Mapping records are perf's announcements (format 1 logs).
    public var mappingsAreAnnouncements = false
    /// The log says which page size each fault mapped.
    public var knowsPageSizes = false
    public var firstTime: UInt64 = 0
    public var lastTime: UInt64 = 0
    /// The tops of new stacks that execve wrote, each to be applied after the change that
    /// mapped its stack (nil for inputs built by hand).
    var execStackFills: ExecStackFills?
    /// The pages each new stack held as its exec returned, by the exec's pid and time, where
    /// the log says (format 9 on): then they are taken as written, not inferred.
    var execStacks: [ExecStackFills.Exec: [Range<UInt64>]] = [:]
    /// Bytes of new stacks taken as filled by execve (see ExecStackFills). Waits for the
    /// faults to be sorted.
    public var execStackBytes: UInt64 { execStackFills?.totalBytes ?? 0 }
    /// Of those, the bytes the log's `execStack` records gave (the rest are inferred).
    public var execStackRecordedBytes: UInt64 { execStackFills?.recordedBytes ?? 0 }
    /// A trace without a log: one synthetic mapping covers the whole address space.
    public var isSyntheticAddressSpace = false

    public init() {}

    /// Whether anything in the recording may mark memory VM_HUGEPAGE: a MADV_HUGEPAGE, or a
    /// mapping recorded with the flag. Where nothing does, THP `madvise` gives no THP anywhere
    /// (AddressSpace.thpAllowed) and khugepaged never wakes: it replays exactly as `never`.
    public var advisesHugePages: Bool {
        mappings.contains { $0.vma.flags.contains(.hugePage) } || changes.contains {
            if case .change(.madvise(_, _, let advice)) = $0.operation { return advice == Advice.hugePage }
            return false
        }
    }

    /// Whether the recording calls MADV_COLLAPSE, which the recorder's own THP prctl
    /// (`thpDisabledByRecorder`) refused: the self-check must refuse it too.
    public var callsCollapse: Bool {
        changes.contains {
            if case .change(.madvise(_, _, let advice)) = $0.operation { return advice == Advice.collapse }
            return false
        }
    }

    public var processCount: Int { pids.count }
    public var faultCount: Int { faults.count }

    /// Flattens `log`. The faults are put in time order on a thread of their own while the
    /// models already read them, unless `sortAlongside` is false (`replay --jobs 1`: one
    /// thread for everything); then they are all in order when this returns.
    public init(log: LoadedLog, sortAlongside: Bool = true) {
        let ordered = log.changesInTimeOrder()
        var processes = Self.numbering(ordered, of: log, pids: &pids)
        // The recorder writes a fault when it completes, so faults of threads running at once
        // come a little out of entry-time order: the log's columns hand them over in time order,
        // and a block that needs no reordering moves over packed (see CompactFaults), on a
        // thread of its own while the model reads them (ReplayFaults.inTimeOrder).
        let recorded = log.compactFaults.isEmpty && !log.faults.isEmpty ? CompactFaults(log.faults) : log.compactFaults
        number(recorded.faultsPerPidInOrderOfAppearance(), &processes)
        knowsPageSizes = recorded.knowsPageSizes
        faults = ReplayFaults.inTimeOrder(recorded, processes: processes, onThreadOfItsOwn: sortAlongside)
        takeRecords(ordered, of: log, processes)
        finish(faultTimes: recorded.timeRange)
    }

    /// Flattens a scanned log (LogScan.swift): its faults are decoded, a chunk at a time,
    /// and put in time order on a thread of their own while the models already read them.
    /// The result is the same as for the log loaded whole, unless `faults.isIncomplete`.
    public init(scanned: ScannedLog) {
        // Every process is numbered first, so that the faults' time order starts on its
        // thread while the changes are read here (on mapping_churn's 300,000 changes the
        // other CPU sat idle for that, 25 ms, perf).
        let ordered = scanned.log.changesInTimeOrder()
        var processes = Self.numbering(ordered, of: scanned.log, pids: &pids)
        number(scanned.faultsPerPid, &processes)
        knowsPageSizes = scanned.knowsPageSizes
        faults = ReplayFaults.inTimeOrder(decoding: scanned.faults, processes: processes)
        takeRecords(ordered, of: scanned.log, processes)
        finish(faultTimes: scanned.timeRange)
    }

    /// The processes numbered in the order the changes name them (each change's process,
    /// then a fork's parent), appended to `pids`.
    private static func numbering(_ ordered: [LogChange], of log: LoadedLog, pids: inout [Int32]) -> ProcessNumbering {
        var processes = ProcessNumbering()
        for change in ordered {
            _ = processes.index(log.pid(of: change), pids: &pids)
            if let parent = forkParent(change, in: log) { _ = processes.index(parent, pids: &pids) }
        }
        return processes
    }

    /// The parent a change forked from, where the log knows it and it is another process.
    private static func forkParent(_ change: LogChange, in log: LoadedLog) -> Int32? {
        guard case .lifecycle(let i) = change, case .fork(let p) = log.lifecycle[i],
              p.ppid != p.pid, log.processes[p.ppid] != nil else { return nil }
        return p.ppid
    }

    /// The header's settings and every change, in the log's time order (`ordered`), with
    /// the processes `numbering` gave them.
    private mutating func takeRecords(_ ordered: [LogChange], of log: LoadedLog, _ numbered: ProcessNumbering) {
        hostPageSize = log.header.pageSize
        hostTHP = THPMode(rawValue: log.header.thpMode)
        thpDisabledByRecorder = log.header.thpDisabledByRecorder
        recordedKernelPagesAsAnonymous = log.header.classedKernelPagesAsAnonymous
        kernel = KernelBehaviour(release: log.header.kernelRelease)
        hugeZeroPage = log.header.setting("thp_use_zero_page") != 0
        let h = log.header
        anonFolios = AnonFolioModes(always: h.setting("thp_sizes_always") ?? 0, madvise: h.setting("thp_sizes_madvise") ?? 0,
                                    inherit: h.setting("thp_sizes_inherit") ?? 0)
        shmemFolios = ShmemFolioModes(always: h.setting("shmem_sizes_always") ?? 0, withinSize: h.setting("shmem_sizes_within_size") ?? 0,
                                      advise: h.setting("shmem_sizes_advise") ?? 0, inherit: h.setting("shmem_sizes_inherit") ?? 0,
                                      topLevel: h.modeSetting("shmem_enabled").flatMap(ShmemHugeMode.init) ?? .never)
        if let v = h.setting("khugepaged_pages_to_scan"), v > 0 { khugepaged.pagesToScan = v }
        if let v = h.setting("khugepaged_scan_sleep_millisecs") { khugepaged.scanSleepNs = v.multipliedReportingOverflow(by: 1_000_000).overflow ? .max : v * 1_000_000 }
        if let v = h.setting("khugepaged_max_ptes_none") { khugepaged.maxPtesNone = v }
        if let v = h.setting("khugepaged_max_ptes_shared") { khugepaged.maxPtesShared = v }
        if let size = log.header.setting("hugetlb_default_size"), size > 0, size & (size - 1) == 0 {
            defaultHugePageShift = UInt8(size.trailingZeroBitCount)
        }
        // (A read of the THP setting is no call the model follows: alone, it is no timeline.)
        hasAddressSpaceTimeline = log.addressSpaceEvents.contains { $0.change != .readTHPSetting }
        thpSettingReaders = log.thpSettingReaders
        // The first record of an exec counts (a file may repeat one).
        for x in log.execStacks {
            let exec = ExecStackFills.Exec(pid: x.pid, time: x.timeNs)
            if execStacks[exec] == nil { execStacks[exec] = x.present }
        }
        // An attached process's memory from before the attach is the kernel's and not the
        // model's: its readings compare nothing.
        if log.header.extra["attached_pid"] == nil {
            for (pid, p) in log.processes { if let r = p.kernelResident { kernelResident[pid] = r } }
        }
        mappingsAreAnnouncements = log.mmapsAreAnnouncements
        var processes = numbered
        // Sized once: grown by doubling, the copies and the fresh pages they touched were a
        // third of this function's time on 300,000 records (mapping_churn, perf). A heap's
        // row is one a process at most (a shell loop's 1,000 heaps grew the rows once more:
        // 1.7 MB copied to fresh pages, a fifth of this function's time, perf).
        changes.reserveCapacity(changes.count + ordered.count)
        mappings.reserveCapacity(mappings.count + log.mmaps.count + log.processes.count)
        // Each module's last name reading (VMA.NameReading), with the flags and inode it was
        // for: read for every record, the name was a quarter of this function's time (a shell
        // loop's 1,000 execs map the same few libraries 21,000 times, perf). A dictionary of
        // readings cost as much in hashing as it saved.
        var readings = [(mapFlags: UInt32, inode: UInt64, reading: VMA.NameReading)?](repeating: nil, count: log.modules.count)
        // A process image's heap is one row, as smaps shows it as one VMA: perf announces
        // each growth of the break as a mapping of its own (a sqlite run's heap was 17 rows
        // of 132 KiB). An exec starts a new heap.
        let isHeap = log.modules.map { log.string($0.path) == "[heap]" }
        var heapRowOfImage: [Int32: Int32] = [:]

        for change in ordered {
            let time = log.time(of: change)
            let process = processes.index(log.pid(of: change), pids: &pids)
            let operation: Change.Operation
            switch change {
            case .lifecycle(let i):
                switch log.lifecycle[i] {
                case .fork:
                    guard let parent = Self.forkParent(change, in: log) else { continue }
                    operation = .fork(parent: processes.index(parent, pids: &pids))
                case .exec:
                    operation = .exec
                    heapRowOfImage[process] = nil
                case .exit: operation = .exit
                }
            case .mmap(let i):
                let m = log.mmaps[i]
                let name = log.modulePath(m.module)
                let slot = m.module.index
                let reading: VMA.NameReading
                if slot < readings.count, let last = readings[slot], last.mapFlags == m.flags, last.inode == m.inode {
                    reading = last.reading
                } else {
                    reading = VMA.NameReading(name: name, inode: m.inode, mapFlags: m.flags, kernel: kernel,
                                              defaultHugePageShift: defaultHugePageShift)
                    if slot < readings.count { readings[slot] = (m.flags, m.inode, reading) }
                }
                var row = Int32(mappings.count)
                if slot < isHeap.count && isHeap[slot] {
                    if let first = heapRowOfImage[process] { row = first } else { heapRowOfImage[process] = row }
                }
                // The record's own entry holds the VMA to map; the row it is charged to may
                // be an earlier entry's (then this one's stays empty and is never shown).
                mappings.append(Mapping(vma: VMA(m, label: row, reading: reading),
                                        name: name, pid: m.pid, mapFlags: m.flags))
                operation = .mapping(row: Int32(mappings.count - 1))
            case .addressSpace(let i):
                let c = log.addressSpaceEvents[i].change
                if case .brk = c, heapRows[process] == nil {
                    mappings.append(Mapping(vma: VMA(start: 0, end: 0, prot: 3, backing: .anonymous, label: Int32(mappings.count)),
                                            name: "[heap]", pid: log.addressSpaceEvents[i].pid))
                    heapRows[process] = Int32(mappings.count - 1)
                }
                operation = .change(c)
            }
            changes.append(Change(time: time, process: process, operation: operation,
                                  precedesFaults: log.precedesFaults(atItsTime: change)))
        }
    }

    /// Processes are numbered in the order of their first fault in the log, after those of
    /// the changes; each one's faults size its page map.
    private mutating func number(_ faultsPerPid: [(pid: Int32, faults: Int)], _ processes: inout ProcessNumbering) {
        var perProcess = [Int](repeating: 0, count: pids.count)
        for (pid, n) in faultsPerPid {
            let process = Int(processes.index(pid, pids: &pids))
            if process >= perProcess.count { perProcess.append(contentsOf: repeatElement(0, count: process + 1 - perProcess.count)) }
            perProcess[process] += n
        }
        faultsPerProcess = perProcess
    }

    private mutating func finish(faultTimes: ClosedRange<UInt64>?) {
        execStackFills = ExecStackFills(changes: changes, mappings: mappings, faults: faults, pids: pids, recorded: execStacks)
        firstTime = min(changes.first?.time ?? .max, faultTimes?.lowerBound ?? .max)
        lastTime = max(changes.last?.time ?? 0, faultTimes?.upperBound ?? 0)
        if firstTime == .max { firstTime = 0 }
    }

    // MARK: building by hand (tests, and traces without a log)

    private var clockFloor: UInt64 = 0
    /// The time of the last fault built by hand (reading it back from the packed faults
    /// each time would cost a decode per access).
    private var lastFaultTime: UInt64 = 0
    private var clock: UInt64 { max(changes.last?.time ?? 0, lastFaultTime, clockFloor) }

    /// Lets `ns` nanoseconds pass before the next event built by hand.
    public mutating func advance(by ns: UInt64) { clockFloor = clock + ns }

    private mutating func note(process: Int32) {
        if Int(process) >= pids.count { pids.append(contentsOf: (pids.count...Int(process)).map { Int32($0 + 1) }) }
        if faultsPerProcess.count < pids.count { faultsPerProcess += Array(repeating: 0, count: pids.count - faultsPerProcess.count) }
    }

    public mutating func append(_ operation: Change.Operation, process: Int32 = 0) {
        note(process: process)
        if case .fork(let parent) = operation { note(process: parent) }
        var isExit = false
        if case .exit = operation { isExit = true }
        changes.append(Change(time: clock + 1, process: process, operation: operation, precedesFaults: !isExit))
        lastTime = clock
        if case .change = operation { hasAddressSpaceTimeline = true }
    }

    public mutating func append(_ change: AddressSpaceChange, process: Int32 = 0) {
        append(.change(change), process: process)
    }

    public mutating func appendMapping(_ vma: VMA, name: String, process: Int32 = 0, mapFlags: UInt32 = 0) {
        var v = vma
        v.label = Int32(mappings.count)
        if name == "[stack]" { v.flags.insert(.growsDown) }
        if mapFlags & MapFlags.locked != 0 { v.flags.insert(.locked) }
        mappings.append(Mapping(vma: v, name: name, pid: Int32(process + 1), mapFlags: mapFlags))
        append(.mapping(row: Int32(mappings.count - 1)), process: process)
    }

    public mutating func appendAccess(_ address: UInt64, _ access: Access, process: Int32 = 0,
                                      recorded: FaultKind = .other, kernelMode: Bool = false, pageShift: UInt8 = 0) {
        note(process: process)
        let time = clock + 1
        faults.append(Fault(address: address, time: time, process: process, access: access,
                            kernelMode: kernelMode, recorded: recorded, pageShift: pageShift))
        lastFaultTime = time
        faultsPerProcess[Int(process)] += 1
        lastTime = clock
    }
}

/// Dense process indices for pids, in order of first appearance.
struct ProcessNumbering: Sendable {
    var index: [Int32: Int32] = [:]
    /// Faults come in runs of one process. (Any pid, -1 too, can come from a file.)
    var last: (pid: Int32, index: Int32)?

    mutating func index(_ pid: Int32, pids: inout [Int32]) -> Int32 {
        if let last, last.pid == pid { return last.index }
        let i = index[pid] ?? {
            let i = Int32(pids.count)
            pids.append(pid)
            index[pid] = i
            return i
        }()
        last = (pid, i)
        return i
    }

    /// The index of a pid already numbered (the faults' pids are all numbered before they
    /// are sorted).
    mutating func index(ofNumbered pid: Int32) -> Int32 {
        if let last, last.pid == pid { return last.index }
        guard let i = index[pid] else { preconditionFailure("pid \(pid) has no process index") }
        last = (pid, i)
        return i
    }
}
