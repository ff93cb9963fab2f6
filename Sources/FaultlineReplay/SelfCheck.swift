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
    /// What the model said for the same accesses; the last index: no fault.
    public var replayed: [UInt64]
    /// The comparison leaves out recorded faults the model cannot reproduce by nature, and
    /// says how many: major faults (I/O is invisible to it, and a major fault's class —
    /// file, CoW — is not recorded), swap-ins (the model has no memory pressure: a page it
    /// holds stays, so a swap-in is an access to a page already there, no fault) and repeats
    /// (see ReplayEngine.isRepeat).
    public var comparedRecorded: [UInt64]
    public var comparedReplayed: [UInt64]
    public var excludedMajor: UInt64
    public var excludedSwap: UInt64
    public var excludedRepeats: [UInt64]
    /// recorded × replayed (each kind × each kind and "no fault").
    public var outcomes: [UInt64]
    public var examples: [FaultMismatch]
    /// What the model lacked, in words (missing timeline, faults outside any mapping).
    public var notes: [String]
    /// The kernel's resident memory at the processes' exits against the model's.
    public var residentAtExit: ResidentAtExit

    public var matches: Bool {
        Self.checkedKinds.allSatisfy { comparedRecorded[Int($0.rawValue)] == comparedReplayed[Int($0.rawValue)] }
    }

    /// Compared replayed − compared recorded for a kind.
    public func difference(_ kind: FaultKind) -> Int64 {
        Int64(comparedReplayed[Int(kind.rawValue)]) - Int64(comparedRecorded[Int(kind.rawValue)])
    }

    /// How many recorded faults of `kind` the model classed as `other` (nil: no fault).
    public func outcome(recorded kind: FaultKind, replayed other: FaultKind?) -> UInt64 {
        outcomes[Int(kind.rawValue) * SelfCheckTally.columns + Int(other?.rawValue ?? UInt8(SelfCheckTally.noFaultColumn))]
    }

    /// The recorded configuration, if the log's header names one the model has. A log made
    /// with `record --no-thp` was recorded without THP, whatever the host's mode.
    public static func recordedConfig(of input: ReplayInput, layout: PageTableLayout? = nil) -> ReplayConfig? {
        guard let size = PageSizeChoice(hostPageSize: input.hostPageSize), let thp = input.hostTHP else { return nil }
        return ReplayConfig(pageSize: size, thp: input.thpDisabledByRecorder ? .never : thp, layout: layout)
    }

    public init(result r: ConfigResult, input: ReplayInput) {
        config = r.config
        let kinds = FaultKind.allCases.count, columns = SelfCheckTally.columns
        var rec = [UInt64](repeating: 0, count: kinds)
        for i in 0..<kinds { for j in 0..<columns { rec[i] += r.outcomes[i * columns + j] } }
        recorded = rec
        replayed = r.counts
        let major = Int(FaultKind.major.rawValue), swap = Int(FaultKind.swap.rawValue)
        let compared = (0..<kinds).filter { $0 != major && $0 != swap }
        excludedMajor = rec[major]
        excludedSwap = rec[swap]
        excludedRepeats = r.repeats
        comparedRecorded = (0..<kinds).map { compared.contains($0) ? rec[$0] - min(rec[$0], r.repeats[$0]) : 0 }
        comparedReplayed = (0..<columns).map { k in compared.reduce(0) { $0 + r.outcomes[$1 * columns + k] } }
        outcomes = r.outcomes
        examples = r.mismatches
        var notes: [String] = []
        if !input.hasAddressSpaceTimeline {
            notes.append("the log has no munmap/mremap/mprotect/madvise/brk records: memory freed and touched again, "
                + "and MADV_HUGEPAGE/NOHUGEPAGE hints, are invisible to the model")
        }
        if input.execStackBytes > 0 {
            let recorded = input.execStackRecordedBytes
            let how = recorded == input.execStackBytes ? "as the page table showed them at each exec"
                : recorded == 0 ? "inferred from the first stack fault"
                : "\(recorded / 1024) KiB as the page table showed them at the exec, the rest inferred from the first stack fault"
            notes.append("\(input.execStackBytes / 1024) KiB of new stacks taken as written by execve (no fault events; \(how))")
        }
        if r.kernelPageFaultsReread > 0 {
            notes.append("\(r.kernelPageFaultsReread) faults on the kernel's own pages ([vdso], [vvar]) counted as file: "
                + "this log's recorder (before 0.4.0) classed them as anonymous memory's (zero, swap)")
        }
        if r.outsideMappings > 0 {
            notes.append(input.hasAddressSpaceTimeline
                ? "\(r.outsideMappings) faults fell outside every mapping (replayed as segv)"
                : "\(r.outsideMappings) faults fell outside every recorded mapping (modelled as anonymous memory)")
        }
        residentAtExit = r.residentAtExit
        notes += residentAtExit.notes
        self.notes = notes
    }
}
