// `replay --format json`: a stable contract, in the shape:
// {"self_check": {…}, "configs": [{"page_size": 4096, "thp": "never", "faults": {…},
//  "peak_resident_bytes": …, "page_table_pages": {…}, "mappings": […], "tlb": {…}}]}
// Keys are written in a fixed order; addresses are hex strings, as in the JSONL export.

import Dispatch
import FaultlineCore

extension ReplayReport {
    public func renderJSON() -> String {
        var text: [UInt8] = []
        renderJSON { text.append(contentsOf: $0) }
        return String(decoding: text, as: UTF8.self)
    }

    /// The JSON, handed to `write` a block at a time as it is built: a report of 100,000
    /// mappings is 16 MB, and built whole it grew by doubling into fresh pages, then was
    /// copied into a String and again into the output (a fifth of a mapping_churn replay's
    /// wall, perf).
    public func renderJSON(to write: (ArraySlice<UInt8>) -> Void) {
        withoutActuallyEscaping(write) { write in
            var o = JSONObject(sink: write)
            if let c = selfCheck { o.object("self_check") { c.write(to: &$0) } } else { o.raw("self_check", "null") }
            o.string("source", source)
            if let countedPids { o.ints("pids", countedPids.sorted().map { UInt64(max($0, 0)) }) } else { o.raw("pids", "null") }
            o.object("khugepaged") { k in
                k.string("model", khugepaged.rawValue)
                k.int("pages_to_scan", khugepagedSettings.pagesToScan)
                k.int("scan_sleep_ms", khugepagedSettings.scanSleepNs / 1_000_000)
                k.int("max_ptes_none", khugepagedSettings.maxPtesNone)
                k.int("max_ptes_shared", khugepagedSettings.maxPtesShared)
            }
            o.object("kernel") { k in
                k.string("release", kernel.version?.description ?? "unknown")
                k.strings("rules", kernel.summary)
            }
            o.objects("configs", configs.indices) { c, i in
                configs[i].write(to: &c, recorded: i == recordedIndex, baseline: baseline)
            }
            o.ints("thp_setting_readers", thpSettingReaders.map { UInt64(max($0, 0)) })
            if !warnings.isEmpty { o.strings("warnings", warnings) }
            o.finish()
            write([UInt8(ascii: "\n")])
        }
    }
}

extension SelfCheck {
    func write(to o: inout JSONObject) {
        o.int("page_size", config.pageSize.pageSize)
        o.string("thp", config.thp.rawValue)
        o.strings("checked", Self.checkedKinds.map(\.name))
        o.bool("matches", matches)
        o.object("recorded") { kindObject(comparedRecorded, &$0) }
        o.object("replayed") { kindObject(comparedReplayed, &$0) }
        o.object("recorded_all") { kindObject(recorded, &$0) }
        o.int("excluded_major", excludedMajor)
        o.int("excluded_swap", excludedSwap)
        o.object("excluded_repeats") { kindObject(excludedRepeats, &$0) }
        o.object("differences") { d in
            for k in FaultKind.allCases { d.int(named: k.name, signed: difference(k)) }
        }
        o.objects("examples", examples) { e, m in
            e.int("pid", UInt64(max(m.pid, 0)))
            e.int("time_ns", m.timeNs)
            e.hex("address", m.address)
            e.string("access", m.access.description)
            e.string("recorded", m.recorded.name)
            e.string("replayed", m.replayed?.name ?? "none")
        }
        o.object("resident_at_exit") { r in
            r.int("processes", UInt64(residentAtExit.processes))
            func write(_ b: ResidentBytes, peak: UInt64?, _ k: inout JSONObject) {
                k.int("anon_bytes", b.anon)
                k.int("file_bytes", b.file)
                k.int("shmem_bytes", b.shmem)
                if let peak { k.int("peak_bytes", peak) } else { k.raw("peak_bytes", "null") }
            }
            r.object("kernel") { write(residentAtExit.kernel, peak: residentAtExit.kernelPeak, &$0) }
            r.object("model") { write(residentAtExit.model, peak: residentAtExit.modelPeak, &$0) }
        }
        o.strings("notes", notes)
    }
}

