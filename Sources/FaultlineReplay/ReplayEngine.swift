// The model for one configuration: replays a ReplayInput in time order, decides for each
// access whether Linux would have faulted and of which kind (ReplayEngine+Faults.swift),
// follows the address-space timeline (ReplayEngine+Timeline.swift), and keeps the page
// tables (PageTableModel), resident memory (ResidentMemory), the self-check's tally
// (SelfCheckTally), the run's other totals (ReplayTotals), what is left of the work a log
// may ask for (WorkLimits) and optionally a TLB hierarchy up to date.
//
// Hazard: the model sees only the accesses it is given. Replaying recorded faults, every
// access is a first touch at the recorded configuration; a coarser configuration maps more
// per fault, so the same stream is enough for it (accesses that did not fault at 4K do not
// fault with bigger pages either). A finer one is not: where the recording's pages were
// larger than the configuration's (a THP, recorded with THP on), the faults it predicts are
// a lower bound, and the result says so (`ReplayTotals.coarseFaults`).

import FaultlineAddressSpace
import FaultlineCore

/// What one access did in the model.
public struct FaultOutcome: Sendable, Equatable {
    /// The kind of fault it took; nil when the page was mapped and allowed the access.
    public var kind: FaultKind?
    /// log2 of the page that translates the address now.
    public var pageShift: Int
}

public final class ReplayEngine {
    public let config: ReplayConfig
    let input: ReplayInput
    let kernel: KernelBehaviour
    let tlb: TLBHierarchy?
    /// The same TLB, unretained: the inner loop calls it without ARC traffic. nil while
    /// the TLB runs on a thread of its own and `tlbQueue` takes its work.
    var tlbRef: Unmanaged<TLBHierarchy>?
    var tlbQueue: TLBQueue? {
        didSet { tlbQueueRef = tlbQueue.map { Unmanaged.passUnretained($0) } }
    }
    /// The same queue, unretained, for the inner loop (`tlbQueue` owns it). Binding the
    /// optional retained and released it on every access of a trace (perf: 14% of a
    /// sequential trace's time).
    private(set) var tlbQueueRef: Unmanaged<TLBQueue>?

    // Geometry, precomputed: granule, PMD (THP) and explicit huge shifts; table levels.
    let gs: Int, ts: Int, explicitShift: Int
    let leafLevel: Int, thpLevel: Int
    let faultAroundPages: UInt64
    /// The host maps the huge zero page on a read (transparent_hugepage/use_zero_page).
    let useHugeZeroPage: Bool
    /// log2 of the recording host's base page and of its PMD's reach; whether its
    /// multi-size THP modes may have given a first write to anonymous memory, or a fault on
    /// shmem, a folio larger than the page the log says (AnonFolioModes, ShmemFolioModes;
    /// not under `record --no-thp`).
    let hostPageShift: Int, hostPMDShift: Int
    let recordsAnonFolios: Bool, recordsShmemFolios: Bool

