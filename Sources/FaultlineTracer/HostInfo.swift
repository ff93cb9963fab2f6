// Facts about this machine that go into a log's header and the replay model's self-check.

import Glibc
import CFaultlineLinux
import FaultlineAddressSpace

enum HostInfo {
    static func uname() -> (release: String, machine: String, hostname: String) {
        var u = utsname()
        Glibc.uname(&u)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        }
        return (field(u.release), field(u.machine), field(u.nodename))
    }

    static var pageSize: UInt64 { UInt64(sysconf(Int32(_SC_PAGESIZE))) }

    /// The bracketed choice in /sys/kernel/mm/transparent_hugepage/enabled.
    static var thpMode: String { bracketedChoice("/sys/kernel/mm/transparent_hugepage/enabled") ?? "unknown" }

    /// The choice a sysfs mode file marks with brackets ("always [madvise] never").
    static func bracketedChoice(_ path: String) -> String? {
        guard let text = readTextFile(path), let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]"),
              open < close else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    /// The memory-management settings the replay model follows (LogHeader.setting): THP's
    /// huge zero page and khugepaged's limits and pace, and the default hugetlb page size.
    static var memorySettings: [(String, UInt64?)] {
        let thp = "/sys/kernel/mm/transparent_hugepage/"
        func number(_ path: String) -> UInt64? { readTextFile(path).flatMap { UInt64($0.trimmingWhitespace()) } }
        var settings: [(String, UInt64?)] = [("thp_use_zero_page", number(thp + "use_zero_page"))]
        for name in ["max_ptes_none", "max_ptes_shared", "max_ptes_swap", "pages_to_scan", "scan_sleep_millisecs"] {
            settings.append(("khugepaged_" + name, number(thp + "khugepaged/" + name)))
        }
        settings.append(("hugetlb_default_size", UInt64(1) << UInt64(HugePages.defaultPageShift)))
        if let sizes = anonFolioModes {
            settings += [("thp_sizes_always", sizes.always), ("thp_sizes_madvise", sizes.madvise),
                         ("thp_sizes_inherit", sizes.inherit)]
        }
        if let shmem = shmemFolioModes {
            settings += [("shmem_sizes_always", shmem.always), ("shmem_sizes_within_size", shmem.withinSize),
                         ("shmem_sizes_advise", shmem.advise), ("shmem_sizes_inherit", shmem.inherit)]
        }
        return settings
    }

    /// The settings that name a mode (LogHeader.modeSetting): shmem's top-level THP mode,
    /// where the kernel has multi-size shmem THP (ShmemFolioModes).
    static var memoryModes: [(String, String?)] {
        [("shmem_enabled", shmemFolioModes.map(\.topLevel.rawValue))]
    }

    /// Multi-size THP (Linux 6.8): each `hugepages-<size>kB/enabled` mode, as masks of log2
    /// sizes (AnonFolioModes); nil where the kernel has none.
    static var anonFolioModes: AnonFolioModes? {
        var modes = AnonFolioModes(), found = false
        // (A size with no anonymous mode, 8 KiB on x86, has only shmem_enabled.)
        forEachFolioSize(mode: "enabled") { bit, mode in
            found = true
            switch mode {
            case "always": modes.always |= bit
            case "madvise": modes.madvise |= bit
            case "inherit": modes.inherit |= bit
            default: break
            }
        }
        return found ? modes : nil
    }

    /// Multi-size shmem THP (Linux 6.11): each `hugepages-<size>kB/shmem_enabled` mode and
    /// the top-level `shmem_enabled` (ShmemFolioModes); nil where the kernel has no sizes.
    static var shmemFolioModes: ShmemFolioModes? {
        var modes = ShmemFolioModes(), found = false
        forEachFolioSize(mode: "shmem_enabled") { bit, mode in
            found = true
            switch mode {
            case "always": modes.always |= bit
            case "within_size": modes.withinSize |= bit
            case "advise": modes.advise |= bit
            case "inherit": modes.inherit |= bit
            default: break
            }
        }
        modes.topLevel = bracketedChoice("/sys/kernel/mm/transparent_hugepage/shmem_enabled").flatMap(ShmemHugeMode.init) ?? .never
        return found ? modes : nil
    }

    /// Calls `body` with each folio size's bit (bit s: 2^s bytes) and its `mode` file's choice.
    private static func forEachFolioSize(mode file: String, _ body: (UInt64, String) -> Void) {
        let thp = "/sys/kernel/mm/transparent_hugepage/"
        guard let dir = opendir(thp) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix("hugepages-"), name.hasSuffix("kB"),
                  let kB = UInt64(name.dropFirst("hugepages-".count).dropLast(2)), kB > 0, kB & (kB - 1) == 0, kB < 1 << 40,
                  let mode = bracketedChoice(thp + name + "/" + file) else { continue }
            body(UInt64(1) << UInt64((kB << 10).trailingZeroBitCount), mode)
        }
    }

    static var onlineCPUs: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The CPUs this process may run on (its affinity mask: fewer under taskset or a cpuset).
    static var usableCPUs: Int { Int(fl_usable_cpus()) }
}

/// Reads a small text file (procfs, sysfs) whole; nil if it cannot be read.
func readTextFile(_ path: String, limit: Int = 1 << 24) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while bytes.count < limit {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}
