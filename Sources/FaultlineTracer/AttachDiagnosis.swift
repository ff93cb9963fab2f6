// Why we may not trace a process, said in one line with what to do about it.

import Glibc

enum AttachDiagnosis {
    static func explain(pid: Int32, command: String, errno: Int32) -> String {
        let base = "cannot attach to \(pid) (\(command)): \(String(cString: strerror(errno)))"
        switch errno {
        case ESRCH:
            return "no process \(pid)"
        case EPERM, EACCES:
            if let tracer = ProcFS.tracer(of: pid), tracer != 0 {
                return base + " (it is already traced by pid \(tracer); a process has one tracer at a time)"
            }
            if let scope = readTextFile("/proc/sys/kernel/yama/ptrace_scope")?.trimmingWhitespace(), scope != "0" {
                return base + " (/proc/sys/kernel/yama/ptrace_scope is \(scope): run as root or set it to 0)"
            }
            return base + " (needs CAP_SYS_PTRACE, or the same user as the process; run as root)"
        default:
            return base
        }
    }
}
