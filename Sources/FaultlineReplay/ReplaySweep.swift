// Runs every configuration of a replay, in parallel over cores (each configuration's engine
// is independent and reads the shared input), plus the self-check and the 4K baseline that
// bloat is measured against; configurations that replay alike share one run (SweepPlan).

import Dispatch
import Foundation
import FaultlineAddressSpace
import FaultlineCore

public struct ReplayReport: Sendable {
    public var configs: [ConfigResult]
    /// 4K, THP never: what bloat is measured against (one of `configs` when asked for).
    public var baseline: ConfigResult?
    public var selfCheck: SelfCheck?
    /// The configuration the log was recorded with, when it is in `configs`.
    public var recordedIndex: Int?
    /// What was replayed: "recorded faults" or "lackey trace FILE".
    public var source: String
    public var warnings: [String] = []
    /// ReplayInput.thpSettingReaders.
    public var thpSettingReaders: [Int32] = []
    /// How khugepaged was played, with the recording host's settings.
    public var khugepaged: KhugepagedModel = .off
    public var khugepagedSettings = KhugepagedSettings()
    /// The kernel whose rules the model followed (the log's).
    public var kernel: KernelBehaviour = .newest
    /// `--pid/--comm`: the pids whose faults the results count, and how to name them
    /// ("pids 12, 14 (cc1)"); nil when every process's count.
    public var countedPids: Set<Int32>?
    public var selectionName: String?
}

/// Where the accesses come from.
public enum AccessSource: Sendable {
    /// The log's own faults.
    case recordedFaults
    /// A lackey trace file.
    case lackey(path: String)
}

public enum ReplaySweep {
    /// 4K, THP never, at the layout asked for 4K pages (e.g. 5-level): what bloat is
    /// measured against.
    static func baseline(for configs: [ReplayConfig]) -> ReplayConfig {
        ReplayConfig(pageSize: .k4, thp: .never, layout: configs.first(where: { $0.pageSize.granule == 4096 })?.layout)
    }

    /// Whether replaying recorded faults at `configs` runs more than one model, counting the
    /// 4K baseline: then the faults are best decoded before the models start
    /// (ScannedLog.scan's `decodingFaults`). The self-check is left out (it mostly shares
    /// the baseline's run, and the log's header is not read yet), and `madvise` counts as
    /// `never`.
    public static func runsSeveralModels(_ configs: [ReplayConfig]) -> Bool {
        SweepPlan(configs: configs, baseline: baseline(for: configs), recorded: nil, source: .recordedFaults,
                  khugepaged: .off, advised: false).jobs.count > 1
    }

