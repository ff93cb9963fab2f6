// Runs the recorder's thread at real-time priority while it records, where that is allowed
// (root, CAP_SYS_NICE, or an RLIMIT_RTPRIO above 0).
//
// Why: pausing the program when a ring fills (TraceSession.applyBackpressure) only works if
// the recorder gets the CPU to notice and to send a PTRACE_INTERRUPT to every thread. A
// thousand busy threads on two CPUs leave a fair-share recorder one slice in a thousand:
// measured here, it went 1.3 s without running while a 32 MiB ring filled, then took 2 s to
// interrupt 1000 threads, and 48% of the faults were lost. At SCHED_FIFO it runs as soon as a
// ring wakes it and stops 1000 threads in about 2 ms. The lowest real-time priority is enough
// to go before every ordinary task.
//
// Hazards: the priority is per thread and must not reach the traced program. It is raised
// only after the command was forked, with SCHED_RESET_ON_FORK so any later fork (the
// background closer) starts as an ordinary task, and dropped before the slow work at the end
// (naming frames), so the recorder never holds a CPU longer than draining takes.

import Glibc

struct RecorderPriority {
    /// Whether the thread runs at real-time priority now.
    let raised: Bool
    private let policy: Int32
    private let parameters: sched_param

    /// sched_setscheduler(2) on the calling thread: SCHED_FIFO at priority 1, reset on fork.
    /// Leaves the thread as it was when that is not allowed.
    static func raise() -> RecorderPriority {
        var previous = sched_param()
        let policy = sched_getscheduler(0)
        _ = sched_getparam(0, &previous)
        var fifo = sched_param()
        fifo.sched_priority = 1
        // SCHED_RESET_ON_FORK (0x40000000) is defined only under _GNU_SOURCE.
        let raised = policy >= 0 && sched_setscheduler(0, Int32(SCHED_FIFO) | 0x4000_0000, &fifo) == 0
        return RecorderPriority(raised: raised, policy: policy, parameters: previous)
    }

    /// Puts the thread back as it was before `raise`.
    func restore() {
        guard raised else { return }
        var parameters = self.parameters
        _ = sched_setscheduler(0, policy, &parameters)
    }
}
