// The recorder reads each process's resident memory as it exits (RssAnon, RssFile,
// RssShmem), and the self-check's replay counts its own at that moment: on samples whose
// pages all come from faults the two agree, and where the kernel mapped file pages no fault
// shows (a large page-cache folio mapped whole), the self-check says so.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineCore
import FaultlineLog
import FaultlineReplay

final class ResidentAtExitOracleTests: XCTestCase {
    func residentAtExit(_ run: SampleRun, file: StaticString = #filePath, line: UInt = #line) throws -> (ResidentAtExit, SelfCheck) {
        let input = ReplayInput(log: run.log)
        let config = try XCTUnwrap(SelfCheck.recordedConfig(of: input), file: file, line: line)
        let result = ReplayEngine(config: config, input: input).run()
        return (result.residentAtExit, SelfCheck(result: result, input: input))
    }

    /// Each kind within 64 KiB and 1% of the kernel's (they came out equal to the page on
    /// each of these).
    func testTheModelsMemoryAtEachExitIsTheKernels() throws {
        for (sample, args) in [("cow_fork", []), ("dev_zero", []), ("page_cache", []), ("thread_storm", ["64", "4"]),
                               ("stack_growth", []), ("private_file_write", []), ("thp_shapes", ["shared_reads", "8"])] {
            let run = try Samples.record(sample, args)
            let measured = run.log.processes.values.filter { $0.kernelResident != nil }.count
            XCTAssertGreaterThan(measured, 0, "\(sample): the recorder read no process's resident memory")
            let (r, check) = try residentAtExit(run)
            XCTAssertEqual(r.processes, measured, sample)
            for (kind, kernel, model) in [("anon", r.kernel.anon, r.model.anon), ("file", r.kernel.file, r.model.file),
                                          ("shmem", r.kernel.shmem, r.model.shmem)] {
                XCTAssertLessThanOrEqual(max(kernel, model) - min(kernel, model), 64 * 1024 + kernel / 100,
                                         "\(sample) \(kind): the kernel had \(kernel) bytes, the model \(model)")
            }
            if let kernelPeak = r.kernelPeak, let modelPeak = r.modelPeak {
                // VmHWM is raised only now and then (at an unmap, at exit), from counters the
                // kernel keeps per CPU: a little below the true peak at times.
                XCTAssertLessThanOrEqual(max(kernelPeak, modelPeak) - min(kernelPeak, modelPeak), 256 * 1024 + kernelPeak / 100,
                                         "\(sample) peak: the kernel's VmHWM \(kernelPeak), the model's \(modelPeak)")
            } else {
                XCTAssertGreaterThan(run.log.processes.count, 1, "\(sample): one process, and no peak compared")
            }
            XCTAssertFalse(check.notes.contains { $0.contains("memory mapped at exit") || $0.contains("peak resident memory") },
                           "\(sample): \(check.notes)")
        }
    }

    /// A shell loop's execs, each with a new stack that execve wrote without a fault: the
    /// recorder logs the pages each held as the exec returned, and the model's anonymous
    /// memory at every exit is the kernel's to the byte. (Inferred from the first stack
    /// fault instead, one exec in four came out a page over: the kernel's random gap of up
    /// to 8 KiB between the strings and the tables leaves a page unwritten.)
    func testEveryExecsNewStackIsTheKernels() throws {
        let run = try Samples.recordCommand(["/bin/bash", "-c", "for i in $(seq 100); do /bin/true; done"])
        let execs = run.log.lifecycle.filter { if case .exec = $0 { return true } else { return false } }.count
        XCTAssertGreaterThanOrEqual(execs, 100)
        XCTAssertEqual(run.log.execStacks.count, execs, "one record of the new stack's pages for each exec")
        let (r, check) = try residentAtExit(run)
        XCTAssertGreaterThan(r.processes, 100)
        XCTAssertEqual(r.model.anon, r.kernel.anon, "anonymous memory at the exits: the model's against the kernel's")
        XCTAssertTrue(check.notes.contains { $0.contains("as the page table showed them at each exec") }, "\(check.notes)")
        XCTAssertTrue(check.matches, "\(check.examples)")
    }

    /// An 8 MiB file written a megabyte at a time and read through a mapping: where the
    /// page cache holds it in large folios, the first read maps a folio whole (the sample
    /// measures it in its smaps), and the kernel's file memory at exit is the file's 8 MiB
    /// where the faults show far less.
    func testFileMemoryTheKernelMappedWithoutAFaultIsNoted() throws {
        let run = try Samples.record("file_folios")
        let oracle = try XCTUnwrap(run.stdout.split(separator: "\n").compactMap { sampleLineFields($0, tag: "ORACLE") }.first,
                                   "no ORACLE line: \(run.stdout)")
        let first = try XCTUnwrap(oracle["first_read_kb"].flatMap { UInt64($0) })
        XCTAssertEqual(oracle["rss_kb"], "8192", "every page of the file mapped")
        try XCTSkipIf(first <= 64, "this kernel and filesystem map 64 KiB a read fault (fault-around alone): no large folio to catch")
        let (r, check) = try residentAtExit(run)
        XCTAssertGreaterThanOrEqual(r.kernel.file, 8 << 20, "the kernel's RssFile holds the whole file")
        XCTAssertLessThan(r.model.file + (4 << 20), r.kernel.file, "the model maps what the faults show")
        XCTAssertTrue(check.notes.contains { $0.contains("file memory mapped at exit") }, "\(check.notes)")
        XCTAssertLessThan(try XCTUnwrap(r.modelPeak) + (4 << 20), try XCTUnwrap(r.kernelPeak), "the peak as well")
        XCTAssertTrue(check.notes.contains { $0.contains("peak resident memory") }, "\(check.notes)")
    }
}
