// Changes to a process's address space other than new mappings: the timeline replay and
// the mapping lookups need, so that a fault is tied to the mapping live at its time.

public enum AddressSpaceChange: Sendable, Equatable {
    case munmap(address: UInt64, length: UInt64)
    /// `flags`: MREMAP_* (logs before format 2 did not keep them: 0).
    case mremap(address: UInt64, length: UInt64, newAddress: UInt64, newLength: UInt64, flags: UInt32)
    case mprotect(address: UInt64, length: UInt64, prot: UInt32)
    case madvise(address: UInt64, length: UInt64, advice: Int32)
    /// brk(2): `requested` is the break asked for (0 asks for the current one), `result` the
    /// break the kernel returned.
    case brk(requested: UInt64, result: UInt64)
    /// prctl(PR_SET_THP_DISABLE) as the process called it: THP for the whole process, kept
    /// by fork and execve.
    case thpDisable(THPDisable)
    /// mlock(2) (`flags` 0) or mlock2(2) (`flags`: MLOCK_ONFAULT): the range's VMAs are
    /// locked and, unless on fault, filled now.
    case mlock(address: UInt64, length: UInt64, flags: UInt32)
    case munlock(address: UInt64, length: UInt64)
    /// mlockall(2): `flags` are MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT.
    case mlockall(flags: UInt32)
    case munlockall
    /// The process opened one of the kernel's THP settings (/sys/kernel/mm/transparent_hugepage/):
    /// a program may act on what it read there (Redis calls PR_SET_THP_DISABLE only where
    /// the mode is `always`), so its calls were those of the host's mode. Changes nothing.
    case readTHPSetting

    /// The name exports use as the record's `type`.
    public var name: String {
        switch self {
        case .munmap: return "munmap"
        case .mremap: return "mremap"
        case .mprotect: return "mprotect"
        case .madvise: return "madvise"
        case .brk: return "brk"
        case .thpDisable: return "prctl_thp_disable"
        case .mlock: return "mlock"
        case .munlock: return "munlock"
        case .mlockall: return "mlockall"
        case .munlockall: return "munlockall"
        case .readTHPSetting: return "read_thp_setting"
        }
    }
}

/// A completed address-space system call, with its result applied. munmap and mremap carry
/// the time they began (the range they free may be mapped again before they return); the
/// others the time they returned.
public struct AddressSpaceEvent: Sendable, Equatable {
    public var pid: Int32
    public var tid: Int32
    public var timeNs: UInt64
    public var change: AddressSpaceChange
    /// The user stack that made the call (StackID.empty when not recorded).
    public var stack: StackID

    public init(pid: Int32, tid: Int32, timeNs: UInt64, change: AddressSpaceChange, stack: StackID = .empty) {
        self.pid = pid; self.tid = tid; self.timeNs = timeNs; self.change = change; self.stack = stack
    }
}
