// How long faults took: the recorder stores each fault's service time, from the entry
// tracepoint to the completion event (both kernel timestamps). This sums them per kind,
// per process and in total, with percentiles, a log2 histogram, the share of wall time
// spent in faults per thread, and the slowest faults.
//
// Percentiles are exact (nearest rank over the sorted times), so they cost one UInt64 per
// timed fault while the report is built, and no more (issue 9: a reading command holds at
// most 24 bytes a fault): the times by kind, then by process, are collected one after the
// other in arrays reserved to their exact size, and the percentiles of all kinds together
// are read off the sorted lists of each kind without joining them. A fault without a time (a segv, which never
// completes; an entry never paired) is counted in the report but not here.

import FaultlineCore
import FaultlineLog

/// Count, total and percentiles of some faults' service times.
public struct ServiceStats: Sendable, Equatable {
    /// Faults with a known service time.
    public var count: UInt64 = 0
    public var totalNs: UInt64 = 0
    public var p50Ns: UInt64 = 0
    public var p90Ns: UInt64 = 0
    public var p99Ns: UInt64 = 0
    public var maxNs: UInt64 = 0

    public init() {}

    /// From times sorted in increasing order.
    public init(sorted times: [UInt64]) {
        count = UInt64(times.count)
        guard let last = times.last else { return }
        totalNs = times.reduce(UInt64(0)) { $0.addingSaturated($1) }
        p50Ns = Self.percentile(50, of: times)
        p90Ns = Self.percentile(90, of: times)
        p99Ns = Self.percentile(99, of: times)
        maxNs = last
    }

    /// Of the times of several lists, each sorted in increasing order, as if joined and sorted.
    init(sortedLists lists: [[UInt64]]) {
        let n = lists.reduce(0) { $0 + $1.count }
        count = UInt64(n)
        guard n > 0 else { return }
        totalNs = lists.reduce(UInt64(0)) { sum, list in list.reduce(sum) { $0.addingSaturated($1) } }
        maxNs = lists.compactMap(\.last).max() ?? 0
        // The time at rank r of the joined lists is the smallest time that r of them are at
        // or below: searched for over the times' range, each list counted by a binary
        // search. (Walking the lists merged up to the 99th percentile compared every list's
        // head for each time, copying each list to do so: 3% of a 2M-fault report, perf.)
        func atOrBelow(_ t: UInt64) -> Int {
            lists.reduce(0) { total, list in
                var low = 0, high = list.count
                while low < high {
                    let mid = (low + high) / 2
                    if list[mid] <= t { low = mid + 1 } else { high = mid }
                }
                return total + low
            }
        }
        func time(atRank rank: Int) -> UInt64 {
            var low: UInt64 = 0, high = maxNs
            while low < high {
                let mid = low + (high - low) / 2
                if atOrBelow(mid) >= rank { high = mid } else { low = mid + 1 }
            }
            return low
        }
        p50Ns = time(atRank: max((n * 50 + 99) / 100, 1))
        p90Ns = time(atRank: max((n * 90 + 99) / 100, 1))
        p99Ns = time(atRank: max((n * 99 + 99) / 100, 1))
    }

    /// The nearest-rank percentile: the smallest time that at least `p`% of the times are
    /// at or below.
    static func percentile(_ p: Int, of sorted: [UInt64]) -> UInt64 {
        let rank = (sorted.count * p + 99) / 100
        return sorted[max(rank, 1) - 1]
    }

    public var jsonObject: [String: UInt64] {
        ["count": count, "total_ns": totalNs, "p50_ns": p50Ns, "p90_ns": p90Ns, "p99_ns": p99Ns, "max_ns": maxNs]
    }
}

/// Counts of service times in power-of-two buckets, as bpftrace's `hist()` keeps them:
/// bucket 0 holds 0 ns, bucket k holds [2^(k-1), 2^k) ns.
public struct LatencyHistogram: Sendable, Equatable {
    public private(set) var buckets = [UInt64](repeating: 0, count: 65)

    public init() {}

    public static func bucket(of ns: UInt64) -> Int { ns == 0 ? 0 : 64 - ns.leadingZeroBitCount }

    public mutating func add(_ ns: UInt64) { buckets[Self.bucket(of: ns)] += 1 }

    /// The lower bound of bucket k, in nanoseconds.
    public static func lowerBound(_ k: Int) -> UInt64 { k == 0 ? 0 : UInt64(1) << UInt64(k - 1) }

