// What a reader of a report must be told about the log itself: damage, a missing summary,
// lost or throttled events. Shared by report, export and info so they all say the same.

import FaultlineLog

extension LoadedLog {
    /// Why the log is not complete, or nil when it is.
    public var integrityProblem: String? {
        if let damage { return damage.description }
        if summary == nil { return "no summary: the recording was cut off" }
        return nil
    }

    /// Lines for stderr, each to be prefixed "faultline: warning: ".
    public var readWarnings: [String] {
        var lines: [String] = []
        if let damage {
            lines.append(damage.description)
        } else if summary == nil {
            lines.append("log has no summary: the recording was cut off; reading what was written")
        }
        if danglingReferences > 0 {
            lines.append("\(danglingReferences) record\(danglingReferences == 1 ? "" : "s") referred to table entries the log never defined")
        }
        return lines
    }

    /// Events the kernel dropped. The summary counts what the recorder saw; the records
    /// count what reached the log; a cut-off log has only the latter. Take the larger.
    public var totalLost: UInt64 { max(lost, summary?.lost ?? 0) }
    public var totalThrottled: UInt64 { max(throttled, summary?.throttled ?? 0) }

    /// The recorded command line, or the first process's command when the header has none;
    /// "command unknown" for a log cut inside its first chunk, which held both (a title of
    /// "?" read as a command named "?").
    public var commandLine: String {
        if !header.command.isEmpty { return header.command.joined(separator: " ") }
        return processes.values.min { $0.startNs < $1.startNs }?.command ?? "command unknown"
    }

    /// From the start of recording to its end (the summary), or to the last event seen
    /// when the recording was cut off.
    public var durationNs: UInt64 {
        let end = summary?.endTimeNs
            ?? max(faults.last?.timeNs ?? 0, mmaps.last?.timeNs ?? 0)
        return end > header.startTimeNs ? end - header.startTimeNs : 0
    }
}

/// The one loud line for lost or throttled events, shared by report and info.
enum LossWarning {
    static func line(lost: UInt64, throttled: UInt64) -> String? {
        var what: [String] = []
        if lost > 0 { what.append("LOST \(TextFormat.count(lost)) events") }
        if throttled > 0 { what.append("THROTTLED sampling \(TextFormat.count(throttled)) time" + (throttled == 1 ? "" : "s")) }
        guard !what.isEmpty else { return nil }
        return "WARNING: the kernel " + what.joined(separator: " and ") + ": every count here is a LOWER BOUND"
    }
}
