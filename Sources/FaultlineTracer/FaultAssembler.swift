// Turns the time-ordered event stream into log records: keeps each process's address space,
// pairs every fault's entry (tracepoint) with its completion (min/maj accounting) or its
// signal, classifies it, interns its stack, and writes it.

import FaultlineAddressSpace
import FaultlineCore
import FaultlineLog

/// Counts the one-line summary and the log's summary record are made from.
public struct RecordingCounts: Sendable {
    public var byKind = KindCounts()
    public var faults: UInt64 = 0
    public var lost: UInt64 = 0
    public var throttled: UInt64 = 0
    public var unaccountedEntries: UInt64 = 0
    public var processes: Set<Int32> = []
}

/// A count per fault kind, in an array: counted once a fault, where a dictionary's hashing
/// showed in the recorder's profile.
public struct KindCounts: Sendable {
    private var counts = [UInt64](repeating: 0, count: Int(FaultKind.allCases.map(\.rawValue).max()!) + 1)
    public subscript(kind: FaultKind) -> UInt64 {
        get { counts[Int(kind.rawValue)] }
        set { counts[Int(kind.rawValue)] = newValue }
    }
}

final class FaultAssembler {
    let writer: LogWriter
    let pageSize: UInt64
    /// The running kernel's rules, for what mmap flags mean.
    let kernel: KernelBehaviour
    /// log2 of the system's default hugetlb page size (/proc/meminfo Hugepagesize).
    let defaultHugePageShift: UInt8
    /// `record --no-thp`: the recorder turned THP off for the command (PR_SET_THP_DISABLE),
    /// so the kernel refuses MADV_COLLAPSE, which the program untraced would have had.
    var thpDisabledByRecorder = false
    private(set) var counts = RecordingCounts()

    private struct Entry {
        var time: UInt64
        var pid: Int32
        var address: UInt64
        var ip: UInt64
        var errorCode: UInt64
        var kernelMode: Bool
        var stack: StackID
        /// Taken while a user-mode fault of the thread was being handled: the kernel cannot
        /// touch user memory there but from an interrupt (a profiler's read, never accounted).
        var nested = false
    }

    /// A fault whose memory is not known yet: seen between an exec and the exec stop's
    /// /proc/PID/maps snapshot (the new stack is in no perf record).
    private struct Unresolved {
        var fault: FaultEvent
        var errorCode: PageFaultErrorCode?
        var major: Bool
    }

    /// Each thread's fault entries not completed yet, oldest first: usually one. More when
    /// a fault is taken while another is being handled, by a profiler reading user memory
    /// from an interrupt (perf's frame-pointer walk, a BPF probe): the kernel fixes such a
    /// fault up without handling or accounting it. So a completion pairs with the entry of
    /// its own page, never just the thread's latest (see `takeEntry`).
    private var pending: [Int32: [Entry]] = [:]
    /// How many threads have a slot for open entries (tests: it stays bounded).
    var threadsWithEntrySlots: Int { pending.count }
    /// How many threads' entry slots `pending` holds before its empty ones are swept.
    private var sweepPendingAt = 4096
    /// How many open entries a thread keeps. Usually one or two; more when a fault waits
    /// while a profiler samples the thread again and again.
    private static let maxOpenEntries = 8
    /// Each process's address space; VMA labels are the ModuleID of what is mapped.
    var spaces: [Int32: AddressSpace] = [:]
    /// Each process's page history: what tells a swap-in from a first touch
    /// (FaultAssembler+PageHistory).
    var populated: [Int32: PopulatedPages] = [:]
    /// Each process's most recently filled pages (FaultAssembler+PageHistory, noteRace).
    var recentPopulations: [Int32: RecentPopulations] = [:]
    /// Each process's huge pages that one of its write faults made writable whole
    /// (FaultAssembler+PageHistory, noteWholeWrite).
    var writableHugePages: [Int32: WritableHugePages] = [:]
    /// The hugetlbfs file pages the recording saw a shared mapping instantiate.
    var hugetlbFilePages: Set<HugetlbFilePage> = []
    var pendingSyscalls: [Int32: PendingSyscall] = [:]
    /// Frames in each stack interned through `intern`, to prefer the deeper of two.
    private var stackDepths: [StackID: Int] = [:]
    private var commands: [Int32: String] = [:]
    /// The traced processes that have not exited: calls watched on the whole machine
    /// (AddressSpaceSyscall.watchedSystemWide) count only from these.
    private var liveProcesses: Set<Int32> = []

