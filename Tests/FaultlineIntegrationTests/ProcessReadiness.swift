// Waiting for a process to be ready for a signal, by what /proc says of it, instead of
// sleeping and hoping: a signal sent before the handler is installed kills the process (or
// is lost), whatever the machine's load. Hazard: the wait itself has a limit only so that a
// broken recorder fails the test instead of hanging it; the limit is never a speed claim.

import Foundation
import XCTest

enum ProcessReadiness {
    /// Whether `signal` no longer takes `pid` by its default action: a handler of its own is
    /// installed (SigCgt), or the signal is blocked to be read from a signalfd (SigBlk, as
    /// the recorder does).
    static func handles(_ pid: pid_t, _ signal: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        func mask(_ field: String) -> UInt64 {
            status.split(separator: "\n").first { $0.hasPrefix(field + ":") }
                .flatMap { UInt64($0.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces), radix: 16) } ?? 0
        }
        return (mask("SigCgt") | mask("SigBlk")) & (1 << UInt64(signal - 1)) != 0
    }

    /// The children of every thread of `pid` (/proc/PID/task/TID/children).
    static func children(of pid: pid_t) -> [pid_t] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { tid in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { pid_t($0) }
        }
    }

    /// The process's name as the kernel has it (its comm): the program it runs since its exec.
    static func name(_ pid: pid_t) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines)
    }

    /// Waits until `ready` holds, polling; fails the test (and returns false) if it never
    /// does while the recorder under test is alive.
    static func wait(for what: String, while alive: () -> Bool = { true }, file: StaticString = #filePath, line: UInt = #line,
                     until ready: () -> Bool) -> Bool {
        // A hang guard only (see the top of the file).
        let giveUp = Date().addingTimeInterval(120)
        while !ready() {
            guard alive(), Date() < giveUp else {
                XCTFail("never ready: \(what)", file: file, line: line)
                return false
            }
            usleep(2_000)
        }
        return true
    }
}
