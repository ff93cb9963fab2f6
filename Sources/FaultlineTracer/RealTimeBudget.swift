// How much of the CPU the recorder may use at real-time priority before the kernel takes
// the CPU away from it, and how long it must rest to stay under.
//
// Why: a real-time task that never sleeps is not left to run for ever. The kernel keeps
// `sched_rt_runtime_us` of every `sched_rt_period_us` (950 ms of each second by default)
// for real-time tasks, and since Linux 6.12 a deadline server also gives starved ordinary
// tasks 50 ms of each second. A recorder that cannot keep up drains its rings without
// sleeping; measured here (a debug build recording `thread_storm 1024`), it was then taken
// off the CPU for 50–130 ms at a time, and none of those stalls came back with the limit
// lifted (`sched_rt_runtime_us` -1). During such a stall the program's threads run and no
// one reads the rings: a CI run lost 81,143 events that way. Pausing when a ring is half
// full cannot help, since the recorder is not running to pause anyone.
//
// So the recorder keeps its own account, a token bucket of CPU time: it earns `rate` of
// each nanosecond of wall time, up to `burstNs`, and spends what it uses. When the account
// is empty it sleeps (TraceSession.rest), right after draining the rings, and pauses the
// program only if a ring fills to a quarter meanwhile: pausing 8,000 threads at every rest
// made `thread_swarm 8000 50` four times slower. In any window of T it uses at most
// rate·T plus two bursts, which for a period of the kernel's is under the kernel's share.

import Glibc

struct RealTimeBudget {
    /// CPU time the recorder may use per unit of wall time, on average.
    let rate: Double
    /// How far ahead of that average it may run, in nanoseconds of CPU time.
    let burstNs: Double
    /// What it may still use now (negative: it overdrew).
    private(set) var creditNs: Double
    private var last: (wallNs: UInt64, cpuNs: UInt64)?

    /// `share`: the fraction of each period the kernel lets a real-time task run.
    init(share: Double, periodNs: UInt64) {
        // The account may run `burst` ahead of the average, and the recorder may overdraw
        // it by another `burst` before it must stop wherever it is (`isOverdrawn`): in a
        // period it uses at most rate + 2 bursts, which stays 3% under the share.
        // (A burst of a longer period than a second would mean rests of seconds; a shorter
        // burst only keeps the recorder further under the share.)
        let burst = 0.02
        burstNs = burst * Double(min(periodNs, 1_000_000_000))
        rate = max(0.05, min(share, 1) - 0.03 - 2 * burst)
        creditNs = burstNs
    }

    /// The limits of this machine: the real-time share of /proc/sys/kernel, and the 5%
    /// that the deadline server of Linux 6.12 and later keeps for ordinary tasks.
    /// (`read` gives a file's text, for the tests.)
    static func ofThisMachine(read: (String) -> String? = { readTextFile($0) }) -> RealTimeBudget {
        func value(_ name: String) -> Int? {
            read("/proc/sys/kernel/\(name)").flatMap { Int($0.trimmingWhitespace()) }
        }
        // The kernel takes at most INT_MAX; a larger number cannot be its setting.
        let period = value("sched_rt_period_us").flatMap { $0 > 0 && $0 <= Int(Int32.max) ? $0 : nil } ?? 1_000_000
        let runtime = value("sched_rt_runtime_us") ?? 950_000
        let share = runtime < 0 ? 1.0 : Double(runtime) / Double(period)
        return RealTimeBudget(share: min(share, 0.95), periodNs: UInt64(period) * 1000)
    }

    /// Accounts for the CPU time used since the last call and says how long to rest, in
    /// nanoseconds (0: no rest needed): until the account is full again, so that rests
    /// are few (each may pause every thread of the program). `cpuNs` is the thread's CPU
    /// clock, `wallNs` a monotonic clock.
    mutating func restNeeded(wallNs: UInt64, cpuNs: UInt64) -> UInt64 {
        defer { last = (wallNs, cpuNs) }
        guard let last else { return 0 }
        let earned = rate * Double(wallNs > last.wallNs ? wallNs - last.wallNs : 0)
        let spent = Double(cpuNs > last.cpuNs ? cpuNs - last.cpuNs : 0)
        // A debt of more than a few bursts (one long piece of work between two calls) is
        // not paid back whole: what it overran is past, and the program would wait for it.
        creditNs = max(-4 * burstNs, min(burstNs, creditNs + earned - spent))
        guard creditNs < 0 else { return 0 }
        return UInt64((burstNs - creditNs) / rate)
    }

    /// Overdrawn past the second burst: the rest cannot wait for the recorder's loop.
    var isOverdrawn: Bool { creditNs < -burstNs }

    /// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), in nanoseconds.
    static func threadCPUTimeNs() -> UInt64 {
        var t = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) == 0 else { return 0 }
        return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
    }
}
