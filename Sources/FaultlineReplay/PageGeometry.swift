// What one replay configuration is: the base granule, the THP policy, an optional
// hugetlbfs-style huge size for anonymous memory, and the page-table layout they imply.
// Parsing of the command line's page-size words lives here so the library and tests agree.

import FaultlineAddressSpace
@_exported import enum FaultlineAddressSpace.THPMode

/// One word of `--page-size`: a base granule (4k, 16k, 64k) or an explicit huge size for
/// anonymous memory on a 4 KiB granule (2m, 1g).
public struct PageSizeChoice: Sendable, Hashable, CustomStringConvertible {
    public var granule: UInt64
    public var explicitHuge: UInt64?

    public static let k4 = PageSizeChoice(granule: 4096, explicitHuge: nil)
    public static let k16 = PageSizeChoice(granule: 16384, explicitHuge: nil)
    public static let k64 = PageSizeChoice(granule: 65536, explicitHuge: nil)
    public static let m2 = PageSizeChoice(granule: 4096, explicitHuge: 2 << 20)
    public static let g1 = PageSizeChoice(granule: 4096, explicitHuge: 1 << 30)

    public init(granule: UInt64, explicitHuge: UInt64?) {
        self.granule = granule; self.explicitHuge = explicitHuge
    }

    /// Accepts 4k, 16k, 64k, 2m, 1g (any case) or their byte counts.
    public init?(word: String) {
        switch word.lowercased() {
        case "4k", "4096": self = .k4
        case "16k", "16384": self = .k16
        case "64k", "65536": self = .k64
        case "2m", "2097152": self = .m2
        case "1g", "1073741824": self = .g1
        default: return nil
        }
    }

    /// A granule the recording host used (its header's page size), if the model has it.
    public init?(hostPageSize: UInt64) {
        switch hostPageSize {
        case 4096: self = .k4
        case 16384: self = .k16
        case 65536: self = .k64
        default: return nil
        }
    }

    /// The size JSON's `page_size` names: the huge size for 2m/1g, else the granule.
    public var pageSize: UInt64 { explicitHuge ?? granule }
    public var description: String { formatSize(pageSize) }
    public static let words = ["4k", "16k", "64k", "2m", "1g"]
}

/// "4k", "2m", "1g": the short spelling of a power-of-two size.
public func formatSize(_ bytes: UInt64) -> String {
    if bytes >= 1 << 30 && bytes % (1 << 30) == 0 { return "\(bytes >> 30)g" }
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20)m" }
    if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10)k" }
    return "\(bytes)"
}

/// A radix page table: how many index bits each level takes, top level first. The leaf
/// level maps granule pages; the level above it maps "PMD" huge pages, and so on.
public struct PageTableLayout: Sendable, Hashable {
    public var name: String
    public var granuleShift: Int
    public var bitsPerLevel: [Int]
    /// Linux's names for the levels, top first (pgd … pte).
    public var levelNames: [String]

    public init(name: String, granuleShift: Int, bitsPerLevel: [Int], levelNames: [String]) {
        precondition(bitsPerLevel.count == levelNames.count && bitsPerLevel.count >= 2)
        self.name = name; self.granuleShift = granuleShift
        self.bitsPerLevel = bitsPerLevel; self.levelNames = levelNames
    }

    // x86-64: Intel SDM vol. 3A §4.5 (4-level and 5-level paging), 9 bits per level.
    public static let x86_64_4level = PageTableLayout(
        name: "x86-64 4-level", granuleShift: 12, bitsPerLevel: [9, 9, 9, 9], levelNames: ["pgd", "pud", "pmd", "pte"])
    public static let x86_64_5level = PageTableLayout(
        name: "x86-64 5-level", granuleShift: 12, bitsPerLevel: [9, 9, 9, 9, 9], levelNames: ["pgd", "p4d", "pud", "pmd", "pte"])
    // arm64 with 48-bit VAs (Linux's Documentation/arch/arm64/memory.rst): a 16K granule
    // resolves 11 bits per level (4 levels, the top one 1 bit); 64K resolves 13 (3 levels).
    public static let arm64_16k = PageTableLayout(
        name: "arm64 16K 48-bit", granuleShift: 14, bitsPerLevel: [1, 11, 11, 11], levelNames: ["pgd", "pud", "pmd", "pte"])
    public static let arm64_64k = PageTableLayout(
        name: "arm64 64K 48-bit", granuleShift: 16, bitsPerLevel: [6, 13, 13], levelNames: ["pgd", "pmd", "pte"])

    /// The usual layout for a granule: x86-64 for 4K (arm64 4K has the same shape).
    public static func standard(granule: UInt64, fiveLevel: Bool = false) -> PageTableLayout {
        switch granule {
        case 16384: return .arm64_16k
        case 65536: return .arm64_64k
        default: return fiveLevel ? .x86_64_5level : .x86_64_4level
        }
    }

    public var levels: Int { bitsPerLevel.count }
    public var leafLevel: Int { levels - 1 }
    public var granule: UInt64 { 1 << UInt64(granuleShift) }

    /// log2 of the bytes one entry at `level` maps.
    public func entryShift(_ level: Int) -> Int {
        var shift = granuleShift
        var l = levels - 1
        while l > level { shift += bitsPerLevel[l]; l -= 1 }
        return shift
    }

    /// log2 of the bytes one table at `level` covers: the key of the table holding an
    /// address is `address >> tableShift(level)`.
    public func tableShift(_ level: Int) -> Int { entryShift(level) + bitsPerLevel[level] }

    /// The level whose entries map pages of 2^shift bytes, if any.
    public func level(forPageShift shift: Int) -> Int? {
        (0..<levels).first { entryShift($0) == shift }
    }
}

/// One configuration of the what-if model.
public struct ReplayConfig: Sendable, Hashable, CustomStringConvertible {
    public var pageSize: PageSizeChoice
    public var thp: THPMode
    public var layout: PageTableLayout
    /// Bytes a read fault on a file mapping maps around the faulting page
    /// (/sys/kernel/mm/... fault_around_bytes, 64 KiB by default).
    public var faultAroundBytes: UInt64 = 65536

    public init(pageSize: PageSizeChoice, thp: THPMode, layout: PageTableLayout? = nil) {
        self.pageSize = pageSize; self.thp = thp
        self.layout = layout ?? .standard(granule: pageSize.granule)
    }

    public var granuleShift: Int { layout.granuleShift }
    /// PMD-sized transparent huge pages: 2 MiB on 4K, 32 MiB on 16K, 512 MiB on 64K.
    public var thpShift: Int { layout.entryShift(layout.leafLevel - 1) }
    /// log2 of the explicit huge size, or 0.
    public var hugetlbShift: Int { pageSize.explicitHuge.map { $0.trailingZeroBitCount } ?? 0 }

    public var description: String { "\(pageSize) thp=\(thp.rawValue)" }
}
