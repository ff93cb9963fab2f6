// `replay --format json`: a stable contract, in the shape:
// {"self_check": {…}, "configs": [{"page_size": 4096, "thp": "never", "faults": {…},
//  "peak_resident_bytes": …, "page_table_pages": {…}, "mappings": […], "tlb": {…}}]}
// Keys are written in a fixed order; addresses are hex strings, as in the JSONL export.

import FaultlineCore

extension ReplayReport {
    public func renderJSON() -> String {
        var o = JSONObject()
        if let c = selfCheck { o.raw("self_check", c.json()) } else { o.raw("self_check", "null") }
        o.string("source", source)
        o.raw("pids", countedPids.map { "[" + $0.sorted().map(String.init).joined(separator: ",") + "]" } ?? "null")
        var k = JSONObject()
        k.string("model", khugepaged.rawValue)
        k.int("pages_to_scan", khugepagedSettings.pagesToScan)
        k.int("scan_sleep_ms", khugepagedSettings.scanSleepNs / 1_000_000)
        k.int("max_ptes_none", khugepagedSettings.maxPtesNone)
        k.int("max_ptes_shared", khugepagedSettings.maxPtesShared)
        o.raw("khugepaged", k.text)
        var kr = JSONObject()
        kr.string("release", kernel.version?.description ?? "unknown")
        kr.raw("rules", "[" + kernel.summary.map(jsonString).joined(separator: ",") + "]")
        o.raw("kernel", kr.text)
        o.raw("configs", "[" + configs.enumerated().map { i, r in
            r.json(recorded: i == recordedIndex, baseline: baseline)
        }.joined(separator: ",") + "]")
        if !warnings.isEmpty { o.raw("warnings", "[" + warnings.map(jsonString).joined(separator: ",") + "]") }
        return o.text + "\n"
    }
}

extension SelfCheck {
    func json() -> String {
        var o = JSONObject()
        o.int("page_size", config.pageSize.pageSize)
        o.string("thp", config.thp.rawValue)
        o.raw("checked", "[" + Self.checkedKinds.map { jsonString($0.name) }.joined(separator: ",") + "]")
        o.raw("matches", matches ? "true" : "false")
        o.raw("recorded", kindObject(comparedRecorded))
        o.raw("replayed", kindObject(comparedReplayed))
        o.raw("recorded_all", kindObject(recorded))
        o.int("excluded_major", excludedMajor)
        o.int("excluded_swap", excludedSwap)
        o.raw("excluded_repeats", kindObject(excludedRepeats))
        var d = JSONObject()
        for k in FaultKind.allCases { d.raw(k.name, String(difference(k))) }
        o.raw("differences", d.text)
        o.raw("examples", "[" + examples.map { m in
            var e = JSONObject()
            e.int("pid", UInt64(max(m.pid, 0)))
            e.int("time_ns", m.timeNs)
            e.string("address", hex(m.address))
            e.string("access", m.access.description)
            e.string("recorded", m.recorded.name)
            e.string("replayed", m.replayed?.name ?? "none")
            return e.text
        }.joined(separator: ",") + "]")
        o.raw("notes", "[" + notes.map(jsonString).joined(separator: ",") + "]")
        return o.text
    }
}

