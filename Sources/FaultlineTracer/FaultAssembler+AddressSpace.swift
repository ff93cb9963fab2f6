// The address-space timeline: each munmap, mremap, mprotect, madvise and brk that
// succeeded is applied to the process's mapping table and written to the log; mmap's
// entry lends its stack to the MMAP2 record that follows, as the mapping's origin.

import FaultlineCore
import FaultlineLog

extension FaultAssembler {
    struct PendingSyscall {
        var call: AddressSpaceSyscall
        var arguments: [UInt64]
        var stack: StackID
    }

    func syscallEntered(_ e: TraceEvent, call: AddressSpaceSyscall, arguments: [UInt64], chain: ArraySlice<UInt64>) {
        let stack = call.wantsStack ? intern(chain, pid: e.pid) : .empty
        pendingSyscalls[e.tid] = PendingSyscall(call: call, arguments: arguments, stack: stack)
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
        // -4095..-1 is an errno: the call changed nothing.
        guard result < -4095 || result >= 0 else { return }
        let a = pending.arguments + Array(repeating: 0, count: max(0, 5 - pending.arguments.count))
        let change: AddressSpaceChange
        var table = tables[e.pid] ?? VMATable()
        switch call {
        case .mmap:
            return
        case .munmap:
            change = .munmap(address: a[0], length: a[1])
            table.remove(a[0], a[0] &+ pageRoundUp(a[1]))
        case .mremap:
            let newAddress = UInt64(bitPattern: result)
            change = .mremap(address: a[0], length: a[1], newAddress: newAddress, newLength: a[2])
            table.move(from: a[0], oldLength: pageRoundUp(a[1]), to: newAddress, newLength: pageRoundUp(a[2]))
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
        writer.append(.addressSpace(AddressSpaceEvent(pid: e.pid, tid: e.tid, timeNs: e.time, change: change,
                                                      stack: pending.stack)))
    }

    private func pageRoundUp(_ length: UInt64) -> UInt64 {
        (length &+ pageSize &- 1) & ~(pageSize &- 1)
    }
}