    let tables: PageTableModel
    let memory: ResidentMemory
    let tally = SelfCheckTally()
    /// Whether recorded faults are tallied for the self-check: only the one replay whose
    /// result the self-check reads needs it (ReplaySweep), and it was about 8% of the
    /// models' time (perf, 16k beside the 4k baseline).
    var keepsSelfCheckTally = true
    /// MADV_COLLAPSE fails (SweepJob.refusesCollapse: the self-check of a `record --no-thp` log).
    var refusesCollapse = false
    var procs: [ProcessState?]
    /// Faults by FaultKind raw value; the last column counts accesses that took no fault.
    let counts = Counters<UInt64>(SelfCheckTally.columns)
    /// SelfCheckTally.noFaultColumn, read once: it is computed from a lazily initialised
    /// static, whose once-check on every access showed in perf.
    let noFaultColumn = SelfCheckTally.noFaultColumn
    /// The run's other counts, for its result.
    var totals = ReplayTotals()
    /// What is left of the work a log may ask for in all, and the calls that found it spent.
    var limits = WorkLimits()
    /// The pieces a change is taking out of the address space, which has moved on already,
    /// with their rows: the pages being freed or split there are still theirs (rowOfPage).
    var leaving: [VMA] = []
    /// Each mapping row's extent over the replay, for per-mapping results.
    var rowStart: [UInt64], rowEnd: [UInt64]
    /// The pages of each shared anonymous memory object (by inode) that a fault has put in
    /// its page cache, keyed by their offset in it (ShmemCache).
    var shmemCache = ShmemCache()
    /// The kernel's resident memory at each exit against the model's (the self-check's
    /// replay only).
    var residentAtExit = ResidentAtExit()
    /// How khugepaged is played, and where it is.
    let khugepagedModel: KhugepagedModel
    var khugepaged = KhugepagedState()
    /// Imported traces hold accesses that succeeded (and valgrind's view of protections
    /// is not the guest's): no protection or unmapped-memory checks for them.
    var permissive = false
    /// A trace's last access, for the next one to the same page (see RepeatedPage).
    var repeatedPage = RepeatedPage()
    /// `replay --pid/--comm`: by process index, whether its faults count in the results;
    /// nil when all do. Every process is still replayed: a forked child's pages are its
    /// parent's, so the parent's faults shape the child's.
    let countedProcesses: [Bool]?
    /// Whether the access being replayed counts (faults by kind, per mapping, outside
    /// mappings): set per recorded fault when only some processes count.
    var counting = true

    deinit { counts.free() }

    /// `counted`: the pids whose faults the results count (nil: every process's).
    public init(config: ReplayConfig, input: ReplayInput, tlb: TLBSpec? = nil, khugepaged: KhugepagedModel = .off,
                counted: Set<Int32>? = nil) {
        self.config = config
        countedProcesses = counted.map { pids in input.pids.map { pids.contains($0) } }
        khugepagedModel = khugepaged
        self.input = input
        kernel = input.kernel
        let layout = config.layout
        gs = config.granuleShift
        ts = config.thpShift
        explicitShift = config.hugetlbShift
        leafLevel = layout.leafLevel
        thpLevel = layout.leafLevel - 1
        var around = config.faultAroundBytes >> UInt64(gs)
        while around & (around &- 1) != 0 { around &= around - 1 }   // round down to a power of two
        faultAroundPages = around
        useHugeZeroPage = input.hugeZeroPage
        let hostLayout = PageTableLayout.standard(granule: input.hostPageSize)
        hostPageShift = hostLayout.granuleShift
        hostPMDShift = hostLayout.entryShift(hostLayout.leafLevel - 1)
        recordsAnonFolios = !input.thpDisabledByRecorder && input.anonFolios.anyBelow(hostPMDShift, system: input.hostTHP)
        recordsShmemFolios = !input.thpDisabledByRecorder && input.shmemFolios.anyBelow(hostPMDShift)
        tables = PageTableModel(layout: layout)
        memory = ResidentMemory(mappings: input.mappings.count, firstTime: input.firstTime, lastTime: input.lastTime)
        procs = Array(repeating: nil, count: max(input.processCount, 1))
        rowStart = input.mappings.map(\.vma.start)
        rowEnd = input.mappings.map(\.vma.end)
        self.tlb = tlb.map { TLBHierarchy(spec: $0, layout: layout) }
        tlbRef = self.tlb.map { Unmanaged.passUnretained($0) }
    }

