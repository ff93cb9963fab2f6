// Opens the perf events that see a traced task's page faults, one set per CPU (the kernel
// refuses to mmap an inherited per-task event opened with cpu = -1), all of a CPU's events
// writing into that CPU's one ring buffer through PERF_EVENT_IOC_SET_OUTPUT.
//
// Per CPU: PAGE_FAULTS_MIN and PAGE_FAULTS_MAJ (completion: the fault was accounted), and the
// exceptions:page_fault_user / page_fault_kernel tracepoints (entry: error code, and the
// user stack). The minor-fault event also carries the MMAP2/COMM/FORK/EXIT side records.
// Kernel samples are not excluded: a read() into fresh memory faults in kernel mode, and an
// event opened with exclude_kernel silently misses every such fault.

import Glibc
import CFaultlineLinux

/// Which event a sample came from, found by its PERF_SAMPLE_IDENTIFIER.
enum FaultEventSource: Sendable, Equatable {
    case minor, major, entryUser, entryKernel
    case syscallEnter(AddressSpaceSyscall)
    case syscallExit(AddressSpaceSyscall)
    /// syscalls:sys_{enter,exit}_ptrace: the program itself tries to trace (see PtraceRefusal).
    case ptraceEnter, ptraceExit
}

/// RLIMIT_NOFILE as getrlimit takes it (Glibc imports the resource as an enum).
let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

struct PerfEventSet {
    /// An event to open on each CPU, besides the minor-fault leader.
    typealias EventSpec = (config: UInt64, type: UInt32, sampleType: UInt64, source: FaultEventSource, what: String)

    var rings: [PerfRing] = []
    var fds: [Int32] = []
    /// Events that are never enabled, only closed with the rest (see `machineWatchProbe`).
    private var heldOpen: [Int32] = []
    var sources: [UInt64: FaultEventSource] = [:]
    /// The task each event was opened on: see `EventLineage`.
    var lineage = EventLineage()
    let userTracepoint: PageFaultTracepoint
    let kernelTracepoint: PageFaultTracepoint

    static let sampleIDAllBits = UInt64(PERF_SAMPLE_IDENTIFIER.rawValue | PERF_SAMPLE_TID.rawValue | PERF_SAMPLE_TIME.rawValue)
    /// Completion samples carry the address and, where the kernel has it (5.11+), the size of
    /// the page that now maps it: the kernel's own word on a THP or hugetlb fault.
    static let completionSampleType = sampleIDAllBits | UInt64(PERF_SAMPLE_ADDR.rawValue)
        | (supportsDataPageSize ? UInt64(PERF_SAMPLE_DATA_PAGE_SIZE.rawValue) : 0)

    /// Whether this kernel takes PERF_SAMPLE_DATA_PAGE_SIZE (older ones refuse the event):
    /// tried once, on a disabled event of our own.
    static let supportsDataPageSize: Bool = {
        var attr = perf_event_attr()
        attr.type = PERF_TYPE_SOFTWARE.rawValue
        attr.size = UInt32(MemoryLayout<perf_event_attr>.size)
        attr.config = UInt64(PERF_COUNT_SW_PAGE_FAULTS_MIN.rawValue)
        attr.sample_period = 1
        attr.sample_type = sampleIDAllBits | UInt64(PERF_SAMPLE_ADDR.rawValue | PERF_SAMPLE_DATA_PAGE_SIZE.rawValue)
        fl_attr_set_flags(&attr, 1, 0, 0, 1, 1, 0, 0, 0, 0)
        let fd = fl_perf_event_open(&attr, 0, -1, -1, UInt(PERF_FLAG_FD_CLOEXEC))
        let refused = fd < 0 && errno == EINVAL
        if fd >= 0 { Glibc.close(fd) }
        return !refused
    }()
    static func tracepointSampleType(stacks: CallGraphMode) -> UInt64 {
        var type = sampleIDAllBits | UInt64(PERF_SAMPLE_RAW.rawValue)
        switch stacks {
        case .fp:
            // The stack's top finds the caller a frame-pointer walk skips
            // (PerfRecordParser.recoverLeafCaller). No registers: the leaf's ip is the
            // chain's first frame, and its CFA is an offset from sp, where the copy starts
            // (sampling them too cost about 0.4 us a fault, measured on a fault storm).
            type |= UInt64(PERF_SAMPLE_CALLCHAIN.rawValue | PERF_SAMPLE_STACK_USER.rawValue)
        case .dwarf: type |= UInt64(PERF_SAMPLE_REGS_USER.rawValue | PERF_SAMPLE_STACK_USER.rawValue)
        case .none: break
        }
        return type
    }

