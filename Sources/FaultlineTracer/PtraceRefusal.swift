// A traced program that tries to trace (a debugger, strace, a crash handler) is refused by
// the kernel with EPERM: a process has one tracer, and under the recorder that is faultline.
// The program then fails in its own words ("ptrace: Operation not permitted"); the recorder
// sees the refused call through the syscalls:sys_{enter,exit}_ptrace tracepoints and says
// why, rather than leave the user to guess.

import Glibc

public struct PtraceRefusal: Sendable {
    /// The first few are enough to say what happened; strace may retry.
    static let kept = 16

    public let pid: Int32
    public let tid: Int32
    /// PTRACE_TRACEME, PTRACE_ATTACH or PTRACE_SEIZE.
    public let request: String
    /// The process it tried to trace (its parent, for PTRACE_TRACEME).
    public let target: Int32?
    /// Its command line when the refusal was seen, if it could be read.
    public let command: String?

    /// The tracepoint filters that keep the calls worth a look (watched machine-wide): the
    /// requests below at entry (PTRACE_TRACEME, _ATTACH, _SEIZE), and EPERM at exit.
    static let entryFilter = "request == 0 || request == 16 || request == 16902"
    static let exitFilter = "ret == -1"

    /// Only the requests that make a tracer; others fail for their own reasons.
    init?(pid: Int32, tid: Int32, request: UInt64, target: Int32) {
        switch request {
        case 0: self.request = "PTRACE_TRACEME"; self.target = nil
        case 16: self.request = "PTRACE_ATTACH"; self.target = target
        case 0x4206: self.request = "PTRACE_SEIZE"; self.target = target
        default: return nil
        }
        self.pid = pid
        self.tid = tid
        command = ProcFS.commandLine(pid: pid)
    }

    public var description: String {
        let who = "pid \(pid)" + (command.map { " (\($0))" } ?? "")
        let what = target.map { "\(request) of pid \($0)" } ?? request
        return "\(who) tried to trace (\(what)) and the kernel refused: a process has one tracer, and under faultline "
            + "that is faultline; debuggers and tracers (gdb, strace) cannot run under it"
    }
}
