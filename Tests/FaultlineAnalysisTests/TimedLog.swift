// A log whose service times are chosen so that every statistic of them can be worked out
// by hand: two processes, three threads, anonymous faults of 1, 2, …, N µs, a few slow
// major faults, file faults of 3 µs and a segv without a time. `LogDiff` tests write it
// twice with different N and majors.

import Foundation
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

enum TimedLog {
    static let cc1: Int32 = 10
    /// A second thread of cc1, taking the major faults.
    static let reader: Int32 = 12
    static let assembler: Int32 = 11
    static let start: UInt64 = 1_000_000

    /// Counted out:
    ///   cc1 (pid 10) lives 100 ms (1 ms to 101 ms).
    ///     tid 10: `anon` faults of 1,000, 2,000, …, anon×1,000 ns, stack alloc ← main, in //anon;
    ///     tid 12: `majors` major faults of 2 ms each, stack read_page ← load ← main, in libfoo.so.
    ///   as (pid 11) lives 10 ms (50 ms to 60 ms): 10 file faults of 3 µs, stack emit ← main,
    ///     in /usr/bin/as, and a segv (no time) on the same stack.
    ///   The recording ends at 201 ms: 200 ms of wall time.
    /// With the defaults (anon 100, majors 4): 115 faults, 114 timed, 13.08 ms in faults.
    static func write(to path: String, anon: Int = 100, majors: Int = 4) throws {
        let w = try LogWriter(path: path, header: LogHeader(
            kernelRelease: "6.18.0-test", machine: "x86_64", hostname: "testhost", pageSize: 4096,
            thpMode: "never", command: ["make"], startTimeNs: start,
            startWallSeconds: 1_700_000_000, callGraph: "fp", recorderVersion: "faultline-test"))
        let cc1Module = w.module(path: "/usr/lib/gcc/cc1", buildID: [1])
        let libfoo = w.module(path: "/usr/lib/libfoo.so", buildID: [2])
        let asModule = w.module(path: "/usr/bin/as", buildID: [3])
        let anonModule = w.module(path: "//anon", buildID: [])

        func frame(_ module: ModuleID, _ offset: UInt64, _ name: String) -> FrameID {
            let f = w.frame(Frame(module: module, offset: offset))
            w.append(.symbol(FrameSymbol(frame: f, function: w.intern(name), file: nil, line: 0)))
            return f
        }
        let main = frame(cc1Module, 0x1000, "main")
        let alloc = frame(cc1Module, 0x2000, "alloc")
        let load = frame(libfoo, 0x3000, "load")
        let readPage = frame(libfoo, 0x4000, "read_page")
        let asMain = frame(asModule, 0x1000, "main")
        let emit = frame(asModule, 0x2000, "emit")
        let sAlloc = w.stack(leafFirst: [alloc, main])
        let sRead = w.stack(leafFirst: [readPage, load, main])
        let sEmit = w.stack(leafFirst: [emit, asMain])

        func mmap(_ pid: Int32, _ t: UInt64, _ start: UInt64, _ length: UInt64, _ module: ModuleID) {
            w.append(.mmap(MmapEvent(pid: pid, timeNs: t, start: start, length: length, pageOffset: 0,
                                     prot: 3, flags: 2, inode: 0, module: module)))
        }
        func fault(_ pid: Int32, _ tid: Int32, _ t: UInt64, _ address: UInt64, _ kind: FaultKind, _ stack: StackID,
                   service: UInt64?) {
            w.append(.fault(FaultEvent(pid: pid, tid: tid, timeNs: t, address: address, ip: 0x401000, kind: kind,
                                       access: kind == .segv ? .write : .read, kernelMode: false, errorCode: 4,
                                       serviceNs: service, signal: kind == .segv ? 11 : 0,
                                       signalCode: kind == .segv ? 1 : 0, stack: stack)))
        }

        w.append(.process(ProcessEvent(pid: cc1, ppid: 1, timeNs: start, command: w.intern("/usr/bin/cc1 -quiet x.c"))))
        mmap(cc1, start + 100, 0x7f10_0000_0000, 0x1000_0000, anonModule)
        mmap(cc1, start + 200, 0x7f20_0000_0000, 0x10_0000, libfoo)
        for i in stride(from: 1, through: anon, by: 1) {
            fault(cc1, cc1, 2_000_000 + UInt64(i) * 100_000, 0x7f10_0000_0000 + UInt64(i) * 4096, .anon, sAlloc,
                  service: UInt64(i) * 1_000)
        }
        for i in 0..<majors {
            fault(cc1, reader, 80_000_000 + UInt64(i) * 1_000_000, 0x7f20_0000_0000 + UInt64(i) * 4096, .major, sRead,
                  service: 2_000_000)
        }
        w.append(.process(ProcessEvent(pid: assembler, ppid: 1, timeNs: 50_000_000, command: w.intern("as"))))
        mmap(assembler, 50_000_100, 0x40_0000, 0x10_0000, asModule)
        for i in 0..<10 {
            fault(assembler, assembler, 55_000_000 + UInt64(i), 0x40_0000 + UInt64(i) * 4096, .file, sEmit, service: 3_000)
        }
        fault(assembler, assembler, 56_000_000, 0x10, .segv, sEmit, service: nil)
        w.append(.exit(ExitEvent(pid: assembler, timeNs: 60_000_000, exitCode: 0, signal: 0)))
        w.append(.exit(ExitEvent(pid: cc1, timeNs: 101_000_000, exitCode: 0, signal: 0)))
        try w.finish(LogSummary(endTimeNs: 201_000_000, faults: UInt64(anon + majors + 11), lost: 0, throttled: 0,
                                unaccountedEntries: 0, exitCode: 0))
    }

    static func load(_ name: String = #function, anon: Int = 100, majors: Int = 4) throws -> LoadedLog {
        let path = FixtureLog.temporaryPath("timed-\(name)-\(anon)-\(majors).flt")
        try write(to: path, anon: anon, majors: majors)
        return try LoadedLog.load(path: path)
    }
}