    /// x86-64 perf register numbers (arch/x86/include/uapi/asm/perf_regs.h): what the
    /// DWARF unwinder starts from. Sampled in ascending order: bp, sp, ip.
    static let unwindRegisters: UInt64 = 1 << 6 | 1 << 7 | 1 << 8

    let stackCopySize: UInt32
    /// Bytes of stack sampled in frame-pointer mode: enough for the return address of a
    /// leaf that pushed a few registers and made a small frame.
    static let leafStackCopySize: UInt32 = 128

    private var ringOwners: [Int32] = []
    private let others: [EventSpec]
    private let enableOnExec: Bool
    private let ringPages: Int

    /// Opens every event on `pid`, and makes one ring per CPU. With `enableOnExec` they
    /// count from its next exec; otherwise at once.
    init(pid: pid_t, callGraph: CallGraphMode, stackCopySize: Int, ringPages: Int, enableOnExec: Bool) throws {
        self.enableOnExec = enableOnExec
        self.ringPages = ringPages
        self.stackCopySize = callGraph == .fp ? Self.leafStackCopySize : UInt32(stackCopySize)
        userTracepoint = try Tracepoints.pageFault("page_fault_user")
        kernelTracepoint = try Tracepoints.pageFault("page_fault_kernel")
        var others: [EventSpec] = [
            (UInt64(PERF_COUNT_SW_PAGE_FAULTS_MAJ.rawValue), PERF_TYPE_SOFTWARE.rawValue, Self.completionSampleType,
             .major, "major-fault event"),
            (userTracepoint.id, PERF_TYPE_TRACEPOINT.rawValue, Self.tracepointSampleType(stacks: callGraph),
             .entryUser, "exceptions:page_fault_user"),
            (kernelTracepoint.id, PERF_TYPE_TRACEPOINT.rawValue, Self.tracepointSampleType(stacks: callGraph),
             .entryKernel, "exceptions:page_fault_kernel"),
        ]
        var machineWide: [EventSpec] = []
        for call in AddressSpaceSyscall.allCases {
            // A filtered call is only watched where its tracepoint exists (no `open` on arm64).
            guard call.filter == nil || Tracepoints.exists(category: "syscalls", name: "sys_enter_\(call.name)") else { continue }
            let enter = try Tracepoints.id(category: "syscalls", name: "sys_enter_\(call.name)")
            let entry: EventSpec = (enter, PERF_TYPE_TRACEPOINT.rawValue, Self.tracepointSampleType(stacks: call.wantsStack ? callGraph : .none),
                                    .syscallEnter(call), "syscalls:sys_enter_\(call.name)")
            if call.entryWatchedSystemWide(stacks: callGraph) { machineWide.append(entry) } else { others.append(entry) }
            if call.wantsExit {
                let exit = try Tracepoints.id(category: "syscalls", name: "sys_exit_\(call.name)")
                let event: EventSpec = (exit, PERF_TYPE_TRACEPOINT.rawValue, Self.tracepointSampleType(stacks: .none),
                                        .syscallExit(call), "syscalls:sys_exit_\(call.name)")
                if call.exitWatchedSystemWide { machineWide.append(event) } else { others.append(event) }
            }
        }
        // A traced program cannot trace (a process has one tracer): seeing it try says why
        // a debugger or strace failed under the recorder. Rare calls, no stacks; watched
        // machine-wide and filtered to the requests that make a tracer and their refusals
        // (the recorder's own calls, one at every stop, would fill the rings otherwise).
        for (name, source) in [("sys_enter_ptrace", FaultEventSource.ptraceEnter), ("sys_exit_ptrace", .ptraceExit)] {
            let id = try Tracepoints.id(category: "syscalls", name: name)
            machineWide.append((id, PERF_TYPE_TRACEPOINT.rawValue, Self.tracepointSampleType(stacks: .none), source, "syscalls:\(name)"))
        }
        // The machine-wide watch needs CAP_PERFMON (or perf_event_paranoid -1) for its raw
        // tracepoint data; without it, those events are opened per task like the others.
        let probe = Self.machineWatchProbe(machineWide.first)
        let watchesMachine = probe != nil
        // Kept open to the end: closing a tracepoint's last event waits for an RCU grace
        // period (40 ms of every recording's start, measured on `record -- /bin/true`).
        if let probe { heldOpen.append(probe) }
        // A call that needs its filter is watched machine-wide only: opened per task, the
        // filter would have to be set on every copy the task's children inherit. (ptrace's
        // filters only keep out the recorder's own calls, which a task's events never see.)
        if !watchesMachine {
            others += machineWide.filter { Self.filter(of: $0.source) == nil || $0.source == .ptraceEnter || $0.source == .ptraceExit }
        }
        var unfilterable: Set<String> = []
        self.others = others
        for cpu in 0..<HostInfo.onlineCPUs {
            var leader = Self.attributes(type: PERF_TYPE_SOFTWARE.rawValue, config: UInt64(PERF_COUNT_SW_PAGE_FAULTS_MIN.rawValue),
                                         sampleType: Self.completionSampleType, sideRecords: true,
                                         enableOnExec: enableOnExec, ringPages: ringPages)
            let leaderFD = try Self.open(&leader, pid: pid, cpu: cpu, what: "minor-fault event")
            fds.append(leaderFD)
            ringOwners.append(leaderFD)
            try record(leaderFD, as: .minor, on: pid)
            rings.append(try PerfRing(fd: leaderFD, dataPages: ringPages))
            try openOthers(pid: pid, cpu: cpu, into: leaderFD)
            if watchesMachine {
                for event in machineWide where !unfilterable.contains(event.what) {
                    var attr = Self.attributes(type: event.type, config: event.config, sampleType: event.sampleType,
                                               sideRecords: false, enableOnExec: false, ringPages: ringPages,
                                               stackCopySize: self.stackCopySize)
                    // Enabled now and not inherited: a CPU's events belong to no task to
                    // enable them at its exec or to be inherited from.
                    fl_attr_set_flags(&attr, 0, 0, 0, 1, 1, 1, 0, 0, 1)
                    let fd = try Self.open(&attr, pid: -1, cpu: cpu, what: event.what)
                    if let filter = Self.filter(of: event.source), fl_perf_set_filter(fd, filter) != 0 {
                        // A kernel that cannot read the name from the program (`.ustring`
                        // came in 5.17) would give every open on the machine: not watched.
                        // (Held, never enabled: closing waits for an RCU grace period.)
                        heldOpen.append(fd)
                        unfilterable.insert(event.what)
                        continue
                    }
                    fds.append(fd)
                    // Not in `lineage`: these records reach each thread by one way only.
                    sources[fl_perf_event_id(fd)] = event.source
                    try redirect(fd, into: leaderFD, what: event.what, cpu: cpu)
                }
            }
        }
    }

