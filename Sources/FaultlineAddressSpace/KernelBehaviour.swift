// Memory-management behaviour that changed between kernel versions, in one place, each
// named after the kernel change it follows. The recorder asks with the running kernel's
// release; reports and replay with the release the log recorded, so a log made on one
// kernel is read with that kernel's rules.

/// A kernel release as uname(2) gives it: "6.18.44-fc-v1045" reads as 6.18.44.
public struct KernelVersion: Sendable, Comparable, Hashable, CustomStringConvertible {
    public var major: Int, minor: Int, patch: Int

    public init(_ major: Int, _ minor: Int, _ patch: Int = 0) {
        self.major = major; self.minor = minor; self.patch = patch
    }

    /// nil when the release does not start with numbers.
    public init?(release: String) {
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(3).map { Int($0) ?? 0 }
        guard let first = release.first, first.isNumber, !numbers.isEmpty else { return nil }
        self.init(numbers[0], numbers.count > 1 ? numbers[1] : 0, numbers.count > 2 ? numbers[2] : 0)
    }

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    public var description: String { "\(major).\(minor).\(patch)" }
}

public struct KernelBehaviour: Sendable, Hashable {
    /// The release the rules are for; nil when unknown (then the newest rules apply).
    public var version: KernelVersion?

    /// "mm: mmap: map MAP_STACK to VM_NOHUGEPAGE" (6.7): a MAP_STACK mapping (glibc's thread
    /// stacks) never gets a THP; smaps shows `nh`.
    public var mapStackImpliesNoHugePage: Bool
    /// "mm: allocate THP on hugezeropage wp-fault" (6.13): a write to the huge zero page
    /// allocates a whole THP. Before, the PMD was split and one base page copied.
    public var hugeZeroPageWriteAllocatesTHP: Bool
    /// "thp: change CoW semantics for anon-THP" (5.8): a CoW write to a THP (after fork)
    /// splits the PMD and copies one base page; before, the whole huge page was copied.
    public var thpCoWCopiesBasePage: Bool
    /// "prctl: extend PR_SET_THP_DISABLE to optionally exclude VM_HUGEPAGE" (6.18):
    /// PR_THP_DISABLE_EXCEPT_ADVISED.
    public var thpDisableCanExceptAdvised: Bool
    /// "mm: pgtable: reclaim empty PTE page in madvise(MADV_DONTNEED)" (6.14, x86-64's
    /// default CONFIG_PT_RECLAIM): MADV_DONTNEED over the whole range a PTE table maps, in
    /// one VMA, frees the table (pt_reclaim.c), so the next touch there may map a THP. Before,
    /// the empty table stayed until munmap, and the range took base pages until then.
    /// (glibc's thread arenas shrink by MADV_DONTNEED and grow back: Python's threads took
    /// 660 THPs that way under `always`, which the model without this rule never gave.)
    public var dontNeedFreesEmptyPageTables: Bool

    public init(version: KernelVersion?) {
        self.version = version
        func since(_ v: KernelVersion) -> Bool { version.map { $0 >= v } ?? true }
        mapStackImpliesNoHugePage = since(KernelVersion(6, 7))
        hugeZeroPageWriteAllocatesTHP = since(KernelVersion(6, 13))
        thpCoWCopiesBasePage = since(KernelVersion(5, 8))
        thpDisableCanExceptAdvised = since(KernelVersion(6, 18))
        dontNeedFreesEmptyPageTables = since(KernelVersion(6, 14))
    }

    public init(release: String) { self.init(version: KernelVersion(release: release)) }

    /// The newest rules: for tests and for inputs that name no kernel.
    public static let newest = KernelBehaviour(version: nil)

    /// One line per rule, for the README and `replay`'s notes.
    public var summary: [String] {
        [
            "MAP_STACK makes a mapping ineligible for THP: \(mapStackImpliesNoHugePage ? "yes" : "no") (Linux 6.7)",
            "a write to the huge zero page allocates a THP: \(hugeZeroPageWriteAllocatesTHP ? "yes" : "no, it splits the PMD") (Linux 6.13)",
            "a CoW write to a THP copies one base page: \(thpCoWCopiesBasePage ? "yes" : "no, the whole huge page") (Linux 5.8)",
            "MADV_DONTNEED frees the page tables it empties: \(dontNeedFreesEmptyPageTables ? "yes" : "no, they stay until munmap") (Linux 6.14)",
        ]
    }
}
