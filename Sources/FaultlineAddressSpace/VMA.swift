// One virtual memory area as the kernel keeps it: a range with one backing, protection and
// set of flags. Every user of an address space (the recorder, the reports, the unwinder,
// the replay model) works with this one type.

import FaultlineCore

// The flags are computed, not stored: a stored static of another module is reached
// through an accessor with a once-check, which the replay model's inner loop paid on
// every fault (callgrind).

/// The VMA flags that change how faults, fork and huge pages behave.
public struct VMAFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The main stack (VM_GROWSDOWN): a fault just below it grows it (see `stackBelow`).
    @inlinable public static var growsDown: VMAFlags { VMAFlags(rawValue: 1 << 0) }
    /// MADV_HUGEPAGE (VM_HUGEPAGE): THP even when the system mode is `madvise`.
    @inlinable public static var hugePage: VMAFlags { VMAFlags(rawValue: 1 << 1) }
    /// MADV_NOHUGEPAGE, or MAP_STACK on kernels that map it to VM_NOHUGEPAGE: never THP.
    @inlinable public static var noHugePage: VMAFlags { VMAFlags(rawValue: 1 << 2) }
    /// MADV_DONTFORK: a fork child does not get this VMA.
    @inlinable public static var dontFork: VMAFlags { VMAFlags(rawValue: 1 << 3) }
    /// MADV_WIPEONFORK: a fork child gets the VMA empty.
    @inlinable public static var wipeOnFork: VMAFlags { VMAFlags(rawValue: 1 << 4) }
    /// The VMA has an anon_vma (it took an anonymous page, or a THP was prepared): fork
    /// copies the page tables of exactly these private VMAs (mm/memory.c vma_needs_copy).
    @inlinable public static var hasAnonPages: VMAFlags { VMAFlags(rawValue: 1 << 5) }
    /// MAP_LOCKED / mlock (VM_LOCKED).
    @inlinable public static var locked: VMAFlags { VMAFlags(rawValue: 1 << 6) }
    /// MAP_NORESERVE.
    @inlinable public static var noReserve: VMAFlags { VMAFlags(rawValue: 1 << 7) }
    /// VM_PFNMAP: the kernel's own pages, mapped by frame number, not counted in RSS; fork
    /// copies its page tables (vma_needs_copy), so a child does not fault there again.
    @inlinable public static var pfnMap: VMAFlags { VMAFlags(rawValue: 1 << 8) }
    /// mlock2(MLOCK_ONFAULT), mlockall(MCL_ONFAULT) (VM_LOCKONFAULT, beside `locked`): locked
    /// pages are those faulted in, none filled in advance.
    @inlinable public static var lockOnFault: VMAFlags { VMAFlags(rawValue: 1 << 9) }
    /// Shared anonymous memory, or a shared mapping of /dev/zero (vma_is_anon_shmem): shmem
    /// whose folio sizes follow each size's own mode (ShmemFolioModes).
    @inlinable public static var anonymousShmem: VMAFlags { VMAFlags(rawValue: 1 << 10) }
    /// memfd or SysV shm: shmem of the kernel's internal mount, whose folio sizes follow the
    /// top-level shmem mode (ShmemFolioModes).
    @inlinable public static var internalShmem: VMAFlags { VMAFlags(rawValue: 1 << 11) }

    /// What a VMA keeps when perf announces it again (see AddressSpace.announce): the
    /// state madvise and faults gave it, which no mmap record carries.
    static let acquired: VMAFlags = [.hugePage, .noHugePage, .dontFork, .wipeOnFork, .hasAnonPages]
}

