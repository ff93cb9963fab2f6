// The address-space timeline: each munmap, mremap, mprotect, madvise and brk that
// succeeded is applied to the process's mapping table and written to the log; mmap's
// entry lends its stack to the MMAP2 record that follows, as the mapping's origin.
//
// munmap and mremap free their range at their entry, as far as the table and the log are
// concerned: the kernel frees it somewhere inside the call, and another thread may map
// the same addresses again before the call returns. Applied at the exit, the removal would
// wipe that new mapping (and mremap would move it). A call that fails gets its range back.

import FaultlineCore
import FaultlineLog

extension FaultAssembler {
    struct PendingSyscall {
        var call: AddressSpaceSyscall
        var arguments: [UInt64]
        var stack: StackID
        var time: UInt64
        /// What a munmap or mremap took out of the table at its entry.
        var removed: [VMA] = []
    }

    func syscallEntered(_ e: TraceEvent, call: AddressSpaceSyscall, arguments: [UInt64], chain: ArraySlice<UInt64>) {
        let stack = call.wantsStack ? intern(chain, pid: e.pid) : .empty
        var pending = PendingSyscall(call: call, arguments: arguments, stack: stack, time: e.time)
        if call == .munmap || call == .mremap, arguments.count >= 2 {
            let start = arguments[0], end = arguments[0] &+ pageRoundUp(arguments[1])
            // The kernel refuses anything else (EINVAL) and changes nothing.
            if start % pageSize == 0 && end > start {
                var table = tables[e.pid] ?? VMATable()
                pending.removed = table.pieces(start, end)
                table.remove(start, end)
                tables[e.pid] = table
            }
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
            for vma in pending.removed { table.insertWhereUnmapped(vma) }
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
            if var moved = pending.removed.first(where: { $0.start == a[0] }) {
                moved.start = newAddress
                moved.end = newAddress &+ pageRoundUp(a[2])
                table.insert(moved)
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
