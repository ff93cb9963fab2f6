// Where a command traps on an input: the first frame in faultline's own sources (not the
// fuzzer's), read from gdb's backtrace of the trapping thread. Swift's own backtracer
// names it too, but it can hang on a trap inside a Dispatch worker (replay's), and gdb
// does not. Used to tell crash sites apart and to keep a minimized input at its site.

import Foundation

enum CrashSite {
    static let gdb = "/usr/bin/gdb"

    /// "FaultlineReplay/ReplayEngine.swift:101", or nil when `commands` does not trap on
    /// `path` (or gdb is missing, or took more than two minutes).
    static func of(_ path: String, commands: String) throws -> String? {
        guard FileManager.default.isExecutableFile(atPath: gdb) else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["-s", "KILL", "120", gdb, "-q", "-batch", "-ex", "run", "-ex", "bt", "--args",
                       "/proc/self/exe".resolvedExecutable, "--run", path, "--commands", commands]
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no" // gdb, not the runtime, takes the signal
        p.environment = environment
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return site(inBacktrace: text)
    }

    static func site(inBacktrace text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("#") {
            guard let at = line.range(of: "/Sources/", options: .backwards) else { continue }
            let site = String(line[at.upperBound...])
            if site.hasPrefix("FaultlineFuzz/") || site.hasPrefix("faultline-fuzz/") { continue }
            return site
        }
        return nil
    }
}

extension String {
    /// This path with its symbolic links resolved (gdb should run the binary, not /proc/self/exe).
    var resolvedExecutable: String { (try? FileManager.default.destinationOfSymbolicLink(atPath: self)) ?? self }
}
