// Faults counted per (process, stack), the common input of the folded, pprof and speedscope
// exports and the flame graph. Counting by StackID first and naming only distinct stacks
// keeps naming (the slow part) proportional to stacks, not faults.

import FaultlineCore
import FaultlineLog

public struct StackCounts: Sendable {
    public struct Entry: Sendable, Equatable {
        public var pid: Int32
        public var stack: StackID
        public var counts: KindCounts
    }

    /// Sorted by pid, then stack id, so every output built from them is deterministic.
    public var entries: [Entry]
    /// Every fault counted (those passing the filter): what each export must add up to.
    public var total: KindCounts

    public init(log: LoadedLog, filter: FaultKindFilter? = nil) {
        struct Key: Hashable { var pid: Int32; var stack: StackID }
        var byKey: [Key: KindCounts] = [:]
        var total = KindCounts()
        for f in log.faults where filter?.matches(f.kind) ?? true {
            byKey[Key(pid: f.pid, stack: f.stack), default: KindCounts()].add(f.kind)
            total.add(f.kind)
        }
        entries = byKey.map { Entry(pid: $0.key.pid, stack: $0.key.stack, counts: $0.value) }
            .sorted { $0.pid != $1.pid ? $0.pid < $1.pid : $0.stack < $1.stack }
        self.total = total
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
        let first = command.split(separator: " ", maxSplits: 1).first.map(String.init) ?? command
        let base = first.split(separator: "/").last.map(String.init) ?? first
        return base.isEmpty ? first : base
    }
}
