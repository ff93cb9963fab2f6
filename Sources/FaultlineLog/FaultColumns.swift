// A loaded log's faults, packed by column (PackedColumns): on a fault storm about 8 bytes a
// fault instead of a FaultEvent's 72, so a 100M-fault recording can be read on a laptop.
// It reads as a random-access collection of FaultEvent, so `for f in log.faults` works as
// it did. Iterating decodes a block of 256 at a time; a subscript decodes one row (a search
// for its block, then twelve extractions): iterate where you can.
//
// Hazard: every field round-trips exactly, extreme values included (a log may hold any);
// `FaultColumnsTests` holds it to that.

import FaultlineCore

public struct FaultColumns: RandomAccessCollection, Sendable {
    /// The columns, one per field of FaultEvent; the address is split into its page and the
    /// offset in it, which is 0 in most storms and so takes no bits at all.
    enum Field: Int {
        case pid, tid, time, page, inPage, ip, stack, flags, errorCode, service, signal, signalCode
    }
    static let fieldCount = 12
    static let rows = PackedColumns.blockRows

    /// `flags`: kind in bits 0-2, access in 3-4, then these, the page shift in bits 8-15,
    /// and whether a swap-in read the disk in bit 16.
    private static let kernelModeBit: UInt64 = 1 << 5
    private static let errorCodeKnownBit: UInt64 = 1 << 6
    private static let serviceKnownBit: UInt64 = 1 << 7
    private static let swapFromDiskBit: UInt64 = 1 << 16

    private var packed = PackedColumns(columns: fieldCount)
    /// The faults not yet in a block, column-major with stride `rows`; allocated on the
    /// first append.
    private var staging: [UInt64] = []
    private var staged = 0

    public init() {}

    public init<S: Sequence>(_ faults: S) where S.Element == FaultEvent {
        for f in faults { append(f) }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { packed.count + staged }

    /// Bytes held (the packed blocks and the staging area), for the memory benchmark.
    public var byteCount: Int { packed.byteCount + staging.capacity * 8 }

    public mutating func append(_ f: FaultEvent) {
        if staging.isEmpty { staging = Array(repeating: 0, count: Self.fieldCount * Self.rows) }
        let row = staged
        staging.withUnsafeMutableBufferPointer { Self.store(f, into: $0.baseAddress!, row: row) }
        staged += 1
        if staged == Self.rows { seal() }
    }

    /// Appends `other`'s faults after these. The faults staged here become a block of their
    /// own (possibly short), so appending whole chunks' worth costs a copy of packed words.
    public mutating func append(contentsOf other: FaultColumns) {
        seal()
        packed.append(contentsOf: other.packed)
        if other.staged > 0 {
            staging = other.staging
            staged = other.staged
        }
    }

    /// Packs the staged faults into a block.
    public mutating func seal() {
        guard staged > 0 else { return }
        let rows = staged
        staging.withUnsafeBufferPointer { packed.appendBlock($0.baseAddress!, stride: Self.rows, rows: rows) }
        staged = 0
    }

    public subscript(i: Int) -> FaultEvent {
        precondition(i >= 0 && i < endIndex, "fault index \(i) out of range 0..<\(endIndex)")
        if i >= packed.count {
            return staging.withUnsafeBufferPointer { Self.event($0.baseAddress!, row: i - packed.count, stride: Self.rows) }
        }
        let b = packed.block(containing: i)
        let r = i - packed.rows(ofBlock: b).lowerBound
        var values = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                      UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &values) { raw in
            let v = raw.baseAddress!.assumingMemoryBound(to: UInt64.self)
            for c in 0..<Self.fieldCount { v[c] = packed.value(block: b, offset: r, column: c) }
            return Self.event(v, row: 0, stride: 1)
        }
    }

    /// The time of fault `i`: one column of one row.
    public func timeNs(at i: Int) -> UInt64 {
        precondition(i >= 0 && i < endIndex)
        if i >= packed.count { return staging[Field.time.rawValue * Self.rows + i - packed.count] }
        return packed.value(row: i, column: Field.time.rawValue)
    }

    // MARK: rows

    @inline(__always)
    private static func store(_ f: FaultEvent, into s: UnsafeMutablePointer<UInt64>, row r: Int) {
        let n = rows
        s[r] = UInt64(UInt32(bitPattern: f.pid))
        s[n + r] = UInt64(UInt32(bitPattern: f.tid))
        s[2 * n + r] = f.timeNs
        s[3 * n + r] = f.address >> 12
        s[4 * n + r] = f.address & 0xFFF
        s[5 * n + r] = f.ip
        s[6 * n + r] = UInt64(f.stack.rawValue)
        var flags = UInt64(f.kind.rawValue) | UInt64(f.access.rawValue) << 3 | UInt64(f.pageShift) << 8
        if f.kernelMode { flags |= kernelModeBit }
        if f.swapFromDisk { flags |= swapFromDiskBit }
        if f.errorCode != nil { flags |= errorCodeKnownBit }
        if f.serviceNs != nil { flags |= serviceKnownBit }
        s[7 * n + r] = flags
        s[8 * n + r] = UInt64(f.errorCode ?? 0)
        s[9 * n + r] = f.serviceNs ?? 0
        s[10 * n + r] = UInt64(UInt32(bitPattern: f.signal))
        s[11 * n + r] = UInt64(UInt32(bitPattern: f.signalCode))
    }

