// A log's faults reduced to what an address-space model reads (address, time, pid, access,
// kind, kernel mode, mapped page size), packed by column (PackedColumns): about 5 bytes a
// fault on a storm. Replay loads a log into these directly (LoadedLog.load with `.compact`)
// and packs them once: decoding a chunk packs its faults, and the time-order sweep moves
// whole blocks that need no reordering into the replay's own columns without unpacking
// them. (Reading every field into FaultColumns, unpacking them for the time order and
// packing them again was about half of a replay's time on a 2M-fault storm, perf.)
//
// Hazard: values are stored exactly (a log may hold any); `CompactFaultsTests` holds it.

import FaultlineCore

public struct CompactFaults: Sendable {
    /// One fault's fields.
    public struct Row: Sendable, Equatable {
        public var address: UInt64
        public var time: UInt64
        /// A pid, or whatever number its owner keeps there (replay: a dense process index).
        public var pid: Int32
        /// access, kind, kernel mode and page shift (see `flags(...)`).
        public var flags: UInt64

        public init(address: UInt64, time: UInt64, pid: Int32, flags: UInt64) {
            self.address = address; self.time = time; self.pid = pid; self.flags = flags
        }

        public var access: Access { Access(rawValue: UInt8(flags & 3)) ?? .read }
        public var kind: FaultKind { FaultKind(rawValue: UInt8((flags >> 2) & 7)) ?? .other }
        public var kernelMode: Bool { flags & (1 << 5) != 0 }
        /// log2 of the page the fault mapped, 0 when the log does not say.
        public var pageShift: UInt8 { UInt8(truncatingIfNeeded: flags >> 8) }
    }

    /// The flags column: access in bits 0-1, kind in 2-4, kernel mode in 5, page shift from 8.
    @inline(__always)
    public static func flags(access: Access, kind: FaultKind, kernelMode: Bool, pageShift: UInt8) -> UInt64 {
        UInt64(access.rawValue) | UInt64(kind.rawValue) << 2 | (kernelMode ? 1 << 5 : 0) | UInt64(pageShift) << 8
    }

    enum Field: Int { case page, inPage, time, pid, flags }
    static let fieldCount = 5
    public static let rows = PackedColumns.blockRows

    private var packed = PackedColumns(columns: fieldCount)
    /// Per packed block: whether its times never fall, and its latest time (the last one,
    /// when they never fall). Its earliest is the time column's minimum.
    private var blockSorted: [Bool] = []
    private var blockLatest: [UInt64] = []
    /// Faults not yet in a block, column-major with stride `rows`.
    private var staging: [UInt64] = []
    private var staged = 0
    /// Some fault says which page size it mapped.
    public private(set) var knowsPageSizes = false

    public init() {}

    /// Every fault of `faults`, sealed.
    public init<S: Sequence>(_ faults: S) where S.Element == FaultEvent {
        for f in faults { append(f) }
        seal()
    }

    public var count: Int { packed.count + staged }
    public var isEmpty: Bool { count == 0 }

    /// Bytes held, for the memory benchmarks.
    public var byteCount: Int { packed.byteCount + staging.capacity * 8 + blockSorted.capacity + blockLatest.capacity * 8 }

    @inline(__always)
    public mutating func append(_ row: Row) {
        if staging.isEmpty { staging = Array(repeating: 0, count: Self.fieldCount * Self.rows) }
        let n = Self.rows, r = staged
        staging.withUnsafeMutableBufferPointer { s in
            s[r] = row.address >> 12
            s[n + r] = row.address & 0xFFF
            s[2 * n + r] = row.time
            s[3 * n + r] = UInt64(UInt32(bitPattern: row.pid))
            s[4 * n + r] = row.flags
        }
        if row.flags >> 8 != 0 { knowsPageSizes = true }
        staged += 1
        if staged == n { seal() }
    }

    public mutating func append(_ f: FaultEvent) {
        append(Row(address: f.address, time: f.timeNs, pid: f.pid,
                   flags: Self.flags(access: f.access, kind: f.kind, kernelMode: f.kernelMode, pageShift: f.pageShift)))
    }

