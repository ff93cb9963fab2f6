// How each record is laid out, writer and reader side by side so they cannot drift apart.
// Faults are delta-encoded against the previous fault in the same chunk (and the previous
// address of the same thread); the state resets at each chunk so every chunk decodes alone.

import FaultlineCore

/// Delta state shared by the encoder and the decoder of one chunk.
struct ChunkCodingState {
    /// The log's format version: what the layouts below mean.
    var version: UInt16 = LogFormat.version
    var previousTid: Int32 = 0
    var previousPid: Int32 = 0
    var previousTime: UInt64 = 0
    var previousIP: UInt64 = 0
    var previousStack: UInt32 = 0
    /// Error code as stored: 0 for unknown, else code + 1.
    var previousErrorCode: UInt64 = 0
    var previousPageByThread = ThreadPages()
    /// Format 5 on: where each fault field is written (FaultField order; FaultFieldStreams).
    var fieldStreams: [ByteEncoder] = []
    /// Format 5 on: where each fault field is read from (set up by `reading`).
    var fieldReaders: [ByteDecoder] = []

    init(version: UInt16 = LogFormat.version) {
        self.version = version
        if version >= LogFormat.faultFieldStreamsVersion {
            fieldStreams = Array(repeating: ByteEncoder(), count: FaultField.allCases.count)
        }
    }
}

/// Bits of a fault's first byte. The two "same" bits let the common case (one thread
/// faulting the same way again and again) skip its thread ids and error code.
enum FaultBits {
    static let kindMask: UInt8 = 0x07
    static let accessShift: UInt8 = 3
    static let accessMask: UInt8 = 0x03
    static let kernelMode: UInt8 = 0x20
    static let sameThread: UInt8 = 0x40
    static let sameErrorCode: UInt8 = 0x80
}

/// Fault addresses are stored as a 4 KiB page and an offset in it, whatever the host's page size.
let addressPageShift: UInt64 = 12