extension ConfigResult {
    func json(recorded: Bool, baseline: ConfigResult?) -> String {
        var o = JSONObject()
        o.int("page_size", config.pageSize.pageSize)
        o.string("page_size_label", config.pageSize.description)
        o.string("thp", config.thp.rawValue)
        o.raw("recorded", recorded ? "true" : "false")
        o.raw("lower_bound", lowerBound ? "true" : "false")
        o.int("coarse_faults", coarseFaults)
        o.string("page_table_layout", config.layout.name)
        var f = JSONObject()
        for k in FaultKind.allCases { f.int(k.name, faults(k)) }
        f.int("total", totalFaults)
        o.raw("faults", f.text)
        o.int("accesses", accesses)
        o.int("no_fault", noFault)
        o.int("peak_resident_bytes", peakResidentBytes)
        o.int("peak_anon_bytes", peakAnonBytes)
        o.int("final_resident_bytes", finalResidentBytes)
        if let baseline {
            // Against a baseline that is itself a lower bound, a difference means nothing.
            o.raw("bloat_bytes", baseline.lowerBound ? "null" : String(Int64(peakResidentBytes) - Int64(baseline.peakResidentBytes)))
        }
        o.int("huge_page_bytes_at_peak", hugeBytesAtPeak)
        o.int("collapsed_huge_page_bytes_at_peak", collapsedBytesAtPeak)
        o.int("collapses", collapses)
        o.raw("resident_over_time", "[" + residentOverTime.map(String.init).joined(separator: ",") + "]")
        var t = JSONObject()
        for level in pageTableLevels { t.int(level.name, level.peakPages) }
        t.int("deposited", depositedPeak)
        t.int("total", pageTablePeakPages)
        t.int("total_bytes", pageTablePeakBytes)
        o.raw("page_table_pages", t.text)
        o.int("faults_outside_mappings", outsideMappings)
        o.raw("mappings", "[" + mappings.map { m in
            var e = JSONObject()
            e.int("pid", UInt64(max(m.pid, 0)))
            e.string("start", hex(m.start))
            e.string("end", hex(m.end))
            e.string("name", m.name)
            e.int("faults", m.faults)
            e.int("peak_resident_bytes", m.peakResidentBytes)
            e.int("peak_huge_page_bytes", m.peakHugeBytes)
            e.raw("lower_bound", m.lowerBound ? "true" : "false")
            return e.text
        }.joined(separator: ",") + "]")
        if let tlb {
            var x = JSONObject()
            x.string("preset", tlb.preset)
            x.raw("levels", "[" + tlb.levels.map { l in
                var e = JSONObject()
                e.string("name", l.name)
                e.int("hits", l.hits)
                e.int("misses", l.misses)
                return e.text
            }.joined(separator: ",") + "]")
            x.int("accesses", tlb.accesses)
            x.int("walks", tlb.walks)
            x.int("walk_memory_accesses", tlb.walkMemoryAccesses)
            var c = JSONObject()
            c.int("min", tlb.walkCyclesMin)
            c.int("max", tlb.walkCyclesMax)
            x.raw("walk_cycles", c.text)
            if let reach = tlbReachBytes { x.int("reach_bytes", reach) }
            o.raw("tlb", x.text)
        } else {
            o.raw("tlb", "null")
        }
        return o.text
    }
}

private func kindObject(_ counts: [UInt64]) -> String {
    var o = JSONObject()
    for k in FaultKind.allCases { o.int(k.name, counts[Int(k.rawValue)]) }
    return o.text
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

/// Builds one JSON object with keys in the order they are added, in one growing string
/// (an array of "key":value parts joined at the end, with every key escaped again, took
/// 45 ms of a 1.35 MB result: 500 threads' mappings in 8 configurations, perf).
struct JSONObject {
    private var body = ""
    mutating func raw(_ key: String, _ value: String) {
        start(key)
        body += value
    }
    mutating func int(_ key: String, _ value: UInt64) { raw(key, String(value)) }
    mutating func string(_ key: String, _ value: String) {
        start(key)
        appendJSONString(value, to: &body)
    }
    /// The separator and `"key":`.
    private mutating func start(_ key: String) {
        body += body.isEmpty ? "{" : ","
        appendJSONString(key, to: &body)
        body += ":"
    }
    var text: String { body.isEmpty ? "{}" : body + "}" }
}

func jsonString(_ s: String) -> String {
    var out = ""
    appendJSONString(s, to: &out)
    return out
}

/// Appends `s` quoted and escaped; a string with nothing to escape (nearly every one) is
/// appended whole.
func appendJSONString(_ s: String, to out: inout String) {
    out += "\""
    if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
        out += s
        out += "\""
        return
    }
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) }
            else { out.unicodeScalars.append(u) }
        }
    }
    out += "\""
}
