// A process's mappings over time, as the model sees them: sorted, non-overlapping ranges
// with what a fault needs to know (backing, protection, madvise hints). Changes split and
// trim ranges the way the kernel's VMA code does; merging is not modelled (it changes
// nothing a fault can see).

/// What backs a mapping, as far as faults care.
public enum Backing: UInt8, Sendable {
    /// Private anonymous memory, including the heap and stacks.
    case anonymous
    /// Shared anonymous memory, memfd, SysV shm: shmem, a page cache with no write-notify.
    case sharedMemory
    /// A private mapping of a file: reads map page-cache pages, writes copy them.
    case filePrivate
    /// A shared mapping of a file: writes to a clean page take a write-notify fault.
    case fileShared

    public var isPrivate: Bool { self == .anonymous || self == .filePrivate }
    public var isFile: Bool { self == .filePrivate || self == .fileShared || self == .sharedMemory }

    /// From a mapping's name, inode and MAP_SHARED bit, like MemoryRegionKind does for
    /// classification, with shmem told apart from real files (no write-notify).
    public static func of(name: String, inode: UInt64, shared: Bool) -> Backing {
        let anonymousName = name.isEmpty || name == "//anon" || name.hasPrefix("[")
        let isFile = inode != 0 && !anonymousName
        if !shared { return isFile ? .filePrivate : .anonymous }
        let shmem = !isFile || name.hasPrefix("/dev/zero") || name.hasPrefix("/memfd:")
            || name.hasPrefix("/SYSV") || name.hasPrefix("/dev/shm/")
        return shmem ? .sharedMemory : .fileShared
    }
}

public struct VMA: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    public var prot: UInt32
    public var backing: Backing
    public var inode: UInt64
    /// File offset of `start` (anonymous memory: unused).
    public var offset: UInt64
    /// Row in the replay's mapping table (per-mapping results).
    public var mapping: Int32
    /// MADV_HUGEPAGE (+1), MADV_NOHUGEPAGE (-1), or neither (0).
    public var hugeAdvice: Int8 = 0
    /// The kernel gives a VMA an anon_vma at its first anonymous page; fork copies the page
    /// tables of exactly those VMAs (mm/memory.c vma_needs_copy), the rest refault.
    public var hasAnonPages = false
    public var growsDown = false
    public var dontFork = false
    public var wipeOnFork = false

    public init(start: UInt64, end: UInt64, prot: UInt32, backing: Backing, inode: UInt64 = 0,
                offset: UInt64 = 0, mapping: Int32 = 0) {
        self.start = start; self.end = end; self.prot = prot; self.backing = backing
        self.inode = inode; self.offset = offset; self.mapping = mapping
    }

    public static let protRead: UInt32 = 1, protWrite: UInt32 = 2, protExec: UInt32 = 4

    /// The part of this VMA inside [s, e), with the file offset moved along.
    func slice(_ s: UInt64, _ e: UInt64) -> VMA {
        var v = self
        v.start = Swift.max(s, start); v.end = Swift.min(e, end)
        if backing.isFile { v.offset = offset &+ (v.start - start) }
        return v
    }

    /// Whether `other`, laid over this VMA, is the same memory (an mprotect, a brk
    /// extension or a merge echoed by perf as a new mapping) rather than a new one.
    func sameMemory(as other: VMA) -> Bool {
        guard backing == other.backing else { return false }
        if backing == .anonymous { return true }
        // Same file at the same offset for the same address.
        return inode == other.inode && offset &- start == other.offset &- other.start
    }
}

public struct VMATable: Sendable {
    public private(set) var vmas: [VMA] = [] { didSet { lastHit = -1 } }
    /// The last VMA found, by index and by value: most accesses hit it again, and reading
    /// the copy avoids touching the array (and its reference count) on the hot path.
    private var lastHit = -1
    public private(set) var lastVMA = VMA(start: 0, end: 0, prot: 0, backing: .anonymous)

    public init() {}

    /// The VMA holding `address`, or nil; a hit leaves a copy in `lastVMA`.
    @inline(__always)
    public mutating func find(_ address: UInt64) -> Int? {
        if lastHit >= 0 && address >= lastVMA.start && address < lastVMA.end { return lastHit }
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if vmas[mid].end <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo < vmas.count, vmas[lo].start <= address else { return nil }
        lastHit = lo
        lastVMA = vmas[lo]
        return lo
    }

    public subscript(i: Int) -> VMA {
        get { i == lastHit ? lastVMA : vmas[i] }
        set { vmas[i] = newValue }
    }

    /// The first VMA that starts at or after `address`.
    public func next(after address: UInt64) -> Int? {
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if vmas[mid].start < address { lo = mid + 1 } else { hi = mid }
        }
        return lo < vmas.count ? lo : nil
    }

    /// The VMAs overlapping [s, e), clipped to it.
    public func overlapping(_ s: UInt64, _ e: UInt64) -> [VMA] {
        vmas.filter { $0.start < e && $0.end > s }.map { $0.slice(s, e) }
    }

    /// Removes [s, e) from every VMA (splitting those that straddle an edge).
    public mutating func remove(_ s: UInt64, _ e: UInt64) {
        guard e > s else { return }
        var out: [VMA] = []
        out.reserveCapacity(vmas.count + 1)
        for v in vmas {
            if v.end <= s || v.start >= e { out.append(v); continue }
            if v.start < s { out.append(v.slice(v.start, s)) }
            if v.end > e { out.append(v.slice(e, v.end)) }
        }
        vmas = out
    }

    /// Lays `vma` over whatever was there.
    public mutating func insert(_ vma: VMA) {
        remove(vma.start, vma.end)
        let i = next(after: vma.start) ?? vmas.count
        vmas.insert(vma, at: i)
    }

    /// Applies `change` to the parts of VMAs inside [s, e), splitting at the edges.
    public mutating func update(_ s: UInt64, _ e: UInt64, _ change: (inout VMA) -> Void) {
        guard e > s else { return }
        var out: [VMA] = []
        out.reserveCapacity(vmas.count + 2)
        for v in vmas {
            if v.end <= s || v.start >= e { out.append(v); continue }
            if v.start < s { out.append(v.slice(v.start, s)) }
            var mid = v.slice(s, e)
            change(&mid)
            out.append(mid)
            if v.end > e { out.append(v.slice(e, v.end)) }
        }
        vmas = out
    }

    /// Grows the VMA at `index` down to `address` (a stack's guard-gap expansion).
    public mutating func growDown(_ index: Int, to address: UInt64) {
        vmas[index].start = address
    }


    public mutating func removeAll() { vmas.removeAll() }

    /// Keeps only the VMAs `keep` accepts (fork's MADV_DONTFORK).
    public mutating func filter(_ keep: (VMA) -> Bool) {
        vmas = vmas.filter(keep)
    }
}