extension LogRecord {
    func encode(into e: inout ByteEncoder, state s: inout ChunkCodingState) {
        e.u8(tag.rawValue)
        switch self {
        case .header(let h):
            let fields = h.fields
            e.varint(fields.count)
            for (k, v) in fields { e.string(k); e.string(v) }
        case .string(let id, let text):
            e.varint(id.rawValue); e.string(text)
        case .module(let id, let m):
            e.varint(id.rawValue); e.varint(m.path.rawValue); e.blob(m.buildID)
        case .frame(let id, let f):
            e.varint(id.rawValue)
            e.varint(f.module.map { UInt64($0.rawValue) + 1 } ?? 0)
            e.varint(f.offset)
        case .stack(let id, let parent, let frame):
            e.varint(id.rawValue); e.varint(parent.rawValue); e.varint(frame.rawValue)
        case .process(let p):
            e.zigzag(Int64(p.pid)); e.zigzag(Int64(p.ppid)); e.varint(p.timeNs); e.varint(p.command.rawValue)
        case .exec(let pid, let time, let command):
            e.zigzag(Int64(pid)); e.varint(time); e.varint(command.rawValue)
        case .exit(let x):
            e.zigzag(Int64(x.pid)); e.varint(x.timeNs); e.zigzag(Int64(x.exitCode)); e.zigzag(Int64(x.signal))
        case .mmap(let m):
            e.zigzag(Int64(m.pid)); e.varint(m.timeNs); e.varint(m.start); e.varint(m.length)
            e.varint(m.pageOffset); e.varint(m.prot); e.varint(m.flags); e.varint(m.inode)
            e.varint(m.module.rawValue); e.varint(m.stack.rawValue)
        case .fault(let f):
            encodeFault(f, into: &e, state: &s)
        case .lost(let count, let time), .throttled(let count, let time):
            e.varint(count); e.varint(time)
        case .symbol(let sym):
            e.varint(sym.frame.rawValue); e.varint(sym.function.rawValue)
            e.varint(sym.file.map { UInt64($0.rawValue) + 1 } ?? 0); e.varint(sym.line)
        case .summary(let x):
            e.varint(x.endTimeNs); e.varint(x.faults); e.varint(x.lost); e.varint(x.throttled)
            e.varint(x.unaccountedEntries); e.zigzag(Int64(x.exitCode))
        case .kernelCounts(let pid, let minor, let major, let baseline):
            e.zigzag(Int64(pid)); e.varint(minor); e.varint(major); e.u8(baseline ? 1 : 0)
        case .addressSpace(let a):
            e.zigzag(Int64(a.pid)); e.zigzag(Int64(a.tid)); e.varint(a.timeNs); e.varint(a.stack.rawValue)
            switch a.change {
            case .munmap(let address, let length):
                e.u8(0); e.varint(address); e.varint(length)
            case .mremap(let address, let length, let newAddress, let newLength, let flags):
                e.u8(1); e.varint(address); e.varint(length); e.varint(newAddress); e.varint(newLength)
                e.varint(flags)
            case .mprotect(let address, let length, let prot):
                e.u8(2); e.varint(address); e.varint(length); e.varint(prot)
            case .madvise(let address, let length, let advice):
                e.u8(3); e.varint(address); e.varint(length); e.zigzag(Int64(advice))
            case .brk(let requested, let result):
                e.u8(4); e.varint(requested); e.varint(result)
            case .thpDisable(let mode):
                e.u8(5); e.u8(mode.rawValue)
            case .mlock(let address, let length, let flags):
                e.u8(6); e.varint(address); e.varint(length); e.varint(flags)
            case .munlock(let address, let length):
                e.u8(7); e.varint(address); e.varint(length)
            case .mlockall(let flags):
                e.u8(8); e.varint(flags)
            case .munlockall:
                e.u8(9)
            case .readTHPSetting:
                e.u8(10)
            }
        case .unrecorded(let u):
            e.zigzag(Int64(u.pid)); e.varint(u.timeNs); e.u8(u.reason.rawValue)
        case .kernelResident(let r):
            e.zigzag(Int64(r.pid)); e.varint(r.anonBytes); e.varint(r.fileBytes); e.varint(r.shmemBytes); e.varint(r.peakBytes)
        case .execStack(let x):
            // Each run as its distance from the end of the one before, and its length.
            e.zigzag(Int64(x.pid)); e.varint(x.timeNs); e.varint(x.present.count)
            var end: UInt64 = 0
            for run in x.present {
                e.varint(run.lowerBound &- end); e.varint(run.upperBound &- run.lowerBound)
                end = run.upperBound
            }
        case .inlined(let x):
            e.varint(x.frame.rawValue); e.varint(x.callers.count)
            for c in x.callers {
                e.varint(c.function.rawValue); e.varint(c.file.map { UInt64($0.rawValue) + 1 } ?? 0); e.varint(c.line)
            }
        }
    }

