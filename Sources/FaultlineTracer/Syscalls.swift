// The address-space system calls the recorder follows through syscalls:sys_enter_* and
// sys_exit_* tracepoints on the traced tasks: cheaper than ptrace syscall stops, and in
// the same time-ordered stream as the faults they explain.

enum AddressSpaceSyscall: Int, CaseIterable, Sendable {
    case mmap, munmap, mremap, mprotect, madvise, brk
    /// Only PR_SET_THP_DISABLE is logged: it changes which memory may get huge pages.
    case prctl
    /// Memory locks: locking fills pages without faults, now or as memory is mapped.
    case mlock, mlock2, munlock, mlockall, munlockall
    /// Only opens of the kernel's THP settings (`filter`): a program may act on what it
    /// reads there, as Redis does (AddressSpaceChange.readTHPSetting).
    case open, openat

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
        case .open: return "open"
        case .openat: return "openat"
        }
    }

    /// The tracepoint filter that keeps the call's entries worth a record: every file a
    /// program opens would cost a record each; the kernel copies the name from the program's
    /// memory (`.ustring`) and keeps only the THP modes. nil: every call.
    var filter: String? {
        switch self {
        case .open, .openat:
            return Self.thpModeFiles.map { "filename.ustring ~ \"\(Self.thpSettingsDirectory)\($0)\"" }.joined(separator: " || ")
        default: return nil
        }
    }

    static let thpSettingsDirectory = "/sys/kernel/mm/transparent_hugepage/"
    /// The settings that say a mode (globs, under `thpSettingsDirectory`): `enabled`,
    /// `shmem_enabled` and each size's `hugepages-*/enabled`; `defrag` and khugepaged's.
    /// Not `hpage_pmd_size`, which Go's runtime reads at every start for the size alone:
    /// logged, every Go program was said to choose by the host's mode.
    static let thpModeFiles = ["*enabled", "*defrag"]

    /// Whether the call's entry carries the user stack: the stacks that create memory are
    /// what `report --by origin` groups faults by.
    var wantsStack: Bool { self == .mmap || self == .brk }

    /// Whether the exit is needed: mmap's result arrives as an MMAP2 record instead;
    /// munlock and munlockall are applied at their entry, as they cannot fail in a way that
    /// matters (munlockall cannot fail; a munlock over a hole unlocks up to it, and locks
    /// change no pages). An open of a THP setting is logged at its entry: what matters is
    /// that the program looked.
    var wantsExit: Bool { self != .mmap && self != .munlock && self != .munlockall && self != .open && self != .openat }

    /// Whether the call's tracepoints watch every process on each CPU (the records of those
    /// not traced are dropped) rather than being opened on the command's tasks. Why: a
    /// per-task event is inherited by every thread and process the command starts, on each
    /// CPU, and each copy is set up by a scan of every trace event the kernel has, under a
    /// mutex (perf_trace_init: 17% of the CPU while recording 4,000 threads being started).
    /// Opened per task, the memory-lock calls' 8 events a CPU added 20% to the system time
    /// of `record -- thread_swarm 8000 50` (10.3 -> 12.4 s, medians of 5); they are rare
    /// everywhere, so watching the whole machine for them costs nothing. So is prctl, a
    /// call a thread makes once or twice, if at all (PR_SET_NAME).
    ///
    /// munmap, mremap, mprotect and madvise too: their 8 tracepoints a CPU were half of what
    /// each new thread inherited, and watched machine-wide `record -- thread_swarm 2000 100`
    /// took 1.36-1.46 s against 1.59-1.68 (8000 50: 3.7-4.4 s against 5.0-5.2; perf record
    /// -g 1.1 and 2.1 s). Other programs' calls cost them a record in our rings each, which
    /// is dropped here: on this machine, under load, a handful a second. The entries of mmap
    /// and brk carry the user stack: see `entryWatchedSystemWide`. (The program's own
    /// ptrace calls are watched machine-wide too, filtered: PtraceRefusal.)
    var watchedSystemWide: Bool {
        switch self {
        case .munmap, .mremap, .mprotect, .madvise, .mlock, .mlock2, .munlock, .mlockall, .munlockall, .prctl, .open, .openat:
            return true
        case .mmap, .brk:
            return false
        }
    }

    /// Whether the call's entry tracepoint watches every process when stacks are `stacks`:
    /// mmap's and brk's too, unless each carries a DWARF stack copy (8 KiB of every
    /// process's stack a call). With frame pointers another program's call costs it its
    /// callchain and 128 bytes, and each new thread inherits 2 tracepoints a CPU (the
    /// fault entries) instead of 4.
    func entryWatchedSystemWide(stacks: CallGraphMode) -> Bool {
        watchedSystemWide || (wantsStack && stacks != .dwarf)
    }

    /// Whether the call's entry may be any process's: where it is watched machine-wide in
    /// some mode (the traced processes' own are kept either way).
    var entryMayBeAnyProcess: Bool { watchedSystemWide || wantsStack }

    /// Whether the call's exit tracepoint watches every process: where the entry does, and
    /// brk's, which carries no stack (one tracepoint a CPU fewer for each new thread).
    var exitWatchedSystemWide: Bool { watchedSystemWide || self == .brk }

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
