// Machine-wide settings some tests need for a moment: more hugetlb pages, a hugetlbfs
// mount, a swap file, a memory cgroup. Each is undone when the test's body returns (or
// throws), and each tolerates another test run on the same machine changing the same
// setting meanwhile: the hugetlb pool is raised and lowered by the same amount, under a
// lock every test of this project takes, rather than set to a remembered value.

import XCTest
import FaultlineTestSupport
import Foundation
import Glibc

enum MachineSettings {
    /// Runs a program, returning its exit status and its standard error.
    @discardableResult
    static func run(_ path: String, _ args: [String]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    static func readInt(_ path: String) -> Int? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func write(_ text: String, to path: String) -> Bool {
        (try? text.write(toFile: path, atomically: false, encoding: .utf8)) != nil
    }
}

/// /proc/sys/vm/nr_hugepages, raised for a test.
enum HugePagePool {
    static let path = "/proc/sys/vm/nr_hugepages"
    static let lockPath = "/run/lock/faultline-tests-nr_hugepages.lock"

    /// Runs `body` with `count` more 2 MiB pages in the pool (skipping, with the reason, when
    /// the pool cannot grow: no hugetlb, not root, or memory too fragmented even after
    /// compacting it), then gives them back.
    static func withExtraPages<T>(_ count: Int, _ body: () throws -> T) throws -> T {
        guard let before = MachineSettings.readInt(path) else {
            throw Skip.because("hugetlb needs \(path), which this kernel does not have")
        }
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if lock >= 0 { flock(lock, LOCK_EX) }
        defer { if lock >= 0 { flock(lock, LOCK_UN); close(lock) } }
        let current = MachineSettings.readInt(path) ?? before
        guard geteuid() == 0, MachineSettings.write("\(current + count)", to: path) else {
            throw Skip.because("hugetlb needs \(count) more huge pages: raising \(path) needs root")
        }
        var now = MachineSettings.readInt(path) ?? current
        // Free memory too fragmented for that many 2 MiB pages: a passing state of the
        // machine. Compact it and ask again, a few times.
        for _ in 0..<3 where now < current + count {
            _ = MachineSettings.write("1", to: "/proc/sys/vm/compact_memory")
            _ = MachineSettings.write("\(current + count)", to: path)
            now = MachineSettings.readInt(path) ?? now
        }
        defer {
            // Lower by what was added, not back to a remembered value: another run may have
            // changed the pool meanwhile.
            let after = MachineSettings.readInt(path) ?? now
            _ = MachineSettings.write("\(max(after - (now - current), 0))", to: path)
        }
        guard now >= current + count else {
            throw Skip.because("the kernel found only \(now - current) of \(count) free 2 MiB pages for hugetlb, "
                               + "memory compacted three times (too fragmented, or too little free)")
        }
        return try body()
    }
}

/// A hugetlbfs mount of 2 MiB pages in a fresh directory, for a test.
enum HugetlbfsMount {
    static func with<T>(_ body: (String) throws -> T) throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-hugetlbfs-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard mount("none", dir, "hugetlbfs", 0, "pagesize=2M") == 0 else {
            throw Skip.because("cannot mount hugetlbfs at \(dir): \(String(cString: strerror(errno))) (needs root and CONFIG_HUGETLBFS)")
        }
        defer { umount2(dir, Int32(MNT_DETACH)) }
        return try body(dir)
    }
}

/// A swap file, on while the test's body runs: created with dd, mkswap and swapon, then
/// swapoff and removed.
enum SwapFile {
    static func with<T>(mib: Int, in directory: String, _ body: () throws -> T) throws -> T {
        guard geteuid() == 0 else { throw Skip.because("turning swap on needs root") }
        for tool in ["/usr/bin/dd", "/usr/sbin/mkswap", "/usr/sbin/swapon", "/usr/sbin/swapoff"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            throw Skip.because("turning swap on needs \(tool) (util-linux, coreutils)")
        }
        let path = directory + "/faultline-swap-\(getpid())"
        try? FileManager.default.removeItem(atPath: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // dd writes every block: swapon refuses a file with holes (fallocate's, on some filesystems).
        let dd = try MachineSettings.run("/usr/bin/dd", ["if=/dev/zero", "of=\(path)", "bs=1M", "count=\(mib)", "status=none"])
        guard dd.status == 0 else { throw Skip.because("cannot create a swap file at \(path): \(dd.stderr)") }
        chmod(path, 0o600)
        let mk = try MachineSettings.run("/usr/sbin/mkswap", [path])
        guard mk.status == 0 else { throw Skip.because("mkswap \(path) failed: \(mk.stderr)") }
        let on = try MachineSettings.run("/usr/sbin/swapon", [path])
        guard on.status == 0 else {
            throw Skip.because("swapon \(path) failed, so swap cannot be turned on here: \(on.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        defer { _ = try? MachineSettings.run("/usr/sbin/swapoff", [path]) }
        return try body()
    }
}

/// A memory cgroup with a limit, v2 (/sys/fs/cgroup with the memory controller) or v1
/// (the memory hierarchy), whichever the machine has.
struct MemoryCgroup {
    let directory: String
    let version: Int

    /// Makes the group, limited to `limitBytes`, with swap allowed. Skips when there is no
    /// memory controller.
    static func with<T>(limitBytes: UInt64, _ body: (MemoryCgroup) throws -> T) throws -> T {
        let name = "faultline-test-\(getpid())"
        let v2Roots = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        var group: MemoryCgroup?
        for root in v2Roots {
            let controllers = (try? String(contentsOfFile: root + "/cgroup.controllers", encoding: .utf8)) ?? ""
            if controllers.split(separator: " ").contains(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines) == "memory" }) {
                _ = MachineSettings.write("+memory", to: root + "/cgroup.subtree_control")
                group = MemoryCgroup(directory: root + "/" + name, version: 2)
                break
            }
        }
        if group == nil, FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.limit_in_bytes") {
            group = MemoryCgroup(directory: "/sys/fs/cgroup/memory/" + name, version: 1)
        }
        guard let group else { throw Skip.because("no memory cgroup controller is mounted (v2 memory or v1 memory)") }
        guard mkdir(group.directory, 0o755) == 0 || errno == EEXIST else {
            throw Skip.because("cannot make the memory cgroup \(group.directory): \(String(cString: strerror(errno)))")
        }
        defer { rmdir(group.directory) }
        let limit = group.version == 2 ? "memory.max" : "memory.limit_in_bytes"
        guard MachineSettings.write("\(limitBytes)", to: group.directory + "/" + limit) else {
            throw Skip.because("cannot set \(group.directory)/\(limit)")
        }
        if group.version == 1 { _ = MachineSettings.write("100", to: group.directory + "/memory.swappiness") }
        return try body(group)
    }

    /// The shell command that moves the shell into the group (before it execs the sample).
    var enterCommand: String { "echo $$ > \(directory)/cgroup.procs" }

    /// A counter of memory.stat (v1 and v2 both have pgfault and pgmajfault).
    func stat(_ key: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: directory + "/memory.stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == key { return UInt64(parts[1]) }
        }
        return nil
    }
}

/// A counter of /proc/vmstat.
func vmstat(_ key: String) -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/vmstat", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: " ")
        if parts.count == 2, parts[0] == key { return UInt64(parts[1]) }
    }
    return nil
}
