// The kernel's rules for the calls that change an address space: mmap (and perf's
// announcements of VMAs), munmap, mprotect, madvise, brk, fork and exec. mremap is in
// Remap.swift. Each returns what it took away, so a user can free the pages it models.

import FaultlineCore

/// What perf's MMAP2 record for a VMA changed (see `AddressSpace.announce`).
public struct Announcement: Sendable, Equatable {
    /// Memory that was there and is now other memory: its pages are gone.
    public var removed: [VMA] = []
    /// The parts of the record that are new memory, with a new serial.
    public var added: [VMA] = []
    /// The record described the stack grown by a fault (growStack(describedBy:)): its new
    /// part is not filled, even where the stack is locked (the fault fills its own page).
    public var grewStack = false
}

/// What an madvise does to the pages of its range, beyond the VMA flags it sets.
public enum AdviceEffect: Sendable, Equatable {
    case none
    /// MADV_DONTNEED, MADV_REMOVE, MADV_DONTNEED_LOCKED, MADV_GUARD_INSTALL: the pages go,
    /// the VMAs stay; the next touch faults as a first touch. `freesEmptyPageTables`: the
    /// page tables the call empties go too (KernelBehaviour.dontNeedFreesEmptyPageTables:
    /// the two MADV_DONTNEEDs only; a guard leaves markers in its table).
    /// `freesSharedPages`: MADV_REMOVE, which also frees the shmem pages themselves (a hole
    /// punched in the object), where the others only unmap them.
    case discard([VMA], freesEmptyPageTables: Bool, freesSharedPages: Bool = false)
    /// MADV_FREE: the pages stay mapped until memory runs short; then reclaim drops them
    /// rather than swapping them (unless written again first), and the next touch is a
    /// first touch. A model without memory pressure keeps them; a history of which pages
    /// may come back from swap forgets them.
    case lazyFree([VMA])
    /// MADV_POPULATE_READ/WRITE: the kernel faults the pages in itself (through
    /// get_user_pages: counted by the kernel, no fault events).
    case populate([VMA], write: Bool)
    /// MADV_COLLAPSE: the range is collapsed into THPs where its VMAs allow one.
    case collapse([VMA])
    /// MADV_PAGEOUT: reclaim takes the range's pages now (reclaim_pages): a file page leaves
    /// the page tables, and the next touch faults again (from the page cache, or the file);
    /// an anonymous one goes only to swap.
    case pageOut([VMA])
}

extension AddressSpace {
    /// mmap(MAP_FIXED): `vma` replaces whatever was mapped over its range. Returns what it
    /// replaced. The new mapping gets a serial of its own.
    @discardableResult
    public mutating func map(_ vma: VMA) -> [VMA] {
        var vma = lockedAsMapped(vma)
        vma.end = min(vma.end, Self.addressLimit)
        guard !vma.isEmpty else { return [] }
        vma.serial = newSerial()
        let removed = cut(vma.start, vma.end)
        place(vma)
        return removed
    }

    /// The main stack grown down by a fault, described by a mapping record; nil when `vma`
    /// is not that. expand_downwards reports the grown VMA to perf (perf_event_mmap) from
    /// inside the fault, outside any call, so it reads as a mapping the kernel made, which
    /// would replace the stack and every page on it. A growsDown record that carries on a
    /// growsDown VMA downwards (the whole stack again, or just the part that is new, as the
    /// recorder logs it) instead grows that VMA, which keeps its pages, label and state, and
    /// only the new part is added. One the stack already covers (a model that grew it for
    /// the fault first) adds nothing.
    public mutating func growStack(describedBy vma: VMA) -> Announcement? {
        guard vma.flags.contains(.growsDown), vma.start < vma.end else { return nil }
        // The first VMA ending above the record's start: nothing lies between the two.
        let i = firstEnding(after: vma.start)
        guard i < vmas.count else { return nil }
        let stack = vmas[i]
        guard stack.flags.contains(.growsDown), stack.sameMemory(as: vma), stack.prot == vma.prot,
              vma.end >= stack.start, vma.end <= stack.end else { return nil }
        guard vma.start < stack.start else { return Announcement(grewStack: true) }
        growStack(i, to: vma.start)
        return Announcement(removed: [], added: [vmas[i].slice(vma.start, stack.start)], grewStack: true)
    }

