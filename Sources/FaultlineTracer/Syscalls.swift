// The address-space system calls the recorder follows through syscalls:sys_enter_* and
// sys_exit_* tracepoints on the traced tasks: cheaper than ptrace syscall stops, and in
// the same time-ordered stream as the faults they explain.

enum AddressSpaceSyscall: Int, CaseIterable, Sendable {
    case mmap, munmap, mremap, mprotect, madvise, brk
    /// Only PR_SET_THP_DISABLE is logged: it changes which memory may get huge pages.
    case prctl
    /// Memory locks: locking fills pages without faults, now or as memory is mapped.
    case mlock, mlock2, munlock, mlockall, munlockall

    var name: String {
        switch self {
        case .mmap: return "mmap"
        case .munmap: return "munmap"
        case .mremap: return "mremap"
        case .mprotect: return "mprotect"
        case .madvise: return "madvise"
        case .brk: return "brk"
        case .prctl: return "prctl"
        case .mlock: return "mlock"
        case .mlock2: return "mlock2"
        case .munlock: return "munlock"
        case .mlockall: return "mlockall"
        case .munlockall: return "munlockall"
        }
    }

    /// Whether the call's entry carries the user stack: the stacks that create memory are
    /// what `report --by origin` groups faults by.
    var wantsStack: Bool { self == .mmap || self == .brk }

    /// Whether the exit is needed: mmap's result arrives as an MMAP2 record instead;
    /// munlock and munlockall are applied at their entry, as they cannot fail in a way that
    /// matters (munlockall cannot fail; a munlock over a hole unlocks up to it, and locks
    /// change no pages). Why not every exit: each event is inherited by every thread and
    /// process the command starts, per CPU, and costs each of them its copy (`record --
    /// thread_swarm 8000 50`: 10 more events a CPU took 20% more system time).
    var wantsExit: Bool { self != .mmap && self != .munlock && self != .munlockall }

    /// Whether the call is applied at its entry (it has no exit traced, and no record that
    /// completes it).
    var appliedAtEntry: Bool { !wantsExit && self != .mmap }
}

/// Where a syscall tracepoint's raw record keeps its arguments and return value: after
/// the common fields and the syscall number, one unsigned long each (see their format).
enum SyscallRecordLayout {
    static let firstArgumentOffset = 16
    static let returnValueOffset = 16
    static let maxArguments = 6
}
