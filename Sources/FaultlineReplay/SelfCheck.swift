// The model's self-check: replayed at the configuration the log was recorded with, the
// recorded faults must come out with the recorded anon, zero and cow counts. Anything else
// is shown, with examples, never hidden.

import FaultlineCore

public struct SelfCheck: Sendable {
    /// The kinds that must match exactly.
    public static let checkedKinds: [FaultKind] = [.anon, .zero, .cow]

    public var config: ReplayConfig
    /// Recorded faults by kind (FaultKind raw value), all of them.
    public var recorded: [UInt64]
    /// What the model said for the same accesses; index 7: no fault.
    public var replayed: [UInt64]
    /// The comparison leaves out recorded faults the model cannot reproduce by nature, and
    /// says how many: major faults (I/O is invisible to it, and a major fault's class —
    /// file, CoW, swap-in — is not recorded) and repeats (see ReplayEngine.isRepeat).
    public var comparedRecorded: [UInt64]
    public var comparedReplayed: [UInt64]
    public var excludedMajor: UInt64
    public var excludedRepeats: [UInt64]
    /// recorded × replayed (7 × 8).
    public var outcomes: [UInt64]
    public var examples: [FaultMismatch]
    /// What the model lacked, in words (missing timeline, faults outside any mapping).
    public var notes: [String]

    public var matches: Bool {
        Self.checkedKinds.allSatisfy { comparedRecorded[Int($0.rawValue)] == comparedReplayed[Int($0.rawValue)] }
    }

    /// Compared replayed − compared recorded for a kind.
    public func difference(_ kind: FaultKind) -> Int64 {
        Int64(comparedReplayed[Int(kind.rawValue)]) - Int64(comparedRecorded[Int(kind.rawValue)])
    }

    /// How many recorded faults of `kind` the model classed as `other` (nil: no fault).
    public func outcome(recorded kind: FaultKind, replayed other: FaultKind?) -> UInt64 {
        outcomes[Int(kind.rawValue) * 8 + Int(other?.rawValue ?? 7)]
    }

    /// The recorded configuration, if the log's header names one the model has.
    public static func recordedConfig(of input: ReplayInput, layout: PageTableLayout? = nil) -> ReplayConfig? {
        guard let size = PageSizeChoice(hostPageSize: input.hostPageSize), let thp = input.hostTHP else { return nil }
        return ReplayConfig(pageSize: size, thp: thp, layout: layout)
    }

    public init(result r: ConfigResult, input: ReplayInput) {
        config = r.config
        var rec = [UInt64](repeating: 0, count: 7)
        for i in 0..<7 { for j in 0..<8 { rec[i] += r.outcomes[i * 8 + j] } }
        recorded = rec
        replayed = r.counts
        let major = Int(FaultKind.major.rawValue)
        excludedMajor = rec[major]
        excludedRepeats = r.repeats
        comparedRecorded = (0..<7).map { $0 == major ? 0 : rec[$0] - r.repeats[$0] }
        comparedReplayed = (0..<8).map { k in (0..<7).filter { $0 != major }.reduce(0) { $0 + r.outcomes[$1 * 8 + k] } }
        outcomes = r.outcomes
        examples = r.mismatches
        var notes: [String] = []
        if !input.hasAddressSpaceTimeline {
            notes.append("the log has no munmap/mremap/mprotect/madvise/brk records: memory freed and touched again, "
                + "and MADV_HUGEPAGE/NOHUGEPAGE hints, are invisible to the model")
        }
        if input.execStackBytes > 0 {
            notes.append("\(input.execStackBytes / 1024) KiB of new stacks taken as written by execve (no fault events; inferred from the first stack fault)")
        }
        if r.outsideMappings > 0 {
            notes.append(input.hasAddressSpaceTimeline
                ? "\(r.outsideMappings) faults fell outside every mapping (replayed as segv)"
                : "\(r.outsideMappings) faults fell outside every recorded mapping (modelled as anonymous memory)")
        }
        self.notes = notes
    }
}
