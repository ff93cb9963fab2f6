// Naming on several threads: who names which frame (NamingQueue, driven by hand and by
// seeded random interleavings, with the costs a thread would have measured), and that the
// answers come back in frame order, each frame named once, whatever the number of threads.
// Real modules and a real recording: FaultlineIntegrationTests/NamingThreadsTests.

import XCTest
import Glibc
import FaultlineCore
import FaultlineTestSupport
@testable import FaultlineSymbolize

private struct NoClaim: Error {}

final class NamingQueueTests: XCTestCase {
    private let ms: UInt64 = 1_000_000

    private func claim(_ next: NamingQueue.Next, file: StaticString = #filePath, line: UInt = #line) throws -> NamingQueue.Claim {
        guard case .name(let claim) = next else {
            XCTFail("expected a frame, got \(next)", file: file, line: line)
            throw NoClaim() // the test stops here, failed (not skipped)
        }
        return claim
    }

    func testModulesGoOutMostFramesFirstThenByFirstAppearance() throws {
        // a: frames 0, 5; b: 1, 2; c: 3, 4, 6
        var queue = NamingQueue(moduleOf: ["a", "b", "b", "c", "c", "a", "c"])
        XCTAssertEqual(queue.modules.map(\.frames), [[3, 4, 6], [0, 5], [1, 2]])
        let first = try claim(queue.next(after: nil))
        XCTAssertEqual(first, .init(module: 0, frame: 3, opening: true))
        let second = try claim(queue.next(after: nil))
        XCTAssertEqual(second, .init(module: 1, frame: 0, opening: true), "a second thread takes the next module")
        queue.named(first, ns: 5 * ms)
        XCTAssertEqual(try claim(queue.next(after: 0)), .init(module: 0, frame: 4, opening: false),
                       "a thread stays on its module while it has frames")
    }

    func testAThreadJoinsAModuleWhenWhatIsLeftOutweighsOpeningIt() throws {
        let frames = ["big"] + Array(repeating: "big", count: 99) + ["small"]
        for (perFrame, joins) in [(1 * ms, true), (ms / 10, false)] {
            var queue = NamingQueue(moduleOf: frames)
            let owner = try claim(queue.next(after: nil))
            let other = try claim(queue.next(after: nil))
            XCTAssertEqual(queue.modules[other.module].frames, [100])
            queue.named(other, ns: ms)
            XCTAssertEqual(queue.next(after: other.module), .wait, "big's cost is not known while it opens")
            queue.named(owner, ns: 10 * ms) // opening: 10 ms
            XCTAssertEqual(queue.next(after: other.module), .wait, "nor before a frame after the opening")
            let second = try claim(queue.next(after: owner.module))
            queue.named(second, ns: perFrame)
            // 98 frames left: 98 ms at 1 ms a frame, two threads save 49 ms > 10 ms to open;
            // at 0.1 ms a frame they would save 4.9 ms < 10 ms.
            let next = queue.next(after: other.module)
            if joins {
                XCTAssertEqual(next, .name(.init(module: owner.module, frame: 2, opening: true)))
                XCTAssertEqual(queue.modules[owner.module].threads, 2)
            } else {
                XCTAssertEqual(next, .done)
            }
        }
    }

    func testWorthJoiningWeighsTheShareSavedAgainstOpening() {
        // 120 ms left, 10 ms to open: a second thread saves 60 ms, a third 20, a fourth 10.
        XCTAssertTrue(NamingQueue.worthJoining(leftNs: 120, threads: 1, openNs: 10))
        XCTAssertTrue(NamingQueue.worthJoining(leftNs: 120, threads: 2, openNs: 10))
        XCTAssertFalse(NamingQueue.worthJoining(leftNs: 120, threads: 3, openNs: 10))
        XCTAssertFalse(NamingQueue.worthJoining(leftNs: 19, threads: 1, openNs: 10))
    }

    func testAlwaysJoinsWhileFramesAreLeftAndNeverWaits() throws {
        var queue = NamingQueue(moduleOf: ["a", "a", "a", "b"], policy: .always)
        let a = try claim(queue.next(after: nil))
        let b = try claim(queue.next(after: nil))
        queue.named(b, ns: 1)
        XCTAssertEqual(queue.next(after: b.module), .name(.init(module: a.module, frame: 1, opening: true)))
        XCTAssertEqual(queue.next(after: nil), .name(.init(module: a.module, frame: 2, opening: true)))
        XCTAssertEqual(queue.next(after: nil), .done)
    }

