// The OS layer of the model for one configuration: replays a ReplayInput and decides, for
// each access, whether Linux would have faulted and of which kind, keeping resident memory,
// page tables and (optionally) a TLB hierarchy up to date. Faults here; the address-space
// timeline (mmap, munmap, fork, exec, ...) in ReplayEngine+Timeline.swift.
//
// Hazard: the model sees only the accesses it is given. Replaying recorded faults, every
// access is a first touch at the recorded configuration; a coarser configuration maps more
// per fault, so the same stream is enough for it (accesses that did not fault at 4K do not
// fault with bigger pages either).

import FaultlineCore

public final class ReplayEngine {
    public let config: ReplayConfig
    let input: ReplayInput
    let tlb: TLBHierarchy?
    /// The same TLB, unretained: the inner loop calls it without ARC traffic.
    private let tlbRef: Unmanaged<TLBHierarchy>?

    // Geometry, precomputed.
    let gs: Int, ts: Int, hs: Int
    let leafLevel: Int, thpLevel: Int, hugetlbLevel: Int
    let tableShifts: [Int]
    let faultAroundPages: UInt64

    var procs: [ProcessState?]
    let counts = Counters<UInt64>(8)
    var accesses: UInt64 = 0
    var outsideMappings: UInt64 = 0
    /// Imported traces hold accesses that succeeded (and valgrind's view of protections
    /// is not the guest's): no protection or unmapped-memory checks for them.
    var permissive = false

    // Resident memory, bytes.
    var anonBytes: Int64 = 0, fileBytes: Int64 = 0, hugeBytes: Int64 = 0
    var peakResident: Int64 = 0, peakAnon: Int64 = 0, hugeAtPeak: Int64 = 0
    var samples: [UInt64] = []
    var nextSample: UInt64 = 0
    let sampleStep: UInt64
    static let sampleCount = 64

    // Page tables: live and peak pages per level; deposited THP tables.
    let tableLive: Counters<Int64>, tablePeak: Counters<Int64>
    var tableTotal: Int64 = 0, tableTotalPeak: Int64 = 0
    var deposited: Int64 = 0, depositedPeak: Int64 = 0

    // Per mapping row.
    let mapFaults: Counters<UInt64>, mapResident: Counters<Int64>, mapPeak: Counters<Int64>
    var mapStart: [UInt64], mapEnd: [UInt64]

    // Self-check.
    let outcomes = Counters<UInt64>(7 * 8)
    /// Recorded faults, by kind, that found their page already mapped shortly after a
    /// recorded fault on the same page (see `isRepeat`).
    var repeats = [UInt64](repeating: 0, count: 7)
    let recentProcess = Counters<Int32>(256, initial: -1), recentPage = Counters<UInt64>(256), recentTime = Counters<UInt64>(256)
    static let repeatWindowNs: UInt64 = 1_000_000
    var mismatches: [FaultMismatch] = []
    static let mismatchExamples = 20

    deinit {
        for c in [counts, mapFaults, outcomes, recentPage, recentTime] { c.free() }
        for c in [tableLive, tablePeak, mapResident, mapPeak] { c.free() }
        recentProcess.free()
    }

    public init(config: ReplayConfig, input: ReplayInput, tlb: TLBSpec? = nil) {
        self.config = config
        self.input = input
        let layout = config.layout
        gs = config.granuleShift
        ts = config.thpShift
        hs = config.hugetlbShift
        leafLevel = layout.leafLevel
        thpLevel = layout.leafLevel - 1
        hugetlbLevel = hs == 0 ? 0 : (layout.level(forPageShift: hs) ?? layout.leafLevel - 1)
        tableShifts = (0..<layout.levels).map { layout.tableShift($0) }
        var around = config.faultAroundBytes >> UInt64(gs)
        while around & (around - 1) != 0 { around &= around - 1 }   // round down to a power of two
        faultAroundPages = around
        procs = Array(repeating: nil, count: max(input.processCount, 1))
        tableLive = Counters(layout.levels)
        tablePeak = Counters(layout.levels)
        let rows = input.mappings.count
        mapFaults = Counters(rows)
        mapResident = Counters(rows)
        mapPeak = Counters(rows)
        mapStart = input.mappings.map(\.vma.start)
        mapEnd = input.mappings.map(\.vma.end)
        self.tlb = tlb.map { TLBHierarchy(spec: $0, layout: layout) }
        tlbRef = self.tlb.map { Unmanaged.passUnretained($0) }
        sampleStep = max((input.lastTime &- input.firstTime) / UInt64(Self.sampleCount), 1)
        nextSample = input.firstTime
    }

