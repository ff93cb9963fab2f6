// The address-space timeline: each munmap, mremap, mprotect, madvise, brk, THP prctl and
// memory lock that succeeded is applied to the process's address space and written to the
// log (munlock and munlockall at their entry: AddressSpaceSyscall.wantsExit); mmap's entry
// lends its stack and its flags to the MMAP2 record that follows.
//
// What munmap and mremap free, they free somewhere inside the call, and another thread may
// map the same addresses again before the call returns: applied at the exit, the removal
// would wipe that new mapping. So munmap, and an mremap that shrinks in place, cut their
// range out at the entry (a failed call gets it back); an mremap that moves is applied at
// the exit, to the mapping it found at its entry only. Both are logged with their entry
// time. The rules themselves (what a munmap or an mremap frees) are AddressSpace's.

import FaultlineAddressSpace
import FaultlineCore
import FaultlineLog
import Glibc

extension FaultAssembler {
    struct PendingSyscall {
        var call: AddressSpaceSyscall
        var arguments: [UInt64]
        var stack: StackID
        var time: UInt64
        /// What a munmap or a shrinking mremap took out of the space at its entry.
        var removed: [VMA] = []
        /// What an mremap resizes or moves (the pieces over its old range), as at the entry.
        var source: [VMA] = []
    }

    func syscallEntered(_ e: TraceEvent, call: AddressSpaceSyscall, arguments: [UInt64], chain: ArraySlice<UInt64>) {
        let stack = call.wantsStack ? intern(chain, pid: e.pid) : .empty
        var pending = PendingSyscall(call: call, arguments: arguments, stack: stack, time: e.time)
        let a = arguments + Array(repeating: 0, count: max(0, 5 - arguments.count))
        if call == .munmap || call == .mremap {
            withSpace(e.pid) { space in
                if call == .munmap {
                    pending.removed = space.unmap(a[0], a[1])
                } else {
                    // Old length 0 duplicates the shared mapping at the address.
                    let old = space.range(a[0], a[1]) ?? space.index(containing: a[0]).map { (a[0], space[$0].end) }
                    pending.source = old.map { space.pieces($0.0, $0.1) } ?? []
                    if let tail = space.tailFreedInPlace(oldAddress: a[0], oldLength: a[1], newLength: a[2],
                                                         flags: UInt32(truncatingIfNeeded: a[3])) {
                        pending.removed = space.unmap(tail.start, tail.end - tail.start)
                    }
                }
            }
        }
        forgetPages(pending.removed, pid: e.pid)
        if call.appliedAtEntry {
            withSpace(e.pid) { space in applyExit(e, pending: pending, result: 0, to: &space) }
            return
        }
        pendingSyscalls[e.tid] = pending
    }

    /// The mmap (or brk) the thread is inside, for the MMAP2 record it produces: its stack is
    /// the mapping's origin, its flags say what perf does not. An mmap makes one record and
    /// its exit is not traced, so the record uses it up: a failed mmap's must not be lent to
    /// the next image's mappings after an exec.
    func callMaking(mappingOf tid: Int32) -> PendingSyscall? {
        guard let pending = pendingSyscalls[tid], pending.call == .mmap || pending.call == .brk else { return nil }
        if pending.call == .mmap { pendingSyscalls[tid] = nil }
        return pending
    }

    func syscallExited(_ e: TraceEvent, call: AddressSpaceSyscall, result: Int64) {
        guard let pending = pendingSyscalls.removeValue(forKey: e.tid), pending.call == call else { return }
        withSpace(e.pid) { space in applyExit(e, pending: pending, result: result, to: &space) }
    }

    /// A MADV_COLLAPSE of a page-aligned range that failed with EINVAL under `record
    /// --no-thp`: the recorder's PR_SET_THP_DISABLE refused it (thp_vma_allowable_orders),
    /// and the program untraced would have had its huge pages. It is logged as if it had
    /// succeeded: replay applies the kernel's other rules for it (VM_NOHUGEPAGE, the
    /// program's own prctl, anonymous memory only), and its self-check, which replays the
    /// recording as it was, refuses it as the kernel did.
    private func refusedOnlyForTheRecorder(_ call: AddressSpaceSyscall, _ a: [UInt64], result: Int64) -> Bool {
        thpDisabledByRecorder && call == .madvise && Int32(truncatingIfNeeded: a[2]) == Advice.collapse
            && result == -Int64(EINVAL) && a[0] % pageSize == 0 && a[1] > 0 && a[0] <= UInt64.max - a[1]
    }

