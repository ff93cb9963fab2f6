// Names for frames in JIT-compiled code, from the perf maps its runtimes write
// (/tmp/perf-PID.map, see PerfMap). A map is read when its process exits (at its exit
// stop, before anyone can delete it) and, for processes still running when recording
// ends, then. Frames in anonymous code are kept by address, not by process, so each
// remembers which processes ran it; a forked child runs its parent's code, so a process
// without a map that covers an address asks its ancestors'.

import Glibc
import FaultlineCore
import FaultlineLog
import FaultlineSymbolize

final class JITNames {
    private var maps: [Int32: PerfMap] = [:]
    /// Size of each map file when last read: a map only grows, so an unchanged size means
    /// nothing new (a process with many threads exits once per thread).
    private var readSizes: [Int32: Int] = [:]
    /// Processes that ran each frame in anonymous memory, at most `maxProcessesPerFrame`.
    private var framePIDs: [FrameID: [Int32]] = [:]
    private var parents: [Int32: Int32] = [:]
    static let maxProcessesPerFrame = 8

    /// `frame`, at an absolute address in anonymous memory, was in a stack of `pid`.
    func noteAnonymousFrame(_ frame: FrameID, pid: Int32) {
        var pids = framePIDs[frame] ?? []
        guard pids.count < Self.maxProcessesPerFrame, !pids.contains(pid) else { return }
        pids.append(pid)
        framePIDs[frame] = pids
    }

    func noteFork(child: Int32, parent: Int32) {
        parents[child] = parent
    }

    /// Reads `pid`'s perf map, if it has one that its own user owns (or root) and it grew
    /// since last read. Call while the process still exists (its owner is /proc/PID's).
    func capture(pid: Int32) {
        let path = PerfMap.path(pid: pid)
        var file = stat(), process = stat()
        guard stat(path, &file) == 0, stat("/proc/\(pid)", &process) == 0 else { return }
        guard readSizes[pid] != Int(file.st_size) else { return }
        guard let map = PerfMap.read(path: path, owner: process.st_uid) else { return }
        maps[pid] = map
        readSizes[pid] = Int(file.st_size)
    }

    /// The frames in anonymous memory each process ran, for a last capture of those still alive.
    var processesWithAnonymousFrames: Set<Int32> { Set(framePIDs.values.joined()) }

    /// The name of `address` for a frame run by `pids`: from each one's map, then its
    /// ancestors' (a child runs the code its parent compiled before the fork).
    func name(of frame: FrameID, address: UInt64) -> String? {
        for pid in framePIDs[frame] ?? [] {
            var current: Int32? = pid
            var visited: Set<Int32> = []
            while let p = current, visited.insert(p).inserted {
                if let name = maps[p]?.name(at: address) { return name }
                current = parents[p]
            }
        }
        return nil
    }

    var isEmpty: Bool { framePIDs.isEmpty }
}
