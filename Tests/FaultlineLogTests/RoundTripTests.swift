// Every record tag and every awkward fault survives a write and a read unchanged. The
// all-tags test fails when a RecordTag is added without a record here.

import XCTest
import FaultlineCore
import FaultlineLog

final class RoundTripTests: XCTestCase {
    func testEveryRecordTagRoundTrips() throws {
        let dir = try TempDirectory()
        let path = dir.file("all.flt")
        let w = try LogWriter(path: path, header: sampleHeader)
        var expected: [LogRecord] = [.header(sampleHeader)]

        let name = w.intern("prog")
        expected.append(.string(name, "prog"))
        let empty = w.intern("")
        expected.append(.string(empty, ""))
        let libPath = StringID(rawValue: 2)
        let lib = w.module(path: "/usr/lib/libc.so.6", buildID: Array(0..<20))
        expected.append(.string(libPath, "/usr/lib/libc.so.6"))
        expected.append(.module(lib, Module(path: libPath, buildID: Array(0..<20))))
        let anon = w.module(path: "", buildID: [])
        expected.append(.module(anon, Module(path: empty, buildID: [])))
        let leaf = w.frame(Frame(module: lib, offset: 0x29d90))
        expected.append(.frame(leaf, Frame(module: lib, offset: 0x29d90)))
        let jit = w.frame(Frame(module: nil, offset: UInt64.max))
        expected.append(.frame(jit, Frame(module: nil, offset: UInt64.max)))
        let stack = w.stack(leafFirst: [leaf, jit])
        expected.append(.stack(StackID(rawValue: 1), parent: .empty, frame: jit))
        expected.append(.stack(StackID(rawValue: 2), parent: StackID(rawValue: 1), frame: leaf))
        XCTAssertEqual(stack, StackID(rawValue: 2))

        let others: [LogRecord] = [
            .process(ProcessEvent(pid: 100, ppid: 1, timeNs: 10, command: name)),
            .exec(pid: 100, timeNs: 11, command: name),
            .mmap(MmapEvent(pid: 100, timeNs: 12, start: 0x7f00_0000_0000, length: 0x21000, pageOffset: 0x1000,
                            prot: 5, flags: 2, inode: 123_456, module: lib, stack: stack)),
            .addressSpace(AddressSpaceEvent(pid: 100, tid: 102, timeNs: 12, change: .munmap(address: 0x7f00_0000_0000, length: 4096))),
            .addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: 12, change: .mremap(address: 1 << 40, length: 8192,
                                                                                            newAddress: UInt64.max - 4095, newLength: 1 << 30, flags: 7), stack: stack)),
            .addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: 12, change: .mprotect(address: 0x1000, length: 0x2000, prot: 0))),
            .addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: 12, change: .madvise(address: 0x1000, length: 0x2000, advice: 4))),
            .addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: 12, change: .brk(requested: 0, result: 0x5555_0000_0000))),
            .addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: 12, change: .thpDisable(.exceptAdvised))),
            .addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: 12, change: .mlock(address: 0x1000, length: UInt64.max, flags: 1))),
            .addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: 12, change: .munlock(address: 0x2000, length: 0x1000))),
            .addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: 12, change: .mlockall(flags: 7))),
            .addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: 12, change: .munlockall)),
            .addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: 12, change: .readTHPSetting)),
            .fault(FaultEvent(pid: 100, tid: 101, timeNs: 13, address: 0x7f00_0000_0123, ip: 0x7f00_0000_1000,
                              kind: .file, access: .exec, kernelMode: false, errorCode: 0x14, serviceNs: 900,
                              stack: stack)),
            // A THP: the page size rides with the error code...
            .fault(FaultEvent(pid: 100, tid: 101, timeNs: 14, address: 0x7f00_0020_0000, ip: 0x7f00_0000_1000,
                              kind: .anon, access: .write, kernelMode: false, errorCode: 0x6, serviceNs: 900,
                              stack: stack, pageShift: 21)),
            // ...so the same code with another page size is stored again, and a 1 GiB hugetlb page.
            .fault(FaultEvent(pid: 100, tid: 101, timeNs: 14, address: 0x7f00_0040_0000, ip: 0x7f00_0000_1000,
                              kind: .anon, access: .write, kernelMode: false, errorCode: 0x6, serviceNs: 900,
                              stack: stack, pageShift: 12)),
            .fault(FaultEvent(pid: 100, tid: 101, timeNs: 14, address: 0x4000_0000, ip: 0,
                              kind: .anon, access: .write, kernelMode: false, errorCode: nil, serviceNs: nil,
                              stack: stack, pageShift: 30)),
            .lost(count: 3, timeNs: 14),
            .throttled(count: UInt64.max, timeNs: 15),
            .symbol(FrameSymbol(frame: leaf, function: name, file: libPath, line: 42)),
            .symbol(FrameSymbol(frame: jit, function: name, file: nil, line: 0)),
            .inlined(FrameInlining(frame: leaf, callers: [FrameInlining.Caller(function: name, file: libPath, line: 7),
                                                          FrameInlining.Caller(function: empty, file: nil, line: UInt32.max)])),
            .exit(ExitEvent(pid: 100, timeNs: 16, exitCode: 139, signal: 11)),
            .kernelCounts(pid: 100, minor: 10, major: 1, baseline: true),
            .kernelCounts(pid: 100, minor: 1_000_000, major: UInt64.max, baseline: false),
            .kernelResident(KernelResident(pid: 100, anonBytes: 1 << 20, fileBytes: UInt64.max, shmemBytes: 0, peakBytes: 1 << 40)),
            .execStack(ExecStack(pid: 100, timeNs: 12, present: [0x7ffd_0000_0000..<0x7ffd_0000_1000, 0x7ffd_0000_3000..<0x7ffd_0000_5000,
                                                                  UInt64.max - 0x1000..<UInt64.max])),
            .unrecorded(UnrecordedProcess(pid: 101, timeNs: 18, reason: .nonDumpableExec)),
            .unrecorded(UnrecordedProcess(pid: -1, timeNs: UInt64.max, reason: UnrecordedReason(rawValue: 255))),
        ]
        for r in others { w.append(r) }
        expected += others
        let summary = LogSummary(endTimeNs: 17, faults: 1, lost: 3, throttled: UInt64.max,
                                 unaccountedEntries: 2, exitCode: -1)
        try w.finish(summary)
        expected.append(.summary(summary))

        let (chunks, damage) = try readChunks(path)
        XCTAssertNil(damage)
        let records = chunks.flatMap { $0 }
        XCTAssertEqual(records, expected)

        let seen = Set(records.map(\.tag))
        for tag in RecordTag.allCases {
            XCTAssertTrue(seen.contains(tag), "RecordTag.\(tag) has no round-trip coverage: add a record of it here")
        }

        // The loaded view resolves the same records.
        let log = try LoadedLog.load(path: path)
        XCTAssertTrue(log.isComplete)
        XCTAssertEqual(log.header, sampleHeader)
        XCTAssertEqual(log.strings, ["prog", "", "/usr/lib/libc.so.6"])
        XCTAssertEqual(log.modules, [Module(path: libPath, buildID: Array(0..<20)), Module(path: empty, buildID: [])])
        XCTAssertEqual(log.frames, [Frame(module: lib, offset: 0x29d90), Frame(module: nil, offset: UInt64.max)])
        XCTAssertEqual(log.frames(of: stack), [leaf, jit])
        XCTAssertEqual(log.modulePath(lib), "/usr/lib/libc.so.6")
        XCTAssertEqual(log.processes[100]?.commands, ["prog", "prog"])
        XCTAssertEqual(log.processes[100]?.exit?.signal, 11)
        XCTAssertEqual(log.processes[100]?.kernelMinor, 1_000_000)
        XCTAssertEqual(log.processes[100]?.kernelMajor, UInt64.max)
        XCTAssertEqual(log.processes[100]?.kernelBaselineMinor, 10)
        XCTAssertEqual(log.processes[100]?.kernelCountedMinor, 999_990)
        XCTAssertEqual(log.mmaps.count, 1)
        XCTAssertEqual(log.faults.map(\.pageShift), [0, 21, 12, 30])
        XCTAssertEqual(log.lost, 3)
        XCTAssertEqual(log.throttled, UInt64.max)
        XCTAssertEqual(log.unrecorded.map(\.pid), [101, -1])
        XCTAssertEqual(log.unrecorded.map(\.reason), [.nonDumpableExec, UnrecordedReason(rawValue: 255)])
        XCTAssertEqual(log.symbols[jit]?.file, nil)
        XCTAssertEqual(log.symbols[leaf]?.line, 42)
        XCTAssertEqual(log.inlining[leaf]?.map(\.line), [7, UInt32.max])
        XCTAssertEqual(log.inlining[leaf]?.map(\.file), [libPath, nil])
        XCTAssertNil(log.inlining[jit])
        XCTAssertEqual(log.summary, summary)
        XCTAssertEqual(log.danglingReferences, 0)
    }

    func testInterningReturnsExistingIDs() throws {
        let dir = try TempDirectory()
        let w = try LogWriter(path: dir.file("i.flt"), header: LogHeader())
        XCTAssertEqual(w.intern("a"), w.intern("a"))
        XCTAssertNotEqual(w.intern("a"), w.intern("b"))
        let m = w.module(path: "/x", buildID: [1])
        XCTAssertEqual(w.module(path: "/x", buildID: [1]), m)
        XCTAssertNotEqual(w.module(path: "/x", buildID: [2]), m, "same path, other build-id is another module")
        XCTAssertEqual(w.frame(Frame(module: m, offset: 1)), w.frame(Frame(module: m, offset: 1)))
        XCTAssertNotEqual(w.frame(Frame(module: m, offset: 1)), w.frame(Frame(module: nil, offset: 1)))
        try w.finish(LogSummary(endTimeNs: 0, faults: 0, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let log = try LoadedLog.load(path: dir.file("i.flt"))
        XCTAssertEqual(log.strings, ["a", "b", "/x"])
        XCTAssertEqual(log.modules.count, 2)
        XCTAssertEqual(log.frames.count, 2)
    }

    func testHeaderDefaultsAndExtraFieldsRoundTrip() throws {
        let dir = try TempDirectory()
        for header in [LogHeader(), sampleHeader, LogHeader(command: [], extra: ["a": "b"])] {
            let path = dir.file("h.flt")
            try LogWriter(path: path, header: header)
                .finish(LogSummary(endTimeNs: 0, faults: 0, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
            XCTAssertEqual(try LoadedLog.load(path: path).header, header)
        }
    }

    /// Delta coding across threads, extremes and several chunks: what comes out is exactly
    /// what went in, in order.
    func testAwkwardFaultsRoundTripAcrossChunks() throws {
        let dir = try TempDirectory()
        let path = dir.file("faults.flt")
        let faults = awkwardFaults(count: 30_000, seed: 1)
        let w = try writeLog(path, faults: faults)
        XCTAssertEqual(w.faultCount, UInt64(faults.count))
        XCTAssertNil(w.firstError)

        let bytes = try readBytes(path)
        let spans = chunkSpans(bytes)
        XCTAssertGreaterThanOrEqual(spans.count, 5, "the test should span several chunks")
        XCTAssertEqual(UInt64(bytes.count), w.bytesWritten)

        let log = try LoadedLog.load(path: path)
        XCTAssertNil(log.damage)
        XCTAssertTrue(log.isComplete)
        XCTAssertEqual(log.chunks, spans.count)
        XCTAssertEqual(log.faults.count, faults.count)
        for (i, (got, want)) in zip(log.faults, faults).enumerated() where got != want {
            XCTFail("fault \(i) differs:\n got  \(got)\n want \(want)")
            break
        }
        XCTAssertEqual(log.summary?.faults, UInt64(faults.count))
    }

    /// Hand-picked sequences, each alone in a log, so a failure names the case.
    func testFaultEdgeCases() throws {
        let dir = try TempDirectory()
        func fault(pid: Int32 = 1, tid: Int32 = 1, time: UInt64 = 0, address: UInt64 = 0, ip: UInt64 = 0,
                   kind: FaultKind = .anon, errorCode: UInt16? = nil, service: UInt64? = nil, signal: Int32 = 0,
                   code: Int32 = 0, stack: UInt32 = 0) -> FaultEvent {
            FaultEvent(pid: pid, tid: tid, timeNs: time, address: address, ip: ip, kind: kind, access: .write,
                       kernelMode: false, errorCode: errorCode, serviceNs: service, signal: signal,
                       signalCode: code, stack: StackID(rawValue: stack))
        }
        let cases: [String: [FaultEvent]] = [
            "address zero": [fault(address: 0), fault(address: 0), fault(address: 0xfff)],
            "kernel addresses": [fault(address: 0xffff_ffff_ffff_f000), fault(address: 0xffff_ffff_ffff_ffff),
                                 fault(address: 0), fault(address: 0xffff_ffff_ffff_f000), fault(address: 0x1000)],
            "addresses down then up per thread": [
                fault(tid: 1, address: 0x7fff_0000_0000), fault(tid: 2, address: 0x1000),
                fault(tid: 1, address: 0x7ffe_ffff_f000), fault(tid: 2, address: 0xffff_ffff_ffff_f000),
                fault(tid: 1, address: 0x7fff_0000_1fff), fault(tid: 2, address: 0x2000)],
            "time backwards and wrapping": [
                fault(time: 1_000), fault(time: 999), fault(time: 0), fault(time: UInt64.max),
                fault(time: 0), fault(time: 1 << 63), fault(time: (1 << 63) - 1), fault(time: UInt64.max)],
            "error codes": [fault(errorCode: nil), fault(errorCode: 0), fault(errorCode: 0xffff), fault(errorCode: 6),
                            fault(errorCode: 6), fault(errorCode: nil), fault(errorCode: nil), fault(errorCode: 0xfffe)],
            "service times": [fault(service: nil), fault(service: 0), fault(service: UInt64.max - 1), fault(service: 1),
                              fault(service: nil)],
            "signals": [fault(kind: .segv, signal: 11, code: 1), fault(kind: .segv, signal: 7, code: -1),
                        fault(kind: .segv, signal: 0, code: 0), fault(kind: .segv, signal: Int32.min, code: Int32.max),
                        fault(kind: .segv, signal: 0, code: 2), fault(kind: .anon), fault(kind: .segv, signal: 11, code: 1)],
            "same thread, other process": [fault(pid: 1, tid: 5), fault(pid: 2, tid: 5), fault(pid: 2, tid: 5),
                                           fault(pid: 1, tid: 5), fault(pid: 0, tid: 0)],
            "first fault of a chunk is pid 0 tid 0": [fault(pid: 0, tid: 0), fault(pid: 0, tid: 0, errorCode: 1)],
            "pids": [fault(pid: Int32.max, tid: Int32.max), fault(pid: Int32.max, tid: 1),
                     fault(pid: Int32.min, tid: Int32.max), fault(pid: -1, tid: 0), fault(pid: 0, tid: Int32.min)],
            "stack ids": [fault(stack: 0), fault(stack: UInt32.max), fault(stack: 0), fault(stack: 1),
                          fault(stack: UInt32.max - 1), fault(stack: 5)],
            "ip extremes": [fault(ip: UInt64.max), fault(ip: 0), fault(ip: 1 << 63), fault(ip: UInt64.max)],
        ]
        for (name, faults) in cases.sorted(by: { $0.key < $1.key }) {
            let path = dir.file("edge.flt")
            try writeLog(path, faults: faults)
            let log = try LoadedLog.load(path: path)
            XCTAssertNil(log.damage, name)
            for (i, (got, want)) in zip(log.faults, faults).enumerated() where got != want {
                XCTFail("\(name): fault \(i) differs:\n got  \(got)\n want \(want)")
            }
            XCTAssertEqual(log.faults.count, faults.count, name)
        }
    }

    /// Two deliberate limits of the fault coding, pinned so that a change to them is seen:
    /// a service time of UInt64.max is stored as UInt64.max - 1 (the stored value is
    /// time + 1, 0 meaning unknown), and only a segv fault stores its signal.
    func testServiceTimeSaturatesAndOnlySegvKeepsASignal() throws {
        let dir = try TempDirectory()
        var f = FaultEvent(pid: 1, tid: 1, timeNs: 0, address: 0, ip: 0, kind: .file, access: .read,
                           kernelMode: false, errorCode: nil, serviceNs: UInt64.max, signal: 11, signalCode: 1,
                           stack: .empty)
        try writeLog(dir.file("x.flt"), faults: [f])
        let got = try XCTUnwrap(try LoadedLog.load(path: dir.file("x.flt")).faults.first)
        XCTAssertEqual(got.serviceNs, UInt64.max - 1)
        XCTAssertEqual(got.signal, 0)
        XCTAssertEqual(got.signalCode, 0)
        f.serviceNs = UInt64.max - 1; f.signal = 0; f.signalCode = 0
        XCTAssertEqual(got, f)
    }

    func testEveryKindAccessAndFlagCombination() throws {
        let dir = try TempDirectory()
        var faults: [FaultEvent] = []
        for kind in FaultKind.allCases {
            for access in Access.allCases {
                for kernelMode in [false, true] {
                    for service in [nil, UInt64(7)] as [UInt64?] {
                        for signal in (kind == .segv ? [0, 11] : [0]) as [Int32] {
                            faults.append(FaultEvent(pid: 3, tid: 4, timeNs: UInt64(faults.count), address: 0x1000,
                                                     ip: 0x2000, kind: kind, access: access, kernelMode: kernelMode,
                                                     errorCode: 4, serviceNs: service, signal: signal,
                                                     signalCode: signal == 0 ? 0 : 1, stack: .empty))
                        }
                    }
                }
            }
        }
        try writeLog(dir.file("k.flt"), faults: faults)
        XCTAssertEqual(Array(try LoadedLog.load(path: dir.file("k.flt")).faults), faults)
    }
}
