// A log's mmap and address-space records applied to an address space: what every reader of
// a log (the reports, the replay model) does with them, written once.

import FaultlineCore

/// What a recorded change did, for users that model pages.
public enum ChangeEffect: Sendable, Equatable {
    case none
    /// Memory gone (munmap, a lower brk).
    case unmapped([VMA])
    /// A mapping record: what it replaced, and what memory is new.
    case mapped(Announcement)
    case remapped(RemapEffect)
    case advised(AdviceEffect)
    /// mprotect over [start, end).
    case protected(start: UInt64, end: UInt64)
    /// mlock or mlockall: the pieces the call filled (each written where it is private and
    /// writable: VMA.populateWrites).
    case filled([VMA])
}

extension VMA {
    /// The VMA an mmap record describes, labelled `label`; `name` is its module's path.
    public init(_ m: MmapEvent, name: String, label: Int32, kernel: KernelBehaviour, defaultHugePageShift: UInt8 = 21) {
        self.init(m, label: label, reading: NameReading(name: name, inode: m.inode, mapFlags: m.flags, kernel: kernel,
                                                        defaultHugePageShift: defaultHugePageShift))
    }

    /// A VMA from an mmap record whose name was read already (`reading`, of the record's
    /// module, inode and flags).
    public init(_ m: MmapEvent, label: Int32, reading: NameReading) {
        let end = m.start.addingReportingOverflow(m.length).overflow ? UInt64.max : m.start + m.length
        self.init(start: m.start, end: end, offset: m.pageOffset, prot: m.prot, inode: m.inode, label: label, reading: reading)
    }
}

extension AddressSpace {
    /// A recorded mapping: a new mapping over its range (format 2), or perf's announcement
    /// of a VMA (format 1 logs, `announced`).
    @discardableResult
    public mutating func apply(mapping vma: VMA, announced: Bool) -> Announcement {
        if announced { return announce(vma) }
        if let grown = growStack(describedBy: vma) { return grown }
        var added = lockedAsMapped(vma)
        let removed = map(vma)
        added.end = min(added.end, Self.addressLimit)
        return Announcement(removed: removed, added: added.isEmpty ? [] : [added])
    }

    /// A recorded munmap, mremap, mprotect, madvise, brk, THP prctl or memory lock.
    /// `heapLabel` labels a heap that brk grows where no mapping record described it.
    @discardableResult
    public mutating func apply(_ change: AddressSpaceChange, heapLabel: Int32 = -1) -> ChangeEffect {
        switch change {
        case .munmap(let address, let length):
            return .unmapped(unmap(address, length))
        case .mremap(let address, let length, let newAddress, let newLength, let flags):
            return .remapped(remap(RemapCall(oldAddress: address, oldLength: length, newLength: newLength,
                                             flags: flags, newAddress: newAddress)))
        case .mprotect(let address, let length, let prot):
            protect(address, length, prot: prot)
            guard let r = range(address, length) else { return .none }
            return .protected(start: r.start, end: r.end)
        case .madvise(let address, let length, let advice):
            return .advised(advise(address, length, advice: advice))
        case .brk(_, let result):
            let a = brk(result: result, heapLabel: heapLabel)
            if !a.removed.isEmpty { return .unmapped(a.removed) }
            return a.added.isEmpty ? .none : .mapped(a)
        case .thpDisable(let mode):
            setTHPDisable(mode)
            return .none
        case .mlock(let address, let length, let flags):
            return .filled(lock(address, length, flags: flags))
        case .munlock(let address, let length):
            unlock(address, length)
            return .none
        case .mlockall(let flags):
            return .filled(lockAll(flags: flags))
        case .munlockall:
            unlockAll()
            return .none
        case .readTHPSetting:
            return .none
        }
    }
}
