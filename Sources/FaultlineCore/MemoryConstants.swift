// The kernel's numbers for memory system calls (asm-generic/mman-common.h, linux/mman.h,
// linux/prctl.h), in one place, with the names exports use.

/// PROT_* bits.
public enum Protection {
    public static let read: UInt32 = 0x1, write: UInt32 = 0x2, exec: UInt32 = 0x4

    /// "rwx" style, as /proc/PID/maps writes it.
    public static func text(_ prot: UInt32) -> String {
        (prot & read != 0 ? "r" : "-") + (prot & write != 0 ? "w" : "-") + (prot & exec != 0 ? "x" : "-")
    }
}

/// MAP_* flags of mmap(2) (x86-64 values). A log's mmap record keeps the kernel's bits; the
/// hugetlb page size sits in bits 26-31 as log2 of the size, as MAP_HUGE_SHIFT encodes it.
public enum MapFlags {
    public static let shared: UInt32 = 0x01
    public static let `private`: UInt32 = 0x02
    public static let fixed: UInt32 = 0x10
    public static let anonymous: UInt32 = 0x20
    public static let growsDown: UInt32 = 0x100
    public static let locked: UInt32 = 0x2000
    public static let noReserve: UInt32 = 0x4000
    public static let populate: UInt32 = 0x8000
    /// Ignored, but for MAP_POPULATE, which it turns off (do_mmap).
    public static let nonBlock: UInt32 = 0x10000
    public static let stack: UInt32 = 0x20000
    public static let hugetlb: UInt32 = 0x40000
    public static let fixedNoReplace: UInt32 = 0x100000
    public static let hugeShift: UInt32 = 26
    public static let hugeMask: UInt32 = 0x3F

    /// log2 of the hugetlb page size the flags ask for, or 0 for the default size.
    public static func hugePageShift(_ flags: UInt32) -> UInt8 { UInt8((flags >> hugeShift) & hugeMask) }
    /// Flags with the hugetlb page size set (a shift of 0 leaves them as they are).
    public static func withHugePageShift(_ flags: UInt32, _ shift: UInt8) -> UInt32 {
        guard shift > 0, shift < 64 else { return flags }
        return (flags & ~(hugeMask << hugeShift)) | (UInt32(shift) & hugeMask) << hugeShift
    }
}

/// MREMAP_* flags.
public enum RemapFlags {
    public static let mayMove: UInt32 = 1, fixed: UInt32 = 2, dontUnmap: UInt32 = 4
}

/// madvise(2) advice values, with the names exports use.
public enum Advice {
    public static let normal: Int32 = 0, random: Int32 = 1, sequential: Int32 = 2, willNeed: Int32 = 3
    public static let dontNeed: Int32 = 4, free: Int32 = 8, remove: Int32 = 9
    public static let dontFork: Int32 = 10, doFork: Int32 = 11
    public static let hugePage: Int32 = 14, noHugePage: Int32 = 15
    public static let wipeOnFork: Int32 = 18, keepOnFork: Int32 = 19
    public static let cold: Int32 = 20, pageOut: Int32 = 21
    public static let populateRead: Int32 = 22, populateWrite: Int32 = 23
    public static let dontNeedLocked: Int32 = 24, collapse: Int32 = 25
    public static let guardInstall: Int32 = 102, guardRemove: Int32 = 103

    public static let names: [Int32: String] = [
        0: "normal", 1: "random", 2: "sequential", 3: "willneed", 4: "dontneed",
        8: "free", 9: "remove", 10: "dontfork", 11: "dofork", 12: "mergeable", 13: "unmergeable",
        14: "hugepage", 15: "nohugepage", 16: "dontdump", 17: "dodump", 18: "wipeonfork",
        19: "keeponfork", 20: "cold", 21: "pageout", 22: "populate_read", 23: "populate_write",
        24: "dontneed_locked", 25: "collapse", 100: "hwpoison", 101: "soft_offline", 102: "guard_install",
        103: "guard_remove",
    ]

    public static func name(_ advice: Int32) -> String { names[advice] ?? "advice_\(advice)" }
}

/// prctl(PR_SET_THP_DISABLE, 1, flags): THP off for the whole process, kept across fork
/// and execve. Since 6.18, the flag PR_THP_DISABLE_EXCEPT_ADVISED leaves MADV_HUGEPAGE
/// regions (and MADV_COLLAPSE) their huge pages.
public enum THPDisable: UInt8, Sendable, Hashable {
    case none = 0
    case all = 1
    case exceptAdvised = 2

    public static let prctlOption: UInt64 = 41        // PR_SET_THP_DISABLE
    public static let exceptAdvisedFlag: UInt64 = 1 << 1   // PR_THP_DISABLE_EXCEPT_ADVISED

    public var name: String {
        switch self {
        case .none: return "enabled"
        case .all: return "disabled"
        case .exceptAdvised: return "disabled-except-advised"
        }
    }
}
