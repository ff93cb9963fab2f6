// The recorded faults as the model reads them, in time order, packed by column
// (CompactFaults, whose pid column holds the dense process index here): address, time,
// process and the few flags the model needs take about 5 bytes a fault on a storm, against
// 24 unpacked, and every configuration's replay reads the same copy. The engine decodes a
// block of 256 at a time into a small buffer and runs its loop over that.
//
// A log's faults are put in time order on a thread of their own and handed over in
// segments as they are ready (FaultFeed), so the models start at once instead of after
// the sort (on the 2M-fault thread storm the sort was a quarter of a replay's wall).
// Hazard: a reader that needs a fault not yet sorted waits for it; nothing reads the
// faults out of order, so nothing can see a half-built segment.

import Foundation
import FaultlineCore
import FaultlineLog

public struct ReplayFaults: Sendable {
    private(set) var columns = CompactFaults()
    /// Set when the faults are put in time order by a thread of their own while the model
    /// already replays them (`inTimeOrder`); `columns` then stays empty.
    private var feed: FaultFeed?

    public init() {}

    /// The faults of `recorded` in time order (stable: a log's order at equal times), each
    /// pid replaced by its process index. They are sorted on a thread of its own, and a
    /// reader gets each block as soon as it is in place: on two cores the model runs while
    /// the rest is sorted. `processes` must have numbered every pid of `recorded`. With
    /// `onThreadOfItsOwn` false they are sorted here, before this returns.
    static func inTimeOrder(_ recorded: CompactFaults, processes: ProcessNumbering, onThreadOfItsOwn: Bool = true) -> ReplayFaults {
        let timeOrder: @Sendable (FaultFeed) -> Void = { feed in
            sort(parts: 1, earliest: [0], counts: [recorded.count], part: { _ in recorded }, processes: processes, into: feed)
        }
        return started(timeOrder, onThreadOfItsOwn: onThreadOfItsOwn)
    }

    /// The faults of a scanned log, decoded chunk by chunk and put in time order on a
    /// thread of their own while the model reads them (see LogScan.swift). If a chunk
    /// cannot be decoded, the faults end before it and `isIncomplete` says so.
    static func inTimeOrder(decoding scanned: ScannedFaults, processes: ProcessNumbering) -> ReplayFaults {
        let timeOrder: @Sendable (FaultFeed) -> Void = { feed in
            sort(parts: scanned.chunkCount, earliest: scanned.earliest, counts: scanned.counts, part: scanned.faults(ofChunk:),
                 processes: processes, into: feed)
        }
        return started(timeOrder, onThreadOfItsOwn: true)
    }

    private static func started(_ timeOrder: @escaping @Sendable (FaultFeed) -> Void, onThreadOfItsOwn: Bool) -> ReplayFaults {
        let feed = FaultFeed()
        // Where no thread can be had, the faults are sorted here, as with `--jobs 1`.
        if !onThreadOfItsOwn || !StageThread.detached({ timeOrder(feed) }) { timeOrder(feed) }
        var faults = ReplayFaults()
        faults.feed = feed
        return faults
    }

