// Flattening a log into the replay's event order: an exec's reset goes at the exec record,
// before the new image's mappings, the top of the new stack is taken as written by execve,
// and a fork child starts from its parent's pages.

import XCTest
import FaultlineAddressSpace
import FaultlineCore
import FaultlineLog
@testable import FaultlineReplay

final class ReplayInputTests: XCTestCase {
    let stackTop: UInt64 = 0x7ff0_0002_1000
    let anon: UInt64 = 0x7f00_0000_0000

    /// A log of command "x" (string 0) whose modules 0, 1, ... are `paths`.
    func log(modules paths: [String]) -> LoadedLog {
        var log = LoadedLog()
        var h = LogHeader(pageSize: 4096, thpMode: "madvise")
        h.command = ["x"]
        log.apply(.header(h))
        for (i, s) in (["x"] + paths).enumerated() { log.apply(.string(StringID(rawValue: UInt32(i)), s)) }
        for i in paths.indices {
            log.apply(.module(ModuleID(rawValue: UInt32(i)), Module(path: StringID(rawValue: UInt32(i + 1)), buildID: [])))
        }
        return log
    }

    /// The kernel's resident memory at exit is read from the log, but not of an attached
    /// recording: what the process mapped before the attach the model never saw.
    func testTheKernelsResidentMemoryIsTakenButNotOfAnAttachedRecording() {
        var launched = log()
        launched.apply(.kernelResident(KernelResident(pid: 100, anonBytes: 8192, fileBytes: 4096, shmemBytes: 0, peakBytes: 12288)))
        XCTAssertEqual(ReplayInput(log: launched).kernelResident[100]?.peakBytes, 12288)
        var attached = launched
        attached.header.extra["attached_pid"] = "100"
        XCTAssertTrue(ReplayInput(log: attached).kernelResident.isEmpty)
    }

    func log() -> LoadedLog {
        var log = log(modules: ["[stack]", "//anon"])
        func mmap(_ pid: Int32, _ t: UInt64, _ start: UInt64, _ len: UInt64, _ module: UInt32) {
            log.apply(.mmap(MmapEvent(pid: pid, timeNs: t, start: start, length: len, pageOffset: 0, prot: 3,
                                      flags: 2, inode: 0, module: ModuleID(rawValue: module))))
        }
        func fault(_ pid: Int32, _ t: UInt64, _ address: UInt64, _ kind: FaultKind, kernel: Bool = false) {
            log.apply(.fault(FaultEvent(pid: pid, tid: pid, timeNs: t, address: address, ip: 0, kind: kind, access: .write,
                                        kernelMode: kernel, errorCode: nil, serviceNs: nil, stack: .empty)))
        }
        log.apply(.process(ProcessEvent(pid: 100, ppid: 1, timeNs: 1, command: StringID(rawValue: 0))))
        mmap(100, 5, anon + 0x10_0000, 4096, 1)            // the old image: gone at exec
        log.apply(.exec(pid: 100, timeNs: 8, command: StringID(rawValue: 0)))
        mmap(100, 10, stackTop - 0x21000, 0x21000, 0)      // the new image's stack, then a mapping
        mmap(100, 11, anon, 16 * 4096, 1)
        fault(100, 12, anon, .anon, kernel: true)           // execve clearing memory
        fault(100, 21, stackTop - 3 * 4096 + 8, .anon)      // first stack fault: 2 pages above are written
        fault(100, 22, anon + 4096, .anon)
        log.apply(.process(ProcessEvent(pid: 101, ppid: 100, timeNs: 30, command: StringID(rawValue: 0))))
        fault(101, 31, anon, .cow)
        fault(101, 32, stackTop - 4096, .cow)               // execve's page, shared after fork
        fault(100, 33, anon + 4096, .cow)                   // the parent's pages are write-protected too
        fault(100, 34, anon + 0x10_0000, .anon)             // the old image's mapping is gone
        log.apply(.exit(ExitEvent(pid: 101, timeNs: 40, exitCode: 0, signal: 0)))
        return log
    }

