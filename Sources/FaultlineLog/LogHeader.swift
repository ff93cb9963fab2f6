// The self-describing part of a log: what was recorded, where and how. Stored as
// key/value strings so that fields can be added without a format version change.

import FaultlineCore

public struct LogHeader: Sendable, Equatable {
    public var kernelRelease: String
    public var machine: String
    public var hostname: String
    public var pageSize: UInt64
    /// /sys/kernel/mm/transparent_hugepage/enabled's selected value: always, madvise or never.
    public var thpMode: String
    public var command: [String]
    /// CLOCK_MONOTONIC ns when recording started; fault times are on the same clock.
    public var startTimeNs: UInt64
    /// Unix time (seconds) when recording started, for people.
    public var startWallSeconds: UInt64
    public var callGraph: String
    public var recorderVersion: String
    /// Anything else, kept so that a newer writer's fields survive an older reader.
    public var extra: [String: String]

    /// `record --no-thp` turned THP off for the command (PR_SET_THP_DISABLE): every fault
    /// was recorded at base-page granularity, whatever `thpMode` says.
    public var thpDisabledByRecorder: Bool {
        get { extra[Self.thpDisabledKey] == "1" }
        set { extra[Self.thpDisabledKey] = newValue ? "1" : nil }
    }
    static let thpDisabledKey = "thp_disabled_by_recorder"

    /// Host memory-management settings the model follows, as the recorder read them from
    /// sysfs and procfs: `khugepaged/max_ptes_none`, `use_zero_page`, `hugetlb_default_size`...
    /// (header key "mm.NAME"), nil when the log does not say.
    public func setting(_ name: String) -> UInt64? { extra["mm." + name].flatMap { UInt64($0) } }
    public mutating func setSetting(_ name: String, _ value: UInt64?) { extra["mm." + name] = value.map(String.init) }
    /// A setting that names a mode (`shmem_enabled`: "never", "always"...), as the file says.
    public func modeSetting(_ name: String) -> String? { extra["mm." + name] }
    public mutating func setModeSetting(_ name: String, _ value: String?) { extra["mm." + name] = value }

    public init(kernelRelease: String = "", machine: String = "", hostname: String = "",
                pageSize: UInt64 = 4096, thpMode: String = "", command: [String] = [],
                startTimeNs: UInt64 = 0, startWallSeconds: UInt64 = 0, callGraph: String = "fp",
                recorderVersion: String = "", extra: [String: String] = [:]) {
        self.kernelRelease = kernelRelease; self.machine = machine; self.hostname = hostname
        self.pageSize = pageSize; self.thpMode = thpMode; self.command = command
        self.startTimeNs = startTimeNs; self.startWallSeconds = startWallSeconds
        self.callGraph = callGraph; self.recorderVersion = recorderVersion; self.extra = extra
    }

    private static let knownKeys: Set<String> = [
        "kernel", "machine", "hostname", "page_size", "thp", "start_ns", "start_wall",
        "call_graph", "recorder", "argc",
    ]

    var fields: [(String, String)] {
        var f: [(String, String)] = [
            ("kernel", kernelRelease), ("machine", machine), ("hostname", hostname),
            ("page_size", String(pageSize)), ("thp", thpMode), ("start_ns", String(startTimeNs)),
            ("start_wall", String(startWallSeconds)), ("call_graph", callGraph),
            ("recorder", recorderVersion), ("argc", String(command.count)),
        ]
        for (i, arg) in command.enumerated() { f.append(("argv\(i)", arg)) }
        for key in extra.keys.sorted() { f.append((key, extra[key]!)) }
        return f
    }

    init(fields: [(String, String)]) {
        var d: [String: String] = [:]
        for (k, v) in fields { d[k] = v }
        self.init(kernelRelease: d["kernel"] ?? "", machine: d["machine"] ?? "",
                  hostname: d["hostname"] ?? "", pageSize: UInt64(d["page_size"] ?? "") ?? 4096,
                  thpMode: d["thp"] ?? "", startTimeNs: UInt64(d["start_ns"] ?? "") ?? 0,
                  startWallSeconds: UInt64(d["start_wall"] ?? "") ?? 0,
                  callGraph: d["call_graph"] ?? "", recorderVersion: d["recorder"] ?? "")
        let argc = max(0, min(Int(d["argc"] ?? "") ?? 0, fields.count)) // a negative count must not trap
        command = (0..<argc).map { d["argv\($0)"] ?? "" }
        extra = d.filter { key, _ in !Self.knownKeys.contains(key) && !key.hasPrefix("argv") }
    }
}

/// What the recorder knows at the end: written last, so its absence means the recording
/// was cut off.
public struct LogSummary: Sendable, Equatable {
    public var endTimeNs: UInt64
    public var faults: UInt64
    /// Events the kernel dropped (PERF_RECORD_LOST) and times it throttled sampling.
    public var lost: UInt64
    public var throttled: UInt64
    /// Fault entries (tracepoint) that never completed and were not signalled: kernel
    /// exception fix-ups (EFAULT) and spurious faults. Not counted as faults.
    public var unaccountedEntries: UInt64
    public var exitCode: Int32

    public init(endTimeNs: UInt64, faults: UInt64, lost: UInt64, throttled: UInt64,
                unaccountedEntries: UInt64, exitCode: Int32) {
        self.endTimeNs = endTimeNs; self.faults = faults; self.lost = lost
        self.throttled = throttled; self.unaccountedEntries = unaccountedEntries
        self.exitCode = exitCode
    }
}
