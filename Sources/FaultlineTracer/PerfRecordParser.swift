// Decodes the records of a perf ring buffer into TraceEvents. Layouts follow
// perf_event_open(2): samples in PERF_SAMPLE_* bit order, side records followed by the
// sample_id trailer (pid/tid, time, identifier: the bits every event here shares).

import Glibc
import CFaultlineLinux

struct PerfRecordParser {
    let sources: [UInt64: FaultEventSource]
    /// Which task's events each thread's records are taken from (an attach can reach a
    /// thread through two).
    var lineage: EventLineage
    let userTracepoint: PageFaultTracepoint
    let kernelTracepoint: PageFaultTracepoint
    let callGraph: CallGraphMode
    /// Present in dwarf mode, to unwind sampled stacks as they are parsed, and in fp mode, to
    /// find the caller a frame-pointer walk skips (see `recoverLeafCaller`).
    let unwinder: DwarfUnwinder?
    /// Completion samples carry PERF_SAMPLE_DATA_PAGE_SIZE (as the events were opened).
    let completionsHavePageSize: Bool

    /// `unwinds: false` decodes without reading any module's CFI: recorded bytes replayed
    /// in a test, whose modules may have changed since, decode the same everywhere.
    init(sources: [UInt64: FaultEventSource], userTracepoint: PageFaultTracepoint,
         kernelTracepoint: PageFaultTracepoint, callGraph: CallGraphMode,
         completionsHavePageSize: Bool = PerfEventSet.supportsDataPageSize, unwinds: Bool = true,
         lineage: EventLineage = EventLineage()) {
        self.sources = sources
        self.lineage = lineage
        self.userTracepoint = userTracepoint
        self.kernelTracepoint = kernelTracepoint
        self.callGraph = callGraph
        self.completionsHavePageSize = completionsHavePageSize
        unwinder = callGraph == .none || !unwinds ? nil : DwarfUnwinder()
    }

    var sequence: UInt64 = 0
    /// ptrace calls entered and not yet returned, by thread: (request, pid argument).
    private var pendingPtrace: [Int32: (UInt64, Int32)] = [:]
    /// The program's own attempts to trace that the kernel refused.
    var refusedTraces: [PtraceRefusal] = []
    /// Callchains of pending events, stored flat to avoid an allocation per fault.
    var chainStore: [UInt64] = []
    var unknownRecords = 0
    /// Records dropped as copies reaching a thread through a second task's events (EventLineage).
    private(set) var copies = 0

    private static let contextMax = UInt64(bitPattern: -4095) // PERF_CONTEXT_MAX
    private static let miscCommExec: UInt16 = 1 << 13          // PERF_RECORD_MISC_COMM_EXEC
    private static let miscMmapBuildID: UInt16 = 1 << 14       // PERF_RECORD_MISC_MMAP_BUILD_ID

    /// When `record` happened: every record here carries the time, a sample right after its
    /// identifier and {pid, tid}, a side record in its sample_id trailer. 0 when too short.
    static func time(of record: UnsafeRawBufferPointer) -> UInt64 {
        let isSample = record.load(as: UInt32.self) == PERF_RECORD_SAMPLE.rawValue
        let offset = isSample ? 24 : record.count - 16
        guard offset >= 8, offset + 8 <= record.count else { return 0 }
        return record.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
    }