    /// The sorting thread's work. (Its state is local and its loop calls nothing that
    /// captures it: reached through a closure's box, the segment under construction was
    /// retained and released for every fault.)
    private static func sort(parts: Int, earliest: [UInt64], counts: [Int], part: (Int) -> CompactFaults?,
                             processes: ProcessNumbering, into feed: FaultFeed) {
        var segment = CompactFaults()
        var inSegment = 0   // segment.count, kept here: the property is another module's call
        var processes = processes
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: CompactFaults.scratchCount)
        defer { scratch.deallocate() }
        func publishWhenFull() {
            guard inSegment >= FaultFeed.segmentFaults else { return }
            feed.publish(&segment)
            inSegment = 0
        }
        func append(_ row: CompactFaults.Row) {
            var row = row
            row.pid = processes.index(ofNumbered: row.pid)
            segment.append(row)
            inSegment += 1
        }
        let complete = CompactFaults.forEachInTimeOrder(parts: parts, earliest: earliest, counts: counts, part: part, unit: { recorded, u in
            if let pid = recorded.constantPid(ofUnit: u),
               segment.appendUnit(u, of: recorded, pid: processes.index(ofNumbered: pid)) {
                inSegment += recorded.rowCount(ofUnit: u)
                return publishWhenFull()
            }
            let n = recorded.decode(unit: u, into: scratch)
            for r in 0..<n { append(CompactFaults.row(scratch, r)) }
            publishWhenFull()
        }, row: { _, row in
            append(row)
            publishWhenFull()
        })
        if inSegment > 0 { feed.publish(&segment) }
        feed.finish(complete: complete)
    }

    /// Every segment with its first index, waiting for the sorting thread to finish if there is one.
    private var whole: [(faults: CompactFaults, start: Int)] {
        guard let feed else { return [(columns, 0)] }
        return feed.allSegments()
    }

    // These wait for the whole sort (the models read with forEachBlock and firstIndex, which
    // wait only for what they need): call them before the models and the overlap is lost.
    public var count: Int { feed?.allSegments().last.map { $0.start + $0.faults.count } ?? columns.count }
    public var isEmpty: Bool { count == 0 }
    /// Some of the log's faults could not be decoded (a scanned log's chunk was damaged, or
    /// changed under the reader): these are only the faults before them. Waits for the sort.
    public var isIncomplete: Bool { feed?.isIncomplete ?? false }

    /// Bytes held, for the memory benchmark.
    public var byteCount: Int { whole.reduce(0) { $0 + $1.faults.byteCount } }

    public mutating func append(_ f: ReplayInput.Fault) {
        if let feed {
            // Faults added after a log's: the sorted ones become this copy's own first.
            for (segment, _) in feed.allSegments() { columns.append(contentsOf: segment) }
            self.feed = nil
        }
        columns.append(Self.row(f))
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

    /// The first of the `limit` faults from `start` on (fewer at the end) that `matches`,
    /// read one at a time; nil when none does. For a search that usually ends within a
    /// few faults, where decoding a whole block of them costs more. Faults still being
    /// sorted are waited for.
    public func first(from start: Int, limit: Int, where matches: (ReplayInput.Fault) -> Bool) -> ReplayInput.Fault? {
        let end = start.addingReportingOverflow(max(limit, 0)).overflow ? Int.max : start + max(limit, 0)
        guard var k = segmentIndex(holding: start) else { return nil }
        while let (columns, first) = segment(k), start < end {
            k += 1
            var i = max(start, first)
            while i < min(end, first + columns.count) {
                let f = Self.fault(columns.row(at: i - first))
                if matches(f) { return f }
                i += 1
            }
            if i >= end { return nil }
        }
        return nil
    }

    /// Segment `k` and its first index: the sorting thread's (waited for), or the one of
    /// faults built here.
    private func segment(_ k: Int) -> (CompactFaults, Int)? {
        guard let feed else { return k == 0 ? (columns, 0) : nil }
        return feed.segment(k)
    }

    /// The segment that holds fault `i` (waited for); nil when the faults end before it.
    private func segmentIndex(holding i: Int) -> Int? {
        guard let feed else { return i < columns.count ? 0 : nil }
        return feed.segmentIndex(holding: i)
    }

    /// Calls `body` with the faults from `start` on, a block at a time, in order, until it
    /// returns false. Faults still being sorted are waited for, block by block.
    public func forEachBlock(from start: Int = 0, _ body: (UnsafeBufferPointer<ReplayInput.Fault>) throws -> Bool) rethrows {
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: CompactFaults.scratchCount)
        let buffer = UnsafeMutablePointer<ReplayInput.Fault>.allocate(capacity: CompactFaults.rows)
        defer {
            scratch.deallocate()
            buffer.deallocate()
        }
        guard let feed else {
            _ = try Self.forEachBlock(of: columns, from: start, scratch, buffer, body)
            return
        }
        guard var i = feed.segmentIndex(holding: max(start, 0)) else { return }
        while let (segment, first) = feed.segment(i) {
            i += 1
            guard try Self.forEachBlock(of: segment, from: max(start - first, 0), scratch, buffer, body) else { return }
        }
    }

    /// false when `body` asked to stop.
    private static func forEachBlock(of columns: CompactFaults, from start: Int, _ scratch: UnsafeMutablePointer<UInt64>,
                                     _ buffer: UnsafeMutablePointer<ReplayInput.Fault>,
                                     _ body: (UnsafeBufferPointer<ReplayInput.Fault>) throws -> Bool) rethrows -> Bool {
        guard start < columns.count else { return true }
        var u = columns.unit(containing: start)
        var skip = start - columns.firstIndex(ofUnit: u)
        while u < columns.unitCount {
            let rows = columns.decode(unit: u, into: scratch)
            for r in skip..<rows { (buffer + r - skip).initialize(to: Self.fault(CompactFaults.row(scratch, r))) }
            guard try body(UnsafeBufferPointer(start: buffer, count: rows - skip)) else { return false }
            skip = 0
            u += 1
        }
        return true
    }

    /// The time of fault `i`.
    public func time(at i: Int) -> UInt64 {
        let (segment, first) = Self.segment(holding: i, in: whole)
        return segment.time(at: i - first)
    }

    public var first: ReplayInput.Fault? { fault(at: 0) }
    public var last: ReplayInput.Fault? { fault(at: count - 1) }

    /// Fault `i`, or nil when out of range.
    public func fault(at i: Int) -> ReplayInput.Fault? {
        guard i >= 0 && i < count else { return nil }
        let (segment, first) = Self.segment(holding: i, in: whole)
        return Self.fault(segment.row(at: i - first))
    }

    /// The first fault at or after time `t` (faults are in time order): its index. Faults
    /// being sorted are waited for only until one at or after `t` is in place.
    public func firstIndex(atOrAfter t: UInt64) -> Int {
        let segments = feed?.segments(reaching: t) ?? [(columns, 0)]
        let total = segments.last.map { $0.start + $0.faults.count } ?? 0
        var lo = 0, hi = total
        while lo < hi {
            let mid = (lo + hi) / 2
            let (segment, first) = Self.segment(holding: mid, in: segments)
            if segment.time(at: mid - first) < t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private static func segment(holding i: Int, in segments: [(faults: CompactFaults, start: Int)]) -> (CompactFaults, Int) {
        var lo = 0, hi = segments.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if segments[mid].start <= i { lo = mid } else { hi = mid - 1 }
        }
        return (segments[lo].faults, segments[lo].start)
    }
}