    /// Threads interleaved at random, each naming frames in random times: every frame is
    /// handed out once, no thread waits for ever, and the queue ends with all named.
    func testEveryFrameGoesOutOnceWhateverTheInterleaving() {
        for seed in UInt64(1)...300 {
            var random = SeededGenerator(seed: seed)
            let moduleCount = Int.random(in: 1...6, using: &random)
            let keys = (0..<Int.random(in: 1...80, using: &random)).map { _ in Int.random(in: 0..<moduleCount, using: &random) }
            let policy: NamingJoinPolicy = seed % 3 == 0 ? .always : .whenWorthIt
            var queue = NamingQueue(moduleOf: keys, policy: policy)
            struct Thread { var current: Int?; var holding: NamingQueue.Claim?; var waiting = false; var done = false }
            var threads = Array(repeating: Thread(), count: Int.random(in: 1...4, using: &random))
            var handed = [Int](repeating: 0, count: keys.count)
            var steps = 0
            while threads.contains(where: { !$0.done }) {
                steps += 1
                let runnable = threads.indices.filter { !threads[$0].done && !threads[$0].waiting }
                guard let t = runnable.randomElement(using: &random) else {
                    XCTFail("seed \(seed): every thread waits, none holds a frame")
                    break
                }
                if let held = threads[t].holding {
                    queue.named(held, ns: UInt64.random(in: 1...20_000_000, using: &random))
                    threads[t].holding = nil
                    for w in threads.indices { threads[w].waiting = false } // the broadcast
                    continue
                }
                switch queue.next(after: threads[t].current) {
                case .name(let claim):
                    XCTAssertEqual(keys[claim.frame], keys[queue.modules[claim.module].frames[0]], "seed \(seed)")
                    handed[claim.frame] += 1
                    threads[t].holding = claim
                    threads[t].current = claim.module
                case .wait:
                    threads[t].waiting = true
                case .done:
                    threads[t].done = true
                }
                if steps > 10_000 { XCTFail("seed \(seed): no end"); break }
            }
            XCTAssertEqual(handed, Array(repeating: 1, count: keys.count), "seed \(seed)")
            XCTAssertEqual(queue.finished, keys.count, "seed \(seed)")
        }
    }
}

/// Answers from the path and offset alone, as a real module does, and notes the threads it
/// was used on.
private final class FakeSymbolizer: BuildAwareSymbolizer {
    var threads: Set<UInt> = []
    var asked: [FrameAddress] = []
    func hasModule(path modulePath: String, buildID: [UInt8]) -> Bool { !modulePath.hasSuffix("gone") }
    func symbolize(modulePath: String, buildID: [UInt8], fileOffset: UInt64) -> Symbol? {
        threads.insert(UInt(pthread_self()))
        asked.append(FrameAddress(modulePath: modulePath, buildID: buildID, fileOffset: fileOffset))
        if fileOffset % 7 == 0 { return nil }
        return Symbol(function: "f\(fileOffset)", file: modulePath + ".c", line: Int(fileOffset % 100),
                      inlinedInto: fileOffset % 3 == 0 ? [SourceFunction(function: "g\(fileOffset)")] : [])
    }
}

final class NamingWorkersTests: XCTestCase {
    private func frames(seed: UInt64) -> [FrameAddress] {
        var random = SeededGenerator(seed: seed)
        let paths = ["/lib/libc.so.6", "/usr/bin/node", "/lib/libm.so.6", "/opt/gone", "/lib/libpython3.so"]
        return (0..<400).map { _ in
            FrameAddress(modulePath: paths.randomElement(using: &random)!, buildID: [1, 2],
                         fileOffset: UInt64.random(in: 0..<100_000, using: &random))
        }
    }

    private func expected(_ frames: [FrameAddress]) -> [NamedFrame] {
        frames.map { NamedFrame($0, asking: FakeSymbolizer()) }
    }

    func testAnswersComeInFrameOrderEachFrameAskedOnceOnItsThreadAlone() {
        let frames = frames(seed: 7)
        let want = expected(frames)
        XCTAssertTrue(want.contains { $0.symbol == nil && !$0.fromRecordedBuild }, "a frame of a file that is gone")
        XCTAssertTrue(want.contains { $0.symbol == nil && $0.fromRecordedBuild }, "a frame its build has no name for")
        for threads in [1, 2, 4] {
            for join in [NamingJoinPolicy.whenWorthIt, .always] {
                let made = Monitor()
                var symbolizers: [FakeSymbolizer] = []
                let got = NamingWorkers.name(frames, threads: threads, join: join, makeSymbolizer: {
                    let s = FakeSymbolizer()
                    made.lock(); symbolizers.append(s); made.unlock()
                    return s
                })
                XCTAssertEqual(got, want, "\(threads) threads, \(join)")
                XCTAssertEqual(symbolizers.flatMap(\.asked).sorted { ($0.modulePath, $0.fileOffset) < ($1.modulePath, $1.fileOffset) },
                               frames.sorted { ($0.modulePath, $0.fileOffset) < ($1.modulePath, $1.fileOffset) },
                               "every frame asked once")
                XCTAssertTrue(symbolizers.allSatisfy { $0.threads.count == 1 }, "a symbolizer stays on its thread")
                XCTAssertLessThanOrEqual(symbolizers.count, threads)
            }
        }
    }

    func testProgressIsHeardOnTheCallingThreadUpToEveryFrame() {
        let frames = frames(seed: 11)
        let caller = pthread_self()
        var heard: [Int] = []
        var elsewhere = 0
        _ = NamingWorkers.name(frames, threads: 3, join: .always, makeSymbolizer: { FakeSymbolizer() }, progress: { done in
            if pthread_equal(pthread_self(), caller) == 0 { elsewhere += 1 }
            heard.append(done)
        })
        XCTAssertEqual(elsewhere, 0)
        XCTAssertEqual(heard.last, frames.count)
        XCTAssertEqual(heard, heard.sorted(), "the count never goes back")
    }

    func testNoFramesNoThreads() {
        XCTAssertEqual(NamingWorkers.name([], threads: 4, makeSymbolizer: { XCTFail("no symbolizer needed"); return FakeSymbolizer() }), [])
    }
}
