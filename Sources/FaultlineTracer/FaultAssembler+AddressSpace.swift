// The address-space timeline: each munmap, mremap, mprotect, madvise and brk that
// succeeded is applied to the process's mapping table and written to the log; mmap's
// entry lends its stack to the MMAP2 record that follows, as the mapping's origin.
//
// What munmap and mremap free, they free somewhere inside the call, and another thread may
// map the same addresses again before the call returns: applied at the exit, the removal
// would wipe that new mapping. So munmap, and an mremap that shrinks in place, cut their
// range out at the entry (a failed call gets it back); an mremap that moves removes the old
// range at the exit, but only what is still the mapping it moved. Both are logged with
// their entry time.

import FaultlineCore
import FaultlineLog

extension FaultAssembler {
    struct PendingSyscall {
        var call: AddressSpaceSyscall
        var arguments: [UInt64]
        var stack: StackID
        var time: UInt64
        /// What a munmap or a shrinking mremap took out of the table at its entry.
        var removed: [VMA] = []
        /// The mapping an mremap resizes or moves, from its old address on, as at the entry.
        var source: VMA?
    }

    /// mremap's flags (<linux/mman.h>).
    private static let remapFixed: UInt64 = 2, remapDontUnmap: UInt64 = 4

    func syscallEntered(_ e: TraceEvent, call: AddressSpaceSyscall, arguments: [UInt64], chain: ArraySlice<UInt64>) {
        let stack = call.wantsStack ? intern(chain, pid: e.pid) : .empty
        var pending = PendingSyscall(call: call, arguments: arguments, stack: stack, time: e.time)
        let a = arguments + Array(repeating: 0, count: max(0, 5 - arguments.count))
        // An address that is not page aligned is refused (EINVAL): nothing changes.
        if (call == .munmap || call == .mremap) && a[0] % pageSize == 0 {
            var table = tables[e.pid] ?? VMATable()
            var freed: (start: UInt64, end: UInt64)?
            if call == .munmap {
                freed = (a[0], a[0] &+ pageRoundUp(a[1]))
            } else {
                if var source = table.lookup(a[0]), source.start <= a[0] {
                    source.pageOffset += a[0] - source.start
                    source.start = a[0]
                    pending.source = source
                }
                // Shrinking without MREMAP_FIXED or MREMAP_DONTUNMAP stays in place and
                // unmaps the tail; the rest stays mapped and may be faulted on meanwhile.
                let oldLength = pageRoundUp(a[1]), newLength = pageRoundUp(a[2])
                if newLength > 0 && newLength < oldLength && a[3] & (Self.remapFixed | Self.remapDontUnmap) == 0 {
                    freed = (a[0] &+ newLength, a[0] &+ oldLength)
                }
            }
            if let freed, freed.end > freed.start {
                pending.removed = table.pieces(freed.start, freed.end)
                table.remove(freed.start, freed.end)
            }
            tables[e.pid] = table
        }
        pendingSyscalls[e.tid] = pending
    }

    /// The stack of the mmap (or brk) the thread is inside, for the MMAP2 record it produces.
    /// An mmap makes one record and its exit is not traced, so the record uses it up: a
    /// failed mmap's stack must not be lent to the next image's mappings after an exec.
    func originOfMapping(tid: Int32) -> StackID {
        guard let pending = pendingSyscalls[tid], pending.call == .mmap || pending.call == .brk else { return .empty }
        if pending.call == .mmap { pendingSyscalls[tid] = nil }
        return pending.stack
    }

    func syscallExited(_ e: TraceEvent, call: AddressSpaceSyscall, result: Int64) {
        guard let pending = pendingSyscalls.removeValue(forKey: e.tid), pending.call == call else { return }
        var table = tables[e.pid] ?? VMATable()
        // -4095..-1 is an errno: the call changed nothing, so what its entry took is still mapped.
        guard result < -4095 || result >= 0 else {
            for vma in pending.removed { table.insertWhereUnmapped(vma, keepingSerial: true) }
            tables[e.pid] = table
            return
        }
        let a = pending.arguments + Array(repeating: 0, count: max(0, 5 - pending.arguments.count))
        let change: AddressSpaceChange
        var time = e.time
        switch call {
        case .mmap:
            return
        case .munmap:
            change = .munmap(address: a[0], length: a[1])
            time = pending.time
        case .mremap:
            let newAddress = UInt64(bitPattern: result)
            change = .mremap(address: a[0], length: a[1], newAddress: newAddress, newLength: a[2])
            time = pending.time
            let oldLength = pageRoundUp(a[1]), newLength = pageRoundUp(a[2])
            if var source = pending.source {
                if newAddress == a[0] {
                    // In place: a shrink's tail went at the entry; growth extends the mapping.
                    if newLength > oldLength {
                        source.pageOffset += oldLength
                        source.start = a[0] &+ oldLength
                        source.end = a[0] &+ newLength
                        table.insert(source, keepingSerial: true)
                    }
                } else {
                    // Moved (old length 0: a shared mapping duplicated). The old range goes
                    // unless MREMAP_DONTUNMAP keeps it; what another thread mapped there
                    // since is another mapping, and stays.
                    if a[3] & Self.remapDontUnmap == 0 && oldLength > 0 {
                        table.remove(a[0], a[0] &+ oldLength, onlySerial: source.serial)
                    }
                    source.start = newAddress
                    source.end = newAddress &+ newLength
                    table.insert(source)
                }
            }
        case .mprotect:
            change = .mprotect(address: a[0], length: a[1], prot: UInt32(truncatingIfNeeded: a[2]))
        case .madvise:
            change = .madvise(address: a[0], length: a[1], advice: Int32(truncatingIfNeeded: a[2]))
        case .brk:
            let newBreak = UInt64(bitPattern: result)
            change = .brk(requested: a[0], result: newBreak)
            // Growth arrives as an MMAP2 record; a shrinking break unmaps the top of the heap.
            if let old = currentBreak[e.pid], newBreak < old { table.remove(pageRoundUp(newBreak), pageRoundUp(old)) }
            currentBreak[e.pid] = newBreak
        }
        // No stack-cache flush: removing or moving memory cannot change what a code address
        // already seen means; only new executable mappings can (see map()).
        tables[e.pid] = table
        writer.append(.addressSpace(AddressSpaceEvent(pid: e.pid, tid: e.tid, timeNs: time, change: change,
                                                      stack: pending.stack)))
    }

    private func pageRoundUp(_ length: UInt64) -> UInt64 {
        (length &+ pageSize &- 1) & ~(pageSize &- 1)
    }
}
