// A small log with known faults, written with the real LogWriter: two processes (a child
// forked from the first), four stacks, several mappings, one remapped page, one segv.
// Every number the tests assert is counted out in the comments below.

import Foundation
import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

enum FixtureLog {
    static let parent: Int32 = 100
    static let child: Int32 = 101

    struct Written {
        var path: String
        /// File size after the chunk holding the first 22 faults (all the parent's, up
        /// to t=2500), and after the chunk holding the rest of the events.
        var firstChunksEnd: UInt64
        var eventsEnd: UInt64
    }

    static func temporaryPath(_ name: String) -> String {
        let dir = temporaryDirectory
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    /// Totals the fixture holds:
    ///   parent 100: anon 12 (10 heap + 2 kernel-mode at the remapped page), zero 5, file 3,
    ///               major 2, segv 1, other 1 = 24
    ///   child 101:  cow 5, anon 2 = 7
    ///   all:        anon 14, zero 5, file 3, cow 5, major 2, segv 1, other 1 = 31; minor 28
    @discardableResult
    static func write(to path: String) throws -> Written {
        let w = try LogWriter(path: path, header: LogHeader(
            kernelRelease: "6.18.0-test", machine: "x86_64", hostname: "testhost", pageSize: 4096,
            thpMode: "madvise", command: ["./prog", "--fill"], startTimeNs: 1_000,
            startWallSeconds: 1_700_000_000, callGraph: "fp", recorderVersion: "faultline-test"))

        let prog = w.module(path: "/usr/bin/prog", buildID: [1, 2, 3])
        let libc = w.module(path: "/usr/lib/libc.so.6", buildID: [4, 5])
        let heap = w.module(path: "[heap]", buildID: [])
        let anon = w.module(path: "//anon", buildID: [])

        let fMain = w.frame(Frame(module: prog, offset: 0x1000))
        let fFill = w.frame(Frame(module: prog, offset: 0x1100))
        let fMemset = w.frame(Frame(module: libc, offset: 0x2000))
        let fAbsolute = w.frame(Frame(module: nil, offset: 0xdead0))
        w.append(.symbol(FrameSymbol(frame: fMain, function: w.intern("main"), file: w.intern("prog.c"), line: 10)))
        w.append(.symbol(FrameSymbol(frame: fFill, function: w.intern("fill"), file: w.intern("prog.c"), line: 20)))
        w.append(.symbol(FrameSymbol(frame: fMemset, function: w.intern("memset"), file: nil, line: 0)))

        let sMemset = w.stack(leafFirst: [fMemset, fFill, fMain])
        let sFill = w.stack(leafFirst: [fFill, fMain])
        let sMain = w.stack(leafFirst: [fMain])
        let sAbsolute = w.stack(leafFirst: [fAbsolute, fMain])

        func mmap(_ pid: Int32, _ t: UInt64, _ start: UInt64, _ length: UInt64, _ module: ModuleID, inode: UInt64 = 0) {
            w.append(.mmap(MmapEvent(pid: pid, timeNs: t, start: start, length: length, pageOffset: 0,
                                     prot: 3, flags: 2, inode: inode, module: module)))
        }
        func fault(_ pid: Int32, _ t: UInt64, _ address: UInt64, _ kind: FaultKind, _ stack: StackID,
                   _ access: Access = .write, kernel: Bool = false, error: UInt16? = nil,
                   service: UInt64? = 500, signal: Int32 = 0, code: Int32 = 0) {
            w.append(.fault(FaultEvent(pid: pid, tid: pid, timeNs: t, address: address, ip: 0x401000,
                                       kind: kind, access: access, kernelMode: kernel, errorCode: error,
                                       serviceNs: service, signal: signal, signalCode: code, stack: stack)))
        }

        w.append(.process(ProcessEvent(pid: parent, ppid: 1, timeNs: 1_000, command: w.intern("prog"))))
        w.append(.exec(pid: parent, timeNs: 1_050, command: w.intern("./prog")))
        w.append(.kernelCounts(pid: parent, minor: 100, major: 0, baseline: true))
        mmap(parent, 1_100, 0x400000, 0x10000, prog, inode: 7)
        mmap(parent, 1_200, 0x7f00_0000_0000, 0x200000, libc, inode: 8)
        mmap(parent, 1_300, 0x100_0000, 0x100000, heap)
        mmap(parent, 1_400, 0x7f10_0000_0000, 0x100000, anon)

        // fill: 10 first writes to the heap.
        for i in 0..<10 { fault(parent, 2_000 + UInt64(i), 0x100_0000 + UInt64(i) * 4096, .anon, sFill, error: 0x6) }
        // memset: 5 first reads of anonymous memory.
        for i in 0..<5 { fault(parent, 2_100 + UInt64(i), 0x7f10_0000_0000 + UInt64(i) * 4096, .zero, sMemset, .read, error: 0x4) }
        // main: 3 text pages, 2 major faults in libc.
        for i in 0..<3 { fault(parent, 2_200 + UInt64(i), 0x400000 + UInt64(i) * 4096, .file, sMain, .exec, error: 0x14) }
        for i in 0..<2 { fault(parent, 2_300 + UInt64(i), 0x7f00_0000_1000 + UInt64(i) * 4096, .major, sMain, .read, service: 100_000) }
        // A null-pointer write from JIT-like code with no module.
        fault(parent, 2_400, 0x10, .segv, sAbsolute, error: 0x6, service: nil, signal: 11, code: 1)
        fault(parent, 2_500, 0x100_2000, .other, sFill, error: 0x7)
        try w.flush()
        let firstChunksEnd = w.bytesWritten

        w.append(.lost(count: 3, timeNs: 2_600))
        // The heap's first page is replaced by an anonymous mapping; later faults there are
        // attributed to it, earlier ones stay with [heap].
        mmap(parent, 3_000, 0x100_0000, 0x1000, anon)
        fault(parent, 3_100, 0x100_0000, .anon, sMemset, kernel: true, error: 0x2)
        fault(parent, 3_101, 0x100_0008, .anon, sMemset, kernel: true, error: 0x2)

        w.append(.process(ProcessEvent(pid: child, ppid: parent, timeNs: 5_000, command: w.intern("prog"))))
        mmap(child, 5_500, 0x7f30_0000_0000, 0x1000, anon)
        // The child writes heap pages it inherited: copy-on-write, attributed to [heap].
        for i in 0..<4 { fault(child, 5_600 + UInt64(i), 0x100_5000 + UInt64(i) * 4096, .cow, sFill, error: 0x7) }
        fault(child, 5_700, 0x7f30_0000_0000, .anon, sMain, error: 0x6)
        // The parent's remap happened before the fork: the child inherits //anon there.
        fault(child, 5_800, 0x100_0000, .cow, sFill, error: 0x7)
        // The parent maps this after the fork: not the child's, so the child's fault is unmapped.
        mmap(parent, 6_000, 0x7f20_0000_0000, 0x10000, anon)
        fault(child, 6_100, 0x7f20_0000_0000, .anon, sMain, error: 0x6)

        // The kernel counted what was recorded for the child, and 2 minor faults more than
        // recorded for the parent (23 = 123 - 100 since the baseline, against 21).
        w.append(.kernelCounts(pid: child, minor: 7, major: 0, baseline: false))
        w.append(.exit(ExitEvent(pid: child, timeNs: 7_000, exitCode: 0, signal: 0)))
        w.append(.kernelCounts(pid: parent, minor: 123, major: 2, baseline: false))
        w.append(.exit(ExitEvent(pid: parent, timeNs: 8_000, exitCode: 137, signal: 9)))
        try w.flush()
        let eventsEnd = w.bytesWritten
        try w.finish(LogSummary(endTimeNs: 9_000, faults: 31, lost: 3, throttled: 0,
                                unaccountedEntries: 2, exitCode: 137))
        return Written(path: path, firstChunksEnd: firstChunksEnd, eventsEnd: eventsEnd)
    }

    static var temporaryDirectory: URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("faultline-analysis-tests-\(ProcessInfo.processInfo.processIdentifier)")
    }

    static func removeTemporaryFiles() {
        try? FileManager.default.removeItem(at: temporaryDirectory)
    }

    static func load(_ name: String = #function) throws -> LoadedLog {
        let path = temporaryPath("\(name).flt")
        try write(to: path)
        return try LoadedLog.load(path: path)
    }
}

/// Removes the fixture files when a test class is done.
class FixtureTestCase: XCTestCase {
    override class func tearDown() {
        FixtureLog.removeTemporaryFiles()
        super.tearDown()
    }
}

/// Answers from a fixed table and counts how often it is asked.
final class TableSymbolizer: Symbolizer {
    var table: [String: [UInt64: Symbol]] = [:]
    var calls: [(path: String, buildID: [UInt8], offset: UInt64)] = []

    func symbolize(modulePath: String, buildID: [UInt8], fileOffset: UInt64) -> Symbol? {
        calls.append((modulePath, buildID, fileOffset))
        return table[modulePath]?[fileOffset]
    }
}