/// Faults handed from the thread that sorts them to the replays that read them, a segment
/// at a time. A published segment never changes, so readers use their copies unlocked.
final class FaultFeed: @unchecked Sendable {
    /// Faults per segment: small enough that the model starts at once, large enough that
    /// the lock is taken rarely.
    static let segmentFaults = 16_384

    private let condition = NSCondition()
    private var published: [(faults: CompactFaults, start: Int)] = []
    private var total = 0
    private var finished = false

    /// Publishes `faults` (sealed) and empties it for the next segment.
    func publish(_ faults: inout CompactFaults) {
        faults.seal()
        condition.lock()
        published.append((faults, total))
        total += faults.count
        faults = CompactFaults()
        condition.broadcast()
        condition.unlock()
    }

    /// Some faults could not be had: the published ones are only those before them.
    private var incomplete = false

    func finish(complete: Bool = true) {
        condition.lock()
        finished = true
        incomplete = !complete
        condition.broadcast()
        condition.unlock()
    }

    /// Segment `i` and its first index, once published; nil when there are fewer.
    func segment(_ i: Int) -> (CompactFaults, Int)? {
        condition.lock()
        defer { condition.unlock() }
        while i >= published.count && !finished { condition.wait() }
        return i < published.count ? published[i] : nil
    }

    /// The index of the segment that holds fault `i`, once it is published; nil when the
    /// faults end before it. Found by halving, not by walking the segments from the
    /// first: a reader that starts far into the faults (each exec's search for its stack)
    /// took the lock and copied every segment before it, which made a log of many execs
    /// quadratic (a shell loop of 5,000 processes spent 6% of its replay there, perf).
    func segmentIndex(holding i: Int) -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while i >= total && !finished { condition.wait() }
        guard i < total else { return nil }
        var lo = 0, hi = published.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if published[mid].start <= i { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    var isIncomplete: Bool {
        condition.lock()
        defer { condition.unlock() }
        while !finished { condition.wait() }
        return incomplete
    }

    /// Every segment, once all are published.
    func allSegments() -> [(faults: CompactFaults, start: Int)] {
        condition.lock()
        defer { condition.unlock() }
        while !finished { condition.wait() }
        return published
    }

    /// The segments published once a fault at or after `t` is among them (or all are).
    func segments(reaching t: UInt64) -> [(faults: CompactFaults, start: Int)] {
        condition.lock()
        defer { condition.unlock() }
        while !finished && (published.last?.faults.timeRange?.upperBound ?? 0) < t { condition.wait() }
        return published
    }
}