    func testOrderAndSelfCheck() throws {
        let input = ReplayInput(log: log())
        let ops = Self.operations(of: input) { change in
            switch change.operation {
            case .fork: return "fork"
            case .exec: return "exec"
            case .exit: return "exit"
            case .mapping: return "mapping"
            case .change: return "change"
            }
        } fill: { _, _, _ in "populate" }
        XCTAssertEqual(ops, ["mapping", "exec", "mapping", "populate", "mapping", "fork", "exit"])
        XCTAssertEqual(input.execStackBytes, 2 * 4096)
        let config = try XCTUnwrap(SelfCheck.recordedConfig(of: input))
        let result = ReplayEngine(config: config, input: input).run()
        let check = SelfCheck(result: result, input: input)
        XCTAssertTrue(check.matches, "\(check.comparedRecorded) vs \(check.comparedReplayed) \(check.examples)")
        XCTAssertEqual(result.faults(.cow), 3)
        // The old image's page at anon+1M was not carried over the exec: an outside fault.
        XCTAssertEqual(result.outsideMappings, 1)
    }

    /// The input's changes, each named by `name`, with each exec's stack fill named by
    /// `fill` right after the change it follows, as the engine applies them.
    static func operations(of input: ReplayInput, _ name: (ReplayInput.Change) -> String,
                           fill: (Int32, UInt64, UInt64) -> String) -> [String] {
        var ops: [String] = [], cursor = 0
        for (n, change) in input.changes.enumerated() {
            ops.append(name(change))
            for run in input.execStackFills?.fill(afterChange: n, cursor: &cursor) ?? [] {
                ops.append(fill(change.process, run.lowerBound, run.upperBound))
            }
        }
        return ops
    }

    /// Each exec's stack fill goes right after its own stack's mapping, however many there
    /// are, the last change of the log too (a fill found for the wrong exec, or the wrong
    /// process's fault taken as a stack's first, shows here).
    func testEveryExecsStackFillFollowsItsStack() {
        var log = LoadedLog()
        log.apply(.header(LogHeader(pageSize: 4096, thpMode: "never")))
        for (i, s) in ["x", "[stack]"].enumerated() { log.apply(.string(StringID(rawValue: UInt32(i)), s)) }
        log.apply(.module(ModuleID(rawValue: 0), Module(path: StringID(rawValue: 1), buildID: [])))
        let pids: [Int32] = [100, 200, 300]
        for (n, pid) in pids.enumerated() {
            log.apply(.process(ProcessEvent(pid: pid, ppid: 1, timeNs: UInt64(n + 1), command: StringID(rawValue: 0))))
        }
        func top(_ n: Int) -> UInt64 { stackTop + UInt64(n) << 32 }
        for (n, pid) in pids.enumerated() {
            let t = UInt64(10 + 10 * n)
            log.apply(.exec(pid: pid, timeNs: t, command: StringID(rawValue: 0)))
            log.apply(.mmap(MmapEvent(pid: pid, timeNs: t + 1, start: top(n) - 0x21000, length: 0x21000, pageOffset: 0,
                                      prot: 3, flags: 2, inode: 0, module: ModuleID(rawValue: 0))))
        }
        for (n, pid) in pids.enumerated() {
            // The first fault in each stack, 2 + n pages below its top: 1 + n pages filled.
            log.apply(.fault(FaultEvent(pid: pid, tid: pid, timeNs: UInt64(100 + n), address: top(n) - UInt64(n + 2) * 4096 + 8,
                                        ip: 0, kind: .anon, access: .write, kernelMode: false, errorCode: nil, serviceNs: nil,
                                        stack: .empty)))
        }
        let input = ReplayInput(log: log)
        let ops = Self.operations(of: input) { change in
            switch change.operation {
            case .fork: return "fork"
            case .exec: return "exec \(input.pids[Int(change.process)])"
            case .mapping: return "mapping \(input.pids[Int(change.process)])"
            default: return "other"
            }
        } fill: { process, start, end in
            "populate \(input.pids[Int(process)]) \((end - start) / 4096) at \(String(end, radix: 16))"
        }
        XCTAssertEqual(ops, ["exec 100", "mapping 100", "populate 100 1 at \(String(top(0), radix: 16))",
                             "exec 200", "mapping 200", "populate 200 2 at \(String(top(1), radix: 16))",
                             "exec 300", "mapping 300", "populate 300 3 at \(String(top(2), radix: 16))"])
        XCTAssertEqual(input.execStackBytes, 6 * 4096)
    }