    /// Whether `e` is a traced process's: every event but a machine-wide call of another.
    private func isTraced(_ e: TraceEvent) -> Bool { !e.isMachineWide || liveProcesses.contains(e.pid) }
    private var awaitingSnapshot: Set<Int32> = []
    /// When the kernel reported each exec not yet logged: the moment the address space was
    /// replaced, before the new image's mappings, which the exec record is logged at.
    private var execTimes: [Int32: UInt64] = [:]
    private var unresolved: [Int32: [Unresolved]] = [:]
    /// Per thread, a write that lost its page to another thread's read of the zero page,
    /// held until the thread's next fault says whether it copied the page (see noteRace).
    private var undecidedCopies: [Int32: FaultEvent] = [:]
    /// Whole callchains already interned, per process, keyed by their hash (a collision just
    /// misses the cache). Cleared when the process's mappings change.
    var stackCache: [Int32: [Int: (chain: [UInt64], stack: StackID)]] = [:]
    /// Which processes ran the frames in anonymous (JIT) code, and their perf maps.
    let jitNames = JITNames()

    init(writer: LogWriter, pageSize: UInt64, kernel: KernelBehaviour = .newest, defaultHugePageShift: UInt8 = 21) {
        self.writer = writer
        self.pageSize = pageSize
        self.kernel = kernel
        self.defaultHugePageShift = defaultHugePageShift
    }

    /// Runs `body` on the address space of `pid` (made empty on first use), in place: taken
    /// out of the table meanwhile, so changing it copies nothing.
    func withSpace<R>(_ pid: Int32, _ body: (inout AddressSpace) -> R) -> R {
        var space = spaces.removeValue(forKey: pid) ?? AddressSpace(pageSize: pageSize, kernel: kernel)
        defer { spaces[pid] = space }
        return body(&space)
    }

    /// The launched or attached process, before any of its events.
    func begin(pid: Int32, ppid: Int32, command: String, time: UInt64, awaitingExec: Bool) {
        commands[pid] = command
        counts.processes.insert(pid)
        liveProcesses.insert(pid)
        if awaitingExec { awaitingSnapshot.insert(pid) }
        writer.append(.process(ProcessEvent(pid: pid, ppid: ppid, timeNs: time, command: writer.intern(command))))
        if let baseline = ProcFS.faultCounts(pid: pid) {
            writer.append(.kernelCounts(pid: pid, minor: baseline.minor, major: baseline.major, baseline: true))
        }
    }

