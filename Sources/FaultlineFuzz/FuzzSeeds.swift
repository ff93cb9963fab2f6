// The logs mutations start from. Written with the real LogWriter, so every record tag and
// every path a reading command takes is present: processes that fork, exec and exit;
// file, anonymous, heap and stack mappings; munmap, mremap, mprotect, madvise and brk;
// every fault kind, segvs in holes and in clipped mappings; stacks, symbols, losses and
// the kernel's counts. Real recordings can be added from a directory (`--corpus`).

import Foundation
import FaultlineCore
import FaultlineLog

/// A log as bytes and as the records of each chunk (chunk 0 holds the header).
public struct FuzzSeed: Sendable {
    public var name: String
    public var bytes: [UInt8]
    public var chunks: [[LogRecord]]

    /// Reads a log file; nil when it is not a log, or when it is damaged and `requireWhole`
    /// (a seed must be whole, so that mutations of it start from something every command
    /// reads; libFuzzer's inputs are mutated from whatever chunks they have).
    public static func load(path: String, name: String? = nil, requireWhole: Bool = true) -> FuzzSeed? {
        guard let data = FileManager.default.contents(atPath: path), let reader = try? LogReader(path: path)
        else { return nil }
        var chunks: [[LogRecord]] = []
        while let records = reader.nextChunk() { chunks.append(records) }
        guard !requireWhole || (reader.damage == nil && !chunks.isEmpty) else { return nil }
        return FuzzSeed(name: name ?? (path as NSString).lastPathComponent, bytes: [UInt8](data), chunks: chunks)
    }
}

public enum FuzzSeeds {
    /// The built-in seeds, written under `directory`.
    public static func builtIn(in directory: String) throws -> [FuzzSeed] {
        var seeds: [FuzzSeed] = []
        for (name, write) in [("processes", writeProcesses), ("extremes", writeExtremes),
                              ("merged-mappings", writeMergedMappings)] as [(String, (LogWriter) throws -> Void)] {
            let path = directory + "/seed-\(name).flt"
            let w = try LogWriter(path: path, header: header)
            try write(w)
            guard let seed = FuzzSeed.load(path: path, name: name) else {
                throw FuzzError("built-in seed \(name) does not read back whole")
            }
            seeds.append(seed)
        }
        return seeds
    }