    static func decode(from d: inout ByteDecoder, state s: inout ChunkCodingState) throws -> LogRecord {
        let tagOffset = d.position
        let rawTag = try d.u8()
        guard let tag = RecordTag(rawValue: rawTag) else {
            throw DecodeFailure(reason: "unknown record tag \(rawTag)", offset: tagOffset)
        }
        switch tag {
        case .header:
            let n = try d.varint()
            guard n <= 4096 else { throw d.fail("header has \(n) fields") }
            var fields: [(String, String)] = []
            for _ in 0..<n { fields.append((try d.string(), try d.string())) }
            return .header(LogHeader(fields: fields))
        case .string:
            return .string(StringID(rawValue: try d.varint32()), try d.string())
        case .module:
            let id = ModuleID(rawValue: try d.varint32())
            let path = StringID(rawValue: try d.varint32())
            return .module(id, Module(path: path, buildID: try d.blob(limit: 256)))
        case .frame:
            let id = FrameID(rawValue: try d.varint32())
            let m = try d.varint32()
            let module = m == 0 ? nil : ModuleID(rawValue: m - 1)
            return .frame(id, Frame(module: module, offset: try d.varint()))
        case .stack:
            let id = StackID(rawValue: try d.varint32())
            let parent = StackID(rawValue: try d.varint32())
            return .stack(id, parent: parent, frame: FrameID(rawValue: try d.varint32()))
        case .process:
            return .process(ProcessEvent(pid: try d.int32(), ppid: try d.int32(), timeNs: try d.varint(),
                                         command: StringID(rawValue: try d.varint32())))
        case .exec:
            return .exec(pid: try d.int32(), timeNs: try d.varint(), command: StringID(rawValue: try d.varint32()))
        case .exit:
            return .exit(ExitEvent(pid: try d.int32(), timeNs: try d.varint(), exitCode: try d.int32(),
                                   signal: try d.int32()))
        case .mmap:
            return .mmap(MmapEvent(pid: try d.int32(), timeNs: try d.varint(), start: try d.varint(),
                                   length: try d.varint(), pageOffset: try d.varint(),
                                   prot: try d.varint32(), flags: try d.varint32(), inode: try d.varint(),
                                   module: ModuleID(rawValue: try d.varint32()),
                                   stack: StackID(rawValue: try d.varint32())))
        case .fault:
            return .fault(try decodeFault(from: &d, state: &s))
        case .lost:
            return .lost(count: try d.varint(), timeNs: try d.varint())
        case .throttled:
            return .throttled(count: try d.varint(), timeNs: try d.varint())
        case .symbol:
            let frame = FrameID(rawValue: try d.varint32())
            let function = StringID(rawValue: try d.varint32())
            let f = try d.varint32()
            return .symbol(FrameSymbol(frame: frame, function: function,
                                       file: f == 0 ? nil : StringID(rawValue: f - 1), line: try d.varint32()))
        case .summary:
            return .summary(LogSummary(endTimeNs: try d.varint(), faults: try d.varint(), lost: try d.varint(),
                                       throttled: try d.varint(), unaccountedEntries: try d.varint(),
                                       exitCode: try d.int32()))
        case .kernelCounts:
            return .kernelCounts(pid: try d.int32(), minor: try d.varint(), major: try d.varint(),
                                 baseline: try d.u8() != 0)
        case .kernelResident:
            guard s.version >= LogFormat.kernelResidentVersion else {
                throw DecodeFailure(reason: "unknown record tag \(tag.rawValue) for a version \(s.version) log", offset: tagOffset)
            }
            return .kernelResident(KernelResident(pid: try d.int32(), anonBytes: try d.varint(), fileBytes: try d.varint(),
                                                  shmemBytes: try d.varint(), peakBytes: try d.varint()))
        case .execStack:
            guard s.version >= LogFormat.execStackVersion else {
                throw DecodeFailure(reason: "unknown record tag \(tag.rawValue) for a version \(s.version) log", offset: tagOffset)
            }
            let pid = try d.int32(), time = try d.varint()
            let count = try d.varint()
            // Two bytes at least a run: a count past what is left is damage, not an allocation.
            guard count <= UInt64(d.remaining / 2) else { throw d.fail("execStack of \(count) runs in a shorter record") }
            var present: [Range<UInt64>] = []
            present.reserveCapacity(Int(count))
            var end: UInt64 = 0
            for _ in 0..<count {
                let (start, over) = end.addingReportingOverflow(try d.varint())
                let length = try d.varint()
                guard !over, length > 0, start > end || present.isEmpty, start <= UInt64.max - length else {
                    throw d.fail("execStack run out of order or out of range")
                }
                present.append(start..<(start + length))
                end = start + length
            }
            return .execStack(ExecStack(pid: pid, timeNs: time, present: present))
        case .addressSpace:
            let pid = try d.int32(), tid = try d.int32(), time = try d.varint()
            let stack = StackID(rawValue: try d.varint32())
            let change: AddressSpaceChange
            switch try d.u8() {
            case 0: change = .munmap(address: try d.varint(), length: try d.varint())
            case 1: change = .mremap(address: try d.varint(), length: try d.varint(),
                                     newAddress: try d.varint(), newLength: try d.varint(),
                                     flags: s.version >= 2 ? try d.varint32() : 0)
            case 2: change = .mprotect(address: try d.varint(), length: try d.varint(), prot: try d.varint32())
            case 3: change = .madvise(address: try d.varint(), length: try d.varint(), advice: try d.int32())
            case 4: change = .brk(requested: try d.varint(), result: try d.varint())
            case 5 where s.version >= 2:
                let raw = try d.u8()
                guard let mode = THPDisable(rawValue: raw) else { throw d.fail("unknown THP prctl mode \(raw)") }
                change = .thpDisable(mode)
            case 6 where s.version >= LogFormat.mlockVersion:
                change = .mlock(address: try d.varint(), length: try d.varint(), flags: try d.varint32())
            case 7 where s.version >= LogFormat.mlockVersion:
                change = .munlock(address: try d.varint(), length: try d.varint())
            case 8 where s.version >= LogFormat.mlockVersion:
                change = .mlockall(flags: try d.varint32())
            case 9 where s.version >= LogFormat.mlockVersion:
                change = .munlockall
            case 10 where s.version >= LogFormat.thpSettingReadVersion:
                change = .readTHPSetting
            case let other: throw d.fail("unknown address-space change \(other)")
            }
            return .addressSpace(AddressSpaceEvent(pid: pid, tid: tid, timeNs: time, change: change, stack: stack))
        case .unrecorded:
            return .unrecorded(UnrecordedProcess(pid: try d.int32(), timeNs: try d.varint(),
                                                 reason: UnrecordedReason(rawValue: try d.u8())))
        case .inlined:
            let frame = FrameID(rawValue: try d.varint32())
            let n = try d.varint()
            guard n <= FrameInlining.maxCallers else { throw d.fail("inline chain of \(n) callers") }
            var callers: [FrameInlining.Caller] = []
            for _ in 0..<n {
                let function = StringID(rawValue: try d.varint32())
                let f = try d.varint32()
                callers.append(FrameInlining.Caller(function: function, file: f == 0 ? nil : StringID(rawValue: f - 1),
                                                    line: try d.varint32()))
            }
            return .inlined(FrameInlining(frame: frame, callers: callers))
        }
    }

