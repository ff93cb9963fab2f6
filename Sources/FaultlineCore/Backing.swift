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
    /// Pages the kernel itself provides (a special mapping: `[vdso]`, `[vvar]`,
    /// `[vvar_vclock]`, `[uprobes]`): a fault maps a page that exists already, allocating
    /// nothing, like a page-cache hit but with no fault-around (special mappings have no
    /// map_pages). Every process shares them: never swapped, never copied by a fork
    /// (`[vvar]` is a PFN map, whose page tables fork does copy: VMAFlags.pfnMap).
    case kernelPages

    /// Private memory: the process's own pages, which a write copies from anything shared.
    @inlinable public var isPrivate: Bool { self == .anonymous || self == .filePrivate }
    @inlinable public var isShared: Bool { !isPrivate }
    /// Pages come from a page cache (a file's, or shmem's), not from the anonymous allocator.
    @inlinable public var isPageCache: Bool { self == .sharedMemory || isFile }
    /// A real file is behind it (not anonymous memory, not shmem).
    @inlinable public var isFile: Bool { self == .filePrivate || self == .fileShared }

    /// Names the kernel gives memory that no file backs: `//anon` (perf), `[heap]`, `[stack]`,
    /// `[vdso]`, `[anon:NAME]`, or nothing (/proc/PID/maps).
    public static func isAnonymousName(_ name: String) -> Bool {
        name.isEmpty || name == "//anon" || name.hasPrefix("[")
    }

    /// The names of the kernel's special mappings (x86-64 and arm64) that faults can reach.
    /// `[vsyscall]` is not one: it lies outside every VMA, and the kernel emulates its calls.
    public static let kernelPageNames: Set<String> = ["[vdso]", "[vvar]", "[vvar_vclock]", "[uprobes]", "[sigpage]"]

    /// Reads a mapping's name, inode and MAP_SHARED bit. Shared mappings of anonymous memory
    /// and of tmpfs-like files are shmem; `/anon_hugepage (deleted)` is hugetlb's anonymous
    /// memory, which a private mapping treats like any anonymous memory. A private mapping of
    /// /dev/zero is anonymous memory (mmap_zero), though maps and perf name the file.
    public static func of(name: String, inode: UInt64, shared: Bool) -> Backing {
        if inode == 0 && name.hasPrefix("[") && kernelPageNames.contains(name) { return .kernelPages }
        let anonymousHugetlb = name.hasPrefix("/anon_hugepage")
        let isFile = inode != 0 && !isAnonymousName(name) && !anonymousHugetlb
        if !shared { return isFile && name != "/dev/zero" ? .filePrivate : .anonymous }
        let shmem = !isFile || name.hasPrefix("/dev/zero") || name.hasPrefix("/memfd:")
            || name.hasPrefix("/SYSV") || name.hasPrefix("/dev/shm/")
        return shmem ? .sharedMemory : .fileShared
    }
}
