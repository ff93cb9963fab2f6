// The events a recording is made of, independent of how they are stored.

/// One recorded page fault.
public struct FaultEvent: Sendable, Equatable {
    public var pid: Int32
    public var tid: Int32
    /// CLOCK_MONOTONIC nanoseconds at fault entry.
    public var timeNs: UInt64
    public var address: UInt64
    /// The user instruction that faulted, or for a kernel-mode fault the user ip at the
    /// system call. 0 when unknown.
    public var ip: UInt64
    public var kind: FaultKind
    public var access: Access
    /// Taken in kernel mode on the process's behalf (copy_to_user inside a system call).
    public var kernelMode: Bool
    /// Raw x86 error code; nil when the entry tracepoint was not seen.
    public var errorCode: UInt16?
    /// Entry to completion in nanoseconds; nil when not known (segv, unpaired).
    public var serviceNs: UInt64?
    /// For segv: the signal number (SIGSEGV, SIGBUS) and si_code.
    public var signal: Int32
    public var signalCode: Int32
    public var stack: StackID
    /// log2 of the size of the page the fault mapped, as the kernel's page tables said at
    /// completion (PERF_SAMPLE_DATA_PAGE_SIZE): 12 for a base page, 21 for a 2 MiB THP or
    /// hugetlb page. 0 when not known (older logs, segv, kernels before 5.11).
    public var pageShift: UInt8
    /// For a `swap` fault: the page was read from disk, and the kernel accounted a major
    /// fault; false for a page found in the swap cache (minor). Other kinds ignore it.
    public var swapFromDisk: Bool

    public init(pid: Int32, tid: Int32, timeNs: UInt64, address: UInt64, ip: UInt64,
                kind: FaultKind, access: Access, kernelMode: Bool, errorCode: UInt16?,
                serviceNs: UInt64?, signal: Int32 = 0, signalCode: Int32 = 0,
                stack: StackID, pageShift: UInt8 = 0, swapFromDisk: Bool = false) {
        self.pageShift = pageShift
        self.swapFromDisk = swapFromDisk
        self.pid = pid; self.tid = tid; self.timeNs = timeNs; self.address = address; self.ip = ip
        self.kind = kind; self.access = access; self.kernelMode = kernelMode
        self.errorCode = errorCode; self.serviceNs = serviceNs
        self.signal = signal; self.signalCode = signalCode; self.stack = stack
    }

    /// The kernel accounted it as major (`/proc/PID/stat` field 12): it waited for file I/O,
    /// or it brought a page back from swap on disk.
    public var isMajor: Bool { kind == .major || (kind == .swap && swapFromDisk) }
    /// The kernel accounted it as minor (field 10): every fault but majors and refused accesses.
    public var isMinor: Bool { kind != .segv && !isMajor }
    /// The size of the page the fault mapped, when the kernel said (a power of two above
    /// the 4 KiB base page for a THP or hugetlb page); nil when not known.
    public var mappedPageBytes: UInt64? {
        pageShift >= 12 && pageShift < 64 ? UInt64(1) << UInt64(pageShift) : nil
    }
}

/// A new mapping in a process's address space (PERF_RECORD_MMAP2 or /proc/PID/maps).
public struct MmapEvent: Sendable, Equatable {
    public var pid: Int32
    public var timeNs: UInt64
    public var start: UInt64
    public var length: UInt64
    /// File offset of `start` (0 for anonymous memory).
    public var pageOffset: UInt64
    /// PROT_* bits.
    public var prot: UInt32
    /// MAP_* bits (MAP_SHARED = 1, MAP_PRIVATE = 2).
    public var flags: UInt32
    public var inode: UInt64
    /// The module (file with build-id) this maps, or its name for anonymous memory.
    public var module: ModuleID
    /// The user stack that made the mapping (mmap or brk), StackID.empty when unknown (the
    /// program's own image, mappings found at attach, or stacks not recorded).
    public var stack: StackID

    public init(pid: Int32, timeNs: UInt64, start: UInt64, length: UInt64, pageOffset: UInt64,
                prot: UInt32, flags: UInt32, inode: UInt64, module: ModuleID, stack: StackID = .empty) {
        self.pid = pid; self.timeNs = timeNs; self.start = start; self.length = length
        self.pageOffset = pageOffset; self.prot = prot; self.flags = flags
        self.inode = inode; self.module = module; self.stack = stack
    }

    public var end: UInt64 { start &+ length }
    public var isShared: Bool { flags & 0x1 != 0 }
}

/// A process seen during the recording (launched, forked or attached).
public struct ProcessEvent: Sendable, Equatable {
    public var pid: Int32
    public var ppid: Int32
    public var timeNs: UInt64
    public var command: StringID
    public init(pid: Int32, ppid: Int32, timeNs: UInt64, command: StringID) {
        self.pid = pid; self.ppid = ppid; self.timeNs = timeNs; self.command = command
    }
}

/// How a process ended, encoded like a shell does: status, or 128 + signal.
public struct ExitEvent: Sendable, Equatable {
    public var pid: Int32
    public var timeNs: UInt64
    public var exitCode: Int32
    public var signal: Int32
    public init(pid: Int32, timeNs: UInt64, exitCode: Int32, signal: Int32) {
        self.pid = pid; self.timeNs = timeNs; self.exitCode = exitCode; self.signal = signal
    }
}
