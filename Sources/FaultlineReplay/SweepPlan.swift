// Which replays a sweep runs: one per configuration that replays differently. The shown
// configurations, the 4K baseline bloat is measured against and the self-check's recorded
// configuration often coincide, or replay alike without being equal: THP `madvise` where
// nothing advises huge pages maps no THP anywhere, so the recorded configuration of a host in
// `madvise` mode is the 4K baseline. Each such pair is one model run, not two (on 2 CPUs a
// `--page-size 16k` replay ran four models for three results).

/// One replay the sweep runs: a configuration, its accesses and its khugepaged.
struct SweepJob {
    var config: ReplayConfig
    var source: AccessSource
    var khugepaged: KhugepagedModel
    /// MADV_COLLAPSE fails, as under the recorder's PR_SET_THP_DISABLE (`record --no-thp`):
    /// the self-check replays the recording as it ran.
    var refusesCollapse = false

    /// Whether this job gives `other`'s results: the same accesses, and configurations that
    /// differ at most in a THP mode that maps no THP on this input (`never`, or `madvise`
    /// where nothing is `advised`), where khugepaged never wakes either.
    func replaysAlike(_ other: SweepJob, advised: Bool) -> Bool {
        guard source.sameAccesses(as: other.source), refusesCollapse == other.refusesCollapse else { return false }
        let mine = effectiveConfig(advised: advised), theirs = other.effectiveConfig(advised: advised)
        guard mine == theirs else { return false }
        return mine.thp == .never || khugepaged == other.khugepaged
    }

    /// The configuration with `madvise` read as `never` where nothing is advised.
    private func effectiveConfig(advised: Bool) -> ReplayConfig {
        var c = config
        if !advised && c.thp == .madvise { c.thp = .never }
        return c
    }
}

/// The jobs a sweep runs, and which job gives each result it shows.
struct SweepPlan {
    private(set) var jobs: [SweepJob] = []
    /// The job whose results each asked configuration shows.
    private(set) var configJobs: [Int] = []
    private(set) var baselineJob = 0
    /// The self-check's job (it keeps the tally), when there is a self-check.
    private(set) var checkJob: Int?

    /// `recorded`: the self-check's configuration, nil for none. The self-check always
    /// replays the recorded faults, without khugepaged (what it collapsed in the recorded run
    /// shows as faults that never happened, which the model cannot put back). `advised`:
    /// whether anything in the input may be VM_HUGEPAGE (ReplayInput.advisesHugePages).
    /// `collapseRefused`: the recording ran where MADV_COLLAPSE failed and the program
    /// calls it (the self-check refuses it; the configurations shown do not).
    init(configs: [ReplayConfig], baseline: ReplayConfig, recorded: ReplayConfig?, source: AccessSource,
         khugepaged: KhugepagedModel, advised: Bool, collapseRefused: Bool = false) {
        configJobs = configs.map { job(SweepJob(config: $0, source: source, khugepaged: khugepaged), advised) }
        baselineJob = job(SweepJob(config: baseline, source: source, khugepaged: khugepaged), advised)
        checkJob = recorded.map {
            job(SweepJob(config: $0, source: .recordedFaults, khugepaged: .off, refusesCollapse: collapseRefused), advised)
        }
    }

    private mutating func job(_ wanted: SweepJob, _ advised: Bool) -> Int {
        if let i = jobs.firstIndex(where: { $0.replaysAlike(wanted, advised: advised) }) { return i }
        jobs.append(wanted)
        return jobs.count - 1
    }
}

private extension AccessSource {
    func sameAccesses(as other: AccessSource) -> Bool {
        switch (self, other) {
        case (.recordedFaults, .recordedFaults): return true
        case (.lackey(let a), .lackey(let b)): return a == b
        default: return false
        }
    }
}
