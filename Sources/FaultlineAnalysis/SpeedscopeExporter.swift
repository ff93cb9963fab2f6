// `export --format speedscope`: speedscope's file format
// (https://www.speedscope.app/file-format-schema.json), one sampled profile per process
// name (a `make -j` of a hundred processes is a handful of profiles: make, cc1, as, ld), or
// with `perProcess` per process; weights in faults, or nanoseconds in faults. Samples keep
// time order, with consecutive faults on the same stack merged into one weighted sample, so
// speedscope's "Time Order" view shows the phases of a run while the file stays small (a
// loop faulting 100k pages is one sample).

import Foundation
import FaultlineCore
import FaultlineLog

public enum SpeedscopeExporter {
    public static let schemaURL = "https://www.speedscope.app/file-format-schema.json"

    /// The file as JSON values. Weights add up to the selected faults, or their time.
    public static func object(log: LoadedLog, namer: FrameNamer, selection: FaultSelection = .everything,
                              weight: Weight = .faults, perProcess: Bool = false) -> [String: Any] {
        // Frames are shared across profiles. Each is a function at a line (the faulting
        // line, or the call's), as perf's srcline keys them: speedscope shows both, so one
        // function called from two lines is two frames. An inlined function says so in
        // its name (the format has no field for it).
        struct FrameKey: Hashable { var name: String; var file: String?; var line: Int? }
        var frameIndex: [FrameKey: Int] = [:]
        var frames: [[String: Any]] = []
        var stackIndices: [StackID: [Int]] = [:]
        func indices(of stack: StackID) -> [Int] {
            if let cached = stackIndices[stack] { return cached }
            let result = namer.rootFirstNames(stack).map { name -> Int in
                let title = name.inlined ? name.function + " (inlined)" : name.function
                let key = FrameKey(name: title, file: name.file, line: name.line)
                if let i = frameIndex[key] { return i }
                var frame: [String: Any] = ["name": title]
                if let file = name.file { frame["file"] = file }
                if let line = name.line { frame["line"] = line }
                frames.append(frame)
                frameIndex[key] = frames.count - 1
                return frames.count - 1
            }
            stackIndices[stack] = result
            return result
        }

        // Per profile (a process, or a process name), in time order of first fault: runs of
        // (stack, weight). Faults that weigh nothing (no time, weighed by time) are left out.
        var runs: [String: [(stack: StackID, weight: UInt64)]] = [:]
        var order: [String] = []
        var names: [String: String] = [:]
        var pidsOfProfile: [String: Set<Int32>] = [:]
        // Each process's profile, named once: the name comes from its command line, which a
        // file may make a megabyte long, and was made again for every fault.
        var keyOfPid: [Int32: String] = [:]
        log.faults.forEachInTimeOrder { _, f in
            guard selection.matches(f) else { return }
            let value = weight == .faults ? 1 : (f.serviceNs ?? 0)
            guard value > 0 else { return }
            let key: String
            if let known = keyOfPid[f.pid] {
                key = known
            } else {
                key = perProcess ? "\(f.pid)" : log.processName(f.pid)
                keyOfPid[f.pid] = key
            }
            if runs[key] == nil {
                order.append(key)
                runs[key] = []
                names[key] = perProcess ? "\(f.pid) \(log.processes[f.pid]?.command ?? "?")" : key
            }
            pidsOfProfile[key, default: []].insert(f.pid)
            if let last = runs[key]!.last, last.stack == f.stack {
                runs[key]![runs[key]!.count - 1].weight = last.weight.addingSaturated(value)
            } else {
                runs[key]!.append((f.stack, value))
            }
        }

        var profiles: [[String: Any]] = []
        var busiest = 0
        var busiestWeight: UInt64 = 0
        for key in order {
            let list = runs[key]!
            let total = list.reduce(UInt64(0)) { $0.addingSaturated($1.weight) }
            if total > busiestWeight || profiles.isEmpty { busiest = profiles.count; busiestWeight = total }
            let count = pidsOfProfile[key]?.count ?? 0
            let name = names[key]! + (perProcess || count == 1 ? "" : " (\(count) processes)")
            profiles.append([
                "type": "sampled",
                "name": name,
                "unit": weight == .faults ? "none" : "nanoseconds",
                "startValue": 0,
                "endValue": total,
                "samples": list.map { indices(of: $0.stack) },
                "weights": list.map(\.weight),
            ])
        }
        return [
            "$schema": schemaURL,
            "shared": ["frames": frames],
            "profiles": profiles,
            "name": "faultline: \(log.commandLine)",
            "activeProfileIndex": max(busiest, 0),
            "exporter": "faultline",
        ]
    }

    /// The file's bytes, newline-terminated.
    public static func data(log: LoadedLog, namer: FrameNamer, selection: FaultSelection = .everything,
                            weight: Weight = .faults, perProcess: Bool = false) throws -> [UInt8] {
        let object = object(log: log, namer: namer, selection: selection, weight: weight, perProcess: perProcess)
        let data = try JSONSerialization.data(withJSONObject: object,
                                              options: [.sortedKeys, .withoutEscapingSlashes])
        return [UInt8](data) + [UInt8(ascii: "\n")]
    }
}
