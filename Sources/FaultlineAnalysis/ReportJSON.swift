// `report --format json`: the stable contract in DESIGN.md. Keys are sorted and every
// number is an integer, so output diffs cleanly and parses the same everywhere. Times and
// counts from the log are written as the unsigned 64-bit values they are: a log may hold
// anything up to 2^64-1, and converting to Int would trap above 2^63-1. Names are whole
// (the text report cuts long ones).

import Foundation
import FaultlineCore

extension FaultReport {
    /// The report as JSON values; the first section (if any) becomes `by` and `top`.
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "command": command,
            "duration_ns": durationNs,
            "totals": totals.jsonObject,
            "page_sizes": pageSizes.jsonObject,
            "page_size_unknown": pageSizes.unknown,
            "service": time.summary.jsonObject,
            "fault_time_ns": time.summary.all.totalNs,
            "processes": processes.map { p -> [String: Any] in
                ["pid": Int(p.pid), "ppid": Int(p.ppid), "command": p.command, "counts": p.counts.jsonObject,
                 "service": p.service.jsonObject]
            },
            "threads": time.threads.map { t -> [String: Any] in
                ["tid": Int(t.tid), "pid": Int(t.pid), "faults": t.faults, "time_ns": t.timeNs, "wall_ns": t.wallNs]
            },
            "latency_histograms": latencyHistograms,
            "slowest": time.slowest.map { s -> [String: Any] in
                ["pid": Int(s.pid), "tid": Int(s.tid), "command": s.command, "at_ns": s.atNs, "kind": s.kind.name,
                 "access": s.access.description, "address": FrameNamer.hex(s.address), "service_ns": s.serviceNs,
                 "kind_p50_ns": s.kindMedianNs, "mapping": s.mapping, "stack": s.stack]
            },
            "lost": lost,
            "throttled": throttled,
            "unrecorded": unrecorded.map(\.jsonObject),
            "stack_reach": stackReach.map { $0.jsonObject as Any } ?? NSNull(),
            "complete": complete,
            "damage": damage.map { $0 as Any } ?? NSNull(),
            "pids": selection.pids.map { $0.sorted().map(Int.init) as Any } ?? NSNull(),
            "crashes": crashes.map { c -> [String: Any] in
                ["pid": Int(c.pid), "tid": Int(c.tid), "command": c.command, "at_ns": c.atNs, "signal": c.signal,
                 "code": c.code, "address": FrameNamer.hex(c.address), "access": c.access.description,
                 "mapping": c.mapping, "earlier_on_page": c.earlierOnPage.kindsObject, "stack": c.stack]
            },
        ]
        if let section = sections.first {
            object["by"] = section.by.rawValue
            object["kind"] = section.filter.map { $0.description as Any } ?? NSNull()
            object["weight"] = section.weight.rawValue
            object["children"] = section.children
            object["top"] = section.rows.map { row -> [String: Any] in
                var entry: [String: Any] = ["name": row.name, "count": row.count, "time_ns": row.timeNs,
                                            "kinds": row.counts.kindsObject, "kinds_time_ns": row.tally.time.kindsObject]
                if let inclusive = row.inclusive {
                    entry["inclusive_count"] = inclusive.faults
                    entry["inclusive_time_ns"] = inclusive.timeNs
                }
                if !row.frames.isEmpty { entry["frames"] = row.frames.map(\.jsonObject) }
                return entry
            }
        }
        return object
    }

    /// Per kind with timed faults: `[{"low_ns": 1024, "count": 12}, ...]`, each bucket
    /// holding [low_ns, 2·low_ns) (bucket 0 holds 0 ns, bucket 1 holds 1 ns).
    private var latencyHistograms: [String: [[String: UInt64]]] {
        var object: [String: [[String: UInt64]]] = [:]
        for kind in FaultKind.allCases {
            guard let h = time.summary.histograms[kind], let range = h.occupied else { continue }
            object[kind.name] = range.map { ["low_ns": LatencyHistogram.lowerBound($0), "count": h.buckets[$0]] }
        }
        return object
    }

    public func renderJSON() throws -> String {
        let data = try JSONSerialization.data(withJSONObject: jsonObject,
                                              options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

extension FrameName {
    /// As jsonl's stack frames: `function`, and where known `file`, `line`, `module`, and
    /// `inlined: true` for a function inlined into the next frame.
    public var jsonObject: [String: Any] {
        var object: [String: Any] = ["function": function]
        if let file { object["file"] = file }
        if let line { object["line"] = line }
        if let module { object["module"] = module }
        if inlined { object["inlined"] = true }
        return object
    }
}