    /// The range of buckets holding anything, or nil when empty.
    public var occupied: ClosedRange<Int>? {
        guard let first = buckets.firstIndex(where: { $0 > 0 }), let last = buckets.lastIndex(where: { $0 > 0 }) else { return nil }
        return first...last
    }
}

/// Service times by kind (and all together) for some set of faults.
public struct ServiceSummary: Sendable, Equatable {
    public var byKind: [FaultKind: ServiceStats] = [:]
    public var all = ServiceStats()
    public var histograms: [FaultKind: LatencyHistogram] = [:]

    public init() {}

    /// From each kind's times by kind number (`FaultKind.rawValue`), in any order: each list
    /// is taken out (so that it is sorted in place, not copied) and sorted.
    init(timesByKind times: inout [[UInt64]], histograms: Bool) {
        var sortedLists: [[UInt64]] = []
        for kind in FaultKind.allCases where Int(kind.rawValue) < times.count && !times[Int(kind.rawValue)].isEmpty {
            var list = times[Int(kind.rawValue)]
            times[Int(kind.rawValue)] = []
            list.sortTimes()
            byKind[kind] = ServiceStats(sorted: list)
            if histograms {
                var h = LatencyHistogram()
                for t in list { h.add(t) }
                self.histograms[kind] = h
            }
            sortedLists.append(list)
        }
        all = ServiceStats(sortedLists: sortedLists)
    }

    public subscript(kind: FaultKind) -> ServiceStats { byKind[kind] ?? ServiceStats() }

    /// `{"anon": {...}, ..., "all": {...}}`: the contract's `service` object.
    public var jsonObject: [String: [String: UInt64]] {
        var object: [String: [String: UInt64]] = ["all": all.jsonObject]
        for kind in FaultKind.allCases { object[kind.name] = self[kind].jsonObject }
        return object
    }
}

/// One thread's time in faults, against the wall time its process was recorded.
public struct ThreadTime: Sendable, Equatable {
    public var tid: Int32
    public var pid: Int32
    public var command: String
    public var faults: UInt64
    public var timeNs: UInt64
    /// From the process's start (or the recording's, if it was running already) to its
    /// exit (or the recording's end): threads' own starts and ends are not recorded, so
    /// a thread's share is of its process's lifetime.
    public var wallNs: UInt64
}

/// A fault that took long, with what it was and where it came from.
public struct SlowFault: Sendable, Equatable {
    public var pid: Int32
    public var tid: Int32
    public var command: String
    /// Since the recording started.
    public var atNs: UInt64
    public var kind: FaultKind
    public var access: Access
    public var address: UInt64
    public var serviceNs: UInt64
    /// The median of its kind, for "412× its kind's median".
    public var kindMedianNs: UInt64
    public var mapping: String
    public var stack: String
    /// The stack's named frames, leaf first: what text shortens frame by frame.
    public var frames: [FrameName] = []
}

/// Everything the report says about time: a pass to count, one for the times by kind, the
/// threads and the slowest faults, one for the times by process.
public struct TimeReport: Sendable {
    public var summary: ServiceSummary
    public var perProcess: [Int32: ServiceSummary]
    /// The recording's wall time and the faults' time in it (summed over threads).
    public var wallNs: UInt64
    public var threads: [ThreadTime]
    public var slowest: [SlowFault]

