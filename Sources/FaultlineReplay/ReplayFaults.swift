// The recorded faults as the model reads them, in time order, packed by column
// (CompactFaults, whose pid column holds the dense process index here): address, time,
// process and the few flags the model needs take about 5 bytes a fault on a storm, against
// 24 unpacked, and every configuration's replay reads the same copy. The engine decodes a
// block of 256 at a time into a small buffer and runs its loop over that.

import FaultlineCore
import FaultlineLog

public struct ReplayFaults: Sendable {
    private(set) var columns = CompactFaults()

    public init() {}

    public var count: Int { columns.count }
    public var isEmpty: Bool { columns.isEmpty }

    /// Bytes held, for the memory benchmark.
    public var byteCount: Int { columns.byteCount }

    public mutating func append(_ f: ReplayInput.Fault) {
        columns.append(Self.row(f))
    }

    /// Appends unit `u` of a log's compact faults whole, its faults all of `process`;
    /// false when they are not all of one pid.
    mutating func appendUnit(_ u: Int, of faults: CompactFaults, process: Int32) -> Bool {
        columns.appendUnit(u, of: faults, pid: process)
    }

    @inline(__always)
    static func row(_ f: ReplayInput.Fault) -> CompactFaults.Row {
        CompactFaults.Row(address: f.address, time: f.time, pid: f.process,
                          flags: CompactFaults.flags(access: f.access, kind: f.recorded, kernelMode: f.kernelMode, pageShift: f.pageShift))
    }

    @inline(__always)
    static func fault(_ r: CompactFaults.Row) -> ReplayInput.Fault {
        ReplayInput.Fault(address: r.address, time: r.time, process: r.pid, access: r.access,
                          kernelMode: r.kernelMode, recorded: r.kind, pageShift: r.pageShift)
    }

    /// Calls `body` with the faults from `start` on, a block at a time, in order, until it
    /// returns false.
    public func forEachBlock(from start: Int = 0, _ body: (UnsafeBufferPointer<ReplayInput.Fault>) throws -> Bool) rethrows {
        guard start < count else { return }
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: CompactFaults.scratchCount)
        let buffer = UnsafeMutablePointer<ReplayInput.Fault>.allocate(capacity: CompactFaults.rows)
        defer {
            scratch.deallocate()
            buffer.deallocate()
        }
        var u = columns.unit(containing: start)
        var skip = start - columns.firstIndex(ofUnit: u)
        while u < columns.unitCount {
            let rows = columns.decode(unit: u, into: scratch)
            for r in skip..<rows { (buffer + r - skip).initialize(to: Self.fault(CompactFaults.row(scratch, r))) }
            guard try body(UnsafeBufferPointer(start: buffer, count: rows - skip)) else { return }
            skip = 0
            u += 1
        }
    }

    /// The time of fault `i`.
    public func time(at i: Int) -> UInt64 { columns.time(at: i) }

    public var first: ReplayInput.Fault? { fault(at: 0) }
    public var last: ReplayInput.Fault? { fault(at: count - 1) }

    /// Fault `i`, or nil when out of range.
    public func fault(at i: Int) -> ReplayInput.Fault? {
        guard i >= 0 && i < count else { return nil }
        return Self.fault(columns.row(at: i))
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