    /// Where the log has the pages the new stack held as the exec returned, those are the
    /// fill, less the ones the exec's own kernel-mode faults mapped (the tables, which the
    /// log already has as faults): not the inference's every page above the first stack
    /// fault, which takes in the unwritten page of a random gap.
    func testARecordedExecStackIsTheFillLessTheExecsOwnFaults() {
        var log = LoadedLog()
        log.apply(.header(LogHeader(pageSize: 4096, thpMode: "never")))
        for (i, s) in ["x", "[stack]"].enumerated() { log.apply(.string(StringID(rawValue: UInt32(i)), s)) }
        log.apply(.module(ModuleID(rawValue: 0), Module(path: StringID(rawValue: 1), buildID: [])))
        log.apply(.process(ProcessEvent(pid: 100, ppid: 1, timeNs: 1, command: StringID(rawValue: 0))))
        log.apply(.exec(pid: 100, timeNs: 10, command: StringID(rawValue: 0)))
        log.apply(.mmap(MmapEvent(pid: 100, timeNs: 11, start: stackTop - 0x21000, length: 0x21000, pageOffset: 0,
                                  prot: 3, flags: 2, inode: 0, module: ModuleID(rawValue: 0))))
        // The strings in the top page, a page of gap, the tables in the third page down.
        log.apply(.execStack(ExecStack(pid: 100, timeNs: 10, present: [stackTop - 0x3000..<stackTop - 0x2000,
                                                                       stackTop - 0x1000..<stackTop])))
        func fault(_ time: UInt64, _ address: UInt64, kernelMode: Bool) {
            log.apply(.fault(FaultEvent(pid: 100, tid: 100, timeNs: time, address: address, ip: 0, kind: .anon, access: .write,
                                        kernelMode: kernelMode, errorCode: nil, serviceNs: nil, stack: .empty)))
        }
        fault(12, stackTop - 0x3000 + 0x40, kernelMode: true)    // create_elf_tables' copy_to_user
        fault(20, stackTop - 0x4000 + 0x800, kernelMode: false)  // the program's first push below
        let input = ReplayInput(log: log)
        let ops = Self.operations(of: input) { change in
            if case .mapping = change.operation { return "mapping" }
            return "other"
        } fill: { _, start, end in
            "populate \((end - start) / 4096) at \(String(end, radix: 16))"
        }
        XCTAssertEqual(ops, ["other", "mapping", "populate 1 at \(String(stackTop, radix: 16))"],
                       "the strings' page only: the tables' page has its fault, the gap's nothing")
        XCTAssertEqual(input.execStackBytes, 4096)
        XCTAssertEqual(input.execStackRecordedBytes, 4096)

        let r = ReplayEngine(config: config(.k4, .never), input: input).run()
        XCTAssertEqual(r.faults(.anon), 3, "both recorded faults replay as faults, and the strings' page fills")
        XCTAssertEqual(r.filledFaults, 1)
        XCTAssertEqual(r.noFault, 0)
        XCTAssertEqual(r.finalResidentBytes, 3 * 4096, "strings, tables and the first push: not the gap")
    }