    /// `slowest` faults (the longest first; ties in log order) are named with `namer`, and
    /// their mappings found with `mappings` when the report built that index anyway (else
    /// with an index of those few faults only).
    init(log: LoadedLog, selection: FaultSelection, slowest limit: Int, namer: FrameNamer, mappings: MappingIndex?) {
        // Times by kind, each array reserved to its size (counted first), so that they take
        // 8 bytes a timed fault and no slack.
        let processes = FaultSelection(pids: selection.pids)
        let kindSlots = Int(FaultKind.allCases.map(\.rawValue).max()!) + 1
        var timedOfKind = [Int](repeating: 0, count: kindSlots)
        // Processes numbered as the faults name them, looked up once a run of one process's
        // faults (a dictionary lookup a fault was a fifth of these passes, perf).
        var numbers: [Int32: Int] = [:], pids: [Int32] = []
        var lastPid: Int32 = 0, lastNumber = -1
        func number(_ pid: Int32) -> Int {
            if lastNumber >= 0 && pid == lastPid { return lastNumber }
            let n = numbers[pid] ?? {
                pids.append(pid)
                numbers[pid] = pids.count - 1
                return pids.count - 1
            }()
            (lastPid, lastNumber) = (pid, n)
            return n
        }
        var timedOfProcess: [[Int]] = []
        for f in log.faults where processes.matches(f) && f.serviceNs != nil {
            timedOfKind[Int(f.kind.rawValue)] += 1
            let p = number(f.pid)
            if p == timedOfProcess.count { timedOfProcess.append([Int](repeating: 0, count: kindSlots)) }
            timedOfProcess[p][Int(f.kind.rawValue)] += 1
        }
        // Lists by kind number, each reserved to its size.
        func reserved(_ counts: [Int]) -> [[UInt64]] {
            counts.map { n in
                var list: [UInt64] = []
                list.reserveCapacity(n)
                return list
            }
        }
        var timesByKind = reserved(timedOfKind)
        struct ThreadKey: Hashable { var pid: Int32; var tid: Int32 }
        var perThread: [ThreadKey: (faults: UInt64, ns: UInt64)] = [:]
        // Faults come in runs of one thread: its counts are kept here until another's come.
        var runKey = ThreadKey(pid: -1, tid: -1), run: (faults: UInt64, ns: UInt64) = (0, 0)
        func endRun() {
            guard run.faults > 0 else { return }
            let sum = perThread[runKey] ?? (0, 0)
            perThread[runKey] = (sum.faults + run.faults, sum.ns.addingSaturated(run.ns))
            run = (0, 0)
        }
        // The slowest so far, kept sorted longest first; the limit is small.
        var slow: [(ns: UInt64, index: Int)] = []
        let limit = max(limit, 0)
        // Times by kind cover every kind of the selected processes (the totals table shows
        // every kind); the slowest faults are of the selected kind only.
        for (index, f) in log.faults.enumerated() where processes.matches(f) {
            let key = ThreadKey(pid: f.pid, tid: f.tid)
            if key != runKey {
                endRun()
                runKey = key
            }
            run.faults += 1
            if let ns = f.serviceNs {
                timesByKind[Int(f.kind.rawValue)].append(ns)
                run.ns = run.ns.addingSaturated(ns)
                if limit > 0 && (slow.count < limit || ns > slow[slow.count - 1].ns) && selection.matches(f) {
                    // After every entry at least as long: ties stay in log order.
                    var low = 0, high = slow.count
                    while low < high {
                        let mid = (low + high) / 2
                        if slow[mid].ns >= ns { low = mid + 1 } else { high = mid }
                    }
                    slow.insert((ns, index), at: low)
                    if slow.count > limit { slow.removeLast() }
                }
            }
        }
        endRun()
        summary = ServiceSummary(timesByKind: &timesByKind, histograms: true)
        // Then by process (by number, then by kind number), once the times by kind are freed.
        var perProcessTimes = timedOfProcess.map(reserved)
        for f in log.faults where processes.matches(f) {
            if let ns = f.serviceNs { perProcessTimes[number(f.pid)][Int(f.kind.rawValue)].append(ns) }
        }
        var perProcess: [Int32: ServiceSummary] = [:]
        for p in perProcessTimes.indices {
            var lists = perProcessTimes[p]
            perProcessTimes[p] = []
            perProcess[pids[p]] = ServiceSummary(timesByKind: &lists, histograms: false)
        }
        self.perProcess = perProcess
        wallNs = log.durationNs

        let start = log.header.startTimeNs
        let end = start.addingSaturated(log.durationNs)
        threads = perThread.map { key, value in
            let record = log.processes[key.pid]
            let born = max(record?.startNs ?? start, start)
            let died = min(record?.exit?.timeNs ?? end, end)
            return ThreadTime(tid: key.tid, pid: key.pid, command: record?.command ?? "?", faults: value.faults,
                              timeNs: value.ns, wallNs: died.subtractingSaturated(born))
        }.sorted { ($0.timeNs, $1.pid, $1.tid) > ($1.timeNs, $0.pid, $0.tid) }

        let summary = self.summary
        let index = mappings ?? MappingIndex(log: log, only: slow.map(\.index))
        func mappingName(_ fault: Int) -> String {
            index.mapping(ofFault: fault).map { MappingName.display(log.modulePath(index.mmaps[$0].module)) } ?? unmappedName
        }
        slowest = slow.map { entry in
            let f = log.faults[entry.index]
            return SlowFault(pid: f.pid, tid: f.tid, command: log.processes[f.pid]?.command ?? "?",
                             atNs: f.timeNs.subtractingSaturated(start), kind: f.kind, access: f.access,
                             address: f.address, serviceNs: entry.ns, kindMedianNs: summary[f.kind].p50Ns,
                             mapping: mappingName(entry.index), stack: namer.stackDescription(f.stack),
                             frames: namer.stackNames(f.stack))
        }
    }
}