    /// Replays every change and fault of the input.
    public func run() -> ConfigResult {
        let clock = ContinuousClock()
        let started = clock.now
        let changes = input.changes
        var next = 0, fillCursor = 0
        // The next change's time, read once per change: most faults have no change before them.
        var nextTime = changes.first?.time ?? .max
        // With explicit huge pages (2m, 1g) anonymous faults look up the huge pages' map,
        // which is small: asking for the base map's lines there only cost (a tenth of the
        // CPU of a 2m replay of a thread storm).
        let prefetching = explicitShift == 0
        input.faults.forEachBlock { faults in
            let n = faults.count
            for i in 0..<n {
                if prefetching {
                    if i &+ Self.directoryAhead < n { prefetch(faults[i &+ Self.directoryAhead], directory: true) }
                    if i &+ Self.valueAhead < n { prefetch(faults[i &+ Self.valueAhead], directory: false) }
                }
                let f = faults[i]
                if f.time >= nextTime {
                    while next < changes.count
                            && (changes[next].time < f.time || (changes[next].time == f.time && changes[next].precedesFaults)) {
                        runKhugepaged(until: changes[next].time)
                        apply(changes[next])
                        fillExecStack(mappedBy: next, cursor: &fillCursor)
                        next += 1
                    }
                    nextTime = next < changes.count ? changes[next].time : .max
                }
                runKhugepaged(until: f.time)
                replay(f)
            }
            return true
        }
        while next < changes.count {
            runKhugepaged(until: changes[next].time)
            apply(changes[next])
            fillExecStack(mappedBy: next, cursor: &fillCursor)
            next += 1
        }
        return result(seconds: Self.seconds(clock.now - started))
    }

    /// How many faults ahead the page-map lines a fault will need are asked for: its
    /// block's directory lines first, its value's line once those have arrived. A fault's
    /// lookup at random over gigabytes missed the cache two or three times in a row (the
    /// directory, the pool index, the value), and those misses were most of the 4k model's
    /// time on random_touch 8192 4 (perf); asked for ahead, they overlap. The distances
    /// cover a miss to memory (~100 ns) at 20-40 ns a fault.
    static let directoryAhead = 12
    static let valueAhead = 5

    /// Asks for the lines of the base-page map that fault `f` will look up, when its
    /// process is the one the model holds now (nearly always; otherwise nothing is asked),
    /// and its block is not the one asked for last: faults in a run of pages share their
    /// block's lines, and asking again for each was about 7% of a sequential replay's CPU
    /// (perf, thread_storm 1024 4).
    @inline(__always)
    private func prefetch(_ f: ReplayInput.Fault, directory: Bool) {
        guard f.process == cachedIndex, let p = cachedProcess else { return }
        let key = f.address >> UInt64(gs)
        let block = key >> PageMap.blockShift
        if directory {
            guard block != prefetchedDirectory else { return }
            prefetchedDirectory = block
            p._withUnsafeGuaranteedRef { $0.base.prefetchDirectory(key) }
        } else {
            guard block != prefetchedValue else { return }
            prefetchedValue = block
            p._withUnsafeGuaranteedRef { $0.base.prefetchValue(key) }
        }
    }
    private var prefetchedDirectory = UInt64.max, prefetchedValue = UInt64.max

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// One recorded fault: replayed, checked against what was recorded, and against the
    /// size of the page the recording saw.
    @inline(__always)
    func replay(_ f: ReplayInput.Fault) {
        memory.advance(to: f.time)
        withProcess(f.process) { replay(f, $0) }
    }

    @inline(__always)
    private func replay(_ f: ReplayInput.Fault, _ p: ProcessState) {
        if let countedProcesses {
            counting = Int(f.process) < countedProcesses.count && countedProcesses[Int(f.process)]
            defer { counting = true }
            let outcome = touch(p, f.process, f.address, f.access, readFromDisk: f.recorded == .major)
            if counting { check(f, p, outcome) }
            return
        }
        check(f, p, touch(p, f.process, f.address, f.access, readFromDisk: f.recorded == .major))
    }

    /// The self-check's tally, and the lower bound, of a recorded fault replayed.
    @inline(__always)
    private func check(_ f: ReplayInput.Fault, _ p: ProcessState, _ outcome: FaultOutcome) {
        if outcome.kind == .file && f.recorded != .file && input.recordedKernelPagesAsAnonymous,
           let vi = p.inSpace({ $0.index(containing: f.address) }), p.space[vi].backing == .kernelPages {
            var reread = f
            reread.recorded = .file
            if counting { totals.kernelPageFaultsReread &+= 1 }
            return checkAsRecorded(reread, p, outcome)
        }
        checkAsRecorded(f, p, outcome)
    }

