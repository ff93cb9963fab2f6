// A raw waitpid(2) status, decoded once into a value the wait loop can switch over.

import CFaultlineLinux

public struct WaitStatus: Sendable {
    public enum Kind: Sendable, Equatable {
        /// The task exited with this status (`_exit(2)`).
        case exited(code: Int32)
        /// The task was killed by this signal.
        case signaled(signal: Int32)
        /// A ptrace-event stop (PTRACE_EVENT_FORK, _CLONE, _EXEC, _EXIT, ...), see ptrace(2).
        case ptraceEvent(Int32)
        /// A signal-delivery-stop: the tracee is about to receive this signal; we decide
        /// whether it is delivered by passing it (or not) to PTRACE_CONT.
        case signalStop(signal: Int32)
        /// A syscall-stop (SIGTRAP|0x80), only seen with PTRACE_O_TRACESYSGOOD.
        case syscallStop
        /// A group-stop (SIGSTOP/SIGTSTP...) under PTRACE_SEIZE: PTRACE_EVENT_STOP with a stop signal.
        case groupStop(signal: Int32)
    }

    public let raw: Int32
    public let kind: Kind

    public init(raw: Int32) {
        self.raw = raw
        if fl_wifexited(raw) != 0 {
            kind = .exited(code: fl_wexitstatus(raw))
        } else if fl_wifsignaled(raw) != 0 {
            kind = .signaled(signal: fl_wtermsig(raw))
        } else {
            let signal = fl_wstopsig(raw)
            let event = fl_wptrace_event(raw)
            if signal == 0x80 | SIGTRAP {
                kind = .syscallStop
            } else if event == PTRACE_EVENT_STOP_ {
                kind = .groupStop(signal: signal)
            } else if event != 0 {
                kind = .ptraceEvent(event)
            } else {
                kind = .signalStop(signal: signal)
            }
        }
    }
}

// ptrace(2) constants that Glibc's Swift overlay does not export as plain integers.
let PTRACE_EVENT_FORK_: Int32 = 1
let PTRACE_EVENT_VFORK_: Int32 = 2
let PTRACE_EVENT_CLONE_: Int32 = 3
let PTRACE_EVENT_EXEC_: Int32 = 4
let PTRACE_EVENT_VFORK_DONE_: Int32 = 5
let PTRACE_EVENT_EXIT_: Int32 = 6
let PTRACE_EVENT_STOP_: Int32 = 128
