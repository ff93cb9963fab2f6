// Faults counted per (process, stack), the common input of the folded, pprof and speedscope
// exports and the flame graph. Counting by StackID first and naming only distinct stacks
// keeps naming (the slow part) proportional to stacks, not faults.

import FaultlineCore
import FaultlineLog

public struct StackCounts: Sendable {
    public struct Entry: Sendable, Equatable {
        public var pid: Int32
        public var stack: StackID
        public var tally: FaultTally
        public var counts: KindCounts { tally.counts }
    }

    /// Sorted by pid, then stack id, so every output built from them is deterministic.
    public var entries: [Entry]
    /// Every fault counted (those selected), and their time: what each export adds up to.
    public var totals: FaultTally
    public var total: KindCounts { totals.counts }

    public init(log: LoadedLog, filter: FaultKindFilter? = nil) {
        self.init(log: log, selection: FaultSelection(kind: filter))
    }

    public init(log: LoadedLog, selection: FaultSelection) {
        struct Key: Hashable { var pid: Int32; var stack: StackID }
        var byKey: [Key: FaultTally] = [:]
        var totals = FaultTally()
        for f in log.faults where selection.matches(f) {
            byKey[Key(pid: f.pid, stack: f.stack), default: FaultTally()].add(f)
            totals.add(f)
        }
        entries = byKey.map { Entry(pid: $0.key.pid, stack: $0.key.stack, tally: $0.value) }
            .sorted { $0.pid != $1.pid ? $0.pid < $1.pid : $0.stack < $1.stack }
        self.totals = totals
    }
}

extension FrameNamer {
    /// A stack's named frames (inline chains expanded), outermost caller first, as flame
    /// graphs and collapsed stacks want them. A fault with no user stack becomes the single
    /// frame `[no stack]`, so that it is still counted and shown rather than silently dropped.
    public func rootFirstNames(_ stack: StackID) -> [FrameName] {
        let names = stackNames(stack)
        if names.isEmpty { return [FrameName(function: Self.noStack)] }
        return names.reversed()
    }
}

extension LoadedLog {
    /// A process's short name for pictures and profiles: its last command's first word,
    /// without its directory ("/usr/bin/git status" → "git").
    public func processName(_ pid: Int32) -> String {
        guard let command = processes[pid]?.command, !command.isEmpty else { return "pid \(pid)" }
        return FaultSelection.shortName(command)
    }

    /// The root frame `--per-process` adds: name and pid, as stackcollapse-perf.pl --pid
    /// writes them ("cc1-4242").
    public func processFrame(_ pid: Int32) -> String {
        processes[pid]?.command.isEmpty == false ? "\(processName(pid))-\(pid)" : "[pid \(pid)]"
    }
}
