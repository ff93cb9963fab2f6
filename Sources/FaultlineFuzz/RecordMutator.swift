// Structure-aware mutations: a log's records are decoded, their FIELDS changed (to the
// edges of their types, to ids the log never defined, to times and lengths near 2^64),
// records duplicated, dropped, moved or made up, and the chunks encoded again with valid
// checksums, stored or deflated. Such a log passes every check of the reader, so what it
// tests is everything after the reader: the values are what a hostile or buggy recorder
// could really have written.

import FaultlineCore
import FaultlineLog

public struct RecordMutation: Sendable {
    public var bytes: [UInt8]
    public var chunks: [[LogRecord]]
    /// What was done, one entry per step, for a person reading a crash report.
    public var steps: [String]
    public var description: String { steps.joined(separator: "; ") }
}

public enum RecordMutator {
    /// Applies 1 to 4 steps (occasionally many more) to `seed` and encodes the result.
    public static func mutate<R: RandomNumberGenerator>(_ seed: FuzzSeed, using rng: inout R) -> RecordMutation {
        var chunks = seed.chunks
        var steps: [String] = []
        let count = Int.random(in: 0..<8, using: &rng) == 0 ? Int.random(in: 5...24, using: &rng) : Int.random(in: 1...4, using: &rng)
        for _ in 0..<count { steps.append(step(&chunks, using: &rng)) }
        var bytes = LogChunks.fileHeader
        for records in chunks {
            bytes += LogChunks.chunk(records, deflate: Bool.random(using: &rng))
        }
        return RecordMutation(bytes: bytes, chunks: chunks, steps: steps)
    }

    /// One change to the records; returns what it did.
    static func step<R: RandomNumberGenerator>(_ chunks: inout [[LogRecord]], using rng: inout R) -> String {
        guard !chunks.isEmpty else {
            chunks = [[storable(made(using: &rng))]]
            return "made a chunk up"
        }
        let c = Int.random(in: 0..<chunks.count, using: &rng)
        let roll = Int.random(in: 0..<100, using: &rng)
        if chunks[c].isEmpty || roll < 8 {
            let record = storable(made(using: &rng))
            chunks[c].insert(record, at: Int.random(in: 0...chunks[c].count, using: &rng))
            return "made up \(record.tag) in chunk \(c)"
        }
        let i = Int.random(in: 0..<chunks[c].count, using: &rng)
        let tag = chunks[c][i].tag
        switch roll {
        case 8..<55:
            let (record, what) = field(of: chunks[c][i], using: &rng)
            chunks[c][i] = storable(record)
            return "\(tag) \(i) of chunk \(c): \(what)"
        case 55..<67:
            // The same field of every record of that tag, everywhere: a whole log of pid -1
            // or of times at 2^64-1 takes other paths than one odd record does.
            let pick = UInt64.random(in: 0...UInt64.max, using: &rng)
            var what = ""
            for k in chunks.indices {
                for j in chunks[k].indices where chunks[k][j].tag == tag {
                    var same = FuzzRandom(seed: pick)
                    (chunks[k][j], what) = field(of: chunks[k][j], using: &same)
                    chunks[k][j] = storable(chunks[k][j])
                }
            }
            return "every \(tag): \(what)"
        case 67..<77:
            let copy = chunks[c][i]
            let d = Int.random(in: 0..<chunks.count, using: &rng)
            chunks[d].insert(copy, at: Int.random(in: 0...chunks[d].count, using: &rng))
            return "\(tag) \(i) of chunk \(c) duplicated into chunk \(d)"
        case 77..<87:
            chunks[c].remove(at: i)
            return "\(tag) \(i) of chunk \(c) dropped"
        case 87..<93:
            let record = chunks[c].remove(at: i)
            let d = Int.random(in: 0..<chunks.count, using: &rng)
            chunks[d].insert(record, at: Int.random(in: 0...chunks[d].count, using: &rng))
            return "\(tag) \(i) of chunk \(c) moved to chunk \(d)"
        case 93..<96:
            let d = Int.random(in: 0..<chunks.count, using: &rng)
            chunks.swapAt(c, d)
            return "chunks \(c) and \(d) swapped"
        case 96..<98:
            chunks.insert(chunks[c], at: Int.random(in: 0...chunks.count, using: &rng))
            return "chunk \(c) duplicated"
        default:
            chunks.remove(at: c)
            return "chunk \(c) dropped"
        }
    }

