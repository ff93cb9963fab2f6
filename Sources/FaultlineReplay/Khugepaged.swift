// khugepaged in the model: the kernel thread that collapses ranges of base pages into THPs
// after the fact (mm/khugepaged.c). It wakes as soon as the first process has memory THP may
// use, then every scan_sleep_millisecs; each wake it scans pages_to_scan PTEs' worth of
// address space (each PMD-size range counts 512), process by process in the order they
// came, VMA by VMA, carrying on where it stopped. A range is collapsed when it has a PTE
// table, no more than max_ptes_none empty (or zero-page) PTEs, at least one writable page,
// and no more than max_ptes_shared pages shared with another process.
//
// Hazard: the real thread's first wake, and the other processes on the machine it also
// scans, are not in the log: the pace is the kernel's, the phase an assumption. `eager`
// scans everything every 10 ms of the recording: the upper bound on what khugepaged does.

import FaultlineCore
import FaultlineAddressSpace

/// How the model plays khugepaged.
public enum KhugepagedModel: String, Sendable, CaseIterable {
    /// No collapses after the fact.
    case off
    /// The kernel's pace: pages_to_scan per scan_sleep_millisecs (from the log's header).
    case paced
    /// Everything eligible collapsed, every 10 ms of the recording.
    case eager

    /// How often an eager khugepaged wakes.
    static let eagerIntervalNs: UInt64 = 10_000_000
}

/// khugepaged's settings (/sys/kernel/mm/transparent_hugepage/khugepaged/), as recorded.
public struct KhugepagedSettings: Sendable, Equatable {
    public var pagesToScan: UInt64 = 4096
    public var scanSleepNs: UInt64 = 10_000_000_000
    public var maxPtesNone: UInt64 = 511
    public var maxPtesShared: UInt64 = 256

    public init() {}
}

/// Where khugepaged is in its round and when it wakes next.
struct KhugepagedState {
    var nextWake: UInt64 = .max
    /// The process being scanned and the address it stopped at.
    var process: Int32 = 0
    var address: UInt64 = 0
}

extension ReplayEngine {
    /// Wakes khugepaged for every wake due by `time`.
    @inline(__always)
    func runKhugepaged(until time: UInt64) {
        guard time >= khugepaged.nextWake else { return }
        let interval = khugepagedModel == .eager ? KhugepagedModel.eagerIntervalNs : max(input.khugepaged.scanSleepNs, 1)
        var wakes = 0
        while khugepaged.nextWake <= time {
            // Wakes with nothing happening between them change nothing once a round is done:
            // after enough of them, the rest are skipped (a long idle stretch, or a time of
            // 2^64-1 in a file, must not take a wake every 10 s of it).
            if wakes == Self.wakesBetweenEvents {
                let behind = (time - khugepaged.nextWake) / interval + 1
                let (skip, overflow) = behind.multipliedReportingOverflow(by: interval)
                let (next, later) = khugepaged.nextWake.addingReportingOverflow(skip)
                khugepaged.nextWake = overflow || later ? .max : next
                return
            }
            scanOnce()
            wakes += 1
            let (next, overflow) = khugepaged.nextWake.addingReportingOverflow(interval)
            khugepaged.nextWake = overflow ? .max : next
        }
    }

    /// The most wakes played between two events: rounds enough for 8 GiB of ranges at the
    /// kernel's pace.
    static let wakesBetweenEvents = 512

    /// Starts khugepaged's clock when `p` has memory it may collapse (khugepaged_enter_vma
    /// wakes the thread when its list was empty): among `candidates`, the pieces a change
    /// made or whose flags it set, or any of `p`'s pieces when nil (the THP prctl). Only
    /// those can have become able to hold a THP; looking at every piece after every change
    /// made a replay of 8,000 threads' 47,000 changes among 24,000 VMAs at `--thp madvise`,
    /// where none could, take 13 s instead of 0.1 s.
    /// (`candidates` is asked for only then: listing an madvise's pieces at every change was
    /// 1% of a replay of 100,000 mmap/madvise/munmap cycles at `never`, where none can.)
    func noteKhugepagedCandidate(_ p: ProcessState, among candidates: @autoclosure () -> [VMA]?, at time: UInt64) {
        guard khugepagedModel != .off, khugepaged.nextWake == .max, config.thp != .never else { return }
        let eligible = candidates().map { $0.contains { p.thpAllowed($0, mode: config.thp) } }
            ?? p.space.vmas.contains { p.thpAllowed($0, mode: config.thp) }
        if eligible { khugepaged.nextWake = time }
    }