    mutating func parse(_ record: UnsafeRawBufferPointer, into events: inout [TraceEvent]) {
        var r = RecordCursor(record)
        let type = r.u32()
        let misc = r.u16()
        _ = r.u16() // size
        if type == PERF_RECORD_MMAP2.rawValue || type == PERF_RECORD_COMM.rawValue, isCopy(sideRecord: record) {
            copies += 1
            return
        }
        switch type {
        case PERF_RECORD_SAMPLE.rawValue:
            parseSample(&r, into: &events)
        case PERF_RECORD_MMAP2.rawValue:
            let pid = r.i32(), tid = r.i32()
            let addr = r.u64(), len = r.u64(), pgoff = r.u64()
            var inode: UInt64 = 0
            var buildID: [UInt8] = []
            if misc & Self.miscMmapBuildID != 0 {
                let size = Int(r.u8()); r.skip(3)
                buildID = r.bytes(20).prefix(min(size, 20)).map { $0 }
            } else {
                r.skip(8) // maj, min
                inode = r.u64()
                r.skip(8) // ino_generation
            }
            let prot = r.u32(), flags = r.u32()
            let name = r.cString(trailer: 24)
            let time = r.trailerTime()
            // The kernel's build-id replaces the inode; any named file counts as a file.
            if buildID.count > 0 || (name.hasPrefix("/") && inode == 0) { inode = 1 }
            let mapping = MappingRecord(start: addr, end: addr &+ len, pageOffset: pgoff, prot: prot,
                                        flags: flags, inode: inode, name: name, buildID: buildID)
            unwinder?.noteMapping(pid: pid, mapping)
            emit(&events, time, pid, tid, .mmap(mapping))
        case PERF_RECORD_COMM.rawValue:
            let pid = r.i32(), tid = r.i32()
            let comm = r.cString(trailer: 24)
            if misc & Self.miscCommExec != 0 {
                unwinder?.noteExec(pid: pid)
                emit(&events, r.trailerTime(), pid, tid, .exec(comm: comm))
            }
        case PERF_RECORD_FORK.rawValue:
            let pid = r.i32(), ppid = r.i32(), tid = r.i32(), _ = r.i32()
            let time = r.u64()
            if pid != ppid {
                unwinder?.noteFork(child: pid, parent: ppid)
                emit(&events, time, pid, tid, .fork(parent: ppid))
            }
        case PERF_RECORD_EXIT.rawValue:
            // Process exits come from ptrace, with their status; a thread's id may be reused.
            _ = r.i32(); _ = r.i32() // pid, ppid
            lineage.forget(tid: r.i32())
        case PERF_RECORD_UNTHROTTLE.rawValue:
            break
        case PERF_RECORD_THROTTLE.rawValue:
            let time = r.u64()
            emit(&events, time, 0, 0, .throttled)
        case PERF_RECORD_LOST.rawValue:
            _ = r.u64()
            let lost = r.u64()
            emit(&events, r.trailerTime(), 0, 0, .lost(lost))
        case PERF_RECORD_LOST_SAMPLES.rawValue:
            let lost = r.u64()
            emit(&events, r.trailerTime(), 0, 0, .lost(lost))
        default:
            unknownRecords += 1
        }
    }

    /// A side record's sample_id trailer ends with {pid, tid}, time, identifier.
    private mutating func isCopy(sideRecord record: UnsafeRawBufferPointer) -> Bool {
        guard lineage.hasThreadEvents, record.count >= 8 + 24 else { return false }
        let tid = record.loadUnaligned(fromByteOffset: record.count - 20, as: Int32.self)
        let id = record.loadUnaligned(fromByteOffset: record.count - 8, as: UInt64.self)
        return lineage.isCopy(id: id, tid: tid)
    }