    func process(_ e: TraceEvent, chains: [UInt64]) {
        switch e.body {
        case .faultEntry(let address, let ip, let code, let kernelMode, let chain):
            var frames = chains[chain]
            let stack: StackID
            if awaitingSnapshot.contains(e.pid) {
                // The kernel is loading a new program (clearing its .bss, writing the new
                // stack): the user registers still belong to the old image, so its stack
                // would point into code that is gone. Attribute these to execve itself.
                frames = []
                stack = writer.stack(leafFirst: [writer.frame(Frame(module: writer.module(path: "[execve]", buildID: []), offset: 0))])
            } else {
                stack = intern(frames, pid: e.pid)
            }
            let userIP = kernelMode ? (frames.first ?? 0) : ip
            let entry = Entry(time: e.time, pid: e.pid, address: address, ip: userIP, errorCode: code,
                              kernelMode: kernelMode, stack: stack)
            openEntry(entry, tid: e.tid)
        case .faultCompletion(let address, let major, let pageSize):
            complete(tid: e.tid, pid: e.pid, time: e.time, address: address, major: major, pageSize: pageSize)
        case .faultSignal(let signal, let code, let address, let chain):
            let crashStack = chain.isEmpty ? nil : intern(chains[chain], pid: e.pid)
            signalled(tid: e.tid, pid: e.pid, time: e.time, signal: signal, code: code, address: address,
                      stack: crashStack)
        case .mmap(let m):
            let inside = pendingSyscalls[e.tid]?.call
            map(m, pid: e.pid, time: e.time, call: callMaking(mappingOf: e.tid), inside: inside)
        case .fork(let parent):
            spaces[e.pid] = spaces[parent]?.forked()
            forkPages(parent: parent, child: e.pid)
            writableHugePages[parent] = nil   // fork write-protects the parent's private pages
            jitNames.noteFork(child: e.pid, parent: parent)
            let command = commands[parent] ?? "?"
            commands[e.pid] = command
            counts.processes.insert(e.pid)
            liveProcesses.insert(e.pid)
            writer.append(.process(ProcessEvent(pid: e.pid, ppid: parent, timeNs: e.time, command: writer.intern(command))))
        case .exec(let comm):
            settleCopies(pid: e.pid)
            withSpace(e.pid) { $0.exec() }
            populated[e.pid] = nil
            recentPopulations[e.pid] = nil
            writableHugePages[e.pid] = nil
            stackCache[e.pid] = nil
            // A call the old image entered and never left (a failed mmap, whose exit is not
            // traced) must not lend its stack to the new image's mappings.
            pendingSyscalls[e.tid] = nil
            pendingSyscalls[e.pid] = nil
            commands[e.pid] = comm
            awaitingSnapshot.insert(e.pid)
            execTimes[e.pid] = e.time
        case .execSnapshot(let command, let mappings, let startStack, let stackPages):
            commands[e.pid] = command
            let execTime = execTimes.removeValue(forKey: e.pid) ?? e.time
            writer.append(.exec(pid: e.pid, timeNs: execTime, command: writer.intern(command)))
            for m in mappings { map(m, pid: e.pid, time: e.time, snapshot: true) }
            if let stackPages, !stackPages.isEmpty {
                writer.append(.execStack(ExecStack(pid: e.pid, timeNs: execTime, present: stackPages)))
            }
            noteExecStack(pid: e.pid, startStack: startStack)
            awaitingSnapshot.remove(e.pid)
            resolveHeld(pid: e.pid)
        case .mappingsSnapshot(let mappings):
            for m in mappings { map(m, pid: e.pid, time: e.time, snapshot: true) }
        case .kernelCounts(let minor, let major):
            writer.append(.kernelCounts(pid: e.pid, minor: minor, major: major, baseline: false))
        case .kernelResident(let anon, let file, let shmem, let peak):
            writer.append(.kernelResident(KernelResident(pid: e.pid, anonBytes: anon, fileBytes: file, shmemBytes: shmem,
                                                         peakBytes: peak)))
        case .processExit(let code, let signal):
            settleCopies(pid: e.pid)
            awaitingSnapshot.remove(e.pid)
            execTimes[e.pid] = nil
            resolveHeld(pid: e.pid)
            populated[e.pid] = nil
            recentPopulations[e.pid] = nil
            writableHugePages[e.pid] = nil
            liveProcesses.remove(e.pid)
            writer.append(.exit(ExitEvent(pid: e.pid, timeNs: e.time, exitCode: code, signal: signal)))
        case .syscallEnter(let call, let arguments, let chain):
            guard isTraced(e) else { return }
            syscallEntered(e, call: call, arguments: arguments, chain: chains[chain])
        case .syscallExit(let call, let result):
            guard isTraced(e) else { return }
            syscallExited(e, call: call, result: result)
        case .lost(let n):
            counts.lost += n
            writer.append(.lost(count: n, timeNs: e.time))
        case .throttled:
            counts.throttled += 1
            writer.append(.throttled(count: 1, timeNs: e.time))
        }
    }

    /// Entries still open at the end never completed: count them, as the kernel did not.
    func finish() {
        for tid in Array(undecidedCopies.keys) { settleCopy(tid: tid, retriedBy: nil) }
        counts.unaccountedEntries += UInt64(pending.values.reduce(0) { $0 + $1.count })
        pending.removeAll()
        for pid in Array(unresolved.keys) { resolveHeld(pid: pid) }
    }

    // MARK: faults

