// Whether a frame-pointer recording's stacks reach the code that started their thread.
// The kernel's frame-pointer walk stops at the first caller built without frame pointers,
// which on x86-64 is most distro code: gcc's stacks come out two frames deep
// (`ggc_internal_cleared_alloc ← …` and nothing above), and a reader would take that for
// the whole story. report says so, with numbers, and names the flag that fixes it.
// Hazard: "reaches its start" is judged by the outermost frame's name, so a runtime that
// starts threads from a function not listed here reads as cut short; a stack whose
// outermost frame has no name (a stripped program's main) is not judged at all.

import FaultlineCore
import FaultlineLog

public struct StackReach: Sendable, Equatable {
    /// Faults whose stack's outermost frame has a name, so that it can be judged.
    public var faultsJudged: UInt64
    /// Of those, faults whose outermost frame is not where a process or thread starts.
    public var cutShort: UInt64

    /// Where a whole stack ends: the C runtime's entry and main (glibc's own start-up code
    /// keeps no frame pointer, so a frame-pointer walk that gets to main ends there or one
    /// frame above), a thread's start, and the dynamic linker's entry.
    static let startFunctions: Set<String> = [
        "_start", "__libc_start_main", "__libc_start_call_main", "main",
        "start_thread", "clone", "clone3", "__clone", "__clone3", "__clone_internal",
        "_dl_start", "_dl_start_user", "_dl_start_final", "_dl_sysdep_start",
    ]
    /// Shallow when at least this share of stacks is cut short…
    static let shallowPercent: UInt64 = 25
    /// …and at least this many faults: a short program's start-up (the dynamic linker and
    /// libc, built without frame pointers) alone should not raise it.
    static let shallowMinimum: UInt64 = 100

    public init(faultsJudged: UInt64, cutShort: UInt64) {
        self.faultsJudged = faultsJudged
        self.cutShort = cutShort
    }

    /// Counts the selected faults by stack, then names only each distinct stack's outermost
    /// frame. Nil unless the log was recorded with frame-pointer stacks: DWARF stacks are
    /// whole where CFI exists, and with `none` there are no stacks to judge.
    public init?(log: LoadedLog, namer: FrameNamer, selection: FaultSelection = .everything) {
        guard log.header.callGraph == "fp" else { return nil }
        var perStack: [StackID: UInt64] = [:]
        for fault in log.faults where fault.stack != .empty && selection.matches(fault) { perStack[fault.stack, default: 0] += 1 }
        var judged: UInt64 = 0, cut: UInt64 = 0
        for (stack, count) in perStack {
            guard let outermost = log.frames(of: stack).last, namer.isNamed(outermost) else { continue }
            judged += count
            // The last name of a frame is the function whose machine code it is.
            let function = namer.names(outermost).last?.function ?? ""
            if !Self.startFunctions.contains(function) { cut += count }
        }
        self.init(faultsJudged: judged, cutShort: cut)
    }

    public var isShallow: Bool {
        // In Double: the product of two counts cannot overflow there.
        cutShort >= Self.shallowMinimum && Double(cutShort) * 100 >= Double(faultsJudged) * Double(Self.shallowPercent)
    }

    /// One line for people, or nil when the stacks are deep enough to trust.
    public var warning: String? {
        guard isShallow else { return nil }
        return "SHALLOW STACKS: \(TextFormat.percent(cutShort, of: faultsJudged)) of stacks "
            + "(\(TextFormat.count(cutShort)) of \(TextFormat.count(faultsJudged))) stop before main or their "
            + "thread's start: code without frame pointers hides its callers; "
            + "record with --call-graph dwarf for whole stacks"
    }

    var jsonObject: [String: Any] {
        ["call_graph": "fp", "faults_judged": faultsJudged, "cut_short": cutShort, "shallow": isShallow]
    }
}