    private mutating func parseSample(_ r: inout RecordCursor, into events: inout [TraceEvent]) {
        let id = r.u64()
        guard let source = sources[id] else { unknownRecords += 1; return }
        let pid = r.i32(), tid = r.i32()
        if lineage.isCopy(id: id, tid: tid) { copies += 1; return }
        let time = r.u64()
        switch source {
        case .minor, .major:
            let address = r.u64()
            let pageSize = completionsHavePageSize ? r.u64() : 0
            if lineage.isRepeatedCompletion(tid: tid, time: time, address: address) { copies += 1; return }
            emit(&events, time, pid, tid, .faultCompletion(address: address, major: source == .major, pageSize: pageSize))
        case .syscallEnter(let call):
            let start = chainStore.count
            if call.wantsStack && callGraph == .fp { _ = readCallchain(&r) }
            let rawSize = Int(r.u32())
            let raw = r.position
            var args: [UInt64] = []
            for i in 0..<SyscallRecordLayout.maxArguments {
                let offset = SyscallRecordLayout.firstArgumentOffset + 8 * i
                guard offset + 8 <= rawSize else { break }
                args.append(r.u64(at: raw + offset))
            }
            r.skip(rawSize)
            if call.wantsStack && callGraph == .dwarf { unwindSampledStack(&r, pid: pid) }
            if call.wantsStack && callGraph == .fp { recoverLeafCaller(&r, pid: pid, chain: start) }
            emit(&events, time, pid, tid, .syscallEnter(call, arguments: args, chain: start..<chainStore.count))
        case .syscallExit(let call):
            let rawSize = Int(r.u32())
            guard rawSize >= SyscallRecordLayout.returnValueOffset + 8 else { unknownRecords += 1; return }
            let result = Int64(bitPattern: r.u64(at: r.position + SyscallRecordLayout.returnValueOffset))
            emit(&events, time, pid, tid, .syscallExit(call, result: result))
        case .ptraceEnter:
            let rawSize = Int(r.u32())
            guard rawSize >= SyscallRecordLayout.firstArgumentOffset + 16 else { unknownRecords += 1; return }
            let request = r.u64(at: r.position + SyscallRecordLayout.firstArgumentOffset)
            let target = r.u64(at: r.position + SyscallRecordLayout.firstArgumentOffset + 8)
            pendingPtrace[tid] = (request, Int32(truncatingIfNeeded: target))
        case .ptraceExit:
            let rawSize = Int(r.u32())
            guard rawSize >= SyscallRecordLayout.returnValueOffset + 8,
                  let (request, target) = pendingPtrace.removeValue(forKey: tid) else { return }
            let result = Int64(bitPattern: r.u64(at: r.position + SyscallRecordLayout.returnValueOffset))
            if result == -Int64(EPERM), let refusal = PtraceRefusal(pid: pid, tid: tid, request: request, target: target),
               refusedTraces.count < PtraceRefusal.kept {
                refusedTraces.append(refusal)
            }
        case .entryUser, .entryKernel:
            let start = chainStore.count
            if callGraph == .fp { _ = readCallchain(&r) }
            let rawSize = Int(r.u32())
            let raw = r.position
            let tp = source == .entryUser ? userTracepoint : kernelTracepoint
            guard rawSize >= tp.errorCodeOffset + 8 else { unknownRecords += 1; return }
            let address = r.u64(at: raw + tp.addressOffset)
            let ip = r.u64(at: raw + tp.ipOffset)
            let code = r.u64(at: raw + tp.errorCodeOffset)
            r.skip(rawSize)
            if callGraph == .dwarf { unwindSampledStack(&r, pid: pid) }
            if callGraph == .fp { recoverLeafCaller(&r, pid: pid, chain: start) }
            emit(&events, time, pid, tid, .faultEntry(address: address, ip: ip, errorCode: code,
                                                      kernelMode: source == .entryKernel, chain: start..<chainStore.count))
        }
    }

    /// Reads PERF_SAMPLE_REGS_USER (abi, then bp, sp, ip) and PERF_SAMPLE_STACK_USER (size,
    /// bytes, dyn_size: how many of them are real) and unwinds them into the chain store.
    private mutating func unwindSampledStack(_ r: inout RecordCursor, pid: Int32) {
        guard let unwinder, let sample = Self.readSampledStack(&r) else { return }
        unwinder.unwind(pid: pid, ip: sample.ip, sp: sample.sp, bp: sample.bp, stack: sample.stack, into: &chainStore)
    }

    /// In frame-pointer mode each stack sample also carries the registers and the top of
    /// the stack (PerfEventSet.leafStackCopySize bytes). A leaf without a frame of its own
    /// (memset, a system-call wrapper) is invisible to the kernel's walk, which goes from
    /// it to its caller's caller; the leaf's CFI finds the caller in those bytes, and it is
    /// put back after the leaf, unless the walk has it already.
    private mutating func recoverLeafCaller(_ r: inout RecordCursor, pid: Int32, chain: Int) {
        guard let unwinder, let stack = Self.readStackCopy(&r), chain < chainStore.count,
              let caller = unwinder.leafCaller(pid: pid, ip: chainStore[chain], stack: stack),
              caller != 0, caller < Self.contextMax else { return }
        if chain + 1 < chainStore.count && chainStore[chain + 1] == caller { return }
        chainStore.insert(caller, at: chain + 1)
    }

