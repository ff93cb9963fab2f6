// Every kind of record a log can hold. Tags are stored: never renumber; add new tags at
// the end. A change that an older reader would misread bumps `LogFormat.version`.

import FaultlineCore

public enum LogFormat {
    /// File magic: "FAULTLN" followed by a newline so `head -c8` shows what it is.
    public static let magic: [UInt8] = Array("FAULTLN\n".utf8)
    /// Moves only on an incompatible change. Version 2 (recorder 0.4.0): an mmap record is
    /// one new mapping, replacing whatever it overlaps (version 1 kept perf's MMAP2 records,
    /// which also describe VMAs again after mprotect, brk and merges); a fault's error-code
    /// field carries the size of the page it mapped; mremap keeps its flags; the process's
    /// THP prctl is an address-space change. Version 3: frames named at
    /// recording time carry their inline chains (the `inlined` record), which a version 2
    /// reader would take for damage. Version 4: a fault may be of kind `swap` (value 7,
    /// which older readers refuse), and the bit above its page size says whether a swap-in
    /// read the disk. Version 5: a chunk stores its faults' fields by field
    /// (FaultFieldStreams), which a version 4 reader would take for damage. Version 6:
    /// mlock, munlock, mlockall and munlockall are address-space changes (values 6-9), which
    /// a version 5 reader would take for damage. Version 7: a process opening the kernel's
    /// THP settings is an address-space change (value 10), which a version 6 reader would
    /// take for damage. Version 8: the kernel's resident memory of a process at its exit
    /// (the `kernelResident` record), an unknown tag to a version 7 reader. Version 9: the
    /// pages of a new stack that execve wrote (the `execStack` record), an unknown tag to a
    /// version 8 reader. Version 10: a chunk of nothing but faults may begin with their
    /// summary (FaultChunkSummary, the `chunkSummarized` flag), a flag a version 9 reader
    /// refuses.
    public static let version: UInt16 = 10
    /// The first version with the `swap` fault kind and the swap-from-disk bit: every
    /// check of the swap change reads this one name.
    public static let swapKindVersion: UInt16 = 4
    /// The versions this reader reads.
    public static let readableVersions: ClosedRange<UInt16> = 1...10
    /// The first version with the mlock family of address-space changes.
    public static let mlockVersion: UInt16 = 6
    /// The first version with the `readTHPSetting` change.
    public static let thpSettingReadVersion: UInt16 = 7
    /// The first version with the `kernelResident` record.
    public static let kernelResidentVersion: UInt16 = 8
    /// The first version with the `execStack` record.
    public static let execStackVersion: UInt16 = 9
    /// The first version whose chunks may carry a FaultChunkSummary.
    public static let chunkSummaryVersion: UInt16 = 10
    /// Bytes before the first chunk: magic, u16 version, u16 reserved.
    public static let fileHeaderSize = 12
    /// Chunk header, six little-endian u32s: magic, stored length, raw (decoded) length,
    /// record count, flags, CRC-32 of the stored bytes.
    public static let chunkMagic: UInt32 = 0x4B43_4C46 // "FLCK"
    public static let chunkHeaderSize = 24
    /// Chunk flag: the stored bytes are the payload deflated with zlib.
    public static let chunkDeflated: UInt32 = 1
    /// Chunk flag (format 10 on): the chunk holds nothing but faults, and its stored bytes
    /// begin with their FaultChunkSummary, uncompressed; the payload (deflated or not, as
    /// `chunkDeflated` says) follows it, and the raw length is the payload's.
    public static let chunkSummarized: UInt32 = 2
    /// The chunk flags a log of format `version` may set.
    static func chunkFlags(version: UInt16) -> UInt32 {
        version >= chunkSummaryVersion ? chunkDeflated | chunkSummarized : chunkDeflated
    }
    /// A writer flushes a chunk when its payload reaches this size.
    public static let targetChunkSize = 64 * 1024
    /// The reader refuses larger chunks, so a corrupted length cannot make it allocate.
    public static let maxChunkSize = 16 * 1024 * 1024
}

public enum RecordTag: UInt8, CaseIterable, Sendable {
    case header = 1
    case string = 2
    case module = 3
    case frame = 4
    case stack = 5
    case process = 6
    case exec = 7
    case exit = 8
    case mmap = 9
    case fault = 10
    case lost = 11
    case throttled = 12
    case symbol = 13
    case summary = 14
    case kernelCounts = 15
    case addressSpace = 16
    case unrecorded = 17
    case inlined = 18
    case kernelResident = 19
    case execStack = 20
}

/// A frame: an address inside a module (as a file offset), or an absolute address when no
/// module was mapped there (JIT code, vdso without a file).
public struct Frame: Sendable, Hashable {
    public var module: ModuleID?
    /// File offset inside `module`, or the absolute address when `module` is nil.
    public var offset: UInt64
    public init(module: ModuleID?, offset: UInt64) { self.module = module; self.offset = offset }
}

/// A module: a mapped file identified by path and build-id, or a named anonymous region.
public struct Module: Sendable, Hashable {
    public var path: StringID
    public var buildID: [UInt8]
    public init(path: StringID, buildID: [UInt8]) { self.path = path; self.buildID = buildID }
}