extension ConfigResult {
    func write(to o: inout JSONObject, recorded: Bool, baseline: ConfigResult?) {
        o.int("page_size", config.pageSize.pageSize)
        o.string("page_size_label", config.pageSize.description)
        o.string("thp", config.thp.rawValue)
        o.bool("recorded", recorded)
        o.bool("lower_bound", lowerBound)
        o.int("coarse_faults", coarseFaults)
        o.string("page_table_layout", config.layout.name)
        o.object("faults") { f in
            for k in FaultKind.allCases { f.int(named: k.name, faults(k)) }
            f.int("total", totalFaults)
        }
        o.int("filled_faults", filledFaults)
        o.int("accesses", accesses)
        o.int("no_fault", noFault)
        o.int("peak_resident_bytes", peakResidentBytes)
        o.int("peak_anon_bytes", peakAnonBytes)
        o.int("final_resident_bytes", finalResidentBytes)
        if let baseline {
            // Against a baseline that is itself a lower bound, a difference means nothing.
            if baseline.lowerBound {
                o.raw("bloat_bytes", "null")
            } else {
                o.int("bloat_bytes", signed: Int64(peakResidentBytes) - Int64(baseline.peakResidentBytes))
            }
        }
        o.int("huge_page_bytes_at_peak", hugeBytesAtPeak)
        o.int("collapsed_huge_page_bytes_at_peak", collapsedBytesAtPeak)
        o.int("collapses", collapses)
        o.ints("resident_over_time", residentOverTime)
        o.object("page_table_pages") { t in
            for level in pageTableLevels { t.int(named: level.name, level.peakPages) }
            t.int("deposited", depositedPeak)
            t.int("total", pageTablePeakPages)
            t.int("total_bytes", pageTablePeakBytes)
        }
        o.int("faults_outside_mappings", outsideMappings)
        o.objects("mappings", mappings, inParallelFrom: 10_000) { e, m in
            e.int("pid", UInt64(max(m.pid, 0)))
            e.hex("start", m.start)
            e.hex("end", m.end)
            e.string("name", m.name)
            e.int("faults", m.faults)
            e.int("peak_resident_bytes", m.peakResidentBytes)
            e.int("peak_huge_page_bytes", m.peakHugeBytes)
            e.bool("lower_bound", m.lowerBound)
        }
        if let tlb {
            o.object("tlb") { x in
                x.string("preset", tlb.preset)
                x.objects("levels", tlb.levels) { e, l in
                    e.string("name", l.name)
                    e.int("hits", l.hits)
                    e.int("misses", l.misses)
                }
                x.int("accesses", tlb.accesses)
                x.int("walks", tlb.walks)
                x.int("walk_memory_accesses", tlb.walkMemoryAccesses)
                x.object("walk_cycles") { c in
                    c.int("min", tlb.walkCyclesMin)
                    c.int("max", tlb.walkCyclesMax)
                }
                if let reach = tlbReachBytes { x.int("reach_bytes", reach) }
            }
        } else {
            o.raw("tlb", "null")
        }
    }
}

