// A process the kernel stopped the recorder from seeing: from `timeNs` on, none of its
// faults (nor those of threads and children it starts) are in the log, though it ran.

/// Why a process went unrecorded. A struct over the stored byte, not an enum, so a reason
/// written by a newer recorder survives an older reader (shown by its number).
public struct UnrecordedReason: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// exec left the process non-dumpable: a set-user-ID or set-group-ID program that changed
    /// its effective ids, gained file capabilities, or a binary it could not read. The kernel
    /// removes every perf event from such a task at the exec (begin_new_exec), so that an
    /// unprivileged monitor cannot watch a privileged program.
    public static let nonDumpableExec = UnrecordedReason(rawValue: 1)

    public var description: String {
        switch self {
        case .nonDumpableExec:
            return "its exec made it non-dumpable (a set-user-ID or set-group-ID program, or file capabilities), and the kernel removes perf events from such a process"
        default:
            return "reason \(rawValue), written by a newer recorder"
        }
    }

    /// The reason's name in JSON.
    public var name: String {
        self == .nonDumpableExec ? "non_dumpable_exec" : "reason_\(rawValue)"
    }
}

public struct UnrecordedProcess: Sendable, Equatable {
    public var pid: Int32
    public var timeNs: UInt64
    public var reason: UnrecordedReason
    public init(pid: Int32, timeNs: UInt64, reason: UnrecordedReason) {
        self.pid = pid; self.timeNs = timeNs; self.reason = reason
    }
}
