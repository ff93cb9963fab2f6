// Which faults a reading command counts: `--kind` (one kind, or every minor one) and
// `--pid`/`--comm` (some processes). Every report, export and picture takes one of these,
// so a `make -j` of a hundred processes can be read one compiler at a time.

import FaultlineCore
import FaultlineLog

public struct FaultSelection: Sendable, Equatable {
    public var kind: FaultKindFilter?
    /// The processes selected, or nil for every process.
    public var pids: Set<Int32>?
    /// How titles name the processes ("cc1"); by their pids when nil.
    public var label: String?

    public init(kind: FaultKindFilter? = nil, pids: Set<Int32>? = nil, label: String? = nil) {
        self.kind = kind; self.pids = pids; self.label = label
    }

    public static let everything = FaultSelection()

    public var selectsEverything: Bool { kind == nil && pids == nil }

    @inline(__always)
    public func matches(_ f: FaultEvent) -> Bool {
        (kind?.matches(f) ?? true) && (pids?.contains(f.pid) ?? true)
    }

    public func matches(pid: Int32) -> Bool { pids?.contains(pid) ?? true }

    /// The processes of `log` that `--pid` and `--comm` name: a pid as given (also one that
    /// only appears in faults), and every process that ran a command of that name at any
    /// time (its short name: "cc1" for "/usr/lib/gcc/x86_64-linux-gnu/12/cc1 -quiet …").
    /// nil when neither is given: every process.
    public static func processes(in log: LoadedLog, pids: [Int32], commands: [String]) -> Set<Int32>? {
        guard !pids.isEmpty || !commands.isEmpty else { return nil }
        var selected = Set(pids)
        if !commands.isEmpty {
            let wanted = Set(commands)
            for (pid, record) in log.processes where record.commands.contains(where: { wanted.contains(shortName($0)) }) {
                selected.insert(pid)
            }
        }
        return selected
    }

    /// Those of `pids` that `log` knows nothing of: no process record and no fault. The
    /// faults' pids are read only when some pid has no record.
    public static func unknownPids(_ pids: [Int32], in log: LoadedLog) -> [Int32] {
        let unrecorded = pids.filter { log.processes[$0] == nil }
        guard !unrecorded.isEmpty else { return [] }
        let faulted = Set(log.faults.isEmpty ? log.compactFaults.faultsPerPidInOrderOfAppearance().map(\.pid)
                                             : log.faults.pidsInOrderOfAppearance())
        return unrecorded.filter { !faulted.contains($0) }
    }

    /// A command line's program name: its first word without the directory.
    public static func shortName(_ command: String) -> String {
        let first = command.split(separator: " ", maxSplits: 1).first.map(String.init) ?? command
        let base = first.split(separator: "/").last.map(String.init) ?? first
        return base.isEmpty ? first : base
    }

    /// What a title adds: "(anon faults only)", "(pids 12, 14)", or "" for everything.
    public var titleSuffix: String {
        var parts: [String] = []
        if let kind { parts.append("\(kind) faults only") }
        if let pids, let label {
            parts.append("\(label): \(pids.count) process" + (pids.count == 1 ? "" : "es"))
        } else if let pids {
            let sorted = pids.sorted()
            let shown = sorted.prefix(8).map { String($0) }.joined(separator: ", ")
            parts.append((sorted.count == 1 ? "pid " : "pids ") + shown + (sorted.count > 8 ? ", …" : ""))
        }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: "; ") + ")"
    }
}

extension LifecycleEvent {
    /// The process the event is about: the new one for a fork.
    public var pid: Int32 {
        switch self {
        case .fork(let p): return p.pid
        case .exec(let pid, _, _): return pid
        case .exit(let x): return x.pid
        }
    }
}
