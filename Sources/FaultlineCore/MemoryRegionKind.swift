// What kind of memory a VMA is, as far as fault classification cares.

/// The backing and sharing of a mapping, derived from an mmap record or a /proc/PID/maps line.
public struct MemoryRegionKind: Sendable, Hashable {
    /// Backed by a file (including the executable and libraries); false for anonymous memory,
    /// heap, stack and shared anonymous memory.
    public var isFileBacked: Bool
    /// MAP_SHARED (includes shared anonymous memory, which the kernel backs with shmem).
    public var isShared: Bool

    public init(isFileBacked: Bool, isShared: Bool) {
        self.isFileBacked = isFileBacked
        self.isShared = isShared
    }

    public static let anonymousPrivate = MemoryRegionKind(isFileBacked: false, isShared: false)
    public static let anonymousShared = MemoryRegionKind(isFileBacked: false, isShared: true)
    public static let filePrivate = MemoryRegionKind(isFileBacked: true, isShared: false)
    public static let fileShared = MemoryRegionKind(isFileBacked: true, isShared: true)

    /// Classifies a mapping by the name the kernel gives it (`//anon`, `[heap]`, `[stack]`,
    /// `[anon:NAME]`, a path, `/dev/zero (deleted)`, `/memfd:x (deleted)`) and its sharing.
    /// Shared mappings of any kind fault like files (shmem is a page cache), so only
    /// private non-file mappings count as anonymous.
    public static func from(name: String, inode: UInt64, isShared: Bool) -> MemoryRegionKind {
        let anonymousName = name.isEmpty || name == "//anon" || name.hasPrefix("[")
        let isFile = inode != 0 && !anonymousName
        return MemoryRegionKind(isFileBacked: isFile, isShared: isShared)
    }
}