    /// The stack's first fault is found however many faults come between it and the exec:
    /// among the first few (read one at a time), just past them, or many blocks later; and
    /// not past ExecStackFills.lookahead. The faults in between are another process's
    /// stack pages and this process's own other memory, which must not be taken for it.
    func testStackFillFoundAnyDistanceAfterTheExec() {
        let look = ExecStackFills.firstLook
        for between in [0, look - 1, look, look + 1, 3 * 256 + 17, ExecStackFills.lookahead] {
            var log = LoadedLog()
            log.apply(.header(LogHeader(pageSize: 4096, thpMode: "never")))
            for (i, s) in ["x", "[stack]", "//anon"].enumerated() { log.apply(.string(StringID(rawValue: UInt32(i)), s)) }
            log.apply(.module(ModuleID(rawValue: 0), Module(path: StringID(rawValue: 1), buildID: [])))
            log.apply(.module(ModuleID(rawValue: 1), Module(path: StringID(rawValue: 2), buildID: [])))
            for pid: Int32 in [100, 200] {
                log.apply(.process(ProcessEvent(pid: pid, ppid: 1, timeNs: UInt64(pid), command: StringID(rawValue: 0))))
            }
            log.apply(.exec(pid: 100, timeNs: 1_000, command: StringID(rawValue: 0)))
            log.apply(.mmap(MmapEvent(pid: 100, timeNs: 1_001, start: stackTop - 0x21000, length: 0x21000, pageOffset: 0,
                                      prot: 3, flags: 2, inode: 0, module: ModuleID(rawValue: 0))))
            log.apply(.mmap(MmapEvent(pid: 100, timeNs: 1_002, start: anon, length: 0x1000_0000, pageOffset: 0,
                                      prot: 3, flags: 0x22, inode: 0, module: ModuleID(rawValue: 1))))
            var t: UInt64 = 2_000
            func fault(_ pid: Int32, _ address: UInt64) {
                log.apply(.fault(FaultEvent(pid: pid, tid: pid, timeNs: t, address: address, ip: 0, kind: .anon, access: .write,
                                            kernelMode: false, errorCode: nil, serviceNs: nil, stack: .empty)))
                t += 1
            }
            for k in 0..<between {
                // Process 200 in "its" stack at the same addresses; process 100 elsewhere.
                if k % 2 == 0 { fault(200, stackTop - 4096 * UInt64(k % 30 + 1)) } else { fault(100, anon + 4096 * UInt64(k)) }
            }
            fault(100, stackTop - 5 * 4096 + 8)   // the first stack fault: 4 pages above it filled
            let input = ReplayInput(log: log)
            let expected: UInt64 = between < ExecStackFills.lookahead ? 4 * 4096 : 0
            XCTAssertEqual(input.execStackBytes, expected, "\(between) faults between the exec and the stack's first")
        }
    }

    /// Process 7 of a log recorded at 4k with THP never, with `pages` pages of anonymous
    /// memory at `anon`.
    func oneProcessLog(pages: UInt64) -> LoadedLog {
        var log = LoadedLog()
        log.apply(.header(LogHeader(pageSize: 4096, thpMode: "never")))
        log.apply(.string(StringID(rawValue: 0), "//anon"))
        log.apply(.module(ModuleID(rawValue: 0), Module(path: StringID(rawValue: 0), buildID: [])))
        log.apply(.process(ProcessEvent(pid: 7, ppid: 1, timeNs: 1, command: StringID(rawValue: 0))))
        log.apply(.mmap(MmapEvent(pid: 7, timeNs: 2, start: anon, length: pages * 4096, pageOffset: 0, prot: 3,
                                  flags: 0x22, inode: 0, module: ModuleID(rawValue: 0))))
        return log
    }

    /// A swap-in, to the model, is an access to a page it still holds (it has no memory
    /// pressure): no fault, and the self-check leaves it out, saying how many.
    func testSwapInsAreAccessesToPagesTheModelHolds() throws {
        var log = oneProcessLog(pages: 8)
        for (i, kind) in [FaultKind.anon, .anon, .anon, .swap, .swap, .swap].enumerated() {
            log.apply(.fault(FaultEvent(pid: 7, tid: 7, timeNs: 10 + UInt64(i), address: anon + UInt64(i % 3) * 4096, ip: 0,
                                        kind: kind, access: kind == .swap ? .read : .write, kernelMode: false, errorCode: 6,
                                        serviceNs: 1, stack: .empty, pageShift: 12, swapFromDisk: i == 5)))
        }
        let input = ReplayInput(log: log)
        let config = try XCTUnwrap(SelfCheck.recordedConfig(of: input))
        let result = ReplayEngine(config: config, input: input).run()
        let check = SelfCheck(result: result, input: input)
        XCTAssertTrue(check.matches)
        XCTAssertEqual(check.excludedSwap, 3)
        XCTAssertEqual(check.outcome(recorded: .swap, replayed: nil), 3, "each swap-in found its page there")
        XCTAssertEqual(result.faults(.anon), 3)
        XCTAssertEqual(result.faults(.swap), 0, "the model never swaps")
        XCTAssertTrue(check.text().contains("not compared: 3 swap-ins"), check.text())
    }

