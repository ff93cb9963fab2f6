// The recorder's queue of parsed events (EventQueue): whatever drains bring, in whatever
// order across CPUs, each event comes out once, in (time, arrival) order, with its own
// stack, however many releases it was held through and however often the queue let go
// of what it had processed. No privileges needed.

import XCTest
@testable import FaultlineTracer

final class EventQueueTests: XCTestCase {
    let tracepoint = PageFaultTracepoint(id: 7, addressOffset: 8, ipOffset: 16, errorCodeOffset: 24)

    /// A queue fed as a recording feeds it: each drain reads two CPUs' rings, each in time
    /// order, one lagging the other by up to `lag` ns, and appends a fault entry (address:
    /// its number; stack: three frames made of its number) or a completion (no stack) for
    /// each record. Released up to `slack` before each drain's time, then whole.
    func run(drains: Int, perDrain: Int, lag: UInt64, slack: UInt64, seed: UInt64) -> (out: [TraceEvent], chainsRight: Bool) {
        var random = SplitMix(seed)
        var queue = EventQueue()
        var parser = PerfRecordParser(sources: [:], userTracepoint: tracepoint, kernelTracepoint: tracepoint,
                                      callGraph: .none, completionsHavePageSize: false, unwinds: false)
        var out: [TraceEvent] = []
        var chainsRight = true
        var clock: [UInt64] = [1_000, 1_000]   // each CPU's latest time
        var number: UInt64 = 0
        func take(_ e: TraceEvent, _ chains: [UInt64]) {
            out.append(e)
            if case .faultEntry(let address, _, _, _, let chain) = e.body {
                chainsRight = chainsRight && Array(chains[chain]) == [address &* 3, address &* 3 &+ 1, address &* 3 &+ 2]
            }
        }
        for drain in 0..<drains {
            let now = UInt64(drain + 1) * 1_000_000
            for cpu in 0..<2 {
                // A lagging CPU's records arrive a drain late, stamped before the other's.
                let upTo = cpu == 1 ? now &- random.next() % (lag + 1) : now
                for _ in 0..<perDrain {
                    // Each ring is in time order; a drain's records span its last millisecond.
                    clock[cpu] = max(clock[cpu], min(max(clock[cpu], upTo &- 1_000_000) + random.next() % 2_000, upTo))
                    number += 1
                    let body: TraceEvent.Body
                    if number % 3 == 0 {
                        body = .faultCompletion(address: number, major: false, pageSize: 0)
                    } else {
                        let start = parser.chainStore.count
                        parser.chainStore += [number &* 3, number &* 3 &+ 1, number &* 3 &+ 2]
                        body = .faultEntry(address: number, ip: 0, errorCode: 0, kernelMode: false, chain: start..<parser.chainStore.count)
                    }
                    queue.events.append(TraceEvent(time: clock[cpu], pid: 1, tid: Int32(cpu + 1), sequence: parser.nextSequence(), body: body))
                }
            }
            queue.release(upTo: now > slack ? now - slack : 0, parser: &parser, take)
        }
        queue.release(upTo: nil, parser: &parser, take)
        return (out, chainsRight)
    }

    func check(_ run: (out: [TraceEvent], chainsRight: Bool), expected: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.out.count, expected, "every event comes out", file: file, line: line)
        XCTAssertEqual(Set(run.out.map(\.sequence)).count, expected, "each event once", file: file, line: line)
        let inOrder = zip(run.out, run.out.dropFirst()).allSatisfy { EventQueue.precedes($0, $1) }
        XCTAssertTrue(inOrder, "in (time, arrival) order", file: file, line: line)
        XCTAssertTrue(run.chainsRight, "each fault entry keeps its own stack", file: file, line: line)
    }

    /// Held for many releases (a slack of five drains), with a CPU that lags by up to two
    /// drains: new events land among the held ones, and the queue lets go of processed
    /// events and stacks many times over (tens of thousands of each).
    func testEventsComeOutOnceInOrderWithTheirStacks() {
        let r = run(drains: 400, perDrain: 150, lag: 2_000_000, slack: 5_000_000, seed: 42)
        check(r, expected: 400 * 2 * 150)
    }

    /// No lag: every new event is later than the held ones (nothing to merge).
    func testInOrderDrainsAppendBehindTheHeld() {
        check(run(drains: 200, perDrain: 100, lag: 0, slack: 3_000_000, seed: 7), expected: 200 * 2 * 100)
    }

    /// Everything released at each drain (no slack, no lag): the queue empties every time.
    func testReleasingEverythingEachTimeLosesNothing() {
        check(run(drains: 50, perDrain: 40, lag: 0, slack: 0, seed: 3), expected: 50 * 2 * 40)
    }
}

/// A small seeded generator, so a failure repeats.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
