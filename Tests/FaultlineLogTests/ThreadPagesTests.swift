// ThreadPages against a Dictionary: every thread's last page through interleaved runs of
// threads, growth of the table (its slots move), and the three ways in (page, set, advance).

import XCTest
import FaultlineTestSupport
@testable import FaultlineLog

final class ThreadPagesTests: XCTestCase {
    func testEveryThreadKeepsItsOwnLastPage() {
        var rng = SeededGenerator(seed: 5)
        var table = ThreadPages()
        var reference: [Int32: UInt64] = [:]
        for step in 0..<50_000 {
            // Runs of one thread, among a number of threads that grows past several table sizes.
            let threads = Int32(min(2 + step / 200, 300))
            let tid = rng.next() % 3 == 0 ? Int32.min + Int32(rng.next() % 3) : Int32(rng.next() % UInt64(threads)) - 5
            let run = Int(rng.next() % 4) + 1
            for _ in 0..<run {
                let delta = rng.next() >> (rng.next() % 64)
                switch rng.next() % 3 {
                case 0:
                    let expected = (reference[tid] ?? 0) &+ delta
                    XCTAssertEqual(table.advance(tid, by: delta), expected, "step \(step), thread \(tid)")
                    reference[tid] = expected
                case 1:
                    table.set(delta, for: tid)
                    reference[tid] = delta
                default:
                    XCTAssertEqual(table.page(of: tid), reference[tid] ?? 0, "step \(step), thread \(tid)")
                }
            }
        }
        for (tid, page) in reference { XCTAssertEqual(table.page(of: tid), page, "thread \(tid)") }
        XCTAssertEqual(table.page(of: 123_456), 0, "a thread never seen")
    }
}
