// The page-table pages the model's processes hold: which exist (per process, per level),
// how many are live and at their peak, and the tables Linux deposits for each anonymous
// THP (pgtable_trans_huge_deposit), which count as memory though no level uses them.
// Tables are created top down and freed bottom up, as the kernel does.

import FaultlineAddressSpace

final class PageTableModel {
    let layout: PageTableLayout
    let leafLevel: Int
    /// By level: `address >> tableShifts[level]` is the key of the table holding an address.
    let tableShifts: [Int]
    /// The PMD-size pages' shift: a leaf table covers this much.
    let thpShift: Int
    private(set) var live: Counters<Int64>
    private(set) var peak: Counters<Int64>
    private(set) var total: Int64 = 0
    private(set) var totalPeak: Int64 = 0
    private(set) var deposited: Int64 = 0
    private(set) var depositedPeak: Int64 = 0

    init(layout: PageTableLayout) {
        self.layout = layout
        leafLevel = layout.leafLevel
        tableShifts = (0..<layout.levels).map { layout.tableShift($0) }
        thpShift = layout.entryShift(layout.leafLevel - 1)
        live = Counters(layout.levels)
        peak = Counters(layout.levels)
    }

    deinit {
        live.free()
        peak.free()
    }

    /// Whether `p` has a PTE table over `address` (a THP can only go where none is).
    @inline(__always)
    func hasLeafTable(_ p: ProcessState, _ address: UInt64) -> Bool {
        p.leafTables.contains(address >> UInt64(thpShift))
    }

    /// Makes sure the tables down to `level` exist for `address`.
    @inline(__always)
    func ensure(_ p: ProcessState, _ address: UInt64, level: Int) {
        if level == leafLevel {
            if p.leafTables.contains(address >> UInt64(thpShift)) { return }
        } else if p.tables[level].contains(address >> UInt64(tableShifts[level])) {
            return
        }
        for l in 0...level where p.tables[l].set(address >> UInt64(tableShifts[l]), 1) == 0 {
            live[l] += 1
            if live[l] > peak[l] { peak[l] = live[l] }
            total += 1
        }
        notePeak()
    }

    /// Frees the page tables that no longer cover any VMA around [start, end), like
    /// free_pgtables with its floor (the previous VMA's end) and ceiling (the next's start):
    /// the tables over [start, end) that lie wholly between the two. (Only those: any other
    /// table between them went when the memory it covered did. Walking every table between
    /// them was 4% of a replay of 100,000 munmaps, callgrind.)
    func freeUnused(_ p: ProcessState, _ start: UInt64, _ end: UInt64) {
        guard end > start else { return }
        let (floor, ceiling) = p.inSpace { space in
            let nextIndex = space.firstStarting(atOrAfter: start) ?? space.count
            return (nextIndex > 0 ? space[nextIndex - 1].end : 0,
                    space.firstStarting(atOrAfter: end).map { space[$0].start } ?? (UInt64(1) << 57))
        }
        guard ceiling > floor else { return }
        for level in stride(from: leafLevel, through: 1, by: -1) {
            let shift = UInt64(tableShifts[level])
            let low = max((floor &+ (UInt64(1) << shift) &- 1) >> shift, start >> shift)
            let high = min(ceiling >> shift, ((end &- 1) >> shift) &+ 1)
            guard high > low else { continue }
            // Removed in one walk of the range's blocks (listing the entries first and
            // removing each by key was 9% of a munmap-heavy replay, mapping_churn, perf).
            var freed = 0
            p.tables[level].removeAll(in: low, high, runs: { _, keys in freed += keys })
            live[level] -= Int64(freed)
            total -= Int64(freed)
        }
    }

    /// Drops the PTE tables wholly inside `v` (MADV_DONTNEED emptied them: try_to_free_pte).
    /// Within one VMA, as the kernel zaps a VMA at a time: a table whose range two VMAs
    /// share is not freed by a call over one of them.
    func freeLeafTables(_ p: ProcessState, within v: VMA) {
        let span = UInt64(1) << UInt64(thpShift)
        let first = (v.start &+ span &- 1) >> UInt64(thpShift), end = v.end >> UInt64(thpShift)
        guard first < end else { return }
        var freed = 0
        p.leafTables.removeAll(in: first, end, runs: { _, keys in freed += keys })
        live[leafLevel] -= Int64(freed)
        total -= Int64(freed)
    }

    /// Drops the PTE table over one PMD range (a collapse replaced it with a THP).
    func removeLeafTable(_ p: ProcessState, _ address: UInt64) {
        if p.leafTables.remove(address >> UInt64(thpShift)) != 0 {
            live[leafLevel] -= 1
            total -= 1
        }
    }

    /// All of a process's tables go (exec, exit).
    func releaseAll(_ p: ProcessState) {
        for l in 0..<p.tables.count {
            live[l] -= Int64(p.tables[l].count)
            total -= Int64(p.tables[l].count)
            p.tables[l].removeAll()
        }
    }

    /// A PTE table set aside for a THP (n < 0: given back when the THP goes or splits).
    func deposit(_ n: Int64) {
        deposited += n
        if deposited > depositedPeak { depositedPeak = deposited }
        notePeak()
    }

    private func notePeak() {
        if total + deposited > totalPeak { totalPeak = total + deposited }
    }

    /// Peak pages per level, with Linux's names.
    var peaks: [(name: String, peakPages: UInt64)] {
        zip(layout.levelNames, peak.array).map { ($0, UInt64(max($1, 0))) }
    }
}

/// A fixed-size buffer of counters owned by one engine: subscripts without Array's
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
