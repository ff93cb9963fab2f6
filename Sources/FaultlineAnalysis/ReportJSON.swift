// `report --format json`: the stable contract in DESIGN.md. Keys are sorted and every
// number is an integer, so output diffs cleanly and parses the same everywhere. Times and
// counts from the log are written as the unsigned 64-bit values they are: a log may hold
// anything up to 2^64-1, and converting to Int would trap above 2^63-1.

import Foundation
import FaultlineCore

extension FaultReport {
    /// The report as JSON values; the first section (if any) becomes `by` and `top`.
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "command": command,
            "duration_ns": durationNs,
            "totals": totals.jsonObject,
            "processes": processes.map { p -> [String: Any] in
                ["pid": Int(p.pid), "ppid": Int(p.ppid), "command": p.command, "counts": p.counts.jsonObject]
            },
            "lost": lost,
            "throttled": throttled,
            "unrecorded": unrecorded.map(\.jsonObject),
            "stack_reach": stackReach.map { $0.jsonObject as Any } ?? NSNull(),
            "complete": complete,
            "damage": damage.map { $0 as Any } ?? NSNull(),
            "crashes": crashes.map { c -> [String: Any] in
                ["pid": Int(c.pid), "tid": Int(c.tid), "command": c.command, "at_ns": c.atNs, "signal": c.signal,
                 "code": c.code, "address": FrameNamer.hex(c.address), "access": c.access.description,
                 "mapping": c.mapping, "earlier_on_page": c.earlierOnPage.kindsObject, "stack": c.stack]
            },
        ]
        if let section = sections.first {
            object["by"] = section.by.rawValue
            object["kind"] = section.filter.map { $0.description as Any } ?? NSNull()
            object["top"] = section.rows.map { row -> [String: Any] in
                var entry: [String: Any] = ["name": row.name, "count": Int(row.count), "kinds": row.counts.kindsObject]
                if !row.frames.isEmpty { entry["frames"] = row.frames.map(\.jsonObject) }
                return entry
            }
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