    /// Row `r` of column-major values with `stride` back into a FaultEvent.
    @inline(__always)
    private static func event(_ s: UnsafePointer<UInt64>, row r: Int, stride n: Int) -> FaultEvent {
        let flags = s[7 * n + r]
        return FaultEvent(
            pid: Int32(bitPattern: UInt32(truncatingIfNeeded: s[r])),
            tid: Int32(bitPattern: UInt32(truncatingIfNeeded: s[n + r])),
            timeNs: s[2 * n + r],
            address: s[3 * n + r] << 12 | s[4 * n + r],
            ip: s[5 * n + r],
            kind: FaultKind(rawValue: UInt8(flags & 7)) ?? .other,
            access: Access(rawValue: UInt8((flags >> 3) & 3)) ?? .read,
            kernelMode: flags & kernelModeBit != 0,
            errorCode: flags & errorCodeKnownBit != 0 ? UInt16(truncatingIfNeeded: s[8 * n + r]) : nil,
            serviceNs: flags & serviceKnownBit != 0 ? s[9 * n + r] : nil,
            signal: Int32(bitPattern: UInt32(truncatingIfNeeded: s[10 * n + r])),
            signalCode: Int32(bitPattern: UInt32(truncatingIfNeeded: s[11 * n + r])),
            stack: StackID(rawValue: UInt32(truncatingIfNeeded: s[6 * n + r])),
            pageShift: UInt8(truncatingIfNeeded: flags >> 8),
            swapFromDisk: flags & swapFromDiskBit != 0)
    }

    // MARK: blocks

    /// Blocks to decode: the packed ones, then the staged faults as one more.
    var unitCount: Int { packed.blockCount + (staged > 0 ? 1 : 0) }

    func firstIndex(ofUnit u: Int) -> Int {
        u < packed.blockCount ? packed.rows(ofBlock: u).lowerBound : packed.count
    }

    func minimumTime(ofUnit u: Int) -> UInt64 {
        if u < packed.blockCount { return packed.minimum(ofBlock: u, column: Field.time.rawValue) }
        return staging[(Field.time.rawValue * Self.rows)..<(Field.time.rawValue * Self.rows + staged)].min() ?? .max
    }

    /// Decodes unit `u` into `out` (replacing its contents); `scratch` holds at least
    /// fieldCount * rows values.
    func decode(unit u: Int, into out: inout [FaultEvent], scratch: UnsafeMutablePointer<UInt64>) {
        out.removeAll(keepingCapacity: true)
        if u < packed.blockCount {
            let rows = packed.rows(ofBlock: u).count
            packed.decode(block: u, into: scratch, stride: Self.rows)
            for r in 0..<rows { out.append(Self.event(scratch, row: r, stride: Self.rows)) }
        } else {
            staging.withUnsafeBufferPointer { s in
                for r in 0..<staged { out.append(Self.event(s.baseAddress!, row: r, stride: Self.rows)) }
            }
        }
    }

    /// Calls `body` with each block's faults in log order, and the index of the first.
    public func forEachBlock(_ body: (_ firstIndex: Int, _ faults: UnsafeBufferPointer<FaultEvent>) throws -> Void) rethrows {
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.fieldCount * Self.rows)
        defer { scratch.deallocate() }
        var block: [FaultEvent] = []
        block.reserveCapacity(Self.rows)
        for u in 0..<unitCount {
            decode(unit: u, into: &block, scratch: scratch)
            try block.withUnsafeBufferPointer { try body(firstIndex(ofUnit: u), $0) }
        }
    }

    /// Every pid that faulted, in the order of its first fault: one column decoded, and
    /// not even that for a block of one process.
    public func pidsInOrderOfAppearance() -> [Int32] {
        var seen = Set<Int32>(), order: [Int32] = []
        func note(_ raw: UInt64) {
            let pid = Int32(bitPattern: UInt32(truncatingIfNeeded: raw))
            if seen.insert(pid).inserted { order.append(pid) }
        }
        let column = Field.pid.rawValue
        var values = [UInt64](repeating: 0, count: Self.rows)
        for b in 0..<packed.blockCount {
            if packed.isConstant(block: b, column: column) {
                note(packed.minimum(ofBlock: b, column: column))
                continue
            }
            let rows = packed.rows(ofBlock: b).count
            values.withUnsafeMutableBufferPointer { packed.decode(block: b, column: column, into: $0.baseAddress!) }
            for r in 0..<rows { note(values[r]) }
        }
        for r in 0..<staged { note(staging[column * Self.rows + r]) }
        return order
    }

    public func makeIterator() -> Iterator { Iterator(self) }

    /// Decodes a block at a time.
    public struct Iterator: IteratorProtocol {
        private let columns: FaultColumns
        private var unit = 0
        private var block: [FaultEvent] = []
        private var position = 0
        private var scratch: [UInt64] = []

        init(_ columns: FaultColumns) { self.columns = columns }

        public mutating func next() -> FaultEvent? {
            if position < block.count {
                position += 1
                return block[position - 1]
            }
            guard unit < columns.unitCount else { return nil }
            if scratch.isEmpty { scratch = Array(repeating: 0, count: FaultColumns.fieldCount * FaultColumns.rows) }
            let u = unit
            scratch.withUnsafeMutableBufferPointer { s in columns.decode(unit: u, into: &block, scratch: s.baseAddress!) }
            unit += 1
            position = 1
            return block[0]
        }
    }
}

extension FaultColumns: Equatable {
    public static func == (a: FaultColumns, b: FaultColumns) -> Bool {
        a.count == b.count && a.elementsEqual(b)
    }

    /// Whether these are exactly `faults`, in order (what a test compares a load with).
    public static func == (a: FaultColumns, b: [FaultEvent]) -> Bool {
        a.count == b.count && a.elementsEqual(b)
    }
}