    /// Threads racing to fill one page: the loser is recorded as `other`, and may be stamped
    /// before the winner (node's garbage collector did this 3 times in 62,539 faults, and the
    /// self-check said DIFFERS: anon +3). The model fills the page in the earlier fault;
    /// the pair is still one anon fault and one repeat, which the kernel called `other`.
    func testARaceWhoseLoserIsStampedFirstIsOneFaultAndARepeat() throws {
        var log = oneProcessLog(pages: 16)
        // (time, thread, page, recorded kind)
        let faults: [(UInt64, Int32, UInt64, FaultKind)] = [
            (10, 7, 0, .anon),                                  // no race
            (20, 7, 1, .other), (21, 8, 1, .anon),              // the loser first
            (30, 7, 2, .other), (31, 8, 2, .other), (32, 9, 2, .anon),   // two losers first
            (40, 8, 3, .anon), (41, 7, 3, .other),              // the winner first: a plain repeat
        ]
        for (t, tid, page, kind) in faults {
            log.apply(.fault(FaultEvent(pid: 7, tid: tid, timeNs: t, address: anon + page * 4096 + 8, ip: 0, kind: kind,
                                        access: .write, kernelMode: false, errorCode: 6, serviceNs: 1, stack: .empty,
                                        pageShift: 12)))
        }
        let input = ReplayInput(log: log)
        let config = try XCTUnwrap(SelfCheck.recordedConfig(of: input))
        let result = ReplayEngine(config: config, input: input).run()
        XCTAssertEqual(result.faults(.anon), 4, "the model fills each page once")
        let check = SelfCheck(result: result, input: input)
        XCTAssertTrue(check.matches, "\(check.comparedRecorded) vs \(check.comparedReplayed) \(check.examples)")
        XCTAssertEqual(check.comparedRecorded[Int(FaultKind.anon.rawValue)], 4)
        XCTAssertEqual(check.excludedRepeats[Int(FaultKind.other.rawValue)], 4, "every `other` is the repeat")
        XCTAssertEqual(check.excludedRepeats[Int(FaultKind.anon.rawValue)], 0)
        XCTAssertEqual(check.outcome(recorded: .anon, replayed: .anon), 4)
        XCTAssertEqual(check.outcome(recorded: .other, replayed: nil), 4)
        XCTAssertEqual(check.outcome(recorded: .other, replayed: .anon), 0)
        XCTAssertEqual(check.examples, [], "no difference left to show")
    }