    /// perf's MMAP2 record for a VMA. perf reports a VMA not only when mmap creates it, but
    /// also after mprotect, brk growth and merges, and always whole: a record over memory
    /// that is already there is the same VMA described again. So, piece by piece: where the
    /// record is the same memory as what is mapped (VMA.sameMemory), that memory stays, with
    /// its label, serial and the state madvise and faults gave it, and takes the record's
    /// protection; where it is other memory, that goes; the rest is new. (Anonymous memory
    /// mapped with MAP_FIXED over anonymous memory looks the same as an announcement; the
    /// recorder removes the old range first when it sees the mmap call's MAP_FIXED.)
    @discardableResult
    public mutating func announce(_ vma: VMA) -> Announcement {
        var vma = lockedAsMapped(vma)
        vma.end = min(vma.end, Self.addressLimit)
        guard !vma.isEmpty else { return Announcement() }
        let serial = newSerial()
        var result = Announcement()
        var replacement: [VMA] = []
        var sharesAnonVMA = false
        func addNew(_ s: UInt64, _ e: UInt64) {
            guard e > s else { return }
            var piece = vma.slice(s, e)
            piece.serial = serial
            result.added.append(piece)
            replacement.append(piece)
        }
        let first = firstEnding(after: vma.start)
        var last = first
        var cursor = vma.start
        while last < vmas.count && vmas[last].start < vma.end {
            let old = vmas[last]
            last += 1
            if old.start < vma.start { replacement.append(old.slice(old.start, vma.start)) }
            let s = max(old.start, vma.start), e = min(old.end, vma.end)
            addNew(cursor, s)
            let announced = vma.slice(s, e)
            if old.slice(s, e).sameMemory(as: announced) {
                var kept = announced
                kept.label = old.label
                kept.serial = old.serial
                kept.flags = announced.flags.union(old.flags.intersection(VMAFlags.acquired))
                replacement.append(kept)
                sharesAnonVMA = sharesAnonVMA || old.flags.contains(.hasAnonPages)
            } else {
                result.removed.append(old.slice(s, e))
                addNew(s, e)
            }
            cursor = e
            if old.end > vma.end { replacement.append(old.slice(vma.end, old.end)) }
        }
        addNew(cursor, vma.end)
        // A merged VMA has one anon_vma: memory added to one that had anonymous pages shares it.
        if sharesAnonVMA && vma.backing == .anonymous {
            for i in replacement.indices where replacement[i].serial == serial { replacement[i].flags.insert(.hasAnonPages) }
            for i in result.added.indices { result.added[i].flags.insert(.hasAnonPages) }
        }
        vmas.replaceSubrange(first..<last, with: replacement)
        return result
    }

    /// Inserts `vma` only if nothing is mapped anywhere in its range (a /proc/PID/maps
    /// snapshot must not replace what perf described with build-ids). Whether it did.
    @discardableResult
    public mutating func insertWhereUnmapped(_ vma: VMA) -> Bool {
        guard !vma.isEmpty, pieces(vma.start, vma.end).isEmpty else { return false }
        var vma = vma
        vma.serial = newSerial()
        place(vma)
        return true
    }

    /// Puts back pieces a call took out but did not remove after all (it failed), keeping
    /// their serials, wherever nothing was mapped there since.
    public mutating func restore(_ pieces: [VMA]) {
        for piece in pieces where self.pieces(piece.start, piece.end).isEmpty { place(piece) }
    }

    /// munmap(2): removes whole pages over [address, address + length). An address that is
    /// not page aligned is refused (EINVAL): nothing changes.
    @discardableResult
    public mutating func unmap(_ address: UInt64, _ length: UInt64) -> [VMA] {
        guard let r = range(address, length) else { return [] }
        return cut(r.start, r.end)
    }

    /// mprotect(2): the protection of whole pages over the range, splitting VMAs at its edges.
    public mutating func protect(_ address: UInt64, _ length: UInt64, prot: UInt32) {
        guard let r = range(address, length) else { return }
        update(r.start, r.end) { $0.prot = prot }
    }

