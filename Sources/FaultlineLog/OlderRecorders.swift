// What logs from older recorders meant differently, made to read as a current log does.
// Readers then need no knowledge of versions.

import FaultlineCore

extension LoadedLog {
    /// Recorders before 0.3.0 timed each exec at the ptrace exec stop, after the kernel had
    /// already announced the new image's mappings; since 0.3.0 an exec is timed when the
    /// address space was replaced, before them. For the older logs the exec is moved to its
    /// new image's first mapping: the [stack] (setup_arg_pages announces it first), the
    /// process's last one at or before the exec stop and after its previous exec.
    public mutating func retimeExecsOfOlderRecorders() {
        guard Self.isBefore(recorder: header.recorderVersion, 0, 3) else { return }
        var stackTimes: [Int32: [UInt64]] = [:]
        for m in mmaps where modulePath(m.module) == "[stack]" { stackTimes[m.pid, default: []].append(m.timeNs) }
        var previousExec: [Int32: UInt64] = [:]
        for i in lifecycle.indices {
            guard case .exec(let pid, let stop, let command) = lifecycle[i] else { continue }
            let floor = previousExec[pid] ?? 0
            let time = stackTimes[pid]?.last { $0 <= stop && $0 >= floor } ?? stop
            lifecycle[i] = .exec(pid: pid, timeNs: time, command: command)
            previousExec[pid] = stop
        }
    }

    /// Whether a "MAJOR.MINOR.PATCH" recorder version is older than MAJOR.MINOR; a version
    /// that is not one (a test's) counts as current.
    static func isBefore(recorder version: String, _ major: Int, _ minor: Int) -> Bool {
        let parts = version.split(separator: ".").map { Int($0) }
        guard parts.count == 3, let x = parts[0], let y = parts[1] else { return false }
        return (x, y) < (major, minor)
    }
}

extension LogHeader {
    /// Recorders before 0.4.0 read the kernel's special mappings ([vdso], [vvar]) as
    /// anonymous memory: a fault there was recorded as `zero` (a read or an instruction
    /// fetch) and, in a fork child, which faults on the vDSO again, as `swap`. It maps a page
    /// the kernel has: `file` (Backing.kernelPages). The faults are as recorded; replay's
    /// self-check reads those as `file`.
    public var classedKernelPagesAsAnonymous: Bool { LoadedLog.isBefore(recorder: recorderVersion, 0, 4) }
}
