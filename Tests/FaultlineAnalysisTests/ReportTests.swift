import XCTest
import FaultlineTestSupport
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class ReportTests: FixtureTestCase {
    private func report(_ groupings: [Grouping] = ReportOptions.defaultGroupings,
                        filter: FaultKindFilter? = nil, top: Int = 10, name: String = #function) throws -> FaultReport {
        let log = try FixtureLog.load(name)
        return FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer()),
                           options: ReportOptions(groupings: groupings, filter: filter, top: top))
    }

    private func rows(_ section: GroupSection) -> [String: UInt64] {
        Dictionary(uniqueKeysWithValues: section.rows.map { ($0.name, $0.count) })
    }

    func testTotalsByKind() throws {
        let r = try report()
        XCTAssertEqual(r.totals[.anon], 14)
        XCTAssertEqual(r.totals[.zero], 5)
        XCTAssertEqual(r.totals[.file], 3)
        XCTAssertEqual(r.totals[.cow], 5)
        XCTAssertEqual(r.totals[.major], 2)
        XCTAssertEqual(r.totals[.segv], 1)
        XCTAssertEqual(r.totals[.other], 1)
        XCTAssertEqual(r.totals.faults, 31)
        XCTAssertEqual(r.totals.minor, 28)
        XCTAssertEqual(r.lost, 3)
        XCTAssertEqual(r.throttled, 0)
        XCTAssertTrue(r.complete)
        XCTAssertNil(r.damage)
        XCTAssertEqual(r.durationNs, 8_000)
        XCTAssertEqual(r.command, "./prog --fill")
    }

    func testPerProcessCounts() throws {
        let r = try report()
        XCTAssertEqual(r.processes.map(\.pid), [100, 101])
        let parent = try XCTUnwrap(r.processes[checked: 0]), child = try XCTUnwrap(r.processes[checked: 1])
        XCTAssertEqual(parent.ppid, 1)
        XCTAssertEqual(parent.command, "./prog")
        XCTAssertEqual(parent.counts.faults, 24)
        XCTAssertEqual(parent.counts.minor, 21)
        XCTAssertEqual(parent.counts[.anon], 12)
        XCTAssertEqual(parent.counts[.segv], 1)
        XCTAssertEqual(parent.exit?.signal, 9)
        XCTAssertEqual(child.ppid, 100)
        XCTAssertEqual(child.command, "prog")
        XCTAssertEqual(child.counts.faults, 7)
        XCTAssertEqual(child.counts[.cow], 5)
        XCTAssertEqual(child.counts[.anon], 2)
    }

    func testTopFunctionsInOrder() throws {
        let r = try report([.function])
        let section = try XCTUnwrap(r.sections.first)
        XCTAssertEqual(section.total, 31)
        // memset and main tie at 7: names break the tie.
        XCTAssertEqual(section.rows.map(\.name), ["fill", "main", "memset", "0xdead0"])
        XCTAssertEqual(section.rows.map(\.count), [16, 7, 7, 1])
        XCTAssertEqual(section.rows[checked: 0]?.counts[.anon], 10)
        XCTAssertEqual(section.rows[checked: 0]?.counts[.cow], 5)
        XCTAssertEqual(section.rows[checked: 0]?.counts[.other], 1)
        // Kernel-mode faults count for the user function that made the system call.
        XCTAssertEqual(section.rows[checked: 2]?.counts[.anon], 2)
        XCTAssertEqual(section.rows[checked: 2]?.counts[.zero], 5)
    }

    func testTopNCutsButKeepsDistinctCount() throws {
        let section = try XCTUnwrap(try report([.function], top: 2).sections.first)
        XCTAssertEqual(section.rows.map(\.name), ["fill", "main"])
        XCTAssertEqual(section.distinct, 4)
        XCTAssertEqual(section.total, 31)
    }

    func testKindFilter() throws {
        let anon = try XCTUnwrap(try report([.function], filter: .kind(.anon)).sections.first)
        XCTAssertEqual(anon.total, 14)
        XCTAssertEqual(anon.rows.map(\.name), ["fill", "main", "memset"])
        XCTAssertEqual(anon.rows.map(\.count), [10, 2, 2])
        let minor = try XCTUnwrap(try report([.kind], filter: .minor).sections.first)
        XCTAssertEqual(minor.total, 28)
        // zero and cow tie at 5: kinds break ties in their own order.
        XCTAssertEqual(minor.rows.map(\.name), ["anon", "zero", "cow", "file", "other"])
    }

    func testStacks() throws {
        let section = try XCTUnwrap(try report([.stack]).sections.first)
        XCTAssertEqual(section.rows.first?.name, "fill prog.c:20 ← main prog.c:10")
        XCTAssertEqual(section.rows.first?.count, 16)
        XCTAssertEqual(rows(section)["memset ← fill prog.c:20 ← main prog.c:10"], 7)
        XCTAssertEqual(rows(section)["0xdead0 ← main prog.c:10"], 1)
    }

    func testMappings() throws {
        let section = try XCTUnwrap(try report([.mapping]).sections.first)
        XCTAssertEqual(section.rows.map(\.name), ["[heap]", "[anon]", "/usr/bin/prog", "/usr/lib/libc.so.6", "[unmapped]"])
        XCTAssertEqual(section.rows.map(\.count), [15, 9, 3, 2, 2])
        // The child's 4 CoW writes to inherited heap pages are the heap's.
        XCTAssertEqual(section.rows[checked: 0]?.counts[.cow], 4)
        // Its CoW write at the page the parent remapped before the fork is //anon's.
        XCTAssertEqual(section.rows[checked: 1]?.counts[.cow], 1)
        XCTAssertEqual(section.rows[checked: 4]?.counts[.segv], 1)
        XCTAssertEqual(section.rows[checked: 4]?.counts[.anon], 1)
    }

    func testMappingLookupConsidersTimeAndInheritance() throws {
        let log = try FixtureLog.load()
        let index = MappingIndex(log: log)
        func name(_ pid: Int32, _ address: UInt64, _ t: UInt64) -> String? {
            MappingIndex.mapping(in: log, pid: pid, address: address, timeNs: t).map { log.modulePath(log.mmaps[$0].module) }
        }
        XCTAssertEqual(name(100, 0x100_0000, 2_000), "[heap]")
        XCTAssertEqual(name(100, 0x100_0000, 3_100), "//anon")
        XCTAssertEqual(name(100, 0x100_1000, 3_100), "[heap]")
        XCTAssertNil(name(100, 0x100_0000, 1_299))
        XCTAssertEqual(name(101, 0x100_5000, 5_600), "[heap]")
        XCTAssertEqual(name(101, 0x100_0000, 5_800), "//anon")
        XCTAssertEqual(name(101, 0x7f30_0000_0000, 5_700), "//anon")
        // Mapped by the parent after the fork: never the child's.
        XCTAssertNil(name(101, 0x7f20_0000_0000, 6_100))
        XCTAssertEqual(name(100, 0x7f20_0000_0000, 6_100), "//anon")
        XCTAssertNil(name(100, 0x10, 2_400))
        XCTAssertEqual(name(100, 0x40ffff, 2_200), "/usr/bin/prog")
        XCTAssertNil(name(100, 0x410000, 2_200))
    }

    func testPages() throws {
        let section = try XCTUnwrap(try report([.page], top: 3).sections.first)
        // Pages that tie are listed by address.
        XCTAssertEqual(section.rows.map(\.name), ["0x1000000", "0x1002000", "0x1005000"])
        XCTAssertEqual(section.rows.map(\.count), [4, 2, 2])
    }

    func testProcessesGrouping() throws {
        let section = try XCTUnwrap(try report([.process]).sections.first)
        XCTAssertEqual(section.rows.map(\.name), ["100 ./prog", "101 prog"])
        XCTAssertEqual(section.rows.map(\.count), [24, 7])
    }

    func testTextReport() throws {
        let text = try report().renderText()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[checked: 0], "faultline report: ./prog --fill")
        // 28 faults of 500 ns and 2 major ones of 100 µs (the segv has no time): 214 µs, in
        // a run of 8 µs (the fixture's times are not realistic, its arithmetic is).
        XCTAssertEqual(lines[checked: 1], "  8.00 µs, 2 processes, 31 faults; 214 µs in faults (2,675.0% of the run's wall time, summed over threads)")
        XCTAssertTrue(lines.contains("  anon       14   45.2%  7.00 µs    3.3%  500 ns  500 ns  500 ns  500 ns"), text)
        XCTAssertTrue(lines.contains("  major       2    6.5%   200 µs   93.5%  100 µs  100 µs  100 µs  100 µs"), text)
        // The segv has no time: none is shown, rather than "0 ns", and a line says why.
        XCTAssertTrue(lines.contains("  segv        1    3.2%        -       -       -       -       -       -"), text)
        XCTAssertTrue(lines.contains("1 fault has no service time (a segv never completes): \"-\" in the time columns; "
                                     + "times and percentiles are of the faults that have one"), text)
        // 30 timed faults: the 27th (p90) is 500 ns, the 30th (p99: rank ceil(29.7)) 100 µs.
        XCTAssertTrue(lines.contains("  total      31  100.0%   214 µs  100.0%  500 ns  500 ns  100 µs  100 µs"), text)
        // The parent: 22 faults of 500 ns, 2 of 100 µs, over its 7 µs (1,000 to 8,000).
        XCTAssertTrue(lines.contains("  100  100      24   211 µs  3,007.1%  ./prog"), text)
        XCTAssertTrue(lines.contains("WARNING: the kernel LOST 3 events: every count here is a LOWER BOUND"), text)
        // The totals table is aligned: every row has the same width.
        let start = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("  kind") }, text)
        let totals = lines.dropFirst(start).prefix(10)
        XCTAssertEqual(totals.count, 10, text)
        XCTAssertEqual(Set(totals.map(\.count)).count, 1, totals.joined(separator: "\n"))
        // Both default sections, in order, with shares and kind breakdowns.
        let functions = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("functions of 31 faults") }, text)
        let mappings = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("mappings of 31 faults") }, text)
        XCTAssertLessThan(functions, mappings)
        XCTAssertEqual(lines[checked: functions + 2], "      16  51.6%  8.00 µs  anon 10, cow 5, other 1  fill prog.c:20")
        XCTAssertEqual(lines[checked: functions + 3], "       7  22.6%   203 µs  file 3, anon 2, major 2  main prog.c:10")
        XCTAssertEqual(lines[checked: mappings + 2], "      15  48.4%  7.50 µs  anon 10, cow 4, other 1  [heap]")
        // The slowest faults: both major ones first, in log order, with their stacks.
        let slowest = try XCTUnwrap(lines.firstIndex(of: "slowest 5 faults"), text)
        XCTAssertEqual(lines[checked: slowest + 1], "  100 µs major, pid 100/100 prog at 1.30 µs, read of 0x7f0000001000 in /usr/lib/libc.so.6")
        XCTAssertEqual(lines[checked: slowest + 2], "    main prog.c:10")
        XCTAssertEqual(lines[checked: slowest + 3], "  100 µs major, pid 100/100 prog at 1.30 µs, read of 0x7f0000002000 in /usr/lib/libc.so.6")
        XCTAssertFalse(text.contains("INCOMPLETE"))
    }

    func testQuietLossLineWhenNothingWasLost() throws {
        let path = FixtureLog.temporaryPath("empty.flt")
        let w = try LogWriter(path: path, header: LogHeader(command: ["true"]))
        try w.finish(LogSummary(endTimeNs: 0, faults: 0, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0))
        let log = try LoadedLog.load(path: path)
        let text = FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer())).renderText()
        XCTAssertTrue(text.contains("lost events: 0, throttled: 0"), text)
        XCTAssertTrue(text.contains("  (none)"), text)
        XCTAssertFalse(text.contains("WARNING"))
    }
}

final class LossWarningTests: XCTestCase {
    func testNamesOnlyWhatHappened() {
        XCTAssertNil(LossWarning.line(lost: 0, throttled: 0))
        XCTAssertEqual(LossWarning.line(lost: 0, throttled: 2),
                       "WARNING: the kernel THROTTLED sampling 2 times: every count here is a LOWER BOUND")
        XCTAssertEqual(LossWarning.line(lost: 12_345, throttled: 1),
                       "WARNING: the kernel LOST 12,345 events and THROTTLED sampling 1 time: every count here is a LOWER BOUND")
    }
}