    /// A write that lost a huge page to another thread's read (the huge zero page) and
    /// retried: the kernel took the read's zero fault, then the write's cow, the loser's own
    /// fault being `other`. In time order the model fills the huge page with the write (anon)
    /// and finds it there for both. One race: it matches, the loser as the repeat. A read
    /// alone after a losing write stays a difference (testAnOtherWithoutARacingFillStaysADifference).
    func testAWriteThatLostAHugePageToAReadIsAZeroAndACow() throws {
        var log = LoadedLog()
        log.apply(.header(LogHeader(pageSize: 4096, thpMode: "always")))
        log.apply(.string(StringID(rawValue: 0), "//anon"))
        log.apply(.module(ModuleID(rawValue: 0), Module(path: StringID(rawValue: 0), buildID: [])))
        log.apply(.process(ProcessEvent(pid: 7, ppid: 1, timeNs: 1, command: StringID(rawValue: 0))))
        log.apply(.mmap(MmapEvent(pid: 7, timeNs: 2, start: anon, length: 4 << 20, pageOffset: 0, prot: 3,
                                  flags: 0x22, inode: 0, module: ModuleID(rawValue: 0))))
        // (time, thread, address, recorded kind, access, error code)
        let faults: [(UInt64, Int32, UInt64, FaultKind, Access, UInt16)] = [
            (20, 7, anon + 0xdf000, .other, .write, 6),            // allocating a THP, stalls 0.4 s, loses
            (211_000_020, 8, anon + 0x80000, .zero, .read, 4),     // maps the huge zero page meanwhile
            (396_000_020, 7, anon + 0xdf000, .cow, .write, 7),     // the retry copies it
            (400_000_000, 8, anon + (2 << 20), .anon, .write, 6),  // no race
        ]
        for (t, tid, address, kind, access, code) in faults {
            log.apply(.fault(FaultEvent(pid: 7, tid: tid, timeNs: t, address: address, ip: 0, kind: kind, access: access,
                                        kernelMode: false, errorCode: code, serviceNs: 1, stack: .empty, pageShift: 21)))
        }
        let input = ReplayInput(log: log)
        let config = try XCTUnwrap(SelfCheck.recordedConfig(of: input))
        let result = ReplayEngine(config: config, input: input).run()
        XCTAssertEqual(result.faults(.anon), 2, "the model fills each huge page once")
        let check = SelfCheck(result: result, input: input)
        XCTAssertTrue(check.matches, "\(check.comparedRecorded) vs \(check.comparedReplayed) \(check.examples)")
        XCTAssertEqual(check.outcome(recorded: .zero, replayed: .zero), 1)
        XCTAssertEqual(check.outcome(recorded: .cow, replayed: .cow), 1)
        XCTAssertEqual(check.outcome(recorded: .other, replayed: nil), 1)
        XCTAssertEqual(check.outcome(recorded: .other, replayed: .anon), 0)
        XCTAssertEqual(check.excludedRepeats[Int(FaultKind.other.rawValue)], 1)
        XCTAssertEqual(check.excludedRepeats[Int(FaultKind.zero.rawValue)], 0)
        XCTAssertEqual(check.examples, [], "no difference left to show")
    }

    /// Two races, one after the other, on pages that share the tally's slot (pages 65,536
    /// apart): the second is paired as the first was.
    func testRacesOneAfterAnotherInOneSlotArePairedEach() throws {
        var log = oneProcessLog(pages: 65_536 + 16)
        for (t, tid, page, kind) in [(UInt64(20), Int32(7), UInt64(1), FaultKind.other), (21, 8, 1, .anon),
                                     (5_000_000, 7, 65_537, .other), (5_000_001, 8, 65_537, .anon)] {
            log.apply(.fault(FaultEvent(pid: 7, tid: tid, timeNs: t, address: anon + page * 4096, ip: 0, kind: kind,
                                        access: .write, kernelMode: false, errorCode: 6, serviceNs: 1, stack: .empty,
                                        pageShift: 12)))
        }
        let input = ReplayInput(log: log)
        let config = try XCTUnwrap(SelfCheck.recordedConfig(of: input))
        let check = SelfCheck(result: ReplayEngine(config: config, input: input).run(), input: input)
        XCTAssertTrue(check.matches, "\(check.comparedRecorded) vs \(check.comparedReplayed) \(check.examples)")
        XCTAssertEqual(check.outcome(recorded: .other, replayed: nil), 2)
        XCTAssertEqual(check.excludedRepeats[Int(FaultKind.other.rawValue)], 2)
    }