    private func openEntry(_ entry: Entry, tid: Int32) {
        if pending.index(forKey: tid) == nil { pending[tid] = [] }
        let slot = pending.index(forKey: tid)!
        var entry = entry
        entry.nested = entry.kernelMode && pending.values[slot].contains { !$0.kernelMode }
        pending.values[slot].append(entry)
        if pending.values[slot].count > Self.maxOpenEntries {
            // The oldest nested one goes first: a fault that waits long (reclaim, a lock)
            // meets a profiler's interrupt many times, and must keep its own entry.
            let victim = pending.values[slot].firstIndex(where: \.nested) ?? 0
            pending.values[slot].remove(at: victim)
            counts.unaccountedEntries += 1
        }
    }

    /// The thread's open entry for `address`'s page: the latest that was not nested in
    /// another's handling, else the latest (a profiler's read often lands on the very page
    /// the program is faulting on: its frame pointer points there). Taking it closes every
    /// other open entry of the thread as unaccounted: one opened after it was taken inside
    /// its handling and fixed up (a profiler's read); one opened before it never completed (a
    /// kernel access that failed with EFAULT, a profiler's read while the program ran). nil,
    /// and nothing closed, when no entry is for this page: the kernel accounted a fault it
    /// raised no entry for (get_user_pages).
    private func takeEntry(tid: Int32, address: UInt64) -> Entry? {
        // In place through the table's slot: one lookup, and no allocation per fault.
        guard let slot = pending.index(forKey: tid) else { return nil }
        let page = address / pageSize
        let found: Entry? = {
            let open = pending.values[slot]   // released before the table is changed below
            guard let match = open.lastIndex(where: { !$0.nested && $0.address / pageSize == page })
                    ?? open.lastIndex(where: { $0.address / pageSize == page }) else { return nil }
            return open[match]
        }()
        guard let found else { return nil }
        counts.unaccountedEntries += UInt64(pending.values[slot].count - 1)
        pending.values[slot].removeAll(keepingCapacity: true)
        // Emptied slots stay for the thread's next fault; a program that churns through
        // threads would leave one per thread it ever ran, so they are swept now and then.
        if pending.count > sweepPendingAt {
            pending = pending.filter { !$0.value.isEmpty }
            sweepPendingAt = max(4096, 2 * pending.count)   // many threads at once: sweep less often
        }
        return found
    }

    private func complete(tid: Int32, pid: Int32, time: UInt64, address: UInt64, major: Bool, pageSize: UInt64) {
        var fault: FaultEvent
        var code: PageFaultErrorCode?
        if let entry = takeEntry(tid: tid, address: address) {
            code = PageFaultErrorCode(rawValue: entry.errorCode)
            fault = FaultEvent(pid: pid, tid: tid, timeNs: entry.time, address: address, ip: entry.ip, kind: .other,
                               access: code!.access, kernelMode: entry.kernelMode,
                               errorCode: UInt16(truncatingIfNeeded: entry.errorCode),
                               serviceNs: time >= entry.time ? time - entry.time : nil, stack: entry.stack)
        } else {
            fault = FaultEvent(pid: pid, tid: tid, timeNs: time, address: address, ip: 0, kind: .other,
                               access: .read, kernelMode: false, errorCode: nil, serviceNs: nil, stack: .empty)
        }
        // A power of two the kernel gave, as its log2 (0: not said).
        if pageSize > 0 && pageSize & (pageSize - 1) == 0 { fault.pageShift = UInt8(pageSize.trailingZeroBitCount) }
        if !undecidedCopies.isEmpty { settleCopy(tid: tid, retriedBy: code.map { (fault, $0) }) }
        let vma = spaces[pid]?.lookup(address)
        if vma == nil && awaitingSnapshot.contains(pid) {
            unresolved[pid, default: []].append(Unresolved(fault: fault, errorCode: code, major: major))
            return
        }
        if classify(&fault, errorCode: code, major: major, vma: vma) {
            undecidedCopies[tid] = fault
            return
        }
        write(fault)
    }

    /// Writes thread `tid`'s undecided copy, if it has one, now that its next fault (or its
    /// end) is here: `other` if that fault is the retried write to the same page (a write to
    /// the zero page, mapped now), else a `cow` of its own.
    private func settleCopy(tid: Int32, retriedBy next: (fault: FaultEvent, code: PageFaultErrorCode)?) {
        guard var held = undecidedCopies.removeValue(forKey: tid) else { return }
        let shift = UInt64(max(held.pageShift, UInt8(pageSize.trailingZeroBitCount)))
        let retried = next.map { $0.code.contains(.present) && $0.code.contains(.write)
            && $0.fault.address >> shift == held.address >> shift } ?? false
        if !retried { held.kind = .cow }
        write(held)
    }