    /// Every `.flt` under `directory` that reads whole.
    public static func corpus(in directory: String) throws -> [FuzzSeed] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".flt") }.sorted()
        return names.compactMap { FuzzSeed.load(path: directory + "/" + $0) }
    }

    static let header = LogHeader(kernelRelease: "6.18.0-fuzz", machine: "x86_64", hostname: "fuzz", pageSize: 4096,
                                  thpMode: "madvise", command: ["./prog", "--fill", "a;b"], startTimeNs: 1_000,
                                  startWallSeconds: 1_700_000_000, callGraph: "fp", recorderVersion: "0.3.0",
                                  extra: ["x-future": "kept"])

    /// A parent that maps, faults, forks a child (which execs), changes its address space
    /// in every way and dies of a segv; three chunks.
    static func writeProcesses(_ w: LogWriter) throws {
        let prog = w.module(path: "/usr/bin/prog", buildID: [1, 2, 3, 4])
        let libc = w.module(path: "/usr/lib/libc.so.6", buildID: [5, 6])
        let heap = w.module(path: "[heap]", buildID: [])
        let anon = w.module(path: "//anon", buildID: [])
        let stackModule = w.module(path: "[stack]", buildID: [])
        let fMain = w.frame(Frame(module: prog, offset: 0x1000))
        let fFill = w.frame(Frame(module: prog, offset: 0x1100))
        let fMemset = w.frame(Frame(module: libc, offset: 0x2000))
        let fJit = w.frame(Frame(module: nil, offset: 0x7f55_0000_1000))
        w.append(.symbol(FrameSymbol(frame: fMain, function: w.intern("main"), file: w.intern("prog.c"), line: 10)))
        w.append(.symbol(FrameSymbol(frame: fFill, function: w.intern("fill;loop"), file: w.intern("prog.c"), line: 20)))
        w.append(.symbol(FrameSymbol(frame: fMemset, function: w.intern("memset"), file: nil, line: 0)))
        let stacks = [w.stack(leafFirst: [fMemset, fFill, fMain]), w.stack(leafFirst: [fFill, fMain]),
                      w.stack(leafFirst: [fMain]), w.stack(leafFirst: [fJit, fMain]), .empty,
                      w.stack(leafFirst: [fFill, fFill, fMain])]
        let parent: Int32 = 100, child: Int32 = 101
        func mmap(_ pid: Int32, _ t: UInt64, _ start: UInt64, _ length: UInt64, _ module: ModuleID,
                  prot: UInt32 = 3, offset: UInt64 = 0, stack: StackID = .empty) {
            w.append(.mmap(MmapEvent(pid: pid, timeNs: t, start: start, length: length, pageOffset: offset,
                                     prot: prot, flags: 2, inode: module == anon ? 0 : 7, module: module, stack: stack)))
        }
        func change(_ pid: Int32, _ t: UInt64, _ c: AddressSpaceChange, stack: StackID = .empty) {
            w.append(.addressSpace(AddressSpaceEvent(pid: pid, tid: pid, timeNs: t, change: c, stack: stack)))
        }
        var time: UInt64 = 2_000
        func faults(_ pid: Int32, _ n: Int, at base: UInt64, _ kind: FaultKind, stackIndex: Int, access: Access = .write) {
            for i in 0..<n {
                time += 7
                let segv = kind == .segv
                w.append(.fault(FaultEvent(pid: pid, tid: pid &+ Int32(i % 2), timeNs: time,
                                           address: base &+ UInt64(i) * 4096 &+ UInt64(i % 3) * 8, ip: 0x401000 + UInt64(i),
                                           kind: kind, access: access, kernelMode: i % 5 == 4,
                                           errorCode: segv ? 0x6 : UInt16(i % 8), serviceNs: segv ? nil : 300 + UInt64(i),
                                           signal: segv ? 11 : 0, signalCode: segv ? 1 + Int32(i % 2) : 0,
                                           stack: stacks[(stackIndex + i) % stacks.count],
                                           swapFromDisk: kind == .swap && i % 3 == 0)))
            }
        }
        w.append(.process(ProcessEvent(pid: parent, ppid: 1, timeNs: 1_000, command: w.intern("prog"))))
        w.append(.exec(pid: parent, timeNs: 1_050, command: w.intern("./prog --fill")))
        w.append(.kernelCounts(pid: parent, minor: 100, major: 0, baseline: true))
        mmap(parent, 1_100, 0x400000, 0x10000, prog, prot: 5)
        mmap(parent, 1_200, 0x7f00_0000_0000, 0x200000, libc, prot: 5, offset: 0x1000)
        mmap(parent, 1_300, 0x100_0000, 0x21000, heap, stack: stacks[1])
        mmap(parent, 1_400, 0x7f10_0000_0000, 0x100000, anon, stack: stacks[0])
        mmap(parent, 1_500, 0x7ffc_0000_0000, 0x21000, stackModule)
        faults(parent, 40, at: 0x100_0000, .anon, stackIndex: 1)
        faults(parent, 20, at: 0x7f10_0000_0000, .zero, stackIndex: 0, access: .read)
        faults(parent, 12, at: 0x400000, .file, stackIndex: 2, access: .exec)
        faults(parent, 6, at: 0x7f00_0000_1000, .major, stackIndex: 2, access: .read)
        faults(parent, 9, at: 0x100_0000, .swap, stackIndex: 1, access: .read)
        faults(parent, 8, at: 0x7ffc_0000_0000, .anon, stackIndex: 4)
        try w.flush()

        change(parent, time + 10, .brk(requested: 0x102_1000 + 0x10000, result: 0x103_1000), stack: stacks[1])
        change(parent, time + 20, .mprotect(address: 0x7f10_0000_0000, length: 0x2000, prot: 0), stack: stacks[0])
        change(parent, time + 30, .madvise(address: 0x7f10_0000_4000, length: 0x4000, advice: 4))
        change(parent, time + 40, .madvise(address: 0x7f10_0000_8000, length: 0x1000, advice: 14))
        change(parent, time + 50, .mremap(address: 0x7f10_0000_0000, length: 0x100000, newAddress: 0x7f20_0000_0000,
                                          newLength: 0x200000, flags: 1))
        change(parent, time + 55, .thpDisable(.all))
        change(parent, time + 56, .mlock(address: 0x7f20_0000_0000, length: 0x8000, flags: 0))
        change(parent, time + 57, .munlock(address: 0x7f20_0000_4000, length: 0x1000))
        change(parent, time + 58, .mlockall(flags: 3))
        change(parent, time + 59, .munlockall)
        change(parent, time + 59, .readTHPSetting)
        change(parent, time + 60, .munmap(address: 0x100_8000, length: 0x3000))
        time += 100
        faults(parent, 10, at: 0x7f20_0000_0000, .anon, stackIndex: 3)
        faults(parent, 3, at: 0x100_8000, .segv, stackIndex: 5)
        w.append(.lost(count: 3, timeNs: time))
        w.append(.throttled(count: 2, timeNs: time + 1))

        w.append(.process(ProcessEvent(pid: child, ppid: parent, timeNs: time + 100, command: w.intern("prog"))))
        time += 200
        faults(child, 25, at: 0x100_0000, .cow, stackIndex: 1)
        faults(child, 5, at: 0x7f20_0000_0000, .other, stackIndex: 0)
        w.append(.exec(pid: child, timeNs: time + 50, command: w.intern("/bin/sh -c 'echo\nhi'")))
        mmap(child, time + 60, 0x5555_0000_0000, 0x20000, prog, prot: 5)
        mmap(child, time + 70, 0x7ffd_0000_0000, 0x21000, stackModule)
        // execve's strings in the stack's top page, its tables two pages down (a gap between).
        w.append(.execStack(ExecStack(pid: child, timeNs: time + 50,
                                      present: [0x7ffd_0001_e000..<0x7ffd_0001_f000, 0x7ffd_0002_0000..<0x7ffd_0002_1000])))
        time += 100
        faults(child, 15, at: 0x5555_0000_0000, .file, stackIndex: 2, access: .exec)
        faults(child, 2, at: 0x6000_0000_0000, .segv, stackIndex: 3, access: .read)
        w.append(.kernelCounts(pid: child, minor: 45, major: 0, baseline: false))
        w.append(.kernelResident(KernelResident(pid: child, anonBytes: 40 << 12, fileBytes: 300 << 12, shmemBytes: 0, peakBytes: 350 << 12)))
        w.append(.exit(ExitEvent(pid: child, timeNs: time + 10, exitCode: 3, signal: 0)))
        try w.flush()
        faults(parent, 4, at: 0x7f10_0000_0000, .segv, stackIndex: 0)
        w.append(.kernelCounts(pid: parent, minor: 230, major: 6, baseline: false))
        w.append(.exit(ExitEvent(pid: parent, timeNs: time + 20, exitCode: 139, signal: 11)))
        try w.finish(LogSummary(endTimeNs: time + 30, faults: w.faultCount, lost: 3, throttled: 2,
                                unaccountedEntries: 1, exitCode: 139))
    }

    /// Values at the edges of their types: times and addresses near 2^64, pids at both
    /// ends of Int32, stacks the log never defined, services at their maximum.
    static func writeExtremes(_ w: LogWriter) throws {
        var rng = FuzzRandom(seed: 0xE87E_3E5)
        let module = w.module(path: "/lib/x.so", buildID: Array(repeating: 0xAB, count: 20))
        let top = w.frame(Frame(module: module, offset: .max))
        let abs = w.frame(Frame(module: nil, offset: .max))
        let stack = w.stack(leafFirst: [top, abs])
        let pids: [(Int32, Int32)] = [(1, 1), (Int32.max, Int32.max), (Int32.min, Int32.min), (-1, -1), (0, 0), (7, -7)]
        for (pid, _) in pids {
            w.append(.process(ProcessEvent(pid: pid, ppid: pid == 1 ? 0 : 1, timeNs: 5, command: w.intern("p\(pid)"))))
        }
        let addresses: [UInt64] = [0, 1, 0xfff, 0x7fff_ffff_f000, 0xffff_ffff_ffff_f000, .max, 1 << 63]
        let times: [UInt64] = [0, 1, .max, .max - 1, 1 << 63, 1_000_000_000]
        w.append(.mmap(MmapEvent(pid: 1, timeNs: 0, start: 0xffff_ffff_ffff_0000, length: 0x10000, pageOffset: .max,
                                 prot: .max, flags: .max, inode: .max, module: module, stack: stack)))
        w.append(.mmap(MmapEvent(pid: 1, timeNs: 1, start: 0, length: .max, pageOffset: 0, prot: 3, flags: 2,
                                 inode: 0, module: module)))
        for i in 0..<200 {
            let (pid, tid) = rng.pick(pids)
            let kind = FaultKind.allCases[i % FaultKind.allCases.count]
            w.append(.fault(FaultEvent(pid: pid, tid: tid, timeNs: rng.pick(times), address: rng.pick(addresses),
                                       ip: rng.pick(addresses), kind: kind, access: Access.allCases[i % Access.allCases.count],
                                       kernelMode: i % 3 == 0, errorCode: rng.oneIn(2) ? nil : .max,
                                       serviceNs: rng.oneIn(2) ? nil : .max - 1,
                                       signal: kind == .segv ? rng.pick([11, 7, .max, .min]) : 0,
                                       signalCode: kind == .segv ? rng.pick([1, 2, -6, .max, .min]) : 0,
                                       stack: rng.oneIn(3) ? stack : StackID(rawValue: rng.pick([0, 1, .max])),
                                       pageShift: rng.pick([0, 12, 21, 30, 63]), swapFromDisk: rng.oneIn(2))))
        }
        w.append(.addressSpace(AddressSpaceEvent(pid: 1, tid: 1, timeNs: .max, change: .munmap(address: .max, length: .max))))
        w.append(.lost(count: .max, timeNs: .max))
        w.append(.exit(ExitEvent(pid: 1, timeNs: .max, exitCode: .min, signal: .max)))
        try w.finish(LogSummary(endTimeNs: .max, faults: .max, lost: .max, throttled: .max,
                                unaccountedEntries: .max, exitCode: .min))
    }

    /// What a use-after-free of a 1 MiB malloc block records: two mmaps the kernel merged
    /// (the second one announced with the merged range), the first block unmapped, a
    /// write to it, and a read in the hole between two mappings.
    static func writeMergedMappings(_ w: LogWriter) throws {
        let anon = w.module(path: "//anon", buildID: [])
        let prog = w.module(path: "/usr/bin/uaf", buildID: [9])
        let main = w.stack(leafFirst: [w.frame(Frame(module: prog, offset: 0x1150))])
        let pid: Int32 = 200
        let block: UInt64 = 0x101000
        let first: UInt64 = 0x7f00_0020_0000, second = first - block
        w.append(.process(ProcessEvent(pid: pid, ppid: 1, timeNs: 10, command: w.intern("./uaf"))))
        w.append(.mmap(MmapEvent(pid: pid, timeNs: 20, start: 0x400000, length: 0x1000, pageOffset: 0, prot: 5,
                                 flags: 2, inode: 3, module: prog)))
        w.append(.mmap(MmapEvent(pid: pid, timeNs: 30, start: first, length: block, pageOffset: 0, prot: 3, flags: 0x22,
                                 inode: 0, module: anon, stack: main)))
        w.append(.mmap(MmapEvent(pid: pid, timeNs: 40, start: second, length: 2 * block, pageOffset: 0, prot: 3,
                                 flags: 0x22, inode: 0, module: anon, stack: main)))
        // The writes in a chunk of their own: one that says its faults' summary (format 10).
        try w.flush()
        for i in 0..<4 {
            w.append(.fault(FaultEvent(pid: pid, tid: pid, timeNs: 50 + UInt64(i), address: second + 0x10 + UInt64(i) * 4096,
                                       ip: 0x401150, kind: .anon, access: .write, kernelMode: false, errorCode: 6,
                                       serviceNs: 900, stack: main)))
        }
        try w.flush()
        w.append(.addressSpace(AddressSpaceEvent(pid: pid, tid: pid, timeNs: 60, change: .munmap(address: first, length: block),
                                                 stack: main)))
        w.append(.fault(FaultEvent(pid: pid, tid: pid, timeNs: 70, address: first + 0x10, ip: 0x401160, kind: .segv,
                                   access: .write, kernelMode: false, errorCode: 6, serviceNs: nil, signal: 11,
                                   signalCode: 1, stack: main)))
        w.append(.fault(FaultEvent(pid: pid, tid: pid, timeNs: 80, address: 0x600000, ip: 0x401170, kind: .segv,
                                   access: .read, kernelMode: false, errorCode: 4, serviceNs: nil, signal: 11,
                                   signalCode: 1, stack: main)))
        w.append(.exit(ExitEvent(pid: pid, timeNs: 90, exitCode: 139, signal: 11)))
        try w.finish(LogSummary(endTimeNs: 100, faults: w.faultCount, lost: 0, throttled: 0, unaccountedEntries: 0,
                                exitCode: 139))
    }
}

public struct FuzzError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