    // MARK: faults

    /// The fault's error-code field: 0 when unknown, else code + 1; from version 2, the
    /// log2 of the mapped page's size (0: unknown) in the six bits above; from LogFormat.swapKindVersion (4),
    /// above those, whether a swap-in read the disk. So a run of faults with the same code,
    /// page size and source stores none of them.
    private static let pageShiftPosition: UInt64 = 17
    /// The page size a fault says, as a log holds it (six bits: a reader gets this, not
    /// `f.pageShift`, back).
    static func storedPageShift(_ f: FaultEvent) -> UInt8 { f.pageShift & 63 }
    private static let swapFromDiskBit: UInt64 = 1 << 23

    private func encodeFault(_ f: FaultEvent, into e: inout ByteEncoder, state s: inout ChunkCodingState) {
        guard !s.fieldStreams.isEmpty else { return encodeFault(f, into: &e, fields: nil, state: &s) }
        // The streams leave the state while the fault is written, as decodeFault does, so
        // no field's write checks the array's uniqueness.
        var streams: [ByteEncoder] = []
        swap(&streams, &s.fieldStreams)
        defer { swap(&streams, &s.fieldStreams) }
        streams.withUnsafeMutableBufferPointer { encodeFault(f, into: &e, fields: $0, state: &s) }
    }