    @inline(__always)
    private func checkAsRecorded(_ f: ReplayInput.Fault, _ p: ProcessState, _ outcome: FaultOutcome) {
        if keepsSelfCheckTally {
            let pid = Int(f.process) < input.pids.count ? input.pids[Int(f.process)] : 0
            tally.note(f, replayed: outcome.kind, pid: pid)
        }
        let recorded = recordedPageShift(f, p)
        if recorded > outcome.pageShift && outcome.kind != .segv {
            totals.coarseFaults &+= 1
            if let vi = p.inSpace({ $0.index(containing: f.address) }) { totals.coarseRows.insert(p.space[vi].label) }
        }
    }

    /// log2 of the page the recorded fault mapped: as the log says; for logs that do not
    /// say, the THP the recording host would have given there (its THP mode and the
    /// mapping's flags allowing, and an aligned huge page fitting), else 0. A first write
    /// to anonymous memory, or any fault on shmem, on a host with multi-size THP may have
    /// mapped a whole folio, which the log calls a base page: then the largest folio that
    /// fits.
    @inline(__always)
    private func recordedPageShift(_ f: ReplayInput.Fault, _ p: ProcessState) -> Int {
        if f.pageShift != 0 || input.knowsPageSizes {
            if (recordsAnonFolios || recordsShmemFolios) && Int(f.pageShift) <= hostPageShift,
               let shift = folioShift(f, p) {
                return shift
            }
            return Int(f.pageShift)
        }
        guard let mode = input.hostTHP, !input.thpDisabledByRecorder, input.hostPageSize == 4096,
              let vi = p.inSpace({ $0.index(containing: f.address) }) else { return 0 }
        let v = p.space[vi]
        return p.thpAllowed(v, mode: mode) && fits(p, vi, v, f.address, 21) ? 21 : 0
    }

    /// The largest folio the recording host may have given fault `f` (a first write to
    /// anonymous memory, or any fault on shmem), its mode allowing it in the fault's VMA and
    /// its aligned range fitting there.
    private func folioShift(_ f: ReplayInput.Fault, _ p: ProcessState) -> Int? {
        let anonymousWrite = recordsAnonFolios && f.recorded == .anon && f.access == .write
        guard anonymousWrite || recordsShmemFolios, let vi = p.inSpace({ $0.index(containing: f.address) }) else { return nil }
        let v = p.space[vi]
        let thpDisable = p.inSpace { $0.thpDisable }
        var sizes = v.backing == .sharedMemory
            ? recordsShmemFolios ? input.shmemFolios.sizes(for: v, thpDisable: thpDisable, below: hostPMDShift) : 0
            : anonymousWrite ? input.anonFolios.sizes(for: v, system: input.hostTHP, thpDisable: thpDisable, below: hostPMDShift) : 0
        while sizes != 0 {
            let shift = 63 - sizes.leadingZeroBitCount   // the largest first
            if shift <= hostPageShift { return nil }
            if fits(p, vi, v, f.address, shift) { return shift }
            sizes &= ~(UInt64(1) << UInt64(shift))
        }
        return nil
    }

    // MARK: processes

    /// The process of the last lookup, unretained (`procs` owns it): most events come in
    /// runs of one process, and the inner loop then pays no ARC for it.
    private var cachedIndex: Int32 = -1
    private var cachedProcess: Unmanaged<ProcessState>?

    /// Forgets the cached process (its slot is about to change).
    func invalidateProcessCache() { cachedIndex = -1; cachedProcess = nil }

    @inline(__always)
    func process(_ index: Int32) -> ProcessState {
        if index == cachedIndex, let p = cachedProcess { return p.takeUnretainedValue() }
        let p = lookupProcess(index)
        cachedIndex = index
        cachedProcess = Unmanaged.passUnretained(p)
        return p
    }

    /// Runs `body` with process `index`, not retained for it (`procs` keeps it alive): an
    /// access that fetched its process with `process(_:)` paid a retain and a release,
    /// which perf put at a tenth of a random trace's page-table thread.
    @inline(__always)
    func withProcess<R>(_ index: Int32, _ body: (ProcessState) -> R) -> R {
        if index != cachedIndex || cachedProcess == nil { _ = process(index) }
        return cachedProcess.unsafelyUnwrapped._withUnsafeGuaranteedRef(body)
    }