    /// The tracepoint filter of the call `source` watches, if it has one.
    private static func filter(of source: FaultEventSource) -> String? {
        switch source {
        case .syscallEnter(let call): return call.filter
        case .ptraceEnter: return PtraceRefusal.entryFilter
        case .ptraceExit: return PtraceRefusal.exitFilter
        default: return nil
        }
    }

    /// A disabled event watching `event`'s tracepoint on every process of CPU 0, or nil
    /// where that is not allowed here.
    private static func machineWatchProbe(_ event: EventSpec?) -> Int32? {
        guard let event else { return nil }
        var attr = perf_event_attr()
        attr.type = event.type
        attr.size = UInt32(MemoryLayout<perf_event_attr>.size)
        attr.config = event.config
        attr.sample_period = 1
        attr.sample_type = event.sampleType
        fl_attr_set_flags(&attr, 1, 0, 0, 1, 1, 0, 0, 0, 0)
        let fd = fl_perf_event_open(&attr, -1, 0, -1, UInt(PERF_FLAG_FD_CLOEXEC))
        return fd >= 0 ? fd : nil
    }

    /// Opens the same events on another thread of an attached process, writing into the
    /// same rings. (Per-task events only follow threads created after they are opened.)
    mutating func addThread(_ tid: pid_t) throws {
        for (cpu, owner) in ringOwners.enumerated() {
            var minor = Self.attributes(type: PERF_TYPE_SOFTWARE.rawValue, config: UInt64(PERF_COUNT_SW_PAGE_FAULTS_MIN.rawValue),
                                        sampleType: Self.completionSampleType, sideRecords: true,
                                        enableOnExec: enableOnExec, ringPages: ringPages)
            let fd = try Self.open(&minor, pid: tid, cpu: cpu, what: "minor-fault event")
            fds.append(fd)
            try record(fd, as: .minor, on: tid)
            try redirect(fd, into: owner, what: "minor-fault event", cpu: cpu)
            try openOthers(pid: tid, cpu: cpu, into: owner)
        }
        lineage.hasThreadEvents = true
    }

