// `export --format speedscope`: speedscope's file format
// (https://www.speedscope.app/file-format-schema.json), one sampled profile per process,
// weights in faults. Samples keep time order, with consecutive faults on the same stack
// merged into one weighted sample, so speedscope's "Time Order" view shows the phases of
// a run while the file stays small (a loop faulting 100k pages is one sample).

import Foundation
import FaultlineCore
import FaultlineLog

public enum SpeedscopeExporter {
    public static let schemaURL = "https://www.speedscope.app/file-format-schema.json"

    /// The file as JSON values. Weights add up to the log's fault count.
    public static func object(log: LoadedLog, namer: FrameNamer) -> [String: Any] {
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

        // Per process, in time order of first fault: runs of (stack, weight).
        var runs: [Int32: [(stack: StackID, weight: Int)]] = [:]
        var order: [Int32] = []
        log.faults.forEachInTimeOrder { _, f in
            if runs[f.pid] == nil { order.append(f.pid); runs[f.pid] = [] }
            if let last = runs[f.pid]!.last, last.stack == f.stack {
                runs[f.pid]![runs[f.pid]!.count - 1].weight += 1
            } else {
                runs[f.pid]!.append((f.stack, 1))
            }
        }

        var profiles: [[String: Any]] = []
        var busiest = 0, busiestWeight = -1
        for pid in order {
            let list = runs[pid]!
            let weight = list.reduce(0) { $0 + $1.weight }
            if weight > busiestWeight { busiest = profiles.count; busiestWeight = weight }
            let command = log.processes[pid]?.command ?? "?"
            profiles.append([
                "type": "sampled",
                "name": "\(pid) \(command)",
                "unit": "none",
                "startValue": 0,
                "endValue": weight,
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
    public static func data(log: LoadedLog, namer: FrameNamer) throws -> [UInt8] {
        let data = try JSONSerialization.data(withJSONObject: object(log: log, namer: namer),
                                              options: [.sortedKeys, .withoutEscapingSlashes])
        return [UInt8](data) + [UInt8(ascii: "\n")]
    }
}