    /// Writes a fault's fields to `fields` (format 5 on: one stream per FaultField) or else
    /// to `e`, after the tag.
    @inline(__always)
    private func encodeFault(_ f: FaultEvent, into e: inout ByteEncoder, fields: UnsafeMutableBufferPointer<ByteEncoder>?,
                             state s: inout ChunkCodingState) {
        func put(_ field: FaultField, _ write: (inout ByteEncoder) -> Void) {
            if let fields { write(&fields[field.rawValue]) } else { write(&e) }
        }
        let code = (f.errorCode.map { UInt64($0) + 1 } ?? 0) | UInt64(Self.storedPageShift(f)) << Self.pageShiftPosition
            | (f.swapFromDisk ? Self.swapFromDiskBit : 0)
        let sameThread = f.tid == s.previousTid && f.pid == s.previousPid
        var bits = f.kind.rawValue | (f.access.rawValue << FaultBits.accessShift)
        if f.kernelMode { bits |= FaultBits.kernelMode }
        if sameThread { bits |= FaultBits.sameThread }
        if code == s.previousErrorCode { bits |= FaultBits.sameErrorCode }
        put(.bits) { $0.u8(bits) }
        if !sameThread {
            put(.thread) { $0.zigzag(Int64(f.tid) - Int64(s.previousTid)); $0.zigzag(Int64(f.pid) - Int64(f.tid)) }
        }
        put(.time) { $0.zigzag(Int64(bitPattern: f.timeNs &- s.previousTime)) }
        let page = f.address >> addressPageShift
        put(.page) { $0.zigzag(Int64(bitPattern: page &- s.previousPageByThread.page(of: f.tid))) }
        put(.inPage) { $0.varint(f.address & ((1 << addressPageShift) - 1)) }
        put(.ip) { $0.zigzag(Int64(bitPattern: f.ip &- s.previousIP)) }
        put(.stack) { $0.zigzag(Int64(f.stack.rawValue) - Int64(s.previousStack)) }
        if code != s.previousErrorCode { put(.errorCode) { $0.varint(code) } }
        put(.service) { $0.varint(f.serviceNs.map { min($0, UInt64.max - 1) + 1 } ?? 0) } // 0: unknown
        if f.kind == .segv { put(.signal) { $0.zigzag(Int64(f.signal)); $0.zigzag(Int64(f.signalCode)) } }
        s.previousTid = f.tid; s.previousPid = f.pid; s.previousTime = f.timeNs; s.previousIP = f.ip
        s.previousStack = f.stack.rawValue; s.previousErrorCode = code; s.previousPageByThread.set(page, for: f.tid)
    }

    /// A fault's fields, its tag already read.
    static func decodeFault(from d: inout ByteDecoder, state s: inout ChunkCodingState) throws -> FaultEvent {
        guard !s.fieldReaders.isEmpty else { return try decodeFault(from: &d, fields: nil, state: &s) }
        // The field streams leave the state while the fault is read, as one buffer: reached
        // through the array's subscript, each field read checked the array's uniqueness
        // (perf, on a 2M-fault replay: a sixth of decoding a fault).
        var readers: [ByteDecoder] = []
        swap(&readers, &s.fieldReaders)
        defer { swap(&readers, &s.fieldReaders) }
        return try readers.withUnsafeMutableBufferPointer { try decodeFault(from: &d, fields: $0, state: &s) }
    }

    /// A fault's fields, from `fields` (format 5 on: one stream per FaultField) or else
    /// from `d`, after the tag.
    @inline(__always)
    private static func decodeFault(from d: inout ByteDecoder, fields: UnsafeMutableBufferPointer<ByteDecoder>?,
                                    state s: inout ChunkCodingState) throws -> FaultEvent {
        // Each field from its own stream from format 5, after the tag before that.
        func take<T>(_ field: FaultField, _ read: (inout ByteDecoder) throws -> T) throws -> T {
            if let fields { return try read(&fields[field.rawValue]) }
            return try read(&d)
        }
        let bits = try take(.bits) { try $0.u8() }
        let (kind, access) = try faultKindAndAccess(bits, version: s.version, d)
        var tid = s.previousTid, pid = s.previousPid
        if bits & FaultBits.sameThread == 0 {
            let (tidDelta, pidDelta) = try take(.thread) { (try $0.zigzag(), try $0.zigzag()) }
            (tid, pid) = try threadIDs(previousTid: s.previousTid, tidDelta: tidDelta, pidDelta: pidDelta, d)
        }
        let time = s.previousTime &+ UInt64(bitPattern: try take(.time) { try $0.zigzag() })
        let page = s.previousPageByThread.page(of: tid) &+ UInt64(bitPattern: try take(.page) { try $0.zigzag() })
        let inPage = try take(.inPage) { try $0.varint() }
        guard inPage < (1 << addressPageShift) else { throw d.fail("fault page offset \(inPage) out of range") }
        let ip = s.previousIP &+ UInt64(bitPattern: try take(.ip) { try $0.zigzag() })
        let stack = try stackID(previous: s.previousStack, delta: try take(.stack) { try $0.zigzag() }, d)
        let field = bits & FaultBits.sameErrorCode != 0 ? s.previousErrorCode : try take(.errorCode) { try $0.varint() }
        let (code, mappedShift, fromDisk) = try errorCodeField(field, version: s.version, d)
        let service = try take(.service) { try $0.varint() }
        var signal: Int32 = 0, signalCode: Int32 = 0
        if kind == .segv { (signal, signalCode) = try take(.signal) { (try $0.int32(), try $0.int32()) } }
        s.previousTid = tid; s.previousPid = pid; s.previousTime = time; s.previousIP = ip
        s.previousStack = stack; s.previousErrorCode = field; s.previousPageByThread.set(page, for: tid)
        return FaultEvent(pid: pid, tid: tid, timeNs: time, address: page << addressPageShift | inPage, ip: ip,
                          kind: kind, access: access, kernelMode: bits & FaultBits.kernelMode != 0,
                          errorCode: code == 0 ? nil : UInt16(code - 1), serviceNs: service == 0 ? nil : service - 1,
                          signal: signal, signalCode: signalCode, stack: StackID(rawValue: stack),
                          pageShift: mappedShift, swapFromDisk: fromDisk)
    }