    private mutating func openOthers(pid: pid_t, cpu: Int, into owner: Int32) throws {
        for event in others {
            var attr = Self.attributes(type: event.type, config: event.config, sampleType: event.sampleType,
                                       sideRecords: false, enableOnExec: enableOnExec, ringPages: ringPages,
                                       stackCopySize: stackCopySize)
            let fd = try Self.open(&attr, pid: pid, cpu: cpu, what: event.what)
            fds.append(fd)
            try record(fd, as: event.source, on: pid)
            try redirect(fd, into: owner, what: event.what, cpu: cpu)
        }
    }

    private func redirect(_ fd: Int32, into owner: Int32, what: String, cpu: Int) throws {
        guard fl_perf_ioctl(fd, fl_perf_ioc_set_output(), UInt(owner)) == 0 else {
            throw SystemError("cannot redirect \(what) into the CPU \(cpu) ring buffer")
        }
    }

    private mutating func record(_ fd: Int32, as source: FaultEventSource, on task: pid_t) throws {
        let id = fl_perf_event_id(fd)
        guard id != 0 else { throw SystemError("PERF_EVENT_IOC_ID") }
        sources[id] = source
        lineage.openedOn[id] = task
    }

    func enable() {
        for fd in fds { _ = fl_perf_ioctl(fd, fl_perf_ioc_enable(), 0) }
    }

    /// Stops counting, in every task the events were inherited by too.
    func disable() {
        for fd in fds { _ = fl_perf_ioctl(fd, fl_perf_ioc_disable(), 0) }
    }

    /// Closes every event without waiting for the kernel's teardown (see
    /// fl_close_in_background). Rings must be unmapped first or they keep the events alive.
    func close() {
        (fds + heldOpen).withUnsafeBufferPointer { fl_close_in_background($0.baseAddress, Int32($0.count)) }
    }

    /// `stackCopySize`: the bytes of user stack a sample that asks for them copies (the
    /// registers the unwinder starts from come with them where asked for too).
    private static func attributes(type: UInt32, config: UInt64, sampleType: UInt64, sideRecords: Bool,
                                   enableOnExec: Bool, ringPages: Int, stackCopySize: UInt32 = 0) -> perf_event_attr {
        var attr = perf_event_attr()
        attr.type = type
        attr.size = UInt32(MemoryLayout<perf_event_attr>.size)
        attr.config = config
        attr.sample_period = 1
        attr.sample_type = sampleType
        if sampleType & UInt64(PERF_SAMPLE_REGS_USER.rawValue) != 0 { attr.sample_regs_user = unwindRegisters }
        if sampleType & UInt64(PERF_SAMPLE_STACK_USER.rawValue) != 0 { attr.sample_stack_user = stackCopySize }
        attr.clockid = CLOCK_MONOTONIC
        // Wake the reader when a quarter of the ring is full; a timeout drains it anyway.
        attr.wakeup_watermark = UInt32(ringPages * Int(HostInfo.pageSize) / 4)
        // Always opened disabled: a launch enables at exec, an attach once every event is
        // open and the mappings are known (else completions would precede their entries).
        fl_attr_set_flags(&attr, 1, 1, enableOnExec ? 1 : 0, 1, 1, 1, sideRecords ? 1 : 0, sideRecords ? 1 : 0, 1)
        return attr
    }

