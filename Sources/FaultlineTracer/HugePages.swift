// The hugetlb page sizes of this machine: the default one (/proc/meminfo), and that of a
// hugetlbfs file (its mount's pagesize option), for mappings whose flags do not say.

import Glibc

enum HugePages {
    /// log2 of the default hugetlb page size, 21 (2 MiB) when /proc/meminfo does not say.
    static var defaultPageShift: UInt8 {
        guard let text = readTextFile("/proc/meminfo"),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Hugepagesize:") }),
              let kib = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }), kib > 0
        else { return 21 }
        return UInt8((kib * 1024).trailingZeroBitCount)
    }

    /// log2 of the page size of the hugetlbfs file at `path`, from the hugetlbfs mount that
    /// holds it (/proc/self/mountinfo); nil if no hugetlbfs mount holds it.
    static func hugetlbfsPageShift(path: String) -> UInt8? {
        guard path.hasPrefix("/"), !path.hasPrefix("/anon_hugepage"),
              let mounts = readTextFile("/proc/self/mountinfo") else { return nil }
        var best: (mountPoint: Substring, shift: UInt8)?
        for line in mounts.split(separator: "\n") {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
            let fields = line.split(separator: " ")
            guard fields.count > 4, let dash = fields.firstIndex(of: "-"), dash + 3 < fields.count,
                  fields[dash + 1] == "hugetlbfs" else { continue }
            let mountPoint = fields[4]
            guard path.hasPrefix(mountPoint.hasSuffix("/") ? String(mountPoint) : mountPoint + "/"),
                  mountPoint.count > (best?.mountPoint.count ?? -1) else { continue }
            var shift = defaultPageShift
            for option in fields[dash + 3].split(separator: ",") where option.hasPrefix("pagesize=") {
                if let bytes = parseSize(option.dropFirst("pagesize=".count)), bytes > 0 {
                    shift = UInt8(bytes.trailingZeroBitCount)
                }
            }
            best = (mountPoint, shift)
        }
        return best?.shift
    }

    /// "2M", "1G", "2048k" (as the kernel prints mount options).
    private static func parseSize(_ text: Substring) -> UInt64? {
        let units: [Character: UInt64] = ["k": 1 << 10, "K": 1 << 10, "m": 1 << 20, "M": 1 << 20, "g": 1 << 30, "G": 1 << 30]
        guard let last = text.last else { return nil }
        if let unit = units[last] { return UInt64(text.dropLast()).map { $0 * unit } }
        return UInt64(text)
    }
}