    /// Replays every event of the input.
    public func run() -> ConfigResult {
        let clock = ContinuousClock()
        let started = clock.now
        input.events.withUnsafeBufferPointer { events in
            for e in events { apply(e) }
        }
        let elapsed = clock.now - started
        return result(seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }

    @inline(__always)
    func apply(_ e: ReplayInput.Event) {
        if e.time >= nextSample { takeSamples(until: e.time) }
        switch e.op {
        case .fault:
            let access = Access(rawValue: e.access & 0x7F) ?? .read
            let kind = touch(process: e.process, address: e.a, access: access)
            let recorded = Int(e.recordedKind)
            if recorded < 7 {
                outcomes[recorded * 8 + kind] &+= 1
                let page = e.a >> 12
                if kind == 7 && isRepeat(process: e.process, page: page, time: e.time) {
                    repeats[recorded] &+= 1
                } else if kind != recorded && mismatches.count < Self.mismatchExamples {
                    let pid = Int(e.process) < input.pids.count ? input.pids[Int(e.process)] : 0
                    mismatches.append(FaultMismatch(pid: pid, timeNs: e.time, address: e.a, access: access,
                                                    recorded: FaultKind(rawValue: UInt8(recorded)) ?? .other,
                                                    replayed: FaultKind(rawValue: UInt8(kind))))
                }
                let slot = Self.recentSlot(page)
                recentProcess[slot] = e.process
                recentPage[slot] = page
                recentTime[slot] = e.time
            }
        case .mmap: mmap(process: e.process, row: Int(e.a))
        case .munmap: munmap(process: e.process, start: e.a, end: e.a &+ e.b)
        case .mremap: mremap(process: e.process, index: Int(e.a))
        case .mprotect: mprotect(process: e.process, start: e.a, end: e.a &+ e.b, prot: UInt32(truncatingIfNeeded: e.c))
        case .madvise: madvise(process: e.process, start: e.a, end: e.a &+ e.b, advice: Int32(bitPattern: UInt32(truncatingIfNeeded: e.c)))
        case .brk: brk(process: e.process, result: e.a, heapRow: Int32(truncatingIfNeeded: e.b))
        case .fork: fork(child: e.process, parent: Int32(truncatingIfNeeded: e.a))
        case .execReset: reset(process: e.process, exited: false)
        case .exit: reset(process: e.process, exited: true)
        case .populate: populate(process: e.process, start: e.a, end: e.b)
        }
    }

    /// A recorded fault the model finds already satisfied, within a millisecond of another
    /// recorded fault by the same process on the same 4 KiB page: the kernel fixed the page
    /// in the first and counted the second anyway (threads racing on one page, a retried
    /// CoW). No first-touch model produces these; the self-check shows them apart.
    /// The recent recorded faults are kept direct-mapped by page: a lookup is one compare.
    @inline(__always) static func recentSlot(_ page: UInt64) -> Int { Int(truncatingIfNeeded: (page ^ (page >> 8)) & 255) }

    private func isRepeat(process: Int32, page: UInt64, time: UInt64) -> Bool {
        let slot = Self.recentSlot(page)
        return recentProcess[slot] == process && recentPage[slot] == page && time &- recentTime[slot] <= Self.repeatWindowNs
    }

    /// Writes [start, end) without counting faults (memory the kernel filled for the process).
    func populate(process index: Int32, start: UInt64, end: UInt64) {
        let p = process(index)
        var a = start
        while a < end {
            if let vi = p.vmas.find(a) ?? vmaForUnmapped(p, a) {
                _ = resolve(p, vi, p.vmas[vi], a, write: true, exec: false)
            }
            a += 4096
        }
    }

    private func takeSamples(until time: UInt64) {
        while time >= nextSample && samples.count < Self.sampleCount {
            samples.append(UInt64(max(anonBytes + fileBytes, 0)))
            nextSample &+= sampleStep
        }
        if samples.count >= Self.sampleCount { nextSample = .max }
    }

    /// The process of the last lookup, unretained (`procs` owns it): most events come in
    /// runs of one process, and the inner loop then pays no ARC for it.
    private var cachedIndex: Int32 = -1
    private var cachedProcess: Unmanaged<ProcessState>?

    /// Forgets the cached process (its slot is about to change).
    func invalidateProcessCache() { cachedIndex = -1; cachedProcess = nil }

    @inline(__always)
    func process(_ index: Int32) -> ProcessState { processRef(index).takeUnretainedValue() }

    @inline(__always)
    func processRef(_ index: Int32) -> Unmanaged<ProcessState> {
        if index == cachedIndex, let p = cachedProcess { return p }
        let p = Unmanaged.passUnretained(lookupProcess(index))
        cachedIndex = index
        cachedProcess = p
        return p
    }

    private func lookupProcess(_ index: Int32) -> ProcessState {
        let i = Int(index)
        if i >= procs.count { procs.append(contentsOf: repeatElement(nil, count: i + 1 - procs.count)) }
        if let p = procs[i] { return p }
        // Sized for the faults the process will take, so the map never rehashes.
        let expected = i < input.faultsPerProcess.count ? input.faultsPerProcess[i] : 0
        let p = ProcessState(levels: tableShifts.count, index: index,
                             pages: [PageMap(capacity: expected >> max(gs - 12, 0)), PageMap(), PageMap()])
        procs[i] = p
        return p
    }

    // MARK: faults

    /// One access; returns the FaultKind raw value, or 7 when it took no fault.
    @discardableResult
    public func touch(process index: Int32, address: UInt64, access: Access) -> Int {
        processRef(index)._withUnsafeGuaranteedRef { touch($0, index, address, access) }
    }

    @inline(__always)
    private func touch(_ p: ProcessState, _ index: Int32, _ address: UInt64, _ access: Access) -> Int {
        accesses &+= 1
        guard let vi = p.vmas.find(address) ?? vmaForUnmapped(p, address) else {
            counts[Int(FaultKind.segv.rawValue)] &+= 1
            return Int(FaultKind.segv.rawValue)
        }
        let v = p.vmas[vi]
        let write = access == .write
        let (kind, shift) = resolve(p, vi, v, address, write: write, exec: access == .exec)
        counts[kind] &+= 1
        if kind != 7 && v.mapping >= 0 { mapFaults[Int(v.mapping)] &+= 1 }
        if let tlbRef, kind != Int(FaultKind.segv.rawValue) {
            tlbRef._withUnsafeGuaranteedRef { $0.access(asid: index, address: address, pageShift: shift, instruction: access == .exec) }
        }
        return kind
    }

    @inline(__always)
    private func resolve(_ p: ProcessState, _ vi: Int, _ v: VMA, _ address: UInt64, write: Bool, exec: Bool) -> (Int, Int) {
        // x86 without protection keys: any PROT_* lets a page be read.
        if !permissive && ((write && v.prot & VMA.protWrite == 0) || (exec && v.prot & VMA.protExec == 0) || v.prot & 7 == 0) {
            return (Int(FaultKind.segv.rawValue), gs)
        }
        if hs != 0 && p.hugetlb.count > 0 {
            let key = address >> UInt64(hs)
            let s = p.hugetlb.get(key)
            if s != 0 { return (present(p, vi, v, .hugetlb, key, s, address, write: write), hs) }
        }
        if p.thp.count > 0 {
            let key = address >> UInt64(ts)
            let s = p.thp.get(key)
            if s != 0 {
                let kind = present(p, vi, v, .thp, key, s, address, write: write)
                // A CoW on a THP splits it: the access is then translated by a base page.
                return (kind, kind == 7 ? ts : gs)
            }
        }
        let key = address >> UInt64(gs)
        let s = p.base.get(key)
        if s != 0 { return (present(p, vi, v, .base, key, s, address, write: write), gs) }
        return missing(p, vi, v, address, write: write)
    }

    /// An access to a mapped page: no fault, unless it writes a write-protected page.
    private func present(_ p: ProcessState, _ vi: Int, _ v: VMA, _ layer: Layer, _ key: UInt64, _ s: UInt8,
                         _ address: UInt64, write: Bool) -> Int {
        if !write || s & PageState.writable != 0 { return 7 }
        if !v.backing.isPrivate {
            // Shared memory never copies: a clean page's first write is write-notify.
            p.pages[layer.rawValue].set(key, s | PageState.writable)
            return Int(FaultKind.other.rawValue)
        }
        if !v.hasAnonPages { p.vmas[vi].hasAnonPages = true }
        switch layer {
        case .hugetlb:
            // hugetlb copies (or reuses) the whole huge page.
            p.pages[layer.rawValue].set(key, PageState.present | PageState.writable | PageState.ownsAnon)
            if s & PageState.ownsAnon == 0 {
                let size = Int64(1) << Int64(hs)
                charge(v.mapping, anon: size, file: 0, huge: size)
            }
        case .thp:
            // Since Linux 5.8 a CoW fault on a THP (or the huge zero page) splits the PMD and
            // copies one base page (mm/huge_memory.c do_huge_pmd_wp_page → fallback).
            split(p, key: key)
            let bk = address >> UInt64(gs)
            copyBase(p, v, bk, p.base.get(bk))
        case .base:
            copyBase(p, v, key, s)
        }
        return Int(FaultKind.cow.rawValue)
    }

    @inline(__always)
    private func copyBase(_ p: ProcessState, _ v: VMA, _ key: UInt64, _ s: UInt8) {
        let size = Int64(1) << Int64(gs)
        p.base.set(key, PageState.present | PageState.writable | PageState.ownsAnon)
        charge(v.mapping, anon: s & PageState.ownsAnon == 0 ? size : 0,
               file: s & PageState.ownsFile != 0 ? -size : 0, huge: 0)
    }

    /// An access to a page nothing maps yet.
    private func missing(_ p: ProcessState, _ vi: Int, _ v: VMA, _ address: UInt64, write: Bool) -> (Int, Int) {
        let base = p.base
        let bk = address >> UInt64(gs)
        let g = Int64(1) << Int64(gs)
        switch v.backing {
        case .anonymous:
            if hs != 0 && !v.growsDown && fits(v, address, hs) {
                // hugetlbfs-style: the page is allocated on any first touch (no zero page);
                // a read maps it read-only, so a later write still faults (and reuses it).
                if !v.hasAnonPages { p.vmas[vi].hasAnonPages = true }
                ensureTables(p, address, hugetlbLevel)
                let size = Int64(1) << Int64(hs)
                p.hugetlb.set(address >> UInt64(hs),
                    PageState.present | PageState.ownsAnon | (write ? PageState.writable : 0))
                charge(v.mapping, anon: size, file: 0, huge: size)
                return (Int((write ? FaultKind.anon : .zero).rawValue), hs)
            }
            if thpAllowed(v) && fits(v, address, ts) && !p.leafTables.contains(address >> UInt64(ts)) {
                // do_huge_pmd_anonymous_page: only where no PTE table exists yet. It prepares
                // the anon_vma even for the huge zero page, and deposits a PTE table either way.
                if !v.hasAnonPages { p.vmas[vi].hasAnonPages = true }
                ensureTables(p, address, thpLevel)
                deposit(1)
                let key = address >> UInt64(ts)
                if write {
                    let size = Int64(1) << Int64(ts)
                    p.thp.set(key, PageState.present | PageState.writable | PageState.ownsAnon)
                    charge(v.mapping, anon: size, file: 0, huge: size)
                    return (Int(FaultKind.anon.rawValue), ts)
                }
                p.thp.set(key, PageState.present | PageState.zero)
                return (Int(FaultKind.zero.rawValue), ts)
            }
            ensureTables(p, address, leafLevel)
            if write {
                if !v.hasAnonPages { p.vmas[vi].hasAnonPages = true }
                base.set(bk, PageState.present | PageState.writable | PageState.ownsAnon)
                charge(v.mapping, anon: g, file: 0, huge: 0)
                return (Int(FaultKind.anon.rawValue), gs)
            }
            base.set(bk, PageState.present | PageState.zero)
            return (Int(FaultKind.zero.rawValue), gs)
        case .filePrivate:
            ensureTables(p, address, leafLevel)
            if write {
                // do_cow_fault: the page-cache page is copied in the same fault.
                if !v.hasAnonPages { p.vmas[vi].hasAnonPages = true }
                base.set(bk, PageState.present | PageState.writable | PageState.ownsAnon)
                charge(v.mapping, anon: g, file: 0, huge: 0)
                return (Int(FaultKind.cow.rawValue), gs)
            }
            base.set(bk, PageState.present | PageState.ownsFile)
            charge(v.mapping, anon: 0, file: g, huge: 0)
            faultAround(p, v, address, state: PageState.present | PageState.ownsFile)
            return (Int(FaultKind.file.rawValue), gs)
        case .fileShared, .sharedMemory:
            ensureTables(p, address, leafLevel)
            // A shared file's clean pages are mapped read-only (write-notify); shmem's are not.
            let writable = write || (v.backing == .sharedMemory && v.prot & VMA.protWrite != 0)
            let state = PageState.present | PageState.ownsFile | (writable ? PageState.writable : 0)
            base.set(bk, state)
            charge(v.mapping, anon: 0, file: g, huge: 0)
            if !write { faultAround(p, v, address, state: state) }
            return (Int(FaultKind.file.rawValue), gs)
        }
    }

    @inline(__always)
    func fits(_ v: VMA, _ address: UInt64, _ shift: Int) -> Bool {
        let size = UInt64(1) << UInt64(shift)
        let start = address & ~(size - 1)
        return start >= v.start && start &+ size <= v.end
    }

    @inline(__always)
    func thpAllowed(_ v: VMA) -> Bool {
        switch config.thp {
        case .never: return false
        case .always: return v.hugeAdvice >= 0
        case .madvise: return v.hugeAdvice > 0
        }
    }

    /// do_fault_around: map the cached pages of a fault_around_bytes window (aligned, clipped
    /// to the VMA and the PTE table) that are not mapped yet. No fault is counted for them;
    /// the model assumes every page of the file is in the page cache.
    private func faultAround(_ p: ProcessState, _ v: VMA, _ address: UInt64, state: UInt8) {
        guard faultAroundPages > 1 else { return }
        let page = address >> UInt64(gs)
        let tablePages = UInt64(1) << UInt64(ts - gs)
        let tableFirst = page & ~(tablePages - 1)
        let vmaFirst = (v.start + (UInt64(1) << UInt64(gs)) - 1) >> UInt64(gs)
        let vmaEnd = v.end >> UInt64(gs)
        let from = max(page & ~(faultAroundPages - 1), vmaFirst, tableFirst)
        let to = min(from + faultAroundPages, tableFirst + tablePages, vmaEnd)
        guard from < to else { return }
        let base = p.base
        let g = Int64(1) << Int64(gs)
        var q = from
        while q < to {
            if q != page && base.get(q) == 0 {
                base.set(q, state)
                charge(v.mapping, anon: 0, file: g, huge: 0)
            }
            q += 1
        }
    }

    /// A fault outside every known mapping: a stack growing down; with the log's full
    /// address-space timeline, a SIGSEGV (nil), as Linux would deliver; else memory the log
    /// never described (counted, and modelled as one page of anonymous memory).
    private func vmaForUnmapped(_ p: ProcessState, _ address: UInt64) -> Int? {
        if let ni = p.vmas.next(after: address), p.vmas[ni].growsDown, p.vmas[ni].start - address <= 256 << 20 {
            p.vmas.growDown(ni, to: address & ~4095)
            return ni
        }
        outsideMappings &+= 1
        if input.hasAddressSpaceTimeline && !permissive { return nil }
        let start = address & ~4095
        p.vmas.insert(VMA(start: start, end: start + 4096, prot: 7, backing: .anonymous, mapping: -1))
        return p.vmas.find(address)!
    }

    // MARK: accounting

    @inline(__always)
    func charge(_ mapping: Int32, anon: Int64, file: Int64, huge: Int64) {
        anonBytes &+= anon
        fileBytes &+= file
        hugeBytes &+= huge
        if mapping >= 0 {
            let m = Int(mapping)
            mapResident[m] &+= anon &+ file
            if mapResident[m] > mapPeak[m] { mapPeak[m] = mapResident[m] }
        }
        let total = anonBytes &+ fileBytes
        if total > peakResident { peakResident = total; hugeAtPeak = hugeBytes }
        if anonBytes > peakAnon { peakAnon = anonBytes }
    }

    /// Makes sure the tables down to `level` exist for `address` (tables are created top
    /// down and freed bottom up, so if the one at `level` exists, all above it do).
    @inline(__always)
    func ensureTables(_ p: ProcessState, _ address: UInt64, _ level: Int) {
        if level == leafLevel {
            if p.leafTables.contains(address >> UInt64(ts)) { return }
        } else if p.tables[level].contains(address >> UInt64(tableShifts[level])) {
            return
        }
        for l in 0...level where p.tables[l].set(address >> UInt64(tableShifts[l]), 1) == 0 {
            tableLive[l] += 1
            if tableLive[l] > tablePeak[l] { tablePeak[l] = tableLive[l] }
            tableTotal += 1
        }
        if tableTotal + deposited > tableTotalPeak { tableTotalPeak = tableTotal + deposited }
    }

    func deposit(_ n: Int64) {
        deposited += n
        if deposited > depositedPeak { depositedPeak = deposited }
        if tableTotal + deposited > tableTotalPeak { tableTotalPeak = tableTotal + deposited }
    }

    // MARK: result

    func result(seconds: Double) -> ConfigResult {
        takeSamples(until: .max - 1)
        let layout = config.layout
        var rows: [MappingResult] = []
        for (i, m) in input.mappings.enumerated() where mapFaults[i] > 0 || mapPeak[i] > 0 {
            rows.append(MappingResult(pid: m.pid, start: mapStart[i], end: mapEnd[i], name: m.name,
                                      faults: mapFaults[i], peakResidentBytes: UInt64(max(mapPeak[i], 0))))
        }
        return ConfigResult(
            config: config, counts: counts.array, accesses: accesses,
            peakResidentBytes: UInt64(max(peakResident, 0)), peakAnonBytes: UInt64(max(peakAnon, 0)),
            hugeBytesAtPeak: UInt64(max(hugeAtPeak, 0)), residentOverTime: samples,
            finalResidentBytes: UInt64(max(anonBytes + fileBytes, 0)),
            pageTableLevels: zip(layout.levelNames, tablePeak.array).map { ($0, UInt64(max($1, 0))) },
            depositedPeak: UInt64(max(depositedPeak, 0)), pageTablePeakPages: UInt64(max(tableTotalPeak, 0)),
            mappings: rows, tlb: tlb?.result, outcomes: outcomes.array, repeats: repeats, mismatches: mismatches,
            outsideMappings: outsideMappings, seconds: seconds)
    }
}

/// A fixed-size buffer of counters owned by the engine: subscripts without Array's
/// uniqueness checks, which the inner loop would otherwise pay on every update.
struct Counters<T: FixedWidthInteger> {
    let base: UnsafeMutablePointer<T>
    let count: Int

    init(_ count: Int, initial: T = 0) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: initial, count: max(count, 1))
    }

    subscript(i: Int) -> T {
        @inline(__always) get { base[i] }
        @inline(__always) nonmutating set { base[i] = newValue }
    }

    var array: [T] { Array(UnsafeBufferPointer(start: base, count: count)) }
    func free() { base.deallocate() }
}