    /// The record as the log can hold it, so that what is encoded is what the commands
    /// read: only a segv stores its signal, and a service time saturates below 2^64-1.
    static func storable(_ record: LogRecord) -> LogRecord {
        guard case .fault(var f) = record else { return record }
        if f.kind != .segv { f.signal = 0; f.signalCode = 0 }
        f.serviceNs = f.serviceNs.map { min($0, .max - 1) }
        return .fault(f)
    }

    // MARK: values

    static func u64<R: RandomNumberGenerator>(_ old: UInt64, using rng: inout R) -> UInt64 {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<5:
            return [0, 1, 2, 0x7f, 0x80, 0xfff, 0x1000, 0x1001, 0xffff_ffff, 1 << 32, 1 << 47, 1 << 48,
                    0x7fff_ffff_f000, (1 << 63) - 1, 1 << 63, .max - 0x1000, .max - 0xfff, .max - 1, .max]
                .randomElement(using: &rng)!
        case 5: return old &+ UInt64.random(in: 1...4, using: &rng)
        case 6: return old &- UInt64.random(in: 1...4, using: &rng)
        case 7: return old &* 2 &+ UInt64.random(in: 0...1, using: &rng)
        case 8: return old ^ (1 << UInt64.random(in: 0...63, using: &rng))
        default: return UInt64.random(in: 0...UInt64.max, using: &rng)
        }
    }

    static func i32<R: RandomNumberGenerator>(_ old: Int32, using rng: inout R) -> Int32 {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0..<4:
            return [0, 1, -1, 2, 7, 11, 128, .max, .max - 1, .min, .min + 1].randomElement(using: &rng)!
        case 4: return old &+ Int32.random(in: -2...2, using: &rng)
        default: return Int32.random(in: .min ... .max, using: &rng)
        }
    }

    static func u32<R: RandomNumberGenerator>(_ old: UInt32, using rng: inout R) -> UInt32 {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0..<3: return [0, 1, 2, 3, 5, 0x7fff_ffff, 1 << 31, .max - 1, .max].randomElement(using: &rng)!
        case 3: return old &+ UInt32.random(in: 1...3, using: &rng)
        case 4: return old &- UInt32.random(in: 1...3, using: &rng)
        default: return UInt32.random(in: 0 ... .max, using: &rng)
        }
    }

    /// An id near the end of its table (one past it, or far beyond), or an early one.
    static func id<ID: InternedID, R: RandomNumberGenerator>(_ old: ID, using rng: inout R) -> ID {
        ID(rawValue: u32(old.rawValue, using: &rng))
    }

    static func text<R: RandomNumberGenerator>(_ old: String, using rng: inout R) -> String {
        switch Int.random(in: 0..<12, using: &rng) {
        case 0: return ""
        case 1: return String(repeating: "x", count: 70_000)
        case 2: return "line\nbreak\ttab\r\u{0}nul\u{1b}[31m"
        case 3: return ["[heap]", "[stack]", "//anon", "[vdso]", "[", "/", "//", "/dev/zero", "/proc/self/mem"].randomElement(using: &rng)!
        case 4: return "a;b;c <&\"'> \\ \u{FFFE}\u{FFFF}"
        case 5: return old + old
        case 6: return "ünïcödé 🧵 " + old
        case 7: return String(old.reversed())
        case 8: return "0x" + String(UInt64.random(in: 0...UInt64.max, using: &rng), radix: 16)
        default: return old.isEmpty ? "x" : String(old.dropLast())
        }
    }

    // MARK: fields

    /// One field of `record` changed; returns the record and the field's name and value.
    static func field<R: RandomNumberGenerator>(of record: LogRecord, using rng: inout R) -> (LogRecord, String) {
        let n = Int.random(in: 0..<16, using: &rng)
        switch record {
        case .header(var h):
            switch n % 8 {
            case 0: h.pageSize = u64(h.pageSize, using: &rng); return (.header(h), "page size \(h.pageSize)")
            case 1: h.startTimeNs = u64(h.startTimeNs, using: &rng); return (.header(h), "start \(h.startTimeNs)")
            case 2: h.startWallSeconds = u64(h.startWallSeconds, using: &rng); return (.header(h), "wall \(h.startWallSeconds)")
            case 3: h.thpMode = rng.oneIn(2) ? ["always", "never", "madvise", "", "bogus"].randomElement(using: &rng)! : text(h.thpMode, using: &rng)
                return (.header(h), "thp \(h.thpMode.prefix(20))")
            case 4: h.command = rng.oneIn(2) ? [] : h.command + [text(h.command.first ?? "", using: &rng)]
                return (.header(h), "\(h.command.count) arguments")
            case 5: h.kernelRelease = rng.oneIn(2) ? ["6.12.0", "5.4.0", "99.0", "", "x"].randomElement(using: &rng)! : text(h.kernelRelease, using: &rng)
                return (.header(h), "kernel \(h.kernelRelease.prefix(20))")
            case 6: h.recorderVersion = ["0.1.0", "0.2.9", "0.3.0", "", "1.2", "x.y.z"].randomElement(using: &rng)!
                return (.header(h), "recorder \(h.recorderVersion)")
            default: h.callGraph = text(h.callGraph, using: &rng); h.machine = text(h.machine, using: &rng)
                return (.header(h), "call graph and machine")
            }
        case .string(let sid, let s):
            if n < 4 { let v = id(sid, using: &rng); return (.string(v, s), "id \(v)") }
            let t = text(s, using: &rng)
            return (.string(sid, t), "text of \(t.utf8.count) bytes")
        case .module(let mid, var m):
            switch n % 3 {
            case 0: let v = id(mid, using: &rng); return (.module(v, m), "id \(v)")
            case 1: m.path = id(m.path, using: &rng); return (.module(mid, m), "path \(m.path)")
            default:
                m.buildID = [[], [0], Array(repeating: 0xFF, count: 20), Array(repeating: 7, count: 256),
                             Array(repeating: 1, count: 257)].randomElement(using: &rng)!
                return (.module(mid, m), "build-id of \(m.buildID.count) bytes")
            }
        case .frame(let fid, var f):
            switch n % 3 {
            case 0: let v = id(fid, using: &rng); return (.frame(v, f), "id \(v)")
            case 1: f.module = rng.oneIn(3) ? nil : id(f.module ?? ModuleID(rawValue: 0), using: &rng)
                return (.frame(fid, f), "module \(f.module.map { "\($0)" } ?? "none")")
            default: f.offset = u64(f.offset, using: &rng); return (.frame(fid, f), "offset \(f.offset)")
            }
        case .stack(let sid, let parent, let frame):
            switch n % 3 {
            case 0: let v = id(sid, using: &rng); return (.stack(v, parent: parent, frame: frame), "id \(v)")
            case 1: let v = id(parent, using: &rng); return (.stack(sid, parent: v, frame: frame), "parent \(v)")
            default: let v = id(frame, using: &rng); return (.stack(sid, parent: parent, frame: v), "frame \(v)")
            }
        case .process(var p):
            switch n % 4 {
            case 0: p.pid = i32(p.pid, using: &rng); return (.process(p), "pid \(p.pid)")
            case 1: p.ppid = rng.oneIn(3) ? p.pid : i32(p.ppid, using: &rng); return (.process(p), "ppid \(p.ppid)")
            case 2: p.timeNs = u64(p.timeNs, using: &rng); return (.process(p), "time \(p.timeNs)")
            default: p.command = id(p.command, using: &rng); return (.process(p), "command \(p.command)")
            }
        case .exec(var pid, var time, var command):
            switch n % 3 {
            case 0: pid = i32(pid, using: &rng)
            case 1: time = u64(time, using: &rng)
            default: command = id(command, using: &rng)
            }
            return (.exec(pid: pid, timeNs: time, command: command), "pid \(pid) time \(time) command \(command)")
        case .exit(var x):
            switch n % 4 {
            case 0: x.pid = i32(x.pid, using: &rng)
            case 1: x.timeNs = u64(x.timeNs, using: &rng)
            case 2: x.exitCode = i32(x.exitCode, using: &rng)
            default: x.signal = i32(x.signal, using: &rng)
            }
            return (.exit(x), "pid \(x.pid) time \(x.timeNs) code \(x.exitCode) signal \(x.signal)")
        case .mmap(var m):
            switch n % 10 {
            case 0: m.pid = i32(m.pid, using: &rng); return (.mmap(m), "pid \(m.pid)")
            case 1: m.timeNs = u64(m.timeNs, using: &rng); return (.mmap(m), "time \(m.timeNs)")
            case 2: m.start = u64(m.start, using: &rng); return (.mmap(m), "start \(m.start)")
            case 3, 4: m.length = u64(m.length, using: &rng); return (.mmap(m), "length \(m.length)")
            case 5: m.pageOffset = u64(m.pageOffset, using: &rng); return (.mmap(m), "offset \(m.pageOffset)")
            case 6: m.prot = u32(m.prot, using: &rng); m.flags = rng.oneIn(2) ? m.flags : u32(m.flags, using: &rng)
                return (.mmap(m), "prot \(m.prot) flags \(m.flags)")
            case 7: m.inode = u64(m.inode, using: &rng); return (.mmap(m), "inode \(m.inode)")
            case 8: m.module = id(m.module, using: &rng); return (.mmap(m), "module \(m.module)")
            default: m.stack = id(m.stack, using: &rng); return (.mmap(m), "stack \(m.stack)")
            }
        case .fault(var f):
            switch n % 13 {
            case 0: f.pid = i32(f.pid, using: &rng); return (.fault(f), "pid \(f.pid)")
            case 1: f.tid = i32(f.tid, using: &rng); return (.fault(f), "tid \(f.tid)")
            case 2, 3: f.timeNs = u64(f.timeNs, using: &rng); return (.fault(f), "time \(f.timeNs)")
            case 4, 5: f.address = u64(f.address, using: &rng); return (.fault(f), "address \(f.address)")
            case 6: f.ip = u64(f.ip, using: &rng); return (.fault(f), "ip \(f.ip)")
            case 7: f.kind = FaultKind.allCases.randomElement(using: &rng)!
                if f.kind == .segv && rng.oneIn(2) { f.signal = i32(11, using: &rng); f.signalCode = i32(1, using: &rng) }
                if rng.oneIn(2) { f.swapFromDisk.toggle() }
                return (.fault(f), "kind \(f.kind.name) from disk \(f.swapFromDisk)")
            case 8: f.access = Access.allCases.randomElement(using: &rng)!; f.kernelMode.toggle()
                return (.fault(f), "access \(f.access) kernel \(f.kernelMode)")
            case 9: f.errorCode = rng.oneIn(3) ? nil : UInt16(truncatingIfNeeded: u64(UInt64(f.errorCode ?? 0), using: &rng))
                return (.fault(f), "error code \(f.errorCode.map { "\($0)" } ?? "none")")
            case 10: f.serviceNs = rng.oneIn(4) ? nil : u64(f.serviceNs ?? 0, using: &rng)
                return (.fault(f), "service \(f.serviceNs.map { "\($0)" } ?? "none")")
            case 11: f.signal = i32(f.signal, using: &rng); f.signalCode = i32(f.signalCode, using: &rng)
                return (.fault(f), "signal \(f.signal) code \(f.signalCode)")
            case 12 where rng.oneIn(2): f.pageShift = [0, 12, 21, 30, 63, 64, 255].randomElement(using: &rng)! & 63
                return (.fault(f), "page shift \(f.pageShift)")
            default: f.stack = id(f.stack, using: &rng); return (.fault(f), "stack \(f.stack)")
            }
        case .lost(var count, var time):
            if n % 2 == 0 { count = u64(count, using: &rng) } else { time = u64(time, using: &rng) }
            return (.lost(count: count, timeNs: time), "count \(count) time \(time)")
        case .throttled(var count, var time):
            if n % 2 == 0 { count = u64(count, using: &rng) } else { time = u64(time, using: &rng) }
            return (.throttled(count: count, timeNs: time), "count \(count) time \(time)")
        case .symbol(var s):
            switch n % 4 {
            case 0: s.frame = id(s.frame, using: &rng)
            case 1: s.function = id(s.function, using: &rng)
            case 2: s.file = rng.oneIn(3) ? nil : id(s.file ?? StringID(rawValue: 0), using: &rng)
            default: s.line = u32(s.line, using: &rng)
            }
            return (.symbol(s), "frame \(s.frame) function \(s.function) line \(s.line)")
        case .inlined(var x):
            guard !x.callers.isEmpty else { x.frame = id(x.frame, using: &rng); return (.inlined(x), "frame \(x.frame)") }
            let i = Int(n / 4) % x.callers.count
            switch n % 4 {
            case 0: x.frame = id(x.frame, using: &rng)
            case 1: x.callers[i].function = id(x.callers[i].function, using: &rng)
            case 2: x.callers[i].file = rng.oneIn(3) ? nil : id(x.callers[i].file ?? StringID(rawValue: 0), using: &rng)
            default: x.callers[i].line = u32(x.callers[i].line, using: &rng)
            }
            return (.inlined(x), "frame \(x.frame) caller \(i)")
        case .summary(var s):
            switch n % 6 {
            case 0: s.endTimeNs = u64(s.endTimeNs, using: &rng)
            case 1: s.faults = u64(s.faults, using: &rng)
            case 2: s.lost = u64(s.lost, using: &rng)
            case 3: s.throttled = u64(s.throttled, using: &rng)
            case 4: s.unaccountedEntries = u64(s.unaccountedEntries, using: &rng)
            default: s.exitCode = i32(s.exitCode, using: &rng)
            }
            return (.summary(s), "end \(s.endTimeNs) faults \(s.faults) lost \(s.lost) throttled \(s.throttled) unaccounted \(s.unaccountedEntries)")
        case .kernelCounts(var pid, var minor, var major, var baseline):
            switch n % 4 {
            case 0: pid = i32(pid, using: &rng)
            case 1: minor = u64(minor, using: &rng)
            case 2: major = u64(major, using: &rng)
            default: baseline.toggle()
            }
            return (.kernelCounts(pid: pid, minor: minor, major: major, baseline: baseline),
                    "pid \(pid) minor \(minor) major \(major) baseline \(baseline)")
        case .kernelResident(var r):
            switch n % 5 {
            case 0: r.pid = i32(r.pid, using: &rng)
            case 1: r.anonBytes = u64(r.anonBytes, using: &rng)
            case 2: r.fileBytes = u64(r.fileBytes, using: &rng)
            case 3: r.shmemBytes = u64(r.shmemBytes, using: &rng)
            default: r.peakBytes = u64(r.peakBytes, using: &rng)
            }
            return (.kernelResident(r), "pid \(r.pid) anon \(r.anonBytes) file \(r.fileBytes) shmem \(r.shmemBytes) peak \(r.peakBytes)")
        case .execStack(var x):
            switch n % 4 {
            case 0: x.pid = i32(x.pid, using: &rng)
            case 1: x.timeNs = u64(x.timeNs, using: &rng)
            case 2 where !x.present.isEmpty:
                // A run moved or resized: it may now overlap or precede the one before it,
                // be empty, or leave the stack (the reader refuses; replay clips).
                let i = Int.random(in: 0..<x.present.count, using: &rng)
                let a = u64(x.present[i].lowerBound, using: &rng), b = u64(x.present[i].upperBound, using: &rng)
                x.present[i] = min(a, b)..<max(a, b)
            default:
                let a = u64(x.present.last?.upperBound ?? 0x7fff_0000_0000, using: &rng), b = u64(a, using: &rng)
                x.present.append(min(a, b)..<max(a, b))
            }
            return (.execStack(x), "pid \(x.pid) time \(x.timeNs) runs \(x.present.map { "\($0.lowerBound)..<\($0.upperBound)" })")
        case .unrecorded(var u):
            switch n % 3 {
            case 0: u.pid = i32(u.pid, using: &rng); return (.unrecorded(u), "pid \(u.pid)")
            case 1: u.timeNs = u64(u.timeNs, using: &rng); return (.unrecorded(u), "time \(u.timeNs)")
            default: u.reason = UnrecordedReason(rawValue: UInt8.random(in: 0...255, using: &rng))
                return (.unrecorded(u), "reason \(u.reason.rawValue)")
            }
        case .addressSpace(var a):
            switch n % 6 {
            case 0: a.pid = i32(a.pid, using: &rng); return (.addressSpace(a), "pid \(a.pid)")
            case 1: a.tid = i32(a.tid, using: &rng); a.stack = id(a.stack, using: &rng)
                return (.addressSpace(a), "tid \(a.tid) stack \(a.stack)")
            case 2: a.timeNs = u64(a.timeNs, using: &rng); return (.addressSpace(a), "time \(a.timeNs)")
            case 3: a.change = otherChange(a.change, using: &rng); return (.addressSpace(a), "now \(a.change)")
            default: a.change = changed(a.change, using: &rng); return (.addressSpace(a), "\(a.change)")
            }
        }
    }

    /// One argument of an address-space change.
    static func changed<R: RandomNumberGenerator>(_ c: AddressSpaceChange, using rng: inout R) -> AddressSpaceChange {
        let n = Int.random(in: 0..<4, using: &rng)
        switch c {
        case .munmap(var address, var length):
            if n % 2 == 0 { address = u64(address, using: &rng) } else { length = u64(length, using: &rng) }
            return .munmap(address: address, length: length)
        case .mremap(var address, var length, var newAddress, var newLength, var flags):
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: address = u64(address, using: &rng)
            case 1: length = u64(length, using: &rng)
            case 2: newAddress = rng.oneIn(2) ? address : u64(newAddress, using: &rng)
            case 3: flags = rng.oneIn(2) ? [0, 1, 3, 5, 7].randomElement(using: &rng)! : u32(flags, using: &rng)
            default: newLength = u64(newLength, using: &rng)
            }
            return .mremap(address: address, length: length, newAddress: newAddress, newLength: newLength, flags: flags)
        case .mprotect(var address, var length, var prot):
            switch n % 3 {
            case 0: address = u64(address, using: &rng)
            case 1: length = u64(length, using: &rng)
            default: prot = u32(prot, using: &rng)
            }
            return .mprotect(address: address, length: length, prot: prot)
        case .madvise(var address, var length, var advice):
            switch n % 3 {
            case 0: address = u64(address, using: &rng)
            case 1: length = u64(length, using: &rng)
            default: advice = rng.oneIn(2) ? [4, 8, 9, 14, 15, 25, 100, 103].randomElement(using: &rng)! : i32(advice, using: &rng)
            }
            return .madvise(address: address, length: length, advice: advice)
        case .brk(var requested, var result):
            if n % 2 == 0 { requested = u64(requested, using: &rng) } else { result = u64(result, using: &rng) }
            return .brk(requested: requested, result: result)
        case .thpDisable:
            return .thpDisable([THPDisable.none, .all, .exceptAdvised].randomElement(using: &rng)!)
        case .mlock(var address, var length, var flags):
            switch n % 3 {
            case 0: address = u64(address, using: &rng)
            case 1: length = u64(length, using: &rng)
            default: flags = rng.oneIn(2) ? [0, 1, 2].randomElement(using: &rng)! : u32(flags, using: &rng)
            }
            return .mlock(address: address, length: length, flags: flags)
        case .munlock(var address, var length):
            if n % 2 == 0 { address = u64(address, using: &rng) } else { length = u64(length, using: &rng) }
            return .munlock(address: address, length: length)
        case .mlockall(let flags):
            return .mlockall(flags: rng.oneIn(2) ? UInt32.random(in: 0...7, using: &rng) : u32(flags, using: &rng))
        case .munlockall:
            return .mlockall(flags: 3)
        case .readTHPSetting:
            return .thpDisable(.all)
        }
    }

    /// The same range under another call: a munmap read as a mremap, and so on.
    static func otherChange<R: RandomNumberGenerator>(_ c: AddressSpaceChange, using rng: inout R) -> AddressSpaceChange {
        let (address, length): (UInt64, UInt64)
        switch c {
        case .munmap(let a, let l), .mremap(let a, let l, _, _, _), .mprotect(let a, let l, _), .madvise(let a, let l, _),
             .mlock(let a, let l, _), .munlock(let a, let l):
            (address, length) = (a, l)
        case .brk(let requested, let result):
            (address, length) = (result, requested &- result)
        case .thpDisable, .mlockall, .munlockall, .readTHPSetting:
            (address, length) = (0, 0)
        }
        switch Int.random(in: 0..<9, using: &rng) {
        case 6: return .mlock(address: address, length: length, flags: u32(0, using: &rng))
        case 7: return .munlock(address: address, length: length)
        case 8: return rng.oneIn(2) ? .mlockall(flags: u32(3, using: &rng)) : .munlockall
        case 0: return .munmap(address: address, length: length)
        case 1: return .mremap(address: address, length: length, newAddress: u64(address, using: &rng), newLength: u64(length, using: &rng),
                               flags: u32(1, using: &rng))
        case 5: return .thpDisable(.all)
        case 2: return .mprotect(address: address, length: length, prot: u32(3, using: &rng))
        case 3: return .madvise(address: address, length: length, advice: rng.pick([4, 8, 14, 15]))
        default: return .brk(requested: address &+ length, result: u64(address, using: &rng))
        }
    }

    /// A record of any tag, made up from interesting values.
    static func made<R: RandomNumberGenerator>(using rng: inout R) -> LogRecord {
        func v() -> UInt64 { u64(0x1000, using: &rng) }
        func p() -> Int32 { rng.oneIn(2) ? 100 : i32(100, using: &rng) }
        func s() -> UInt32 { u32(1, using: &rng) }
        switch RecordTag.allCases.randomElement(using: &rng)! {
        case .header: return .header(FuzzSeeds.header)
        case .string: return .string(StringID(rawValue: s()), text("made", using: &rng))
        case .module: return .module(ModuleID(rawValue: s()), Module(path: StringID(rawValue: s()), buildID: [1]))
        case .frame: return .frame(FrameID(rawValue: s()), Frame(module: rng.oneIn(2) ? nil : ModuleID(rawValue: s()), offset: v()))
        case .stack: return .stack(StackID(rawValue: s()), parent: StackID(rawValue: s()), frame: FrameID(rawValue: s()))
        case .process: return .process(ProcessEvent(pid: p(), ppid: p(), timeNs: v(), command: StringID(rawValue: s())))
        case .exec: return .exec(pid: p(), timeNs: v(), command: StringID(rawValue: s()))
        case .exit: return .exit(ExitEvent(pid: p(), timeNs: v(), exitCode: i32(0, using: &rng), signal: i32(0, using: &rng)))
        case .mmap:
            return .mmap(MmapEvent(pid: p(), timeNs: v(), start: v(), length: v(), pageOffset: v(), prot: s(), flags: s(),
                                   inode: v(), module: ModuleID(rawValue: s()), stack: StackID(rawValue: s())))
        case .fault:
            let kind = FaultKind.allCases.randomElement(using: &rng)!
            return .fault(FaultEvent(pid: p(), tid: p(), timeNs: v(), address: v(), ip: v(), kind: kind,
                                     access: Access.allCases.randomElement(using: &rng)!, kernelMode: Bool.random(using: &rng),
                                     errorCode: rng.oneIn(2) ? nil : 6, serviceNs: rng.oneIn(2) ? nil : v(),
                                     signal: kind == .segv ? i32(11, using: &rng) : 0,
                                     signalCode: kind == .segv ? i32(1, using: &rng) : 0, stack: StackID(rawValue: s()),
                                     pageShift: [0, 12, 21, 30, 63].randomElement(using: &rng)!,
                                     swapFromDisk: kind == .swap && Bool.random(using: &rng)))
        case .lost: return .lost(count: v(), timeNs: v())
        case .throttled: return .throttled(count: v(), timeNs: v())
        case .symbol:
            return .symbol(FrameSymbol(frame: FrameID(rawValue: s()), function: StringID(rawValue: s()),
                                       file: rng.oneIn(2) ? nil : StringID(rawValue: s()), line: s()))
        case .summary:
            return .summary(LogSummary(endTimeNs: v(), faults: v(), lost: v(), throttled: v(), unaccountedEntries: v(),
                                       exitCode: i32(0, using: &rng)))
        case .kernelCounts: return .kernelCounts(pid: p(), minor: v(), major: v(), baseline: Bool.random(using: &rng))
        case .kernelResident: return .kernelResident(KernelResident(pid: p(), anonBytes: v(), fileBytes: v(), shmemBytes: v(), peakBytes: v()))
        case .execStack:
            let a = v(), b = v()
            return .execStack(ExecStack(pid: p(), timeNs: v(), present: [min(a, b)..<max(a, b)]))
        case .addressSpace:
            let change = otherChange(.munmap(address: v(), length: v()), using: &rng)
            return .addressSpace(AddressSpaceEvent(pid: p(), tid: p(), timeNs: v(), change: change, stack: StackID(rawValue: s())))
        case .unrecorded:
            return .unrecorded(UnrecordedProcess(pid: p(), timeNs: v(), reason: UnrecordedReason(rawValue: UInt8(truncatingIfNeeded: s()))))
        case .inlined:
            return .inlined(FrameInlining(frame: FrameID(rawValue: s()), callers: (0..<Int(s() % 4)).map { _ in
                FrameInlining.Caller(function: StringID(rawValue: s()), file: rng.oneIn(2) ? nil : StringID(rawValue: s()), line: s())
            }))
        }
    }
}