    /// Settles the undecided copies of every thread of `pid` (it exits or execs).
    private func settleCopies(pid: Int32) {
        for (tid, held) in undecidedCopies where held.pid == pid { settleCopy(tid: tid, retriedBy: nil) }
    }

    /// `stack`: the stack unwound at the signal stop, preferred when it is deeper than the
    /// one sampled at the fault's entry (frame-pointer mode loses callers there).
    private func signalled(tid: Int32, pid: Int32, time: UInt64, signal: Int32, code: Int32, address: UInt64,
                           stack: StackID?) {
        var fault: FaultEvent
        // Pair with the thread's open fault only if it is this address's page: an entry left
        // open by a kernel fix-up (EFAULT) must not lend its place and time to the signal.
        if let entry = takeEntry(tid: tid, address: address) {
            fault = FaultEvent(pid: pid, tid: tid, timeNs: entry.time, address: entry.address, ip: entry.ip, kind: .segv,
                               access: PageFaultErrorCode(rawValue: entry.errorCode).access, kernelMode: entry.kernelMode,
                               errorCode: UInt16(truncatingIfNeeded: entry.errorCode), serviceNs: nil,
                               signal: signal, signalCode: code, stack: entry.stack)
        } else {
            // A fault-type signal with no fault entry (e.g. a bus error reported at
            // completion, or a non-canonical address): still a refused access.
            fault = FaultEvent(pid: pid, tid: tid, timeNs: time, address: address, ip: 0, kind: .segv, access: .read,
                               kernelMode: false, errorCode: nil, serviceNs: nil, signal: signal, signalCode: code,
                               stack: .empty)
        }
        if let stack, depth(stack) > depth(fault.stack) { fault.stack = stack }
        if !undecidedCopies.isEmpty { settleCopy(tid: tid, retriedBy: nil) }
        write(fault)
    }

    private func depth(_ stack: StackID) -> Int { stackDepths[stack] ?? 0 }

    private func resolveHeld(pid: Int32) {
        guard let held = unresolved.removeValue(forKey: pid) else { return }
        for var u in held {
            let vma = spaces[pid]?.lookup(u.fault.address)
            classify(&u.fault, errorCode: u.errorCode, major: u.major, vma: vma)
            write(u.fault)
        }
    }

    private func write(_ fault: FaultEvent) {
        counts.faults += 1
        counts.byKind[fault.kind] += 1
        writer.append(.fault(fault))
    }

    // MARK: mappings and stacks

    /// A mapping perf or /proc/PID/maps described. Inside an address-space call (`inside`),
    /// perf describes whole VMAs, also after an mprotect, a brk or a merge
    /// (AddressSpace.announce): only what is new memory is logged, as the mapping the call
    /// made. Outside every traced call the kernel made the VMA itself (an exec loading the
    /// program and its interpreter, segment over segment): it replaces what it covers, and is
    /// logged whole. `call`: the mmap or brk the thread is inside; an mmap's flags say what
    /// the record cannot (MAP_STACK, MAP_FIXED, the hugetlb size). A snapshot's mapping is
    /// taken only where nothing is known.
    private func map(_ m: MappingRecord, pid: Int32, time: UInt64, snapshot: Bool = false,
                     call: PendingSyscall? = nil, inside: AddressSpaceSyscall? = nil) {
        let module = writer.module(path: m.name.isEmpty ? "//anon" : m.name, buildID: m.buildID)
        let flags = mapFlags(m, call: call)
        let vma = VMA(start: m.start, end: m.end, offset: m.pageOffset, prot: m.prot, mapFlags: flags,
                      inode: m.inode, name: m.name, label: Int32(bitPattern: module.rawValue), kernel: kernel,
                      defaultHugePageShift: defaultHugePageShift)
        var removed: [VMA] = []
        var fills = false
        let added: [VMA] = withSpace(pid) { space in
            if snapshot { return space.insertWhereUnmapped(vma) ? [vma] : [] }
            // The stack grown by a fault is reported outside every call too: only its new
            // part is logged, and nothing is filled (the fault fills its own page, even on
            // a locked stack).
            if inside == nil, let grown = space.growStack(describedBy: vma) { return grown.added }
            fills = space.mmapFills(vma, mapFlags: flags)
            guard inside != nil else {
                removed = space.map(vma)
                return [vma]
            }
            // MAP_FIXED unmaps the requested range first, inside the call; what perf then
            // reports may be merged with a neighbour, which stays what it was.
            if let call, flags & MapFlags.fixed != 0, call.arguments.count > 1 {
                removed = space.unmap(call.arguments[0], call.arguments[1])
            }
            let announced = space.announce(vma)
            removed += announced.removed
            return announced.added
        }
        forgetPages(removed, pid: pid)
        // MAP_POPULATE and locked memory are filled before mmap returns (a writable private
        // mapping's pages are written: copies).
        if fills { noteFilled(added, pid: pid) }
        // Cached stacks name code by the mappings they were interned under; only new code
        // can change that. Data mappings (most mmaps, every brk) leave the cache alone.
        if vma.isExecutable && !added.isEmpty { stackCache[pid] = nil }
        for piece in added {
            writer.append(.mmap(MmapEvent(pid: pid, timeNs: time, start: piece.start, length: piece.length,
                                          pageOffset: piece.offset, prot: piece.prot, flags: flags, inode: m.inode,
                                          module: module, stack: call?.stack ?? .empty)))
        }
    }