/// A name for a frame resolved at recording time.
public struct FrameSymbol: Sendable, Equatable {
    public var frame: FrameID
    public var function: StringID
    public var file: StringID?
    public var line: UInt32
    public init(frame: FrameID, function: StringID, file: StringID?, line: UInt32) {
        self.frame = frame; self.function = function; self.file = file; self.line = line
    }
}

/// The functions a frame's code was inlined into, innermost first, each with the line of
/// the inlined call (Symbol.inlinedInto), named at recording time. Follows the frame's
/// `symbol` record, which names the innermost function.
public struct FrameInlining: Sendable, Equatable {
    public struct Caller: Sendable, Equatable {
        public var function: StringID
        public var file: StringID?
        /// 0: unknown.
        public var line: UInt32
        public init(function: StringID, file: StringID?, line: UInt32) {
            self.function = function; self.file = file; self.line = line
        }
    }
    public var frame: FrameID
    public var callers: [Caller]
    /// A reader refuses longer chains: real ones are a few functions deep.
    public static let maxCallers = 256
    public init(frame: FrameID, callers: [Caller]) { self.frame = frame; self.callers = callers }
}

public enum LogRecord: Sendable, Equatable {
    /// Boxed: a header (136 bytes, one a log) held inline made every record that size, and
    /// a log's 300,000 address-space records were arrays of them as they were read.
    indirect case header(LogHeader)
    case string(StringID, String)
    case module(ModuleID, Module)
    case frame(FrameID, Frame)
    /// A stack trie node: `parent` is the caller side (StackID.empty for the outermost frame).
    case stack(StackID, parent: StackID, frame: FrameID)
    case process(ProcessEvent)
    case exec(pid: Int32, timeNs: UInt64, command: StringID)
    case exit(ExitEvent)
    case mmap(MmapEvent)
    case fault(FaultEvent)
    case lost(count: UInt64, timeNs: UInt64)
    case throttled(count: UInt64, timeNs: UInt64)
    case symbol(FrameSymbol)
    case summary(LogSummary)
    /// What the kernel itself counted for a process (/proc/PID/stat fields 10 and 12), so a
    /// log can be checked against the kernel's view: at exit, and as a `baseline` when
    /// recording began (the launched process's faults between fork and exec, which happen
    /// before the events are enabled; an attached process's faults before the attach).
    case kernelCounts(pid: Int32, minor: UInt64, major: UInt64, baseline: Bool)
    /// munmap, mremap, mprotect, madvise or brk that succeeded (see AddressSpaceEvent).
    case addressSpace(AddressSpaceEvent)
    /// A process whose faults the recorder could not see from then on (see UnrecordedProcess).
    case unrecorded(UnrecordedProcess)
    /// A frame's inline chain (see FrameInlining).
    case inlined(FrameInlining)
    /// What the kernel had resident for a process as it exited (/proc/PID/status RssAnon,
    /// RssFile, RssShmem, and VmHWM, its peak; in bytes): what the model's self-check
    /// compares its own with.
    case kernelResident(KernelResident)
    /// The pages of a process's new stack that were present when its execve returned (see
    /// ExecStack).
    case execStack(ExecStack)

    public var tag: RecordTag {
        switch self {
        case .header: return .header
        case .string: return .string
        case .module: return .module
        case .frame: return .frame
        case .stack: return .stack
        case .process: return .process
        case .exec: return .exec
        case .exit: return .exit
        case .mmap: return .mmap
        case .fault: return .fault
        case .lost: return .lost
        case .throttled: return .throttled
        case .symbol: return .symbol
        case .summary: return .summary
        case .kernelCounts: return .kernelCounts
        case .addressSpace: return .addressSpace
        case .unrecorded: return .unrecorded
        case .inlined: return .inlined
        case .kernelResident: return .kernelResident
        case .execStack: return .execStack
        }
    }
}

/// The pages of a new stack that execve wrote, read from /proc/PID/pagemap when the exec
/// returned: the strings it copied (arguments, environment, the file name) and, below a
/// random gap of up to 8 KiB (arch_align_stack), the tables it built (argv, envp, auxv).
/// It writes them through get_user_pages, with no fault event; a gap that holds a whole
/// page leaves that page unwritten, which no fault can show.
public struct ExecStack: Sendable, Equatable {
    public var pid: Int32
    /// The exec's time, as its `exec` record has it.
    public var timeNs: UInt64
    /// Runs of present pages, in address order, apart and not empty.
    public var present: [Range<UInt64>]
    public init(pid: Int32, timeNs: UInt64, present: [Range<UInt64>]) {
        self.pid = pid; self.timeNs = timeNs; self.present = present
    }
}

/// The kernel's resident memory of a process as it exited (/proc/PID/status), in bytes.
public struct KernelResident: Sendable, Equatable {
    public var pid: Int32
    public var anonBytes: UInt64
    public var fileBytes: UInt64
    public var shmemBytes: UInt64
    /// VmHWM: the peak of the process's RSS over its life.
    public var peakBytes: UInt64
    public init(pid: Int32, anonBytes: UInt64, fileBytes: UInt64, shmemBytes: UInt64, peakBytes: UInt64 = 0) {
        self.pid = pid; self.anonBytes = anonBytes; self.fileBytes = fileBytes; self.shmemBytes = shmemBytes
        self.peakBytes = peakBytes
    }
}