    /// Replays `input` at each of `configs` (and at the recorded configuration for the
    /// self-check, and 4K/never for the baseline) with `source`'s accesses.
    public static func run(input: ReplayInput, configs: [ReplayConfig], tlb: TLBSpec?,
                           source: AccessSource, selfCheck: Bool, log: Bool,
                           khugepaged: KhugepagedModel = .off, cores: Int? = nil,
                           counted: Set<Int32>? = nil) throws -> ReplayReport {
        // The recorded configuration uses the layout asked for at its granule (e.g. 5-level).
        let recordedLayout = configs.first { $0.pageSize == PageSizeChoice(hostPageSize: input.hostPageSize) }?.layout
        let recorded = log ? SelfCheck.recordedConfig(of: input, layout: recordedLayout) : nil
        let baseline = baseline(for: configs)
        let plan = SweepPlan(configs: configs, baseline: baseline, recorded: selfCheck ? recorded : nil, source: source,
                             khugepaged: khugepaged, advised: input.advisesHugePages,
                             collapseRefused: input.thpDisabledByRecorder && input.callsCollapse)
        let jobs = plan.jobs, checkJob = plan.checkJob
        let results = UnsafeMutableBufferPointer<Result<ConfigResult, Error>?>.allocate(capacity: jobs.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        let traceProcess = ReplayEngine.traceProcess(of: input)
        // Cores left over once each job has one: a lone trace replay splits into stages.
        let cores = max(1, cores ?? ProcessInfo.processInfo.activeProcessorCount)
        let coresPerJob = max(1, cores / jobs.count)
        let runJob = { (i: Int) in
            let job = jobs[i]
            let engine = ReplayEngine(config: job.config, input: input, tlb: tlb, khugepaged: job.khugepaged, counted: counted)
            engine.keepsSelfCheckTally = i == checkJob
            engine.refusesCollapse = job.refusesCollapse
            results[i] = Result {
                switch job.source {
                case .recordedFaults:
                    return engine.run()
                case .lackey(let path):
                    let reader = try LackeyReader(path: path)
                    engine.prepareAddressSpace(process: traceProcess)
                    return try engine.runTrace(reader, process: traceProcess, cores: coresPerJob)
                }
            }
        }
        if cores == 1 {
            for i in 0..<jobs.count { runJob(i) }
        } else if jobs.count > cores && jobs.count <= 2 * cores {
            // A few more models than cores: each on a thread of its own, all at once, so
            // that the cores share them to the end. Dispatch runs a core's worth at a time,
            // and the last ones ran alone: of three models on two CPUs (`--page-size 16k`:
            // 16k never and always, and the 4K baseline), the third left one CPU idle for a
            // third of the models' time. With two or more models a core, Dispatch's rounds
            // even out, and threads only add switching. (Medians of 7-9, alternated, on
            // thread_storm 1024 4, random_touch 8192 4 and thread_swarm 1000 2000;
            // BENCHMARKS.md: three models 0.323/0.336/0.346 -> 0.252/0.307/0.302 s, four
            // 0.375/0.365/0.322 -> 0.320/0.359/0.322; five 0.361/0.361/0.342 ->
            // 0.373/0.390/0.347 and the default eight 0.463/0.492/0.487 ->
            // 0.502/0.475/0.481, so not those.)
            let threads = jobs.indices.dropFirst().map { i in (i, StageThread.start { runJob(i) }) }
            runJob(0)
            for (i, thread) in threads {
                if let thread { thread.join() } else { runJob(i) }   // no thread to be had: run it here
            }
        } else {
            DispatchQueue.concurrentPerform(iterations: jobs.count, execute: runJob)
        }
        let done = try results.map { try $0!.get() }
        // A shared job's result is each configuration's, under its own name.
        func result(_ job: Int, as config: ReplayConfig) -> ConfigResult {
            var r = done[job]
            r.config = config
            return r
        }
        var report = ReplayReport(configs: zip(plan.configJobs, configs).map { result($0, as: $1) },
                                  baseline: result(plan.baselineJob, as: baseline),
                                  selfCheck: checkJob.flatMap { job in recorded.map { SelfCheck(result: result(job, as: $0), input: input) } },
                                  recordedIndex: recorded.flatMap { configs.firstIndex(of: $0) },
                                  source: { if case .lackey(let p) = source { return "lackey trace \(p)" }; return "recorded faults" }())
        report.khugepaged = khugepaged
        report.khugepagedSettings = input.khugepaged
        report.kernel = input.kernel
        report.countedPids = counted
        if selfCheck && log && recorded == nil {
            report.warnings.append("no self-check: the log's host configuration (page size \(input.hostPageSize), THP '\(input.hostTHP?.rawValue ?? "unknown")') is not one the model has")
        }
        if let tlb {
            // A preset for one architecture may not know another's page sizes (skylake has
            // no 16K pages): say so, or its columns read as "no misses".
            let held = Set(tlb.levels.flatMap(\.pageSizes))
            let missing = Set(report.configs.flatMap(\.usedPageSizes)).subtracting(held).sorted()
            if !missing.isEmpty {
                report.warnings.append("TLB '\(tlb.name)' holds no \(missing.map(formatSize).joined(separator: ", ")) pages: every access to one walks the page table")
            }
        }
        if let capped = report.configs.first(where: { $0.movesCapped > 0 }) {
            report.warnings.append("\(capped.movesCapped) mremap moves and huge-page splits went past the \(WorkLimits.movedPages) pages the model writes for them in all: their other pages were dropped")
        }
        if let capped = report.configs.first(where: { $0.forksCapped > 0 }) {
            report.warnings.append("\(capped.forksCapped) forks went past the \(WorkLimits.forkedPages) pages the model copies in all: those children shared none of their parents' pages")
        }
        if let capped = report.configs.first(where: { $0.populateCapped > 0 }) {
            report.warnings.append("\(capped.populateCapped) populate calls (MAP_POPULATE, MADV_POPULATE_*) asked for more than the model fills (\(WorkLimits.populatePerCall >> 30) GiB a call, \(WorkLimits.populateTotal >> 30) GiB in all): cut short")
        }
        if input.isSyntheticAddressSpace {
            report.warnings.append("no log: the trace runs in one anonymous mapping over the whole address space, so THP and huge pages fit wherever alignment allows; replay the trace with the log of the traced run (`faultline record -- valgrind --tool=lackey ...`) for its real mappings")
        }
        for r in report.configs where r.lowerBound {
            let mappings = r.mappings.filter(\.lowerBound).count
            report.warnings.append("\(r.config.pageSize) thp=\(r.config.thp.rawValue): a lower bound: \(r.coarseFaults) recorded faults in \(mappings) mapping\(mappings == 1 ? "" : "s") mapped pages larger than this configuration's (THP was on when the log was recorded: huge pages, or the larger folios multi-size THP gives anonymous and shared memory), so the recording cannot show which of their smaller pages were touched; record with `faultline record --no-thp` to predict every configuration")
        }
        if let warning = Self.thpSettingWarning(input, report.configs.map(\.config)) { report.warnings.append(warning) }
        report.thpSettingReaders = input.thpSettingReaders
        if let first = report.configs.first, first.traceMalformedLines > 0, case .lackey(let path) = source {
            report.warnings.append("\(path): \(first.traceMalformedLines) lines are not lackey accesses (the first is line \(first.traceFirstMalformedLine ?? 0)); skipped")
        }
        return report
    }

    /// Where a recorded program read the host's THP setting and a configuration has another
    /// mode: what it did (its prctl, its madvise) may be what it does under the host's mode
    /// only. Redis, for one, turns THP off for itself where the mode is `always`; recorded
    /// under `madvise` it does not, and its `always` column was 40% short of the kernel's
    /// faults with 6 MiB of huge pages the kernel never gave it (redis-server 7.0,
    /// 150,000 SETs of 1,000 bytes and a BGSAVE: 15,472 predicted, 25,970 counted).
    static func thpSettingWarning(_ input: ReplayInput, _ configs: [ReplayConfig]) -> String? {
        guard !input.thpSettingReaders.isEmpty else { return nil }
        let host = input.hostTHP
        let other = Set(configs.map(\.thp).filter { $0 != host })
        guard !other.isEmpty else { return nil }
        let modes = THPMode.allCases.filter(other.contains).map(\.rawValue).joined(separator: ", ")
        let pids = input.thpSettingReaders.prefix(5).map(String.init).joined(separator: ", ")
            + (input.thpSettingReaders.count > 5 ? " and \(input.thpSettingReaders.count - 5) more" : "")
        return "pid \(pids) read the host's THP setting (\(host?.rawValue ?? "unknown")) while recorded, and a program may choose by it "
            + "(Redis turns THP off for itself only under always): the thp=\(modes) columns are the program as it ran under \(host?.rawValue ?? "the host's mode"); "
            + "to predict them, record it where the setting reads that mode (README: programs that read the THP setting)"
    }
}