    /// The record's MAP_* flags (perf gives MAP_SHARED or MAP_PRIVATE, MAP_LOCKED and
    /// MAP_HUGETLB) with what only the mmap call knew, and the hugetlb page size spelled out.
    private func mapFlags(_ m: MappingRecord, call: PendingSyscall?) -> UInt32 {
        var flags = m.flags
        if let call, call.call == .mmap, call.arguments.count > 3 {
            let asked = UInt32(truncatingIfNeeded: call.arguments[3])
            let kept = MapFlags.fixed | MapFlags.anonymous | MapFlags.growsDown | MapFlags.noReserve | MapFlags.populate
                | MapFlags.stack | MapFlags.hugetlb | MapFlags.locked | (MapFlags.hugeMask << MapFlags.hugeShift)
            flags |= asked & kept
        }
        if flags & MapFlags.hugetlb != 0 && MapFlags.hugePageShift(flags) == 0 {
            flags = MapFlags.withHugePageShift(flags, HugePages.hugetlbfsPageShift(path: m.name) ?? defaultHugePageShift)
        }
        return flags
    }

    /// Interns a user callchain (leaf first). Caller frames are return addresses: they are
    /// stored as address - 1 so they name the call, not the line after it.
    func intern(_ chain: ArraySlice<UInt64>, pid: Int32) -> StackID {
        if chain.isEmpty { return .empty }
        var hasher = Hasher()
        for ip in chain { hasher.combine(ip) }
        let key = hasher.finalize()
        if let cached = stackCache[pid]?[key], cached.chain.elementsEqual(chain) { return cached.stack }
        let space = spaces[pid]
        var frameIDs: [FrameID] = []
        frameIDs.reserveCapacity(chain.count)
        for (i, raw) in chain.enumerated() {
            let ip = i == 0 ? raw : raw &- 1
            let vma = space?.lookup(ip)
            // A caller's return address lies in executable memory. A frame-pointer walk
            // through code that keeps no frame pointer reads garbage: stop there rather
            // than record noise as callers.
            if i > 0, let space, !space.isEmpty, !(vma?.isExecutable ?? false) { break }
            var frame = Frame(module: nil, offset: ip)
            if let vma, vma.inode != 0, vma.backing != .anonymous, vma.label >= 0 {
                frame = Frame(module: ModuleID(rawValue: UInt32(vma.label)), offset: ip - vma.start &+ vma.offset)
            }
            let id = writer.frame(frame)
            if frame.module == nil { jitNames.noteAnonymousFrame(id, pid: pid) }
            frameIDs.append(id)
        }
        let stack = writer.stack(leafFirst: frameIDs)
        stackDepths[stack] = frameIDs.count
        stackCache[pid, default: [:]][key] = (Array(chain), stack)
        return stack
    }
}
