// The recorder's account of real-time CPU (RealTimeBudget): a recorder that never sleeps
// must rest often enough that no period of the kernel's sees it use more than the kernel's
// real-time share, or the kernel stops it for tens of milliseconds while the program runs
// on and the rings overflow. One that keeps up must never rest.

import XCTest
@testable import FaultlineTracer

final class RealTimeBudgetTests: XCTestCase {
    /// Simulates a recorder for `seconds`: busy `busyFraction` of each millisecond, resting
    /// whenever the budget says so (`onlyOverdrawn`: only once overdrawn, as one that never
    /// gets back to its loop does). Returns the CPU time used in each millisecond.
    private func simulate(_ budget: inout RealTimeBudget, seconds: Int, busyFraction: Double,
                          onlyOverdrawn: Bool = false) -> (perMs: [Double], rests: Int) {
        var wall: UInt64 = 5_000_000_000, cpu: UInt64 = 7_000_000
        var perMs: [Double] = []
        var rests = 0
        _ = budget.restNeeded(wallNs: wall, cpuNs: cpu)
        while perMs.count < seconds * 1000 {
            wall += 1_000_000
            cpu += UInt64(busyFraction * 1_000_000)
            perMs.append(busyFraction * 1_000_000)
            let rest = budget.restNeeded(wallNs: wall, cpuNs: cpu)
            if rest > 0 && (!onlyOverdrawn || budget.isOverdrawn) {
                rests += 1
                // Asleep: wall time passes, CPU time does not.
                let idleMs = Int((Double(rest) / 1_000_000).rounded(.up))
                perMs += Array(repeating: 0, count: idleMs)
                wall += UInt64(idleMs) * 1_000_000
            }
        }
        return (perMs, rests)
    }

    /// The most CPU time used in any window of `windowMs` consecutive milliseconds.
    private func busiestWindow(_ perMs: [Double], windowMs: Int) -> Double {
        var sum = perMs.prefix(windowMs).reduce(0, +), most = sum
        for i in windowMs..<perMs.count {
            sum += perMs[i] - perMs[i - windowMs]
            most = max(most, sum)
        }
        return most
    }

    func testARecorderThatNeverSleepsStaysUnderTheKernelsShareInEveryPeriod() {
        // The kernel's default: 950 ms of each 1 s period.
        var budget = RealTimeBudget(share: 0.95, periodNs: 1_000_000_000)
        let (perMs, rests) = simulate(&budget, seconds: 10, busyFraction: 1)
        XCTAssertGreaterThan(rests, 0)
        // Any second, wherever the kernel's period starts: under 950 ms, with room to spare.
        XCTAssertLessThanOrEqual(busiestWindow(perMs, windowMs: 1000), 0.92e9)
        // Yet it rests no more than it must: it still gets 85% of the CPU, in rests of
        // tens of milliseconds, not one a millisecond (each may pause every thread).
        let total = perMs.reduce(0, +), wallNs = Double(perMs.count) * 1e6
        XCTAssertGreaterThan(total / wallNs, 0.85)
        XCTAssertLessThan(rests, 10 * 10)
    }

    func testARecorderThatRestsOnlyWhenOverdrawnStaysUnderTheShareToo() {
        var budget = RealTimeBudget(share: 0.95, periodNs: 1_000_000_000)
        let (perMs, rests) = simulate(&budget, seconds: 10, busyFraction: 1, onlyOverdrawn: true)
        XCTAssertGreaterThan(rests, 0)
        XCTAssertLessThanOrEqual(busiestWindow(perMs, windowMs: 1000), 0.93e9)
    }

    func testALoweredShareIsKeptToo() {
        // An administrator gave real-time tasks half of each 100 ms.
        var budget = RealTimeBudget(share: 0.5, periodNs: 100_000_000)
        let (perMs, _) = simulate(&budget, seconds: 5, busyFraction: 1)
        XCTAssertLessThanOrEqual(busiestWindow(perMs, windowMs: 100), 0.5 * 100e6)
    }

