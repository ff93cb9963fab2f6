// What the recorder learns, from either source, as one time-stamped stream: perf records
// parsed out of the ring buffers, and what the ptrace loop sees at stops. The assembler
// processes them in time order, which is what pairs a fault's entry with its completion
// even when the thread finished the fault on another CPU.

struct TraceEvent {
    /// A call that may be watched on the whole machine (AddressSpaceSyscall's
    /// `entryMayBeAnyProcess`, `exitWatchedSystemWide`): its task may be any process's,
    /// traced or not.
    var isMachineWide: Bool {
        switch body {
        case .syscallEnter(let call, _, _): return call.entryMayBeAnyProcess
        case .syscallExit(let call, _): return call.exitWatchedSystemWide
        default: return false
        }
    }

    enum Body {
        /// exceptions:page_fault_{user,kernel}: the fault began. `chain` indexes the
        /// callchain store (user frames only, leaf first).
        case faultEntry(address: UInt64, ip: UInt64, errorCode: UInt64, kernelMode: Bool, chain: Range<Int>)
        /// PAGE_FAULTS_MIN / _MAJ: the fault was accounted. `pageSize`: the page that maps
        /// the address now (0 when the kernel does not say).
        case faultCompletion(address: UInt64, major: Bool, pageSize: UInt64)
        /// SIGSEGV/SIGBUS at signal-delivery-stop, from PTRACE_GETSIGINFO, with the stack
        /// libunwind found in the stopped thread (`chain`, leaf first; may be empty).
        case faultSignal(signal: Int32, code: Int32, address: UInt64, chain: Range<Int>)
        case mmap(MappingRecord)
        /// PERF_RECORD_FORK for a new process (not a thread).
        case fork(parent: Int32)
        /// PERF_RECORD_COMM with the exec flag: a new address space.
        case exec(comm: String)
        /// The command line read at PTRACE_EVENT_EXEC, the mappings perf never reports
        /// (stack, vdso) from /proc/PID/maps, where the new stack starts (0: unknown), and
        /// the pages of it that execve wrote (nil: unknown).
        case execSnapshot(command: String, mappings: [MappingRecord], startStack: UInt64, stackPages: [Range<UInt64>]?)
        /// The mappings of a process found running (attach), from /proc/PID/maps.
        case mappingsSnapshot([MappingRecord])
        /// Kernel's minflt/majflt read at PTRACE_EVENT_EXIT of the thread-group leader.
        case kernelCounts(minor: UInt64, major: UInt64)
        /// The process's resident memory, read with the exit's kernelCounts.
        case kernelResident(anon: UInt64, file: UInt64, shmem: UInt64, peak: UInt64)
        case processExit(code: Int32, signal: Int32)
        /// sys_enter_* of an address-space call: its arguments, and for mmap/brk the stack.
        case syscallEnter(AddressSpaceSyscall, arguments: [UInt64], chain: Range<Int>)
        /// sys_exit_*: the call's return value (negative errno on failure).
        case syscallExit(AddressSpaceSyscall, result: Int64)
        case lost(UInt64)
        case throttled
    }

    var time: UInt64
    var pid: Int32
    var tid: Int32
    /// Arrival order, so that events with equal times keep their order when sorted.
    var sequence: UInt64
    var body: Body
}

/// A mapping as perf (MMAP2) or /proc/PID/maps describe it.
struct MappingRecord {
    var start: UInt64
    var end: UInt64
    var pageOffset: UInt64
    var prot: UInt32
    var flags: UInt32
    var inode: UInt64
    var name: String
    var buildID: [UInt8]
}
