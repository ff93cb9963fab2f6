// What backs a mapping, as far as faults care: the one place that reads a mapping's name,
// inode and sharing. The recorder's classifier, the reports and the replay model all ask it.

/// The backing and sharing of a mapping, from an mmap record or a /proc/PID/maps line.
public enum Backing: UInt8, Sendable, Hashable, CaseIterable {
    /// Private anonymous memory: the heap, stacks, `//anon`, `[anon:NAME]`.
    case anonymous
    /// shmem: shared anonymous memory, memfd, SysV shm, /dev/shm, a shared /dev/zero. A page
    /// cache without write-notify: writable pages are mapped writable at once.
    case sharedMemory
    /// A private mapping of a file: reads map page-cache pages, writes copy them.
    case filePrivate
    /// A shared mapping of a file: the first write to a clean page is a write-notify fault.
    case fileShared

    public var isPrivate: Bool { self == .anonymous || self == .filePrivate }
    public var isShared: Bool { !isPrivate }
    /// Pages come from a page cache (a file's, or shmem's), not from the anonymous allocator.
    public var isPageCache: Bool { self != .anonymous }
    /// A real file is behind it (not anonymous memory, not shmem).
    public var isFile: Bool { self == .filePrivate || self == .fileShared }

    /// Names the kernel gives memory that no file backs: `//anon` (perf), `[heap]`, `[stack]`,
    /// `[vdso]`, `[anon:NAME]`, or nothing (/proc/PID/maps).
    public static func isAnonymousName(_ name: String) -> Bool {
        name.isEmpty || name == "//anon" || name.hasPrefix("[")
    }

    /// Reads a mapping's name, inode and MAP_SHARED bit. Shared mappings of anonymous memory
    /// and of tmpfs-like files are shmem; `/anon_hugepage (deleted)` is hugetlb's anonymous
    /// memory, which a private mapping treats like any anonymous memory.
    public static func of(name: String, inode: UInt64, shared: Bool) -> Backing {
        let anonymousHugetlb = name.hasPrefix("/anon_hugepage")
        let isFile = inode != 0 && !isAnonymousName(name) && !anonymousHugetlb
        if !shared { return isFile ? .filePrivate : .anonymous }
        let shmem = !isFile || name.hasPrefix("/dev/zero") || name.hasPrefix("/memfd:")
            || name.hasPrefix("/SYSV") || name.hasPrefix("/dev/shm/")
        return shmem ? .sharedMemory : .fileShared
    }
}