    /// Packs the staged faults into a block (possibly short).
    public mutating func seal() {
        guard staged > 0 else { return }
        staging.withUnsafeBufferPointer { appendBlock($0.baseAddress!, stride: Self.rows, rows: staged) }
        staged = 0
    }

    /// Appends `rows` faults given by column (column-major in Field order, stride
    /// `stride`), in blocks, after sealing what is staged.
    mutating func appendColumns(_ columns: UnsafePointer<UInt64>, stride: Int, rows: Int) {
        seal()
        var start = 0
        while start < rows {
            let n = min(Self.rows, rows - start)
            appendBlock(columns + start, stride: stride, rows: n)
            start += n
        }
        let flags = columns + Field.flags.rawValue * stride
        if !knowsPageSizes, (0..<rows).contains(where: { flags[$0] >> 8 != 0 }) { knowsPageSizes = true }
    }

    private mutating func appendBlock(_ columns: UnsafePointer<UInt64>, stride: Int, rows: Int) {
        let times = columns + Field.time.rawValue * stride
        var sorted = true, latest = times[0]
        for r in 1..<max(rows, 1) {
            if times[r] < times[r - 1] { sorted = false }
            latest = Swift.max(latest, times[r])
        }
        blockSorted.append(sorted)
        blockLatest.append(latest)
        packed.appendBlock(columns, stride: stride, rows: rows)
    }

    /// Appends `other`'s faults after these; the faults staged here become a block.
    public mutating func append(contentsOf other: CompactFaults) {
        seal()
        packed.append(contentsOf: other.packed)
        blockSorted.append(contentsOf: other.blockSorted)
        blockLatest.append(contentsOf: other.blockLatest)
        if other.knowsPageSizes { knowsPageSizes = true }
        if other.staged > 0 {
            staging = other.staging
            staged = other.staged
        }
    }

    /// Appends unit `u` of `other` as it is packed, its pid column (constant there) set to
    /// `pid`; false (nothing appended) when the unit's pids differ or it is staged.
    public mutating func appendUnit(_ u: Int, of other: CompactFaults, pid: Int32) -> Bool {
        guard u < other.packed.blockCount, other.packed.isConstant(block: u, column: Field.pid.rawValue) else { return false }
        seal()
        packed.appendBlock(u, of: other.packed, replacingConstant: Field.pid.rawValue, with: UInt64(UInt32(bitPattern: pid)))
        blockSorted.append(other.blockSorted[u])
        blockLatest.append(other.blockLatest[u])
        if other.knowsPageSizes { knowsPageSizes = true }
        return true
    }

    /// The earliest and the latest time of any fault; nil when there are none.
    public var timeRange: ClosedRange<UInt64>? {
        var earliest = UInt64.max, latest: UInt64 = 0
        for b in 0..<packed.blockCount {
            earliest = Swift.min(earliest, packed.minimum(ofBlock: b, column: Field.time.rawValue))
            latest = Swift.max(latest, blockLatest[b])
        }
        if staged > 0 {
            let times = staging[(Field.time.rawValue * Self.rows)..<(Field.time.rawValue * Self.rows + staged)]
            earliest = Swift.min(earliest, times.min()!)
            latest = Swift.max(latest, times.max()!)
        }
        return count == 0 ? nil : earliest...latest
    }

    // MARK: units: the packed blocks, then the staged faults as one more

    public var unitCount: Int { packed.blockCount + (staged > 0 ? 1 : 0) }

    public func firstIndex(ofUnit u: Int) -> Int {
        u < packed.blockCount ? packed.rows(ofBlock: u).lowerBound : packed.count
    }

    public func rowCount(ofUnit u: Int) -> Int {
        u < packed.blockCount ? packed.rows(ofBlock: u).count : staged
    }

    /// The unit that holds fault `i` (0 <= i < count).
    public func unit(containing i: Int) -> Int {
        i < packed.count ? packed.block(containing: i) : packed.blockCount
    }