    /// madvise(2): sets the VMA flags the advice sets (splitting at the range's edges) and
    /// says what it does to pages.
    public mutating func advise(_ address: UInt64, _ length: UInt64, advice: Int32) -> AdviceEffect {
        guard let r = range(address, length) else { return .none }
        func set(_ on: VMAFlags, clearing off: VMAFlags = []) {
            update(r.start, r.end) { $0.flags.subtract(off); $0.flags.formUnion(on) }
        }
        switch advice {
        case Advice.dontNeed, Advice.remove, Advice.dontNeedLocked, Advice.guardInstall:
            let reclaims = kernel.dontNeedFreesEmptyPageTables && (advice == Advice.dontNeed || advice == Advice.dontNeedLocked)
            return .discard(pieces(r.start, r.end), freesEmptyPageTables: reclaims, freesSharedPages: advice == Advice.remove)
        case Advice.free:
            return .lazyFree(pieces(r.start, r.end))
        case Advice.populateRead, Advice.populateWrite:
            return .populate(pieces(r.start, r.end), write: advice == Advice.populateWrite)
        case Advice.collapse:
            return .collapse(pieces(r.start, r.end))
        case Advice.pageOut:
            return .pageOut(pieces(r.start, r.end))
        case Advice.hugePage: set(.hugePage, clearing: .noHugePage)
        case Advice.noHugePage: set(.noHugePage, clearing: .hugePage)
        case Advice.dontFork: set(.dontFork)
        case Advice.doFork: update(r.start, r.end) { $0.flags.remove(.dontFork) }
        case Advice.wipeOnFork: set(.wipeOnFork)
        case Advice.keepOnFork: update(r.start, r.end) { $0.flags.remove(.wipeOnFork) }
        default: break
        }
        return .none
    }

    /// brk(2) returned `result`. The first answer only says where the break is. After that,
    /// a lower break unmaps the top of the heap; a higher one grows the anonymous VMA that
    /// ends at the old break (or makes one, labelled `heapLabel`) unless something is
    /// already mapped there (perf announced the growth first).
    @discardableResult
    public mutating func brk(result: UInt64, heapLabel: Int32) -> Announcement {
        defer { if result != 0 { programBreak = result } }
        guard programBreak != 0, result != 0, result < Self.addressLimit else { return Announcement() }
        let old = pageRoundUp(programBreak), new = pageRoundUp(result)
        if new < old { return Announcement(removed: cut(new, old), added: []) }
        guard new > old, pieces(old, new).isEmpty else { return Announcement() }
        var grown = VMA(start: old, end: new, offset: 0, prot: Protection.read | Protection.write,
                        backing: .anonymous, label: heapLabel)
        grown.serial = newSerial()
        if let below = index(containing: old - 1), vmas[below].backing == .anonymous, !vmas[below].isHugetlb {
            grown = vmas[below].slice(vmas[below].start, old)
            grown.offset = grown.offset &+ grown.length
            grown.start = old
            grown.end = new
        }
        // The growth is locked as the future is (do_brk_flags takes mm->def_flags), whatever
        // the heap below it.
        grown.flags.subtract([.locked, .lockOnFault])
        grown.flags.formUnion(lockFuture)
        place(grown)
        return Announcement(removed: [], added: [grown])
    }

    /// The address space of a fork child: the same VMAs but those with MADV_DONTFORK; a
    /// MADV_WIPEONFORK VMA comes empty, without an anon_vma. The THP prctl is inherited;
    /// memory locks are not (dup_mmap clears VM_LOCKED_MASK, mm_init keeps no def_flags lock).
    public func forked() -> AddressSpace {
        var child = self
        // Most address spaces have none of these flags: then the child's VMAs are the
        // parent's as they are, with no walk to rebuild them (rebuilding bash's VMAs was
        // a seventh of a fork's time in the replay of a shell loop of 1,000 forks, perf).
        if vmas.contains(where: { $0.flags.contains(.dontFork) }) {
            child.keep { !$0.flags.contains(.dontFork) }
        }
        if vmas.contains(where: { !$0.flags.isDisjoint(with: [.wipeOnFork, .locked, .lockOnFault]) }) {
            child.update(0, Self.addressLimit) {
                if $0.flags.contains(.wipeOnFork) { $0.flags.remove(.hasAnonPages) }
                $0.flags.subtract([.locked, .lockOnFault])
            }
        }
        child.lockFuture = []
        return child
    }

    /// execve: a new, empty address space. PR_SET_THP_DISABLE survives it, mlockall does not.
    public mutating func exec() {
        removeAllVMAs()
        programBreak = 0
        lockFuture = []
    }

    /// prctl(PR_SET_THP_DISABLE).
    public mutating func setTHPDisable(_ mode: THPDisable) {
        thpDisable = mode == .exceptAdvised && !kernel.thpDisableCanExceptAdvised ? .all : mode
    }

    /// Adds `flags` to the VMA at `index` (the model's faults give a VMA its anon_vma).
    public mutating func insertFlags(_ flags: VMAFlags, at index: Int) {
        guard vmas.indices.contains(index), !vmas[index].flags.isSuperset(of: flags) else { return }
        vmas[index].flags.formUnion(flags)
    }

    /// Gives the pieces over [start, end) another label (a moved mapping that the user
    /// counts as a mapping of its own).
    public mutating func relabel(_ start: UInt64, _ end: UInt64, to label: Int32) {
        update(start, end) { $0.label = label }
    }
}
