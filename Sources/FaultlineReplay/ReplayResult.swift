// What one configuration's replay found, in plain values the renderers and tests read.

import FaultlineCore

public struct MappingResult: Sendable, Equatable {
    public var pid: Int32
    public var start: UInt64
    public var end: UInt64
    public var name: String
    public var faults: UInt64
    public var peakResidentBytes: UInt64
    /// THP and hugetlb bytes at the mapping's own peak of them.
    public var peakHugeBytes: UInt64 = 0
    /// The recording's pages here were larger than this configuration's: its faults and
    /// memory here are lower bounds.
    public var lowerBound = false
}

/// A recorded fault the model classed differently (self-check).
public struct FaultMismatch: Sendable, Equatable {
    public var pid: Int32
    public var timeNs: UInt64
    public var address: UInt64
    public var access: Access
    public var recorded: FaultKind
    /// nil: the model took no fault there.
    public var replayed: FaultKind?
}

public struct ConfigResult: Sendable {
    public var config: ReplayConfig
    /// Faults by FaultKind raw value; the last index counts accesses that took no fault.
    public var counts: [UInt64]
    public var accesses: UInt64
    public var peakResidentBytes: UInt64
    /// The peak of anonymous memory alone (not necessarily at the same time).
    public var peakAnonBytes: UInt64
    /// Resident bytes in huge pages (THP or hugetlb) at the peak.
    public var hugeBytesAtPeak: UInt64
    /// Of those, THPs that khugepaged or MADV_COLLAPSE made (not faults).
    public var collapsedBytesAtPeak: UInt64 = 0
    /// Resident bytes sampled at evenly spaced times over the recording.
    public var residentOverTime: [UInt64]
    public var finalResidentBytes: UInt64
    /// Peak page-table pages per level (top first, Linux names), and the peak of their sum
    /// with the tables Linux deposits for each anonymous THP.
    public var pageTableLevels: [(name: String, peakPages: UInt64)]
    public var depositedPeak: UInt64
    public var pageTablePeakPages: UInt64
    public var mappings: [MappingResult]
    public var tlb: TLBResult?
    /// recorded kind × replayed kind (the last column: no fault), for the self-check.
    public var outcomes: [UInt64]
    /// Recorded faults by kind that repeated a just-handled fault on the same page.
    public var repeats: [UInt64]
    public var mismatches: [FaultMismatch]
    /// Faults at addresses no mapping covered (the model assumed anonymous memory).
    public var outsideMappings: UInt64
    /// Recorded faults whose page was larger than this configuration maps there: where
    /// these fell, the recording cannot show which smaller pages were touched, and the
    /// faults and memory predicted are lower bounds.
    public var coarseFaults: UInt64 = 0
    /// Faults on the kernel's own pages that an older recorder classed as anonymous memory's
    /// and the self-check counted as `file` (LogHeader.classedKernelPagesAsAnonymous).
    public var kernelPageFaultsReread: UInt64 = 0
    /// The kernel's resident memory at each process's exit against the model's (the
    /// self-check's replay).
    public var residentAtExit = ResidentAtExit()
    /// THPs made by MADV_COLLAPSE and khugepaged.
    public var collapses: UInt64 = 0
    /// Populates (MAP_POPULATE, MADV_POPULATE_*) larger than the model fills, cut short.
    public var populateCapped: UInt64 = 0
    /// Of the faults, those the kernel takes filling memory for MAP_POPULATE, MADV_POPULATE_*,
    /// mlock and mlockall, and for execve's copy of the arguments: get_user_pages faults,
    /// which the kernel counts in minflt but perf does not see, so no recording has them.
    public var filledFaults: UInt64 = 0
    /// mremaps and huge-page splits past the pages all moves and splits may write (their other
    /// pages dropped, the huge page freed whole), and forks past
    /// the pages all forks may copy (the child shares no pages).
    public var movesCapped: UInt64 = 0
    public var forksCapped: UInt64 = 0
    public var seconds: Double
    /// Imported traces: lines that were not accesses, and the first of them.
    public var traceMalformedLines: UInt64 = 0
    public var traceFirstMalformedLine: UInt64?
    /// Of `seconds`, the time spent reading and parsing the trace.
    public var parseSeconds: Double = 0

    public func faults(_ kind: FaultKind) -> UInt64 { counts[Int(kind.rawValue)] }
    /// Every fault (segv included), as `report` counts them.
    public var totalFaults: UInt64 { counts.dropLast().reduce(0, +) }
    public var noFault: UInt64 { counts.last ?? 0 }
    /// Whether the predicted faults and memory are lower bounds (see `coarseFaults`).
    public var lowerBound: Bool { coarseFaults > 0 }
    public var pageTablePeakBytes: UInt64 { pageTablePeakPages * config.layout.granule }

    /// How far the last TLB tier reaches with the page sizes this configuration uses.
    public var tlbReachBytes: UInt64? {
        guard let tlb else { return nil }
        let used = usedPageSizes
        let last = tlb.levels.indices.filter { lvl in tlb.levels[lvl].pageSizes.contains(where: used.contains) }
        guard !last.isEmpty else { return 0 }
        // The reach of the largest tier: each array's entries times the largest used page it holds.
        return last.map { i -> UInt64 in
            let l = tlb.levels[i]
            let size = l.pageSizes.filter(used.contains).max() ?? 0
            return UInt64(l.entries) * size
        }.max()
    }

    /// Page sizes this configuration can map.
    public var usedPageSizes: Set<UInt64> {
        var s: Set<UInt64> = [config.layout.granule]
        if config.thp != .never { s.insert(1 << UInt64(config.thpShift)) }
        if let h = config.pageSize.explicitHuge { s.insert(h) }
        return s
    }
}

/// What a replay counts besides its faults by kind, the self-check's tally and the work cut
/// short (`WorkLimits`): the rest of its result.
struct ReplayTotals {
    var accesses: UInt64 = 0
    /// Accesses where no mapping was and no stack could grow.
    var outsideMappings: UInt64 = 0
    /// Recorded faults whose recorded page was larger than the page this configuration
    /// maps there (the result is a lower bound), and the mapping rows they fell in.
    var coarseFaults: UInt64 = 0
    var coarseRows = Set<Int32>()
    /// Faults on the kernel's own pages that an older recorder classed as anonymous memory's,
    /// counted as `file` (ConfigResult.kernelPageFaultsReread).
    var kernelPageFaultsReread: UInt64 = 0
    /// THPs made by MADV_COLLAPSE and the khugepaged model.
    var collapses: UInt64 = 0
    /// Of the faults counted, those the kernel takes filling memory for a call (populate).
    var filledFaults: UInt64 = 0
}
