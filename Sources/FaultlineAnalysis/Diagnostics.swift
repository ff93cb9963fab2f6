// The one-line messages the command line prints on standard error. Failures a person can
// fix (missing file, not a log, unwritable output) become "faultline: <message>", never a
// backtrace; everything else is left to the caller.

import Foundation
import FaultlineLog

public enum Diagnostics {
    public static func error(_ message: String) {
        FileHandle.standardError.write(Data("faultline: \(message)\n".utf8))
    }

    public static func warning(_ message: String) {
        FileHandle.standardError.write(Data("faultline: warning: \(message)\n".utf8))
    }

    /// The message for an expected failure, or nil for an error the caller should rethrow.
    public static func failureMessage(_ error: Error) -> String? {
        switch error {
        case let e as LogReadError: return e.description
        case let e as OutputError: return e.description
        case let e as LogWriteError: return e.description
        case let e as OutputFileError: return e.description
        default: return nil
        }
    }

    /// Loads a log for a command: damage and a missing summary are warned about on
    /// standard error and what was read is returned; a file that is not a log throws.
    /// `parallel`: decoded on every core.
    public static func loadLog(path: String, faults detail: FaultDetail = .every, parallel: Bool = true) throws -> LoadedLog {
        let log = try LoadedLog.load(path: path, parallel: parallel, faults: detail)
        for line in log.readWarnings { warning(line) }
        return log
    }

    public static func loadTimeline(path: String) throws -> Timeline {
        let timeline = try Timeline.load(path: path)
        for line in timeline.log.readWarnings { warning(line) }
        return timeline
    }
}
