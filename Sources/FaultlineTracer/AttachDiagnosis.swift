// Why we may not trace a process, said in one line with what to do about it. The kernel
// says only EPERM; the cause is found by checking, in the order ptrace_attach does, what
// /proc and our own credentials show, and only blamed on a missing capability when the
// capability is in fact missing.

import Glibc

enum AttachDiagnosis {
    /// CAP_SYS_PTRACE's bit in /proc/PID/status's CapEff.
    private static let capSysPtrace: UInt64 = 1 << 19

    static func explain(pid: Int32, command: String, errno: Int32) -> String {
        let base = "cannot attach to \(pid) (\(command)): \(String(cString: strerror(errno)))"
        switch errno {
        case ESRCH:
            return "no process \(pid)"
        case EPERM, EACCES:
            if ProcFS.threadGroup(of: pid) == getpid() {
                return "cannot attach to \(pid): that is faultline itself, and a process cannot trace itself"
            }
            if ProcFS.isKernelThread(pid: pid) {
                return "cannot attach to \(pid) (\(ProcFS.name(pid: pid) ?? "?")): it is a kernel thread, which has no "
                    + "user memory and takes no page faults of its own, and which the kernel lets no one trace"
            }
            if let tracer = ProcFS.tracer(of: pid), tracer != 0 {
                return base + " (it is already traced by pid \(tracer)\(ProcFS.name(pid: tracer).map { ", \($0)" } ?? ""); "
                    + "a process has one tracer at a time)"
            }
            if ProcFS.isZombie(pid: pid, tid: pid) {
                return base + " (it has exited and waits for its parent to reap it)"
            }
            let scope = readTextFile("/proc/sys/kernel/yama/ptrace_scope")?.trimmingWhitespace()
            if scope == "3" {
                return base + " (/proc/sys/kernel/yama/ptrace_scope is 3: no process may attach to another, "
                    + "not even root, until reboot)"
            }
            guard hasSysPtrace else {
                if let scope, scope != "0" {
                    return base + " (/proc/sys/kernel/yama/ptrace_scope is \(scope): needs CAP_SYS_PTRACE; run as root)"
                }
                return base + " (needs CAP_SYS_PTRACE, or the same user as the process; run as root)"
            }
            var text = base + " (faultline has CAP_SYS_PTRACE and no other tracer holds it, so a security module "
                + "(SELinux, AppArmor, a BPF LSM) or the kernel's own policy forbids tracing it"
            if pid == 1 { text += "; pid 1 is this PID namespace's init, which some systems protect" }
            return text + ")"
        default:
            return base
        }
    }

    /// Whether our effective capabilities include CAP_SYS_PTRACE.
    private static var hasSysPtrace: Bool {
        guard let status = readTextFile("/proc/self/status") else { return geteuid() == 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
            return UInt64(line.dropFirst("CapEff:".count).trimmingWhitespace(), radix: 16).map { $0 & capSysPtrace != 0 } ?? false
        }
        return false
    }
}
