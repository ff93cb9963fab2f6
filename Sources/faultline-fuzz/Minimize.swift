// `faultline-fuzz --minimize FILE --commands C`: the smallest log (by records) that still
// makes command C crash, found by delta debugging (Zeller's ddmin) over the records of
// FILE. Each candidate runs in a child process (`faultline-fuzz --run`), since a crash
// ends the process it happens in; with gdb, a candidate counts only if it traps at the
// same source line as FILE. What is left is a reproducer a person can read
// (`faultline export OUT --format jsonl`).

import Foundation
import FaultlineLog
import FaultlineFuzz

enum Minimizer {
    struct Item { var chunk: Int; var record: LogRecord }

    static func minimize(_ path: String, commands: String, output: String, work: String) throws {
        guard let log = FuzzSeed.load(path: path, requireWhole: false) else {
            throw FuzzError("\(path) has no records to minimize (not a log)")
        }
        var items = log.chunks.enumerated().flatMap { c, records in records.map { Item(chunk: c, record: $0) } }
        let candidate = work + "/minimize-candidate.flt"
        var tries = 0
        func crashes(_ list: [Item]) throws -> Bool {
            tries += 1
            try Data(encode(list)).write(to: URL(fileURLWithPath: candidate))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
            p.arguments = ["--run", candidate, "--commands", commands]
            var environment = ProcessInfo.processInfo.environment
            environment["SWIFT_BACKTRACE"] = "enable=no" // a backtrace per candidate would cost more than the run
            p.environment = environment
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            return p.terminationReason == .uncaughtSignal
        }
        guard try crashes(items) else { throw FuzzError("`\(commands)` does not crash on \(path)") }
        // ddmin keeps whatever still crashes, which may be another bug: with gdb, only a
        // crash at the same place counts.
        let site = try CrashSite.of(path, commands: commands)
        print("faultline-fuzz: minimizing a crash at \(site ?? "an unknown place (no gdb, or no frame of ours)")")
        func crashesAtSite(_ list: [Item]) throws -> Bool {
            guard try crashes(list) else { return false }
            guard let site else { return true }
            return try CrashSite.of(candidate, commands: commands) == site
        }
        var n = 2
        while items.count >= 2 {
            let size = (items.count + n - 1) / n
            var reduced = false
            for start in stride(from: 0, to: items.count, by: size) {
                var complement = items
                complement.removeSubrange(start..<min(start + size, items.count))
                if try crashesAtSite(complement) {
                    items = complement
                    n = max(n - 1, 2)
                    reduced = true
                    break
                }
            }
            if !reduced {
                if n >= items.count { break }
                n = min(items.count, n * 2)
            }
        }
        try Data(encode(items)).write(to: URL(fileURLWithPath: output))
        try? FileManager.default.removeItem(atPath: candidate)
        print("faultline-fuzz: \(items.count) records of \(log.chunks.joined().count) still crash `\(commands)`"
              + (site.map { " at \($0)" } ?? "") + " (\(tries) tries): \(output)")
    }

    /// The items' records in their chunks, empty chunks left out.
    static func encode(_ items: [Item]) -> [UInt8] {
        var bytes = LogChunks.fileHeader
        var chunk: [LogRecord] = []
        var current = items.first?.chunk
        for item in items {
            if item.chunk != current {
                bytes += LogChunks.chunk(chunk, deflate: false)
                chunk = []
                current = item.chunk
            }
            chunk.append(item.record)
        }
        if !chunk.isEmpty { bytes += LogChunks.chunk(chunk, deflate: false) }
        return bytes
    }
}