    // MARK: the checks of a fault's fields, shared with the column decoder (CompactChunkDecoding)

    /// The kind and access of a fault's first byte; `d` names where a bad one was read.
    @inline(__always)
    static func faultKindAndAccess(_ bits: UInt8, version: UInt16, _ d: ByteDecoder) throws -> (FaultKind, Access) {
        guard let kind = FaultKind(rawValue: bits & FaultBits.kindMask), kind != .swap || version >= LogFormat.swapKindVersion,
              let access = Access(rawValue: (bits >> FaultBits.accessShift) & FaultBits.accessMask)
        else { throw d.fail("fault has an invalid kind or access (0x\(String(bits, radix: 16)))") }
        return (kind, access)
    }

    /// A fault's thread and process ids from their deltas. Wrapping adds: a hostile delta
    /// must fail the range check, not trap. A sum that wraps lands far outside the 32-bit
    /// range, so it cannot pass it.
    @inline(__always)
    static func threadIDs(previousTid: Int32, tidDelta: Int64, pidDelta: Int64, _ d: ByteDecoder) throws -> (Int32, Int32) {
        let tid64 = Int64(previousTid) &+ tidDelta
        let pid64 = tid64 &+ pidDelta
        guard let t = Int32(exactly: tid64), let p = Int32(exactly: pid64) else { throw d.fail("thread id out of range") }
        return (t, p)
    }

    @inline(__always)
    static func stackID(previous: UInt32, delta: Int64, _ d: ByteDecoder) throws -> UInt32 {
        guard let stack = UInt32(exactly: Int64(previous) &+ delta) else { throw d.fail("stack id out of range") }
        return stack
    }

    /// The error-code field taken apart and checked: the code as stored (0: unknown, else
    /// code + 1), the log2 of the mapped page (0: unknown), and whether a swap-in read the disk.
    @inline(__always)
    static func errorCodeField(_ field: UInt64, version: UInt16, _ d: ByteDecoder) throws -> (code: UInt64, pageShift: UInt8, fromDisk: Bool) {
        let mappedShift = version >= LogFormat.swapKindVersion ? (field >> pageShiftPosition) & 63 : version >= 2 ? field >> pageShiftPosition : 0
        let fromDisk = version >= LogFormat.swapKindVersion && field & swapFromDiskBit != 0
        guard version < LogFormat.swapKindVersion || field >> 24 == 0 else { throw d.fail("fault error-code field 0x\(String(field, radix: 16)) out of range") }
        let code = version >= 2 ? field & ((1 << pageShiftPosition) - 1) : field
        guard code <= UInt64(UInt16.max) + 1 else { throw d.fail("error code out of range") }
        guard mappedShift < 64 else { throw d.fail("page size 2^\(mappedShift) out of range") }
        return (code, UInt8(mappedShift), fromDisk)
    }
}
