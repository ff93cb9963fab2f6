// The recorded faults as the model reads them, in time order, packed by column
// (PackedColumns): address, time, process and the few flags the model needs take about
// 5 bytes a fault on a storm, against 24 unpacked, and every configuration's replay
// reads the same copy. The engine decodes a block of 256 at a time into a small buffer
// and runs its loop over that.

import FaultlineCore
import FaultlineLog

public struct ReplayFaults: Sendable {
    private enum Field: Int { case page, inPage, time, process, flags }
    private static let fieldCount = 5
    private static let rows = PackedColumns.blockRows

    private var packed = PackedColumns(columns: fieldCount)
    /// Faults not yet in a block, column-major with stride `rows`.
    private var staging: [UInt64] = []
    private var staged = 0

    public init() {}

    public var count: Int { packed.count + staged }
    public var isEmpty: Bool { count == 0 }

    /// Bytes held, for the memory benchmark.
    public var byteCount: Int { packed.byteCount + staging.capacity * 8 }

    public mutating func append(_ f: ReplayInput.Fault) {
        if staging.isEmpty { staging = Array(repeating: 0, count: Self.fieldCount * Self.rows) }
        let n = Self.rows, r = staged
        staging.withUnsafeMutableBufferPointer { s in
            s[r] = f.address >> 12
            s[n + r] = f.address & 0xFFF
            s[2 * n + r] = f.time
            s[3 * n + r] = UInt64(UInt32(bitPattern: f.process))
            s[4 * n + r] = UInt64(f.access.rawValue) | UInt64(f.recorded.rawValue) << 2
                | (f.kernelMode ? 1 << 5 : 0) | UInt64(f.pageShift) << 8
        }
        staged += 1
        if staged == Self.rows {
            staging.withUnsafeBufferPointer { packed.appendBlock($0.baseAddress!, stride: n, rows: n) }
            staged = 0
        }
    }

    @inline(__always)
    private static func fault(_ s: UnsafePointer<UInt64>, row r: Int) -> ReplayInput.Fault {
        let n = rows
        let flags = s[4 * n + r]
        return ReplayInput.Fault(address: s[r] << 12 | s[n + r], time: s[2 * n + r],
                                 process: Int32(bitPattern: UInt32(truncatingIfNeeded: s[3 * n + r])),
                                 access: Access(rawValue: UInt8(flags & 3)) ?? .read,
                                 kernelMode: flags & (1 << 5) != 0,
                                 recorded: FaultKind(rawValue: UInt8((flags >> 2) & 7)) ?? .other,
                                 pageShift: UInt8(truncatingIfNeeded: flags >> 8))
    }

    /// Calls `body` with the faults from `start` on, a block at a time, in order, until it
    /// returns false.
    public func forEachBlock(from start: Int = 0, _ body: (UnsafeBufferPointer<ReplayInput.Fault>) throws -> Bool) rethrows {
        guard start < count else { return }
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.fieldCount * Self.rows)
        let buffer = UnsafeMutablePointer<ReplayInput.Fault>.allocate(capacity: Self.rows)
        defer {
            scratch.deallocate()
            buffer.deallocate()
        }
        var b = start < packed.count ? packed.block(containing: start) : packed.blockCount
        var skip = start - (b < packed.blockCount ? packed.rows(ofBlock: b).lowerBound : packed.count)
        while b < packed.blockCount {
            let rows = packed.rows(ofBlock: b).count
            packed.decode(block: b, into: scratch, stride: Self.rows)
            for r in skip..<rows { (buffer + r - skip).initialize(to: Self.fault(scratch, row: r)) }
            guard try body(UnsafeBufferPointer(start: buffer, count: rows - skip)) else { return }
            skip = 0
            b += 1
        }
        guard skip < staged else { return }
        try staging.withUnsafeBufferPointer { s in
            for r in skip..<staged { (buffer + r - skip).initialize(to: Self.fault(s.baseAddress!, row: r)) }
            _ = try body(UnsafeBufferPointer(start: buffer, count: staged - skip))
        }
    }

    /// The time of fault `i`.
    public func time(at i: Int) -> UInt64 {
        precondition(i >= 0 && i < count)
        if i >= packed.count { return staging[Field.time.rawValue * Self.rows + i - packed.count] }
        return packed.value(row: i, column: Field.time.rawValue)
    }

    public var first: ReplayInput.Fault? { fault(at: 0) }
    public var last: ReplayInput.Fault? { fault(at: count - 1) }

    /// Fault `i`, or nil when out of range.
    public func fault(at i: Int) -> ReplayInput.Fault? {
        guard i >= 0 && i < count else { return nil }
        var found: ReplayInput.Fault?
        forEachBlock(from: i) { found = $0.first; return false }
        return found
    }

    /// The first fault at or after time `t` (faults are in time order): its index.
    public func firstIndex(atOrAfter t: UInt64) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if time(at: mid) < t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