    private static func open(_ attr: inout perf_event_attr, pid: pid_t, cpu: Int, what: String) throws -> Int32 {
        let fd = fl_perf_event_open(&attr, pid, Int32(cpu), -1, UInt(PERF_FLAG_FD_CLOEXEC))
        guard fd >= 0 else {
            let e = errno
            let hint: String?
            switch e {
            case EACCES, EPERM:
                hint = "needs root, CAP_PERFMON, or /proc/sys/kernel/perf_event_paranoid <= 1 (kernel-mode faults are recorded)"
            case ENOENT, ENODEV, EOPNOTSUPP:
                hint = "this kernel lacks the event; CONFIG_PERF_EVENTS and tracepoints are needed"
            case EMFILE:
                // Attaching opens every event on every thread, on every CPU.
                var files = rlimit()
                let limit = getrlimit(RLIMIT_NOFILE_VALUE, &files) == 0 ? String(files.rlim_cur) : "unknown"
                hint = "faultline holds one descriptor per event, thread and CPU (an attach to a process of many "
                    + "threads needs thousands); the open-file limit is \(limit) and could not be raised: raise its hard "
                    + "limit (ulimit -Hn, or LimitNOFILE for a service)"
            default: hint = nil
            }
            throw SystemError("cannot open the \(what) on CPU \(cpu)", errno: e, hint: hint)
        }
        return fd
    }
}

/// Attaching opens events on the leader, then on each thread it finds. A thread created in
/// between by one that already had events inherits them and then gets its own as well, and
/// the threads it creates inherit both: every fault reached the rings twice, and the copy
/// without its entry was recorded as `other` (2 runs in 8 attaching to 1000 threads being
/// started). An inherited event's records carry the identifier of the event it descends
/// from (the kernel's primary_event_id), so each record names the task whose events it
/// came through. A thread follows one task's events, the first it is seen through; records
/// that reach it through another's are the copies, and are dropped. Per CPU each task's
/// events differ, which is why the task and not the event is followed.
struct EventLineage: Sendable {
    /// The task each event was opened on, by identifier.
    var openedOn: [UInt64: Int32] = [:]
    /// Whether events were opened on threads one by one (an attach): only then can a thread
    /// be reached twice.
    var hasThreadEvents = false
    /// The task whose events each thread follows.
    private var followed: [Int32: Int32] = [:]

    /// Whether a record from event `id` about thread `tid` is a copy of one that reaches
    /// the thread through the events it follows.
    @inline(__always)
    mutating func isCopy(id: UInt64, tid: Int32) -> Bool {
        guard hasThreadEvents, let task = openedOn[id] else { return false }
        if let f = followed[tid] { return f != task }
        followed[tid] = task
        return false
    }

    /// Each thread's last fault completion: (time, address).
    private var lastCompletion: [Int32: (UInt64, UInt64)] = [:]

    /// Whether a completion repeats the thread's last one, time and address alike. The
    /// completion event of a thread reached both ways came twice per fault with one
    /// identifier, at one time (kernel 6.18, while the tracepoints' copies came through
    /// the leader's): two faults of one thread never complete in the same nanosecond.
    @inline(__always)
    mutating func isRepeatedCompletion(tid: Int32, time: UInt64, address: UInt64) -> Bool {
        guard hasThreadEvents else { return false }
        if let last = lastCompletion[tid], last == (time, address) { return true }
        lastCompletion[tid] = (time, address)
        return false
    }

    /// The thread ended: its id may come back as another thread, reached its own way.
    mutating func forget(tid: Int32) {
        followed[tid] = nil
        lastCompletion[tid] = nil
    }
}