private func kindObject(_ counts: [UInt64], _ o: inout JSONObject) {
    for k in FaultKind.allCases { o.int(named: k.name, counts[Int(k.rawValue)]) }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

/// Builds one JSON object in one growing byte buffer, keys in the order they are written,
/// nested objects and arrays written in place. (Each object built as a string of its own
/// and joined into its parent's copied a big result once per level: the 16 MB of a
/// 100,000-mapping replay, mapping_churn 100000 2000, took 0.23 s of its 0.67 s, perf.)
struct JSONObject {
    private var bytes = JSONBuffer(capacity: Self.blockSize + 4096)
    /// Nothing written yet in the innermost object or array open.
    private var atFirst = true
    /// Takes each block of `blockSize` bytes or more as it fills, and the last one.
    private let sink: (ArraySlice<UInt8>) -> Void
    private static let blockSize = 64 << 10

    /// `opening`: starts with the object's `{`; without it, a run of array members.
    init(sink: @escaping (ArraySlice<UInt8>) -> Void, opening: Bool = true) {
        self.sink = sink
        if opening { bytes.append(UInt8(ascii: "{")) }
    }

    mutating func raw(_ key: StaticString, _ value: String) {
        start(key)
        bytes.append(value)
    }
    mutating func bool(_ key: StaticString, _ value: Bool) { raw(key, value ? "true" : "false") }
    mutating func int(_ key: StaticString, _ value: UInt64) {
        start(key)
        bytes.appendDigits(value)
    }
    mutating func int(_ key: StaticString, signed value: Int64) {
        start(key)
        appendSigned(value)
    }
    /// A key made at run time (a fault kind's name, a page-table level's), quoted as it needs.
    mutating func int(named key: String, _ value: UInt64) {
        start(named: key)
        bytes.appendDigits(value)
    }
    mutating func int(named key: String, signed value: Int64) {
        start(named: key)
        appendSigned(value)
    }
    private mutating func appendSigned(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        bytes.appendDigits(value.magnitude)
    }
    mutating func string(_ key: StaticString, _ value: String) {
        start(key)
        bytes.appendQuoted(value)
    }
    /// An address: a hex string, "0x…".
    mutating func hex(_ key: StaticString, _ value: UInt64) {
        start(key)
        bytes.reserve(3)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: "0"))
        bytes.append(UInt8(ascii: "x"))
        bytes.appendDigits(value, hex: true)
        bytes.append(UInt8(ascii: "\""))
    }
    mutating func object(_ key: StaticString, _ body: (inout JSONObject) -> Void) {
        start(key)
        nested(open: "{", close: "}") { body(&$0) }
    }
    /// An array of objects, one for each of `items`.
    mutating func objects<S: Sequence>(_ key: StaticString, _ items: S, _ body: (inout JSONObject, S.Element) -> Void) {
        start(key)
        nested(open: "[", close: "]") { o in
            for item in items {
                o.separate()
                o.nested(open: "{", close: "}") { body(&$0, item) }
            }
        }
    }
    /// `objects` for a long array: its second half is built on another core at the same
    /// time, into bytes of its own, and follows the first. The same bytes, in the same
    /// order; `body` must only read. (100,000 mappings are 16 MB of JSON, a tenth of a
    /// mapping_churn replay's wall built on one core.)
    mutating func objects<C: RandomAccessCollection>(_ key: StaticString, _ items: C, inParallelFrom threshold: Int,
                                                    _ body: (inout JSONObject, C.Element) -> Void) {
        guard items.count >= threshold else { return objects(key, items, body) }
        let middle = items.index(items.startIndex, offsetBy: items.count / 2)
        var laterBlocks: [ArraySlice<UInt8>] = []
        start(key)
        bytes.append(UInt8(ascii: "["))
        atFirst = true
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: 2) { half in
                if half == 0 {
                    for item in items[..<middle] {
                        separate()
                        nested(open: "{", close: "}") { body(&$0, item) }
                    }
                } else {
                    // Every item here follows one of the first half: each takes its comma.
                    var later = JSONObject(sink: { laterBlocks.append($0) }, opening: false)
                    for item in items[middle...] {
                        later.bytes.append(UInt8(ascii: ","))
                        later.nested(open: "{", close: "}") { body(&$0, item) }
                    }
                    later.sink(later.bytes.written)
                }
            }
        }
        sink(bytes.written)
        bytes.removeAll()
        for block in laterBlocks { sink(block) }
        bytes.append(UInt8(ascii: "]"))
        atFirst = false
    }
    mutating func strings<S: Sequence<String>>(_ key: StaticString, _ items: S) {
        start(key)
        nested(open: "[", close: "]") { o in
            for item in items {
                o.separate()
                o.bytes.appendQuoted(item)
            }
        }
    }
    mutating func ints<S: Sequence<UInt64>>(_ key: StaticString, _ items: S) {
        start(key)
        nested(open: "[", close: "]") { o in
            for item in items {
                o.separate()
                o.bytes.appendDigits(item)
            }
        }
    }
    /// Closes the object and hands over what is left.
    mutating func finish() {
        bytes.append(UInt8(ascii: "}"))
        sink(bytes.written)
        bytes.removeAll()
    }

    /// The object `build` writes, whole.
    static func text(_ build: (inout JSONObject) -> Void) -> String {
        var whole: [UInt8] = []
        var o = JSONObject { whole.append(contentsOf: $0) }
        build(&o)
        o.finish()
        return String(decoding: whole, as: UTF8.self)
    }

    /// The separator and `"key":`. A key written in the source is plain JSON (no quote,
    /// backslash or control character: asserted, so a test of any output that writes one
    /// fails in a debug build) and is copied as it is; a key made at run time is quoted
    /// (`named:`). (Quoting each key as a run-time string was 45% of the JSON's time on
    /// 100,000 mappings, perf; asking each whether it needed quoting was a fifth of what was
    /// left, callgrind, mapping_churn 100000 2000.)
    private mutating func start(_ key: StaticString) {
        assert(key.withUTF8Buffer { !$0.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") } },
               "a JSON key in the source needs escaping: \(key)")
        flushIfFull()
        bytes.reserve(key.utf8CodeUnitCount + 4)
        separate()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append($0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }
    private mutating func start(named key: String) {
        flushIfFull()
        separate()
        bytes.appendQuoted(key)
        bytes.append(UInt8(ascii: ":"))
    }
    @inline(__always) private mutating func flushIfFull() {
        if bytes.count >= Self.blockSize { flush() }
    }
    @inline(never) private mutating func flush() {
        sink(bytes.written)
        bytes.removeAll()   // each block is handed over once
    }
    private mutating func separate() {
        if !atFirst { bytes.append(UInt8(ascii: ",")) }
        atFirst = false
    }
    private mutating func nested(open: Unicode.Scalar, close: Unicode.Scalar, _ body: (inout JSONObject) -> Void) {
        bytes.append(UInt8(ascii: open))
        atFirst = true
        body(&self)
        bytes.append(UInt8(ascii: close))
        atFirst = false   // the parent holds a member now
    }
}

func jsonString(_ s: String) -> String {
    var out: [UInt8] = []
    JSONBytes.appendQuoted(s, to: &out)
    return String(decoding: out, as: UTF8.self)
}
