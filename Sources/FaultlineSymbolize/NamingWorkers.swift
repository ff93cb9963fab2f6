// Names many frames at once on every core: each thread has symbolizers of its own (a
// libdwfl handle is not thread-safe; elfutils' thread-safety notes allow distinct handles
// that share no state on distinct threads at once), NamingQueue decides which thread names
// which frame, and the answers come back in the order the frames were given, whatever the
// split: a frame's name depends only on its file and offset.
// Hazards: a thread blocks in libdw for as long as a module takes to open (a large debug
// file: tens of milliseconds), and the progress callback runs only on the calling thread,
// between frames, so it never sees a frame half named.

import Dispatch
import Glibc
import FaultlineCore

/// A frame as a symbolizer is asked about it.
public struct FrameAddress: Sendable, Hashable {
    public var modulePath: String
    public var buildID: [UInt8]
    public var fileOffset: UInt64
    public init(modulePath: String, buildID: [UInt8], fileOffset: UInt64) {
        self.modulePath = modulePath; self.buildID = buildID; self.fileOffset = fileOffset
    }
}

/// What a symbolizer said of a frame.
public struct NamedFrame: Sendable, Equatable {
    public var symbol: Symbol?
    /// The answer is the recorded build's own: a name, or a "no name" from the very build
    /// the frame was recorded from (not from a file that is gone or was rebuilt). Only such
    /// answers may be kept by build-id (CachingSymbolizer).
    public var fromRecordedBuild: Bool

    public init(symbol: Symbol?, fromRecordedBuild: Bool) {
        self.symbol = symbol; self.fromRecordedBuild = fromRecordedBuild
    }

    /// Asks `symbolizer` about `frame`.
    public init(_ frame: FrameAddress, asking symbolizer: BuildAwareSymbolizer) {
        symbol = symbolizer.symbolize(modulePath: frame.modulePath, buildID: frame.buildID, fileOffset: frame.fileOffset)
        fromRecordedBuild = symbol != nil || symbolizer.hasModule(path: frame.modulePath, buildID: frame.buildID)
    }
}

/// Whether a naming thread with nothing of its own may open a module another thread is
/// naming (see NamingQueue).
public enum NamingJoinPolicy: Sendable {
    /// When what is left of the module would take longer than opening it again (measured
    /// as the threads go).
    case whenWorthIt
    /// Whenever frames are left: the most splitting (tests check names do not depend on it).
    case always
}

public enum NamingWorkers {
    /// Names `frames` on up to `threads` threads (the calling one included); the answers
    /// are in the order of `frames`. `makeSymbolizer` is called once by each thread that
    /// names a frame (several may call it at once), and the symbolizer it returns is used by
    /// that thread alone.
    /// `progress` hears how many frames are named, on the calling thread.
    public static func name(_ frames: [FrameAddress], threads: Int, join: NamingJoinPolicy = .whenWorthIt,
                            makeSymbolizer: () -> BuildAwareSymbolizer = { LibdwSymbolizer() },
                            progress: ((Int) -> Void)? = nil) -> [NamedFrame] {
        guard !frames.isEmpty else { return [] }
        let monitor = Monitor()
        var queue = NamingQueue(moduleOf: frames.map(\.modulePath), policy: join)
        let results = UnsafeMutableBufferPointer<NamedFrame>.allocate(capacity: frames.count)
        results.initialize(repeating: NamedFrame(symbol: nil, fromRecordedBuild: false))
        defer {
            _ = results.deinitialize()
            results.deallocate()
        }
        let caller = pthread_self()

        // One thread's loop: take a frame, name it outside the lock, record its time.
        func work() {
            let reports = progress != nil && pthread_equal(pthread_self(), caller) != 0
            var symbolizer: BuildAwareSymbolizer?
            var current: Int?
            monitor.lock()
            while true {
                switch queue.next(after: current) {
                case .name(let claim):
                    monitor.unlock()
                    let own = symbolizer ?? makeSymbolizer()
                    symbolizer = own
                    let start = monotonicNanoseconds()
                    results[claim.frame] = NamedFrame(frames[claim.frame], asking: own)
                    let ns = monotonicNanoseconds() &- start
                    monitor.lock()
                    queue.named(claim, ns: ns)
                    current = claim.module
                    monitor.broadcast()
                case .wait:
                    monitor.wait()
                case .done:
                    // The reporting thread stays until every frame is named, so the count
                    // keeps moving while others finish.
                    guard reports && queue.finished < queue.total else {
                        monitor.unlock()
                        return
                    }
                    monitor.wait()
                }
                if reports {
                    let finished = queue.finished
                    monitor.unlock()
                    progress?(finished)
                    monitor.lock()
                }
            }
        }

        let count = max(1, min(threads, frames.count))
        if count == 1 {
            work()
        } else {
            DispatchQueue.concurrentPerform(iterations: count) { _ in work() }
        }
        // The last frames may have been named by others after this thread last looked.
        progress?(frames.count)
        return Array(results)
    }
}

private func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}