    private static func readSampledStack(_ r: inout RecordCursor) -> (bp: UInt64, sp: UInt64, ip: UInt64, stack: UnsafeRawBufferPointer)? {
        let abi = r.u64()
        guard abi != 0 else { return nil } // PERF_SAMPLE_REGS_ABI_NONE: a kernel thread
        let bp = r.u64(), sp = r.u64(), ip = r.u64()
        return readStackCopy(&r).map { (bp, sp, ip, $0) }
    }

    /// PERF_SAMPLE_STACK_USER: size, bytes, dyn_size (how many of them are real).
    private static func readStackCopy(_ r: inout RecordCursor) -> UnsafeRawBufferPointer? {
        let size = Int(min(r.u64(), 1 << 20))
        guard size > 0, r.position + size + 8 <= r.bytes.count else { return nil }
        let dataStart = r.position
        r.skip(size)
        let dynamicSize = Int(min(r.u64(), UInt64(size)))
        return UnsafeRawBufferPointer(rebasing: r.bytes[dataStart..<dataStart + dynamicSize])
    }

    /// Appends a PERF_SAMPLE_CALLCHAIN's user frames (context markers dropped) to the store.
    private mutating func readCallchain(_ r: inout RecordCursor) -> Range<Int> {
        let start = chainStore.count
        let n = Int(min(r.u64(), 4096))
        for _ in 0..<n {
            let ip = r.u64()
            if ip < Self.contextMax && ip != 0 { chainStore.append(ip) }
        }
        return start..<chainStore.count
    }

    private mutating func emit(_ events: inout [TraceEvent], _ time: UInt64, _ pid: Int32, _ tid: Int32, _ body: TraceEvent.Body) {
        sequence += 1
        events.append(TraceEvent(time: time, pid: pid, tid: tid, sequence: sequence, body: body))
    }

    mutating func nextSequence() -> UInt64 { sequence += 1; return sequence }
}

/// Little reads from one record; out-of-range reads return zeros instead of trapping, so a
/// malformed record cannot bring the recorder down.
struct RecordCursor {
    let bytes: UnsafeRawBufferPointer
    var position = 0
    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func skip(_ n: Int) { position += n }
    func u64(at offset: Int) -> UInt64 {
        guard offset >= 0, offset + 8 <= bytes.count else { return 0 }
        return bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
    }
    mutating func u64() -> UInt64 { defer { position += 8 }; return u64(at: position) }
    mutating func u32() -> UInt32 {
        defer { position += 4 }
        guard position + 4 <= bytes.count else { return 0 }
        return bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self)
    }
    mutating func i32() -> Int32 { Int32(bitPattern: u32()) }
    mutating func u16() -> UInt16 {
        defer { position += 2 }
        guard position + 2 <= bytes.count else { return 0 }
        return bytes.loadUnaligned(fromByteOffset: position, as: UInt16.self)
    }
    mutating func u8() -> UInt8 {
        defer { position += 1 }
        guard position < bytes.count else { return 0 }
        return bytes[position]
    }
    mutating func bytes(_ n: Int) -> [UInt8] {
        defer { position += n }
        guard position + n <= bytes.count else { return [] }
        return Array(bytes[position..<position + n])
    }
    /// A NUL-padded string running up to the sample_id trailer.
    mutating func cString(trailer: Int) -> String {
        let start = min(position, bytes.count)
        let end = max(start, bytes.count - trailer)
        let slice = bytes[start..<end]
        position = end
        return String(decoding: slice.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    /// The time in the sample_id trailer: {pid, tid}, time, identifier.
    func trailerTime() -> UInt64 { u64(at: bytes.count - 16) }
}
