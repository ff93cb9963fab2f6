// Losing nothing: two threads each write 1 GiB as fast as they can (~524k faults in about
// 1.5 s untraced), and a thousand threads write at once. Every fault is recorded, nothing is
// lost or throttled, and the totals equal the kernel's own counters. The recorder pauses the
// program when it falls behind; a recording the kernel did drop events from fails.

import XCTest
import FaultlineCore
import FaultlineLog

final class StormTests: XCTestCase {
    func testTwoThreadStormLosesNothing() throws {
        let run = try Samples.record("thread_storm", ["1024"])
        XCTAssertEqual(run.result.counts.lost, 0)
        XCTAssertEqual(run.result.counts.throttled, 0)
        XCTAssertEqual(run.log.lost, 0)
        XCTAssertEqual(run.expectations.count, 2)
        XCTAssertEqual(run.expectations.map(\.count).reduce(0, +), 2 * 262_144)
        assertExpectations(run)
        assertRecordedMatchesKernel(run)
    }

    /// Four threads write one shared 64 MiB, each page once, in a shuffled order: every
    /// fault is recorded, as the thread that took it, and no page twice.
    func testFourThreadsWritingShuffledPagesLoseNothing() throws {
        let run = try Samples.record("random_touch", ["64", "4"])
        XCTAssertEqual(run.result.counts.lost, 0)
        XCTAssertEqual(run.result.counts.throttled, 0)
        XCTAssertEqual(run.expectations.count, 4)
        XCTAssertEqual(run.expectations.map(\.count).reduce(0, +), 16_384)
        assertExpectations(run)
        let e = try XCTUnwrap(run.expectations.first)
        let written = run.faults(pid: e.pid, in: e.start..<e.end).filter { $0.kind == .anon }
        XCTAssertEqual(written.count, 16_384)
        XCTAssertEqual(Set(written.map { $0.address >> 12 }).count, 16_384, "each page once")
        assertRecordedMatchesKernel(run)
    }

    /// A thousand threads released at once from a barrier, 300 pages each, on a machine of
    /// a few CPUs: a fair-share recorder went more than a second without the CPU while they
    /// ran, and lost most of their faults.
    func testThousandThreadsAtOnceLoseNothing() throws {
        let threads = 1000, pages = 300
        let run = try Samples.record("thread_swarm", [String(threads), String(pages), "together"])
        XCTAssertEqual(run.result.counts.lost, 0)
        XCTAssertEqual(run.result.counts.throttled, 0)
        XCTAssertEqual(run.expectations.count, threads, "every thread printed its range")
        // Each thread's own range holds exactly its pages, all first writes by that thread.
        var anonByThread: [Int32: [UInt64]] = [:]
        for f in run.log.faults where f.kind == .anon { anonByThread[f.tid, default: []].append(f.address) }
        var short: [String] = []
        for e in run.expectations {
            let n = anonByThread[e.tid, default: []].filter { $0 >= e.start && $0 < e.end }.count
            if n != e.count { short.append("thread \(e.tid): \(n) of \(e.count)") }
        }
        XCTAssertEqual(short.count, 0, "threads whose faults were not all recorded: \(short.prefix(5)) ...")
        let inRanges = run.expectations.map(\.count).reduce(0, +)
        XCTAssertEqual(inRanges, threads * pages)
        assertRecordedMatchesKernel(run)
    }

    /// 128 threads each writing its own pages in a shuffled order as soon as it starts, on
    /// a machine of a few CPUs: a thread preempted inside a fault writes it long after its
    /// time. Every fault is recorded, and replay, which puts them back in time order and
    /// takes the chunks holding such late faults early (PartQueue), replays each one once:
    /// its self-check matches the log, kind for kind.
    func testManyThreadsWritingAtRandomAreRecordedAndReplayedWhole() throws {
        let threads = 128, pages = 2000
        let run = try Samples.record("thread_swarm", [String(threads), String(pages), "staggered", "shuffled"])
        XCTAssertEqual(run.result.counts.lost, 0)
        XCTAssertEqual(run.expectations.count, threads, "every thread printed its range")
        XCTAssertEqual(run.expectations.map(\.count).reduce(0, +), threads * pages)
        assertExpectations(run)
        assertRecordedMatchesKernel(run)
        let replayed = try CLI(test: name).run(["replay", run.logPath, "--page-size", "4k", "--thp", "never", "--format", "json"])
        XCTAssertEqual(replayed.status, 0, replayed.stderr)
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(replayed.stdout.utf8)) as? [String: Any])
        let check = try XCTUnwrap(root["self_check"] as? [String: Any])
        XCTAssertEqual(check["matches"] as? Bool, true, "\(check)")
        let anon = run.log.faults.filter { $0.kind == .anon }.count
        XCTAssertGreaterThanOrEqual(anon, threads * pages)
        XCTAssertEqual((check["replayed"] as? [String: Int])?["anon"], anon)
    }
}
