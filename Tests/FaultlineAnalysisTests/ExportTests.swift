import Foundation
import XCTest
import FaultlineTestSupport
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class ExportTests: FixtureTestCase {
    private func export(_ name: String = #function) throws -> [[String: Any]] {
        let logPath = FixtureLog.temporaryPath("\(name).flt")
        try FixtureLog.write(to: logPath)
        let outPath = FixtureLog.temporaryPath("\(name).jsonl")
        let out = try BufferedOutput(path: outPath)
        let written = try JSONLExporter(timeline: try Timeline.load(path: logPath), symbolizer: NullSymbolizer()).write(to: out)
        try out.close()
        let text = try String(contentsOfFile: outPath, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.last, "", "the last record ends with a newline")
        XCTAssertEqual(written, lines.count - 1)
        return try lines.dropLast().map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
        }
    }

    func testOneLinePerRecordInTimeOrder() throws {
        let records = try export()
        // 31 faults, 7 mmaps, 2 process records, 1 exec, 2 exits.
        XCTAssertEqual(records.count, 43)
        var byType: [String: Int] = [:]
        for r in records { byType[r["type"] as? String ?? "none", default: 0] += 1 }
        XCTAssertEqual(byType, ["fault": 31, "mmap": 7, "fork": 2, "exec": 1, "exit": 2])
        let times = records.map { $0["time_ns"] as? Int ?? -1 }
        XCTAssertEqual(times, times.sorted())
        XCTAssertEqual(records.first?["type"] as? String, "fork")
        XCTAssertEqual(records.last?["type"] as? String, "exit")
    }

    func testFaultFields() throws {
        let faults = try export().filter { $0["type"] as? String == "fault" }
        let first = try XCTUnwrap(faults.first)
        XCTAssertEqual(first["pid"] as? Int, 100)
        XCTAssertEqual(first["tid"] as? Int, 100)
        XCTAssertEqual(first["time_ns"] as? Int, 2_000)
        XCTAssertEqual(first["address"] as? String, "0x1000000")
        XCTAssertEqual(first["ip"] as? String, "0x401000")
        XCTAssertEqual(first["kind"] as? String, "anon")
        XCTAssertEqual(first["access"] as? String, "write")
        XCTAssertEqual(first["kernel_mode"] as? Bool, false)
        XCTAssertEqual(first["error_code"] as? Int, 6)
        XCTAssertEqual(first["service_ns"] as? Int, 500)
        XCTAssertNil(first["signal"], "only segv faults carry a signal")
        let stack = try XCTUnwrap(first["stack"] as? [[String: Any]])
        XCTAssertEqual(stack.count, 2)
        XCTAssertEqual(stack[checked: 0]?["function"] as? String, "fill")
        XCTAssertEqual(stack[checked: 0]?["file"] as? String, "prog.c")
        XCTAssertEqual(stack[checked: 0]?["line"] as? Int, 20)
        XCTAssertEqual(stack[checked: 0]?["module"] as? String, "/usr/bin/prog")
        XCTAssertEqual(stack[checked: 1]?["function"] as? String, "main")

        let segv = try XCTUnwrap(faults.first { $0["kind"] as? String == "segv" })
        XCTAssertEqual(segv["address"] as? String, "0x10")
        XCTAssertEqual(segv["signal"] as? Int, 11)
        XCTAssertEqual(segv["si_code"] as? Int, 1)
        XCTAssertTrue(segv["service_ns"] is NSNull)
        let segvStack = try XCTUnwrap(segv["stack"] as? [[String: Any]])
        XCTAssertEqual(segvStack[checked: 0]?["function"] as? String, "0xdead0")
        XCTAssertNil(segvStack[checked: 0]?["module"], "an absolute frame has no module")

        let kernel = faults.filter { $0["kernel_mode"] as? Bool == true }
        XCTAssertEqual(kernel.count, 2)
        XCTAssertEqual(kernel[checked: 0]?["error_code"] as? Int, 2)
        let memset = try XCTUnwrap((kernel[checked: 0]?["stack"] as? [[String: Any]])?.first)
        XCTAssertEqual(memset["function"] as? String, "memset")
        XCTAssertNil(memset["file"], "no file recorded for memset")
        XCTAssertNil(memset["line"])
        XCTAssertEqual(memset["module"] as? String, "/usr/lib/libc.so.6")
    }

    func testAddressSpaceAndProcessRecords() throws {
        let records = try export()
        let heap = try XCTUnwrap(records.first { $0["path"] as? String == "[heap]" })
        XCTAssertEqual(heap["type"] as? String, "mmap")
        XCTAssertEqual(heap["pid"] as? Int, 100)
        XCTAssertEqual(heap["time_ns"] as? Int, 1_300)
        XCTAssertEqual(heap["address"] as? String, "0x1000000")
        XCTAssertEqual(heap["length"] as? Int, 0x100000)
        XCTAssertEqual(heap["offset"] as? Int, 0)
        XCTAssertEqual(heap["prot"] as? Int, 3)
        XCTAssertEqual(heap["flags"] as? Int, 2)

        let exec = try XCTUnwrap(records.first { $0["type"] as? String == "exec" })
        XCTAssertEqual(exec["pid"] as? Int, 100)
        XCTAssertEqual(exec["time_ns"] as? Int, 1_050)
        XCTAssertEqual(exec["command"] as? String, "./prog")

        let forks = records.filter { $0["type"] as? String == "fork" }
        XCTAssertEqual(forks.map { $0["pid"] as? Int }, [100, 101])
        XCTAssertEqual(forks[checked: 1]?["ppid"] as? Int, 100)
        XCTAssertEqual(forks[checked: 1]?["time_ns"] as? Int, 5_000)
        XCTAssertEqual(forks[checked: 1]?["command"] as? String, "prog")

        let exits = records.filter { $0["type"] as? String == "exit" }
        XCTAssertEqual(exits.map { $0["pid"] as? Int }, [101, 100])
        XCTAssertEqual(exits[checked: 1]?["exit_code"] as? Int, 137)
        XCTAssertEqual(exits[checked: 1]?["signal"] as? Int, 9)
        XCTAssertEqual(exits[checked: 0]?["exit_code"] as? Int, 0)
    }

    func testOutOfOrderEventsAreSortedStably() {
        // In log order: fault 0 at 5, mmap 0 at 3, fault 1 at 5, fork at 3, fault 2 at 1,
        // mmap 1 at 5 (after faults 0 and 1 at its time), fault 3 at 5, exit at 0.
        var log = LoadedLog()
        func fault(_ t: UInt64) {
            log.apply(.fault(FaultEvent(pid: 1, tid: 1, timeNs: t, address: 0x1000, ip: 0, kind: .anon, access: .write,
                                        kernelMode: false, errorCode: nil, serviceNs: nil, stack: .empty)))
        }
        func mmap(_ t: UInt64) {
            log.apply(.mmap(MmapEvent(pid: 1, timeNs: t, start: 0x1000, length: 4096, pageOffset: 0, prot: 3, flags: 2,
                                      inode: 0, module: ModuleID(rawValue: 0))))
        }
        fault(5); mmap(3); fault(5)
        log.apply(.process(ProcessEvent(pid: 1, ppid: 0, timeNs: 3, command: StringID(rawValue: 0))))
        fault(1); mmap(5); fault(5)
        log.apply(.exit(ExitEvent(pid: 1, timeNs: 0, exitCode: 0, signal: 0)))
        let timeline = Timeline(log: log)
        XCTAssertEqual(timeline.entries, [.lifecycle(1), .fault(2), .mmap(0), .lifecycle(0), .fault(0), .fault(1),
                                          .mmap(1), .fault(3)])
        XCTAssertEqual(timeline.entryCount, 8)
        var faultTimes: [UInt64] = []
        timeline.forEachEntry { entry, fault in
            if case .fault = entry { faultTimes.append(fault!.timeNs) } else { XCTAssertNil(fault) }
        }
        XCTAssertEqual(faultTimes, [1, 5, 5, 5])
    }

    func testStringEscaping() {
        var bytes: [UInt8] = []
        JSONBytes.appendQuoted("a\"b\\c\nd\u{1}é", to: &bytes)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "\"a\\\"b\\\\c\\nd\\u0001é\"")
    }

    func testUnwritableOutputIsAnError() {
        XCTAssertThrowsError(try BufferedOutput(path: "/nonexistent-dir/out.jsonl")) { error in
            XCTAssertEqual(Diagnostics.failureMessage(error),
                           "cannot write /nonexistent-dir/out.jsonl: No such file or directory")
        }
    }
}