    private func lookupProcess(_ index: Int32) -> ProcessState {
        let i = Int(max(index, 0))
        if i >= procs.count { procs.append(contentsOf: repeatElement(nil, count: i + 1 - procs.count)) }
        if let p = procs[i] { return p }
        // Sized for the faults the process will take, so the map never rehashes; but no
        // larger than `expectedPagesLimit`: the count is the log's claim (a chunk's summary,
        // before its faults are decoded), and a map grows past it anyway.
        let expected = i < input.faultsPerProcess.count ? input.faultsPerProcess[i] : 0
        let pages = min(max(expected, 0) >> max(gs - 12, 0), Self.expectedPagesLimit)
        let p = newProcess(index: Int32(i), space: emptySpace(), base: PageMap(capacity: pages))
        procs[i] = p
        return p
    }

    /// The most pages a process's map is sized for ahead: 16M (64 GiB of 4 KiB pages), a
    /// directory of 8 MB.
    static let expectedPagesLimit = 1 << 24

    func emptySpace() -> AddressSpace { AddressSpace(pageSize: input.hostPageSize, kernel: kernel) }

    func newProcess(index: Int32, space: AddressSpace, base: PageMap = PageMap(), thp: PageMap = PageMap(),
                    huge: [PageLayer] = [], edges: PageMap = PageMap()) -> ProcessState {
        ProcessState(space: space, levels: config.layout.levels, index: index, granuleShift: gs, thpShift: ts,
                     base: base, thp: thp, huge: huge, edges: edges)
    }

    // MARK: result

    func result(seconds: Double) -> ConfigResult {
        memory.finish()
        var rows: [MappingResult] = []
        // With some processes counted, the others' mappings only where those faulted (a
        // forked child's faults land in its parent's mappings).
        let countedPids = countedProcesses.map { counted in Set(input.pids.indices.filter { counted[$0] }.map { input.pids[$0] }) }
        for (i, m) in input.mappings.enumerated() where memory.mapFaults[i] > 0
                || (memory.mapPeak[i] > 0 && countedPids?.contains(m.pid) ?? true) {
            rows.append(MappingResult(pid: m.pid, start: rowStart[i], end: rowEnd[i], name: m.name,
                                      faults: memory.mapFaults[i], peakResidentBytes: UInt64(max(memory.mapPeak[i], 0)),
                                      peakHugeBytes: UInt64(max(memory.mapHugePeak[i], 0)),
                                      lowerBound: totals.coarseRows.contains(Int32(i))))
        }
        var result = ConfigResult(
            config: config, counts: counts.array, accesses: totals.accesses,
            peakResidentBytes: UInt64(max(memory.peakResident, 0)), peakAnonBytes: UInt64(max(memory.peakAnon, 0)),
            hugeBytesAtPeak: UInt64(max(memory.hugeAtPeak, 0)), collapsedBytesAtPeak: UInt64(max(memory.collapsedAtPeak, 0)),
            residentOverTime: memory.samples, finalResidentBytes: UInt64(max(memory.resident, 0)),
            pageTableLevels: tables.peaks, depositedPeak: UInt64(max(tables.depositedPeak, 0)),
            pageTablePeakPages: UInt64(max(tables.totalPeak, 0)),
            mappings: rows, tlb: tlb?.result, outcomes: tally.outcomes.array, repeats: tally.repeats,
            mismatches: tally.mismatches, outsideMappings: totals.outsideMappings, coarseFaults: totals.coarseFaults,
            collapses: totals.collapses, populateCapped: limits.populatesCapped, filledFaults: totals.filledFaults,
            movesCapped: limits.movesCapped, forksCapped: limits.forksCapped, seconds: seconds)
        result.kernelPageFaultsReread = totals.kernelPageFaultsReread
        result.residentAtExit = residentAtExit
        if residentAtExit.processes == 1, input.processCount == 1, let only = input.kernelResident.values.first,
           !input.mappings.contains(where: { $0.vma.isHugetlb }) {
            result.residentAtExit.kernelPeak = only.peakBytes
            result.residentAtExit.modelPeak = result.peakResidentBytes
        }
        return result
    }
}