    private func applyExit(_ e: TraceEvent, pending: PendingSyscall, result: Int64, to space: inout AddressSpace) {
        let call = pending.call
        let a = pending.arguments + Array(repeating: 0, count: max(0, 5 - pending.arguments.count))
        // -4095..-1 is an errno: the call changed nothing, so what its entry took is still mapped.
        guard result < -4095 || result >= 0 || refusedOnlyForTheRecorder(call, a, result: result) else {
            space.restore(pending.removed)
            return
        }
        let change: AddressSpaceChange
        var time = e.time
        if call == .mremap || call == .mprotect || call == .madvise || call == .prctl {
            // They may write-protect pages again (KSM too), or move them (noteWholeWrite).
            writableHugePages[e.pid] = nil
        }
        switch call {
        case .mmap:
            return
        case .munmap:
            change = .munmap(address: a[0], length: a[1])
            time = pending.time
        case .mremap:
            let flags = UInt32(truncatingIfNeeded: a[3])
            let remap = RemapCall(oldAddress: a[0], oldLength: a[1], newLength: a[2], flags: flags,
                                  newAddress: UInt64(bitPattern: result))
            change = .mremap(address: a[0], length: a[1], newAddress: remap.newAddress, newLength: a[2], flags: flags)
            time = pending.time
            if !pending.source.isEmpty {
                let effect = space.remap(remap, source: pending.source)
                applyToPages(effect, pid: e.pid)
                // A locked mapping's growth is filled by the call.
                if let g = effect.grown, let i = space.index(containing: g.start), space.fillsGrowth(of: space[i]) {
                    noteFilled(space.pieces(g.start, g.end), pid: e.pid)
                }
            }
        case .mprotect:
            change = .mprotect(address: a[0], length: a[1], prot: UInt32(truncatingIfNeeded: a[2]))
            space.protect(a[0], a[1], prot: UInt32(truncatingIfNeeded: a[2]))
        case .madvise:
            let advice = Int32(truncatingIfNeeded: a[2])
            change = .madvise(address: a[0], length: a[1], advice: advice)
            applyToPages(space.advise(a[0], a[1], advice: advice), pid: e.pid)
        case .brk:
            let newBreak = UInt64(bitPattern: result)
            change = .brk(requested: a[0], result: newBreak)
            // Growth arrives as an MMAP2 record first; a lower break unmaps the heap's top.
            forgetPages(space.brk(result: newBreak, heapLabel: -1).removed, pid: e.pid)
        case .prctl:
            guard a[0] == THPDisable.prctlOption else { return }
            let mode: THPDisable = a[1] == 0 ? .none : (a[2] & THPDisable.exceptAdvisedFlag != 0 ? .exceptAdvised : .all)
            change = .thpDisable(mode)
            space.setTHPDisable(mode)
        case .open, .openat:
            // Only opens of the THP settings reach here (AddressSpaceSyscall.filter).
            change = .readTHPSetting
        case .mlock, .mlock2:
            let flags = call == .mlock2 ? UInt32(truncatingIfNeeded: a[2]) : 0
            change = .mlock(address: a[0], length: a[1], flags: flags)
            noteFilled(space.lock(a[0], a[1], flags: flags), pid: e.pid)
        case .munlock:
            change = .munlock(address: a[0], length: a[1])
            space.unlock(a[0], a[1])
        case .mlockall:
            let flags = UInt32(truncatingIfNeeded: a[0])
            change = .mlockall(flags: flags)
            noteFilled(space.lockAll(flags: flags), pid: e.pid)
        case .munlockall:
            change = .munlockall
            space.unlockAll()
        }
        // No stack-cache flush: removing or moving memory cannot change what a code address
        // already seen means; only new executable mappings can (see map()).
        writer.append(.addressSpace(AddressSpaceEvent(pid: e.pid, tid: e.tid, timeNs: time, change: change,
                                                      stack: pending.stack)))
    }
}