    /// The pieces a change may have made able to hold a THP: what it mapped (a brk growth),
    /// what madvise set flags on; none for the rest (munmap, mprotect, mremap and the memory
    /// locks keep each piece's flags); nil, meaning all, for the THP prctl.
    func khugepagedCandidates(of change: AddressSpaceChange, _ effect: ChangeEffect, in p: ProcessState) -> [VMA]? {
        switch change {
        case .thpDisable: return nil
        case .madvise(let address, let length, _):
            guard let r = p.space.range(address, length) else { return [] }
            return p.space.pieces(r.start, r.end)
        default:
            if case .mapped(let a) = effect { return a.added }
            return []
        }
    }

    /// One wake: scan up to pages_to_scan (all, when eager), from where the last one stopped.
    private func scanOnce() {
        var budget = khugepagedModel == .eager ? UInt64.max : max(input.khugepaged.pagesToScan, 1)
        var processesLeft = procs.count + 1
        while budget > 0 && processesLeft > 0 {
            let i = Int(khugepaged.process)
            if i < procs.count, let p = procs[i], !scan(p, budget: &budget) { return }
            // This process is done (or gone): the next one, from its start.
            khugepaged.process = procs.isEmpty ? 0 : Int32((i + 1) % procs.count)
            khugepaged.address = 0
            processesLeft -= 1
        }
    }

    /// Scans `p`'s eligible PMD-size ranges from the cursor on; false when the budget ran
    /// out before its end (the cursor then says where to carry on). Only a range with a page
    /// table can collapse, so only those are visited; the ranges between them cost their
    /// share of the budget all the same, as the kernel's scan pays for them.
    private func scan(_ p: ProcessState, budget: inout UInt64) -> Bool {
        let size = UInt64(1) << UInt64(ts)
        let rangePages = UInt64(1) << UInt64(ts - gs)
        /// Pays for `ranges` ranges; false (budget spent, cursor moved that far) if it cannot.
        func pay(_ ranges: UInt64, from key: UInt64) -> Bool {
            let (cost, overflow) = ranges.multipliedReportingOverflow(by: rangePages)
            if !overflow && cost <= budget { budget -= cost; return true }
            khugepaged.address = (key &+ budget / rangePages) << UInt64(ts)
            budget = 0
            return false
        }
        // From the piece the cursor is in, as the kernel's VMA iterator starts at
        // khugepaged_scan.address; each piece that may not have a THP costs one unit of the
        // budget (khugepaged_scan_mm_slot's `skip: progress++`). Walked from the first piece
        // at no cost, every wake (512 of them between two events far apart) visited every
        // VMA: quadratic in a log of many small mappings.
        var first = p.space.firstStarting(atOrAfter: khugepaged.address) ?? p.space.count
        if first > 0 && p.space[first - 1].end > khugepaged.address { first -= 1 }
        for vi in first..<p.space.count {
            let v = p.space[vi]
            guard p.thpAllowed(v, mode: config.thp) else {
                guard budget > 1 else {
                    budget = 0
                    khugepaged.address = v.end
                    return false
                }
                budget -= 1
                continue
            }
            // Ranges that begin in this piece (the kernel's VMA may go on past it).
            let from = max(v.start, khugepaged.address)
            var key = (from >> UInt64(ts)) &+ (from & (size - 1) == 0 ? 0 : 1)
            let endKey = ((v.end &- 1) >> UInt64(ts)) &+ 1
            guard endKey > key else { continue }
            for (table, _) in p.leafTables.entries(in: key, endKey) {
                guard pay(table - key + 1, from: key) else { return false }
                let start = table << UInt64(ts)
                if p.inSpace({ $0.kernelVMACovers(vi, start, start &+ size) }) {
                    collapseIfWorthIt(p, start, label: v.label, rangePages: rangePages)
                }
                key = table + 1
                khugepaged.address = key << UInt64(ts)
            }
            guard pay(endKey - key, from: key) else { return false }
            khugepaged.address = endKey << UInt64(ts)
        }
        return true
    }

    /// hpage_collapse_scan_pmd's rules, then the collapse.
    private func collapseIfWorthIt(_ p: ProcessState, _ start: UInt64, label: Int32, rangePages: UInt64) {
        guard p.thp.get(start >> UInt64(ts)) == 0, tables.hasLeafTable(p, start) else { return }
        let first = start >> UInt64(gs)
        var none: UInt64 = 0, shared: UInt64 = 0, writable = false
        for i in 0..<rangePages {
            let s = p.base.get(first + i)
            if s == 0 || s & PageState.zero != 0 { none += 1; continue }
            if s & PageState.writable != 0 { writable = true }
            if s & PageState.ownsAnon == 0 { shared += 1 }
        }
        let settings = input.khugepaged
        guard none < rangePages, none <= settings.maxPtesNone, shared <= settings.maxPtesShared, writable else { return }
        collapseRange(p, start, label: label)
    }
}