    /// An `other` the model fills with no fault after it to pair with stays a difference:
    /// the pairing does not hide what the model got wrong.
    func testAnOtherWithoutARacingFillStaysADifference() throws {
        var log = oneProcessLog(pages: 16)
        // The filler two milliseconds later is no race (nor is the repeat after it), and a read
        // is no fill the loser missed.
        for (t, page, kind, access) in [(UInt64(10), UInt64(0), FaultKind.other, Access.write), (2_000_010, 0, .anon, .write),
                                        (2_000_020, 0, .anon, .write), (20, 1, .other, .write), (21, 1, .zero, .read)] {
            log.apply(.fault(FaultEvent(pid: 7, tid: 7, timeNs: t, address: anon + page * 4096, ip: 0, kind: kind,
                                        access: access, kernelMode: false, errorCode: access == .write ? 6 : 4,
                                        serviceNs: 1, stack: .empty, pageShift: 12)))
        }
        let input = ReplayInput(log: log)
        let config = try XCTUnwrap(SelfCheck.recordedConfig(of: input))
        let check = SelfCheck(result: ReplayEngine(config: config, input: input).run(), input: input)
        XCTAssertFalse(check.matches)
        XCTAssertEqual(check.outcome(recorded: .other, replayed: .anon), 2)
        XCTAssertEqual(check.examples.filter { $0.recorded == .other }.count, 2)
        XCTAssertEqual(check.excludedRepeats[Int(FaultKind.other.rawValue)], 0)
        XCTAssertEqual(check.excludedRepeats[Int(FaultKind.anon.rawValue)], 1, "the late fault's repeat is its own")
        XCTAssertEqual(check.excludedRepeats[Int(FaultKind.zero.rawValue)], 1)
    }

