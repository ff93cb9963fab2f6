// mlock(2), mlock2, munlock, mlockall and munlockall: the kernel's rules for locked memory,
// as far as they decide which pages are present. Locking a range fills its pages now
// (unless it is locked on fault), and memory mapped under mlockall(MCL_FUTURE) is locked and
// filled by the call that maps it (mm/mlock.c; mm/gup.c __mm_populate and
// populate_vma_page_range; do_mmap, do_brk_flags and mremap's growth). Locked pages are
// never reclaimed; a model without reclaim needs only what is filled without faults.

import FaultlineCore

/// mlock2's and mlockall's flags.
public enum LockFlags {
    /// mlock2: MLOCK_ONFAULT.
    public static let onFault: UInt32 = 1
    /// mlockall: MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT.
    public static let current: UInt32 = 1, future: UInt32 = 2, allOnFault: UInt32 = 4
}

extension VMA {
    /// Whether mlock may lock this VMA: not a special mapping, hugetlb or the gate page
    /// (mlock_fixup leaves VM_SPECIAL, hugetlb and the gate VMA unlocked; mmap clears the
    /// lock from them). Their pages are filled all the same where the range is.
    var mayBeLocked: Bool { !isHugetlb && backing != .kernelPages && !flags.contains(.pfnMap) }

    /// Whether filling the range fills this VMA: __mm_populate skips VM_IO and VM_PFNMAP,
    /// and populate_vma_page_range VM_LOCKONFAULT and PROT_NONE.
    var filledByPopulate: Bool { !flags.contains(.pfnMap) && !flags.contains(.lockOnFault) && prot & 7 != 0 }
}

extension AddressSpace {
    /// The pages mlock and munlock work on: unlike munmap's, an address inside a page is
    /// taken to its page (do_mlock: start &= PAGE_MASK, the length grows by the offset), so
    /// a buffer in the middle of a page is locked with its pages.
    func lockRange(_ address: UInt64, _ length: UInt64) -> (start: UInt64, end: UInt64)? {
        let offset = address & (pageSize - 1)
        let (grown, overflow) = length.addingReportingOverflow(offset)
        return range(address - offset, overflow ? UInt64.max : grown)
    }

    /// mlock(2) or mlock2(2) of the pages over the range: its VMAs are locked (on fault
    /// with MLOCK_ONFAULT; splitting at the range's edges). Returns the pieces the call fills.
    public mutating func lock(_ address: UInt64, _ length: UInt64, flags: UInt32) -> [VMA] {
        guard let r = lockRange(address, length) else { return [] }
        let lock: VMAFlags = flags & LockFlags.onFault != 0 ? [.locked, .lockOnFault] : [.locked]
        update(r.start, r.end) { Self.setLock(lock, on: &$0) }
        return pieces(r.start, r.end).filter(\.filledByPopulate)
    }

    /// munlock(2): the range's VMAs are unlocked; their pages stay.
    public mutating func unlock(_ address: UInt64, _ length: UInt64) {
        guard let r = lockRange(address, length) else { return }
        update(r.start, r.end) { Self.setLock([], on: &$0) }
    }

    /// mlockall(2). Each call replaces what an earlier one asked for the future. MCL_CURRENT
    /// locks every VMA (on fault with MCL_ONFAULT) and fills them; returns the pieces filled.
    public mutating func lockAll(flags: UInt32) -> [VMA] {
        let lock: VMAFlags = flags & LockFlags.allOnFault != 0 ? [.locked, .lockOnFault] : [.locked]
        lockFuture = flags & LockFlags.future != 0 ? lock : []
        guard flags & LockFlags.current != 0 else { return [] }
        update(0, Self.addressLimit) { Self.setLock(lock, on: &$0) }
        return pieces(0, Self.addressLimit).filter(\.filledByPopulate)
    }

    /// munlockall(2): nothing is locked, now or in the future.
    public mutating func unlockAll() {
        lockFuture = []
        update(0, Self.addressLimit) { Self.setLock([], on: &$0) }
    }

    /// The lock a VMA mapped now takes: mlockall(MCL_FUTURE)'s, or MAP_LOCKED's (which perf's
    /// records also show for memory MCL_FUTURE locked), on fault if the future is.
    func newMappingLock(_ vma: VMA) -> VMAFlags {
        guard vma.mayBeLocked, vma.flags.contains(.locked) || lockFuture.contains(.locked) else { return [] }
        return VMAFlags.locked.union(lockFuture.intersection(.lockOnFault))
    }

    /// `vma` with the lock it takes when mapped now.
    func lockedAsMapped(_ vma: VMA) -> VMA {
        var v = vma
        let lock = newMappingLock(vma)
        v.flags.subtract([.locked, .lockOnFault])
        v.flags.formUnion(lock)
        return v
    }

    /// Whether mmap fills `vma`, mapped now with `mapFlags`, before it returns: MAP_POPULATE
    /// without MAP_NONBLOCK, or locked memory, unless locked on fault (do_mmap's `populate`;
    /// hugetlb memory has its lock taken away after and is filled anyway).
    public func mmapFills(_ vma: VMA, mapFlags: UInt32) -> Bool {
        let populate = mapFlags & (MapFlags.populate | MapFlags.nonBlock) == MapFlags.populate
        let locked = mapFlags & MapFlags.locked != 0 || lockFuture.contains(.locked)
        guard populate || locked else { return false }
        return !newMappingLock(vma).contains(.lockOnFault) && vma.prot & 7 != 0 && !vma.flags.contains(.pfnMap)
    }

    /// Whether memory a brk or an mremap adds to `vma` is filled as it is added (do_brk_flags
    /// with a locked future; mremap growing a locked mapping).
    public func fillsGrowth(of vma: VMA) -> Bool {
        vma.flags.contains(.locked) && vma.filledByPopulate
    }

    private static func setLock(_ lock: VMAFlags, on vma: inout VMA) {
        vma.flags.subtract([.locked, .lockOnFault])
        if vma.mayBeLocked { vma.flags.formUnion(lock) }
    }
}
