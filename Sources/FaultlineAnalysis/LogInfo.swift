// `info FILE`: what a log holds and whether it can be trusted, without symbolizing
// anything (it must stay fast on a huge log and work where the binaries are gone).

import Foundation
import FaultlineCore
import FaultlineLog

public enum LogInfo {
    /// With `selection` (`info --pid/--comm`), the processes table and the counts by kind
    /// are of the selected processes only; the header, the file and its integrity stay the
    /// whole log's.
    public static func render(_ log: LoadedLog, selection: FaultSelection = .everything) -> String {
        let h = log.header
        var out = "faultline log \(log.path)\n"

        var header = TextTable([.left, .left])
        header.add(["command", log.commandLine])
        header.add(["kernel", [h.kernelRelease, h.machine].filter { !$0.isEmpty }.joined(separator: " ")
            + (h.hostname.isEmpty ? "" : " on \(h.hostname)")])
        header.add(["page size", "\(TextFormat.count(h.pageSize)) bytes"])
        header.add(["THP", h.thpMode.isEmpty ? "unknown" : h.thpMode])
        header.add(["call graph", h.callGraph.isEmpty ? "unknown" : h.callGraph])
        header.add(["recorder", h.recorderVersion.isEmpty ? "unknown" : h.recorderVersion])
        // Whether the log names its own frames, or needs the binaries at report time.
        let named = log.symbols.count
        header.add(["symbols", named > 0
            ? "\(TextFormat.count(UInt64(named))) of \(TextFormat.count(UInt64(log.frames.count))) frames named when recorded (the log reads anywhere)"
            : "none recorded: frames are named from the binaries (by build-id and offset) at report time"])
        header.add(["started", startTime(h)])
        header.add(["duration", TextFormat.duration(ns: log.durationNs)])
        let faults = UInt64(log.faults.count)
        let perFault = faults > 0 ? String(format: "%.1f", Double(log.fileSize) / Double(faults)) : "-"
        header.add(["file", "\(TextFormat.bytes(log.fileSize)) (\(TextFormat.count(log.fileSize)) bytes) "
            + "in \(TextFormat.count(log.chunks)) chunks, \(perFault) bytes per fault"])
        for key in h.extra.keys.sorted() { header.add([key, h.extra[key] ?? ""]) }
        let selected = FaultSelection(pids: selection.pids)
        if selected.pids != nil {
            // "(pids 12, 14)" as a title has it, then the names asked for.
            header.add(["selected", String(selected.titleSuffix.dropFirst(2).dropLast()) + (selection.label.map { " (\($0))" } ?? "")
                        + "; the processes and faults by kind below are theirs only"])
        }
        out += header.render()

        var counts = KindCounts()
        var perPid: [Int32: KindCounts] = [:]
        for f in log.faults where selected.matches(f) {
            counts.add(f)
            perPid[f.pid, default: KindCounts()].add(f)
        }

        out += "\nprocesses\n"
        var processes = TextTable([.right, .right, .right, .right, .right, .left, .left])
        // RSS at exit: the kernel's resident memory (anonymous, file and shmem) as the process
        // exited, which replay's self-check compares the model's with.
        processes.add(["pid", "ppid", "faults", "kernel min/maj", "RSS at exit", "exit", "command"])
        var disagreements: [String] = []
        var explained: [String] = []
        for pid in Set(log.processes.keys).union(perPid.keys).filter(selected.matches(pid:)).sorted() {
            let p = log.processes[pid]
            let recorded = perPid[pid] ?? KindCounts()
            var kernel = "-"
            if let minor = p?.kernelCountedMinor, let major = p?.kernelCountedMajor {
                kernel = "\(TextFormat.count(minor))/\(TextFormat.count(major))"
                // DESIGN.md: only faults the kernel takes through get_user_pages raise no
                // event: execve's argument copy, and a futex call on shared memory the
                // process has not touched (get_futex_key faults the page in: 64 shared
                // FUTEX_WAKEs on fresh MAP_SHARED pages counted 64 minor faults and raised
                // no event). Each counts for the task that made the call: a tracer's peeks
                // are the tracer's. A few per exec.
                let execs = UInt64(max(1, p?.commands.count ?? 1))
                if major == recorded.accountedMajor && minor >= recorded.minor && minor - recorded.minor <= 8 * execs {
                    if minor > recorded.minor {
                        explained.append("pid \(pid): \(TextFormat.count(minor - recorded.minor))")
                    }
                } else {
                    disagreements.append("pid \(pid): recorded \(TextFormat.count(recorded.minor)) minor, "
                        + "\(TextFormat.count(recorded.accountedMajor)) major; the kernel counted "
                        + "\(TextFormat.count(minor)) minor, \(TextFormat.count(major)) major")
                }
            }
            processes.add([String(pid), p.map { String($0.ppid) } ?? "?", TextFormat.count(recorded.faults),
                           kernel, p?.kernelResident.map { TextFormat.bytes($0.anonBytes.addingSaturated($0.fileBytes).addingSaturated($0.shmemBytes)) } ?? "-",
                           exitStatus(p), p?.command ?? "?"])
        }
        out += processes.render()
        if !explained.isEmpty {
            out += "faults the kernel counted without an event (get_user_pages: exec copying the "
                + "arguments, a futex on shared memory not yet touched and the like; expected, a few per exec): "
                + explained.joined(separator: ", ") + "\n"
        }
        if !disagreements.isEmpty {
            out += "WARNING: the recording and the kernel's own counters differ by more than "
                + "an exec's get_user_pages faults explain (lost events; a recorder bug; or the program's "
                + "own get_user_pages faults: memory filled for MAP_POPULATE, mlock, mlockall or MADV_POPULATE_*, "
                + "which `replay` counts as filled faults, or many futex calls on shared memory it never touched):\n"
            for line in disagreements { out += "  \(line)\n" }
        }

        // Who looked at the host's THP mode: what they did may hold only under it (replay warns).
        let readers = log.thpSettingReaders
        if !readers.isEmpty {
            out += "read the THP setting (\(log.header.thpMode)) and may have chosen by it: pid "
                + readers.prefix(10).map(String.init).joined(separator: ", ")
                + (readers.count > 10 ? " and \(readers.count - 10) more" : "") + "\n"
        }

        out += selected.pids == nil ? "\nfaults by kind\n" : "\nfaults by kind (the selected processes')\n"
        var kinds = TextTable([.left, .right])
        for kind in FaultKind.allCases { kinds.add([kind.name, TextFormat.count(counts[kind])]) }
        kinds.add(["(swap from disk)", TextFormat.count(counts.swapFromDisk)])
        kinds.add(["minor (kernel's)", TextFormat.count(counts.minor)])
        kinds.add(["major (kernel's)", TextFormat.count(counts.accountedMajor)])
        kinds.add(["total", TextFormat.count(counts.faults)])
        out += kinds.render()

        out += "\n"
        out += (LossWarning.line(lost: log.totalLost, throttled: log.totalThrottled) ?? "lost events: 0, throttled: 0") + "\n"
        for notice in UnrecordedNotice.all(in: log) { out += notice.warning + "\n" }
        if let s = log.summary {
            out += "unaccounted fault entries: \(TextFormat.count(s.unaccountedEntries))"
                + " (kernel fix-ups and spurious faults; not counted as faults)\n"
            if s.faults != faults {
                out += "WARNING: the summary says \(TextFormat.count(s.faults)) faults, the log holds \(TextFormat.count(faults))\n"
            }
        }
        if log.danglingReferences > 0 {
            out += "WARNING: \(TextFormat.count(log.danglingReferences)) record\(log.danglingReferences == 1 ? "" : "s") referred to table entries the log never defined\n"
        }
        out += "integrity: " + (log.integrityProblem.map { "incomplete: \($0)" } ?? "complete") + "\n"
        return out
    }

    private static func startTime(_ h: LogHeader) -> String {
        guard h.startWallSeconds > 0 else { return "unknown" }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(h.startWallSeconds)))
    }

    private static func exitStatus(_ p: ProcessRecord?) -> String {
        guard let p else { return "?" }
        guard let x = p.exit else { return "running" }
        if x.signal != 0 { return "signal \(x.signal)" }
        return "exit \(x.exitCode)"
    }
}