// The stored properties are in order of size, widest first, so that a VMA has no padding
// (48 bytes, was 56). Why: the replay copies the VMA of every fault out of its store, and
// with a gap after `backing` the compiler copied the gap and `inode` as two overlapping
// unaligned moves, whose reload could not be forwarded from the store buffer: a sixth of
// the replay's own fault loop stalled on that one load (perf annotate).
public struct VMA: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    /// Byte offset in the file (or shmem object) of `start`; for anonymous memory, what the
    /// record said (perf gives the address), unused.
    public var offset: UInt64
    public var inode: UInt64
    /// PROT_* bits.
    public var prot: UInt32
    /// Whose mapping this is, in the user's own terms: a module, a row of mmap records.
    /// Kept by every piece the mapping is split into, moved or grown to.
    public var label: Int32
    /// Which insertion made it (AddressSpace numbers them): tells a mapping apart from a
    /// later one at the same addresses. Kept like `label`.
    public var serial: UInt32
    public var flags: VMAFlags
    public var backing: Backing
    /// log2 of the hugetlb page size (21 for 2 MiB), 0 for memory in normal pages.
    public var hugePageShift: UInt8

    public init(start: UInt64, end: UInt64, offset: UInt64 = 0, prot: UInt32, backing: Backing,
                inode: UInt64 = 0, flags: VMAFlags = [], hugePageShift: UInt8 = 0, label: Int32 = -1) {
        self.start = start; self.end = end; self.offset = offset; self.prot = prot
        self.backing = backing; self.inode = inode; self.flags = flags
        self.hugePageShift = hugePageShift; self.label = label; self.serial = 0
    }

    /// A VMA from an mmap record or a /proc/PID/maps line: the mapping's name, inode and
    /// MAP_* flags, read with the kernel's rules (`kernel` decides what MAP_STACK means).
    /// `defaultHugePageShift` is the system's hugetlb size, for MAP_HUGETLB without a size.
    public init(start: UInt64, end: UInt64, offset: UInt64, prot: UInt32, mapFlags: UInt32, inode: UInt64,
                name: String, label: Int32, kernel: KernelBehaviour, defaultHugePageShift: UInt8 = 21) {
        self.init(start: start, end: end, offset: offset, prot: prot, inode: inode, label: label,
                  reading: NameReading(name: name, inode: inode, mapFlags: mapFlags, kernel: kernel,
                                       defaultHugePageShift: defaultHugePageShift))
    }

    /// A VMA whose name, inode and MAP_* flags were read already (`reading`).
    public init(start: UInt64, end: UInt64, offset: UInt64, prot: UInt32, inode: UInt64, label: Int32,
                reading: NameReading) {
        self.init(start: start, end: end, offset: offset, prot: prot, backing: reading.backing, inode: inode,
                  flags: reading.flags, hugePageShift: reading.hugePageShift, label: label)
    }

    /// What a mapping's name, inode and MAP_* flags say of it: its backing, its flags and
    /// its hugetlb page size. Nothing else about the mapping changes it, so a reader of many
    /// records of a few files may read each file's once (a shell loop's 1,000 execs map the
    /// same few libraries 21,000 times).
    public struct NameReading: Sendable, Equatable {
        public var backing: Backing
        public var flags: VMAFlags = []
        public var hugePageShift: UInt8 = 0

        public init(name: String, inode: UInt64, mapFlags: UInt32, kernel: KernelBehaviour, defaultHugePageShift: UInt8 = 21) {
            backing = Backing.of(name: name, inode: inode, shared: mapFlags & MapFlags.shared != 0)
            if name == "[stack]" || mapFlags & MapFlags.growsDown != 0 { flags.insert(.growsDown) }
            if backing == .kernelPages && name.hasPrefix("[vvar") { flags.insert(.pfnMap) }
            if mapFlags & MapFlags.stack != 0 && kernel.mapStackImpliesNoHugePage { flags.insert(.noHugePage) }
            if mapFlags & MapFlags.locked != 0 { flags.insert(.locked) }
            if mapFlags & MapFlags.noReserve != 0 { flags.insert(.noReserve) }
            if backing == .sharedMemory {
                // Shared anonymous memory is named after /dev/zero in maps and by perf.
                if Backing.isAnonymousName(name) || name.hasPrefix("/dev/zero") { flags.insert(.anonymousShmem) }
                if name.hasPrefix("/memfd:") || name.hasPrefix("/SYSV") { flags.insert(.internalShmem) }
            }
            if mapFlags & MapFlags.hugetlb != 0 || name.hasPrefix("/anon_hugepage") {
                // hugetlb pages are 64 KiB to 16 GiB on every architecture Linux has them on;
                // anything else in a file's flags is not a size.
                let asked = MapFlags.hugePageShift(mapFlags)
                hugePageShift = VMA.hugePageShifts.contains(asked) ? asked
                    : VMA.hugePageShifts.contains(defaultHugePageShift) ? defaultHugePageShift : 21
            }
        }
    }

    /// The hugetlb page sizes the model takes, as log2: 64 KiB to 16 GiB.
    public static let hugePageShifts: ClosedRange<UInt8> = 16...34

    public var length: UInt64 { end &- start }
    public var isEmpty: Bool { end <= start }
    public func contains(_ address: UInt64) -> Bool { start <= address && address < end }
    public var isExecutable: Bool { prot & Protection.exec != 0 }
    public var isHugetlb: Bool { hugePageShift != 0 }
    public var isStack: Bool { flags.contains(.growsDown) }
    /// What the fault classifier needs to know.
    public var region: FaultRegion { FaultRegion(backing: backing, isHugetlb: isHugetlb) }

    /// Whether filling this VMA without faults (MAP_POPULATE, mlock, MADV_POPULATE_WRITE's
    /// rule for mmap) writes its pages: a private writable mapping's, so that copies are made
    /// now (mm/gup.c populate_vma_page_range: FOLL_WRITE when VM_WRITE without VM_SHARED).
    public var populateWrites: Bool { backing.isPrivate && prot & Protection.write != 0 }

    /// The part of this VMA inside [s, e), with the file offset moved along.
    public func slice(_ s: UInt64, _ e: UInt64) -> VMA {
        var v = self
        v.start = Swift.max(s, start)
        v.end = Swift.min(e, end)
        v.offset = offset &+ (v.start &- start)
        return v
    }

    /// This VMA moved so that it starts at `newStart` (mremap): the same memory elsewhere.
    func moved(to newStart: UInt64) -> VMA {
        var v = self
        v.end = newStart &+ length
        v.start = newStart
        return v
    }

    /// Whether the kernel would have made this VMA and `next`, right after it, one VMA
    /// (is_mergeable_vma): the same backing, protection, flags and file, and a file offset
    /// that carries on. Pieces the model keeps apart (each mapping record's own, for
    /// reporting) are one VMA to the kernel when they are mergeable: a heap grown by brk a
    /// little at a time is one VMA, in which a huge page can fit.
    public func mergeable(with next: VMA) -> Bool {
        // Special mappings (VM_SPECIAL) are never merged.
        guard end == next.start, backing == next.backing, backing != .kernelPages, prot == next.prot,
              backing == .anonymous || inode == next.inode, hugePageShift == next.hugePageShift,
              flags.subtracting(.hasAnonPages) == next.flags.subtracting(.hasAnonPages) else { return false }
        // An anonymous VMA's pgoff follows its address at creation; after an mremap it need
        // not, and the kernel then keeps the two apart. The model does not keep anonymous
        // offsets, so it merges them: the common case by far.
        return backing == .anonymous || offset &+ length == next.offset
    }

    /// Whether `next` carries this piece on unchanged: mergeable with it, of the same mapping
    /// (label and serial), every attribute the same and the offset following on. Such
    /// pieces are one piece to everything that reads them, so the address space joins them:
    /// kept apart, a buffer grown by mremap or a heap grown by brk became one more piece a
    /// step, and every later move, split or lookup walked them all (a buffer grown 20,000
    /// times took 13 s to replay, four times the program's own run).
    func continues(into next: VMA) -> Bool {
        mergeable(with: next) && label == next.label && serial == next.serial && inode == next.inode
            && flags == next.flags && offset &+ length == next.offset
    }

    /// Whether `other`, over the same addresses, is the same memory: what perf says when it
    /// announces a VMA again after an mprotect, a brk or a merge. Anonymous memory of the
    /// same kind always is; file memory when it is the same file at the same offset.
    public func sameMemory(as other: VMA) -> Bool {
        guard backing == other.backing, hugePageShift == other.hugePageShift else { return false }
        if backing == .anonymous { return true }
        return inode == other.inode && offset &- start == other.offset &- other.start
    }
}