    func testALongPeriodDoesNotMeanLongRests() {
        // sched_rt_period_us may be set as high as 2^31 - 1 us (35 minutes).
        var budget = RealTimeBudget(share: 0.95, periodNs: 2_147_483_647_000)
        _ = budget.restNeeded(wallNs: 1_000_000_000, cpuNs: 0)
        var longest: UInt64 = 0
        var wall: UInt64 = 1_000_000_000, cpu: UInt64 = 0
        for _ in 0..<2000 {
            wall += 1_000_000
            cpu += 1_000_000
            let rest = budget.restNeeded(wallNs: wall, cpuNs: cpu)
            longest = max(longest, rest)
            wall += rest
        }
        XCTAssertGreaterThan(longest, 0)
        XCTAssertLessThan(longest, 100_000_000, "a rest of \(longest / 1_000_000) ms")
    }

    func testOneLongPieceOfWorkIsNotPaidBackWhole() {
        var budget = RealTimeBudget(share: 0.95, periodNs: 1_000_000_000)
        _ = budget.restNeeded(wallNs: 1_000_000_000, cpuNs: 0)
        // Two seconds busy between two calls.
        let rest = budget.restNeeded(wallNs: 3_000_000_000, cpuNs: 2_000_000_000)
        XCTAssertGreaterThan(rest, 0)
        XCTAssertLessThan(rest, 150_000_000, "a rest of \(rest / 1_000_000) ms")
    }

    func testARecorderThatKeepsUpNeverRests() {
        var budget = RealTimeBudget(share: 0.95, periodNs: 1_000_000_000)
        let (_, rests) = simulate(&budget, seconds: 10, busyFraction: 0.6)
        XCTAssertEqual(rests, 0)
    }

    func testTheShareIsReadFromTheKernelsFiles() {
        func budget(runtime: String?, period: String?) -> RealTimeBudget {
            RealTimeBudget.ofThisMachine { path in
                path.hasSuffix("sched_rt_runtime_us") ? runtime : path.hasSuffix("sched_rt_period_us") ? period : nil
            }
        }
        let lowered = budget(runtime: "500000\n", period: "1000000\n")
        XCTAssertEqual(lowered.rate, RealTimeBudget(share: 0.5, periodNs: 1_000_000_000).rate)
        XCTAssertLessThan(lowered.rate, 0.5)
        // No limit (-1), or no files: still the deadline server's 5% kept.
        let unlimited = budget(runtime: "-1", period: "1000000")
        XCTAssertEqual(unlimited.rate, RealTimeBudget(share: 0.95, periodNs: 1_000_000_000).rate)
        XCTAssertEqual(budget(runtime: nil, period: nil).rate, unlimited.rate)
        // A short period: a short burst.
        XCTAssertEqual(budget(runtime: "95000", period: "100000").burstNs, 0.02 * 100e6)
        // A period of 0 or garbage is taken as the default second.
        XCTAssertEqual(budget(runtime: "950000", period: "0").burstNs, 0.02 * 1e9)
        XCTAssertEqual(budget(runtime: "950000", period: "x").burstNs, 0.02 * 1e9)
        XCTAssertEqual(budget(runtime: "950000", period: "9223372036854775807").burstNs, 0.02 * 1e9, "no overflow")
    }

    func testThisMachinesBudgetAndCPUClock() {
        let budget = RealTimeBudget.ofThisMachine()
        XCTAssertLessThanOrEqual(budget.rate, 0.88, "the deadline server's 5% is kept whatever the machine allows")
        XCTAssertGreaterThan(budget.rate, 0)
        // Its CPU clock moves with work.
        let before = RealTimeBudget.threadCPUTimeNs()
        var x: UInt64 = 1
        for i in 0..<3_000_000 { x = x &* 6364136223846793005 &+ UInt64(i) }
        XCTAssertNotEqual(x, 0)
        XCTAssertGreaterThan(RealTimeBudget.threadCPUTimeNs(), before)
    }
}