    func minimumTime(ofUnit u: Int) -> UInt64 {
        if u < packed.blockCount { return packed.minimum(ofBlock: u, column: Field.time.rawValue) }
        return staging[(Field.time.rawValue * Self.rows)..<(Field.time.rawValue * Self.rows + staged)].min() ?? .max
    }

    /// Whether the unit's times never fall, and its latest (then its last).
    func order(ofUnit u: Int) -> (sorted: Bool, last: UInt64) {
        if u < packed.blockCount { return (blockSorted[u], blockLatest[u]) }
        let times = staging[(Field.time.rawValue * Self.rows)..<(Field.time.rawValue * Self.rows + staged)]
        return (zip(times, times.dropFirst()).allSatisfy { $0 <= $1 }, times.last ?? 0)
    }

    /// The pid of every fault of unit `u`, when they are all the same.
    public func constantPid(ofUnit u: Int) -> Int32? {
        guard u < packed.blockCount, packed.isConstant(block: u, column: Field.pid.rawValue) else { return nil }
        return Int32(bitPattern: UInt32(truncatingIfNeeded: packed.minimum(ofBlock: u, column: Field.pid.rawValue)))
    }

    /// Writes unit `u`'s columns to `scratch` (column-major, stride `rows`, at least
    /// 5 * rows values); returns its row count. Read the rows with `row(_:_:)`.
    public func decode(unit u: Int, into scratch: UnsafeMutablePointer<UInt64>) -> Int {
        if u < packed.blockCount {
            packed.decode(block: u, into: scratch, stride: Self.rows)
            return packed.rows(ofBlock: u).count
        }
        staging.withUnsafeBufferPointer { scratch.update(from: $0.baseAddress!, count: Self.fieldCount * Self.rows) }
        return staged
    }

    /// Scratch space for `decode(unit:into:)`.
    public static var scratchCount: Int { fieldCount * rows }

    /// Row `r` of decoded columns.
    @inline(__always)
    public static func row(_ s: UnsafePointer<UInt64>, _ r: Int) -> Row {
        let n = rows
        return Row(address: s[r] << 12 | s[n + r], time: s[2 * n + r],
                   pid: Int32(bitPattern: UInt32(truncatingIfNeeded: s[3 * n + r])), flags: s[4 * n + r])
    }

    /// The time of fault `i`.
    public func time(at i: Int) -> UInt64 {
        precondition(i >= 0 && i < count)
        if i >= packed.count { return staging[Field.time.rawValue * Self.rows + i - packed.count] }
        return packed.value(row: i, column: Field.time.rawValue)
    }

    /// Fault `i` (0 <= i < count): a search for its block, then five extractions.
    public func row(at i: Int) -> Row {
        precondition(i >= 0 && i < count)
        if i >= packed.count {
            return staging.withUnsafeBufferPointer { Self.row($0.baseAddress!, i - packed.count) }
        }
        let b = packed.block(containing: i)
        let r = i - packed.rows(ofBlock: b).lowerBound
        let v = { (f: Field) in packed.value(block: b, offset: r, column: f.rawValue) }
        return Row(address: v(.page) << 12 | v(.inPage), time: v(.time),
                   pid: Int32(bitPattern: UInt32(truncatingIfNeeded: v(.pid))), flags: v(.flags))
    }

    /// Every pid that faulted, in the order of its first fault, with its number of faults:
    /// one column decoded, and not even that for a block of one process.
    public func faultsPerPidInOrderOfAppearance() -> [(pid: Int32, faults: Int)] {
        var counted = FaultsByPid()
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.scratchCount)
        defer { scratch.deallocate() }
        for u in 0..<unitCount {
            if let pid = constantPid(ofUnit: u) {
                counted.add(pid, rowCount(ofUnit: u))
                continue
            }
            let n = decode(unit: u, into: scratch)
            for r in 0..<n { counted.add(Int32(bitPattern: UInt32(truncatingIfNeeded: scratch[Field.pid.rawValue * Self.rows + r])), 1) }
        }
        return counted.inOrder
    }
}
