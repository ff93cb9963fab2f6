// Processes the kernel hid from the recorder (a set-user-ID exec: see UnrecordedReason),
// said loudly by report (text, JSON, HTML) and info: their faults are missing, not zero.

import FaultlineCore
import FaultlineLog

public struct UnrecordedNotice: Sendable, Equatable {
    public var pid: Int32
    public var command: String
    public var timeNs: UInt64
    public var reason: UnrecordedReason

    /// The log's unrecorded processes, with their commands as last seen.
    static func all(in log: LoadedLog) -> [UnrecordedNotice] {
        log.unrecorded.map {
            UnrecordedNotice(pid: $0.pid, command: log.processes[$0.pid]?.command ?? "?", timeNs: $0.timeNs, reason: $0.reason)
        }
    }

    /// One line for people.
    var warning: String {
        "WARNING: pid \(pid) (\(TextFormat.oneLine(command))) was NOT RECORDED from its exec on: \(reason); its faults are missing, not zero"
    }

    var jsonObject: [String: Any] {
        ["pid": Int(pid), "command": command, "time_ns": Int(clamping: timeNs), "reason": reason.name]
    }
}