    /// A process that read the host's THP setting (madvise here) may have chosen by it, as
    /// Redis does: the columns at other modes say so, naming it once however often it read;
    /// the host's own mode does not, and the model's answer is the same as without the read.
    func testReadingTheTHPSettingWarnsAtOtherModes() throws {
        var read = log()
        for t: UInt64 in [9, 23] {
            read.apply(.addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: t, change: .readTHPSetting)))
        }
        let input = ReplayInput(log: read), plain = ReplayInput(log: log())
        XCTAssertEqual(input.thpSettingReaders, [100])
        XCTAssertEqual(plain.thpSettingReaders, [])
        func warnings(_ input: ReplayInput, _ modes: [THPMode]) throws -> [String] {
            try ReplaySweep.run(input: input, configs: modes.map { config(.k4, $0) }, tlb: nil, source: .recordedFaults,
                                selfCheck: false, log: true).warnings.filter { $0.contains("THP setting") }
        }
        XCTAssertEqual(try warnings(input, [.madvise]), [], "the host's own mode is what the program saw")
        let other = try warnings(input, [.madvise, .always])
        XCTAssertEqual(other.count, 1, "\(other)")
        XCTAssertTrue(other[0].hasPrefix("pid 100 read the host's THP setting (madvise)"), other[0])
        XCTAssertTrue(other[0].contains("thp=always columns"), other[0])
        XCTAssertEqual(try warnings(plain, [.madvise, .always]), [])
        let report = try ReplaySweep.run(input: input, configs: [config(.k4, .always)], tlb: nil, source: .recordedFaults,
                                         selfCheck: false, log: true)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(report.renderJSON().utf8)) as? [String: Any])
        XCTAssertEqual(json["thp_setting_readers"] as? [Int], [100])
        for mode in THPMode.allCases {
            let a = ReplayEngine(config: config(.k4, mode), input: input).run()
            let b = ReplayEngine(config: config(.k4, mode), input: plain).run()
            XCTAssertEqual(a.counts, b.counts, "\(mode)")
            XCTAssertEqual(a.peakResidentBytes, b.peakResidentBytes, "\(mode)")
        }
    }

    /// A module's name is read again whenever its flags or inode change: the same file
    /// mapped shared and private, with MAP_STACK, locked, without an inode (a deleted file
    /// reads as anonymous) and as /dev/zero must each read as a record of its own would.
    func testMappingRecordsOfOneModuleReadAsEachRecordAlone() {
        var log = log(modules: ["/usr/lib/libfoo.so", "/dev/zero"])
        log.apply(.process(ProcessEvent(pid: 100, ppid: 1, timeNs: 1, command: StringID(rawValue: 0))))
        // Each record's flags or inode differ from the one before it of its module.
        let shapes: [(flags: UInt32, inode: UInt64, module: UInt32)] = [
            (2, 7, 0), (MapFlags.shared, 7, 0), (2, 7, 0), (2 | MapFlags.stack, 7, 0), (MapFlags.shared, 7, 0), (MapFlags.shared, 0, 0),
            (2 | MapFlags.locked | MapFlags.noReserve, 7, 0), (2, 7, 0), (2, 0, 0), (MapFlags.shared, 9, 1), (2, 9, 1),
        ]
        var events: [MmapEvent] = []
        for (k, shape) in shapes.enumerated() {
            let m = MmapEvent(pid: 100, timeNs: 10 + UInt64(k), start: anon + UInt64(k) << 20, length: 4096 * UInt64(k + 1),
                              pageOffset: UInt64(k) * 4096, prot: 1 + UInt32(k % 3), flags: shape.flags, inode: shape.inode,
                              module: ModuleID(rawValue: shape.module))
            log.apply(.mmap(m))
            events.append(m)
        }
        let input = ReplayInput(log: log)
        XCTAssertEqual(input.mappings.count, shapes.count)
        let kernel = KernelBehaviour(release: log.header.kernelRelease)
        for (k, m) in events.enumerated() {
            let alone = VMA(m, name: log.modulePath(m.module), label: Int32(k), kernel: kernel)
            XCTAssertEqual(input.mappings[k].vma, alone, "record \(k)")
        }
        // The readings differ where the records do.
        XCTAssertEqual(input.mappings.map(\.vma.backing),
                       [.filePrivate, .fileShared, .filePrivate, .filePrivate, .fileShared, .sharedMemory,
                        .filePrivate, .filePrivate, .anonymous, .sharedMemory, .anonymous])
    }

    /// perf announces each growth of the break as a mapping of its own; smaps shows the heap
    /// as one VMA. The growths are one row, whose peak is the heap's, and a new image's heap
    /// after an exec is a row of its own.
    func testAHeapsGrowthsAreOneRowAndAnExecStartsAnother() throws {
        var log = log(modules: ["//anon"])
        let heap: UInt64 = 0x5555_0000_0000, page: UInt64 = 4096
        var t: UInt64 = 0
        func tick() -> UInt64 { t += 1; return t }
        func brk(_ asked: UInt64, _ got: UInt64) {
            log.apply(.addressSpace(AddressSpaceEvent(pid: 100, tid: 100, timeNs: tick(), change: .brk(requested: asked, result: got))))
        }
        func grow(from start: UInt64, pages: UInt64) {
            log.apply(.mmap(MmapEvent(pid: 100, timeNs: tick(), start: start, length: pages * page, pageOffset: 0, prot: 3,
                                      flags: 2, inode: 0, module: ModuleID(rawValue: 0))))
            brk(start + pages * page, start + pages * page)
        }
        func write(_ address: UInt64) {
            log.apply(.fault(FaultEvent(pid: 100, tid: 100, timeNs: tick(), address: address, ip: 0, kind: .anon, access: .write,
                                        kernelMode: false, errorCode: nil, serviceNs: nil, stack: .empty)))
        }
        log.apply(.process(ProcessEvent(pid: 100, ppid: 1, timeNs: tick(), command: StringID(rawValue: 0))))
        brk(0, heap)
        grow(from: heap, pages: 3)
        for i in 0..<3 { write(heap + UInt64(i) * page) }
        grow(from: heap + 3 * page, pages: 2)
        for i in 3..<5 { write(heap + UInt64(i) * page) }
        log.apply(.exec(pid: 100, timeNs: tick(), command: StringID(rawValue: 0)))
        let next = heap + 0x1000_0000
        brk(0, next)
        grow(from: next, pages: 1)
        write(next)
        log.nameInitialHeaps()

        let input = ReplayInput(log: log)
        let config = try XCTUnwrap(SelfCheck.recordedConfig(of: input))
        let rows = ReplayEngine(config: config, input: input).run().mappings.filter { $0.name == "[heap]" }
        XCTAssertEqual(rows.map(\.start), [heap, next], "\(rows)")
        XCTAssertEqual(rows.map(\.end), [heap + 5 * page, next + page])
        XCTAssertEqual(rows.map(\.faults), [5, 1])
        XCTAssertEqual(rows.map(\.peakResidentBytes), [5 * page, page])
    }
}
