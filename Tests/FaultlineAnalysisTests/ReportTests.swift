import XCTest
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
        let parent = r.processes[0], child = r.processes[1]
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
        let section = r.sections[0]
        XCTAssertEqual(section.total, 31)
        // memset and main tie at 7: names break the tie.
        XCTAssertEqual(section.rows.map(\.name), ["fill", "main", "memset", "0xdead0"])
        XCTAssertEqual(section.rows.map(\.count), [16, 7, 7, 1])
        XCTAssertEqual(section.rows[0].counts[.anon], 10)
        XCTAssertEqual(section.rows[0].counts[.cow], 5)
        XCTAssertEqual(section.rows[0].counts[.other], 1)
        // Kernel-mode faults count for the user function that made the system call.
        XCTAssertEqual(section.rows[2].counts[.anon], 2)
        XCTAssertEqual(section.rows[2].counts[.zero], 5)
    }

    func testTopNCutsButKeepsDistinctCount() throws {
        let section = try report([.function], top: 2).sections[0]
        XCTAssertEqual(section.rows.map(\.name), ["fill", "main"])
        XCTAssertEqual(section.distinct, 4)
        XCTAssertEqual(section.total, 31)
    }

    func testKindFilter() throws {
        let anon = try report([.function], filter: .kind(.anon)).sections[0]
        XCTAssertEqual(anon.total, 14)
        XCTAssertEqual(anon.rows.map(\.name), ["fill", "main", "memset"])
        XCTAssertEqual(anon.rows.map(\.count), [10, 2, 2])
        let minor = try report([.kind], filter: .minor).sections[0]
        XCTAssertEqual(minor.total, 28)
        // zero and cow tie at 5: kinds break ties in their own order.
        XCTAssertEqual(minor.rows.map(\.name), ["anon", "zero", "cow", "file", "other"])
    }

    func testStacks() throws {
        let section = try report([.stack]).sections[0]
        XCTAssertEqual(section.rows.first?.name, "fill prog.c:20 ← main prog.c:10")
        XCTAssertEqual(section.rows.first?.count, 16)
        XCTAssertEqual(rows(section)["memset ← fill prog.c:20 ← main prog.c:10"], 7)
        XCTAssertEqual(rows(section)["0xdead0 ← main prog.c:10"], 1)
    }

    func testMappings() throws {
        let section = try report([.mapping]).sections[0]
        XCTAssertEqual(section.rows.map(\.name), ["[heap]", "//anon", "/usr/bin/prog", "/usr/lib/libc.so.6", "[unmapped]"])
        XCTAssertEqual(section.rows.map(\.count), [15, 9, 3, 2, 2])
        // The child's 4 CoW writes to inherited heap pages are the heap's.
        XCTAssertEqual(section.rows[0].counts[.cow], 4)
        // Its CoW write at the page the parent remapped before the fork is //anon's.
        XCTAssertEqual(section.rows[1].counts[.cow], 1)
        XCTAssertEqual(section.rows[4].counts[.segv], 1)
        XCTAssertEqual(section.rows[4].counts[.anon], 1)
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
        let section = try report([.page], top: 3).sections[0]
        // Pages that tie are listed by address.
        XCTAssertEqual(section.rows.map(\.name), ["0x1000000", "0x1002000", "0x1005000"])
        XCTAssertEqual(section.rows.map(\.count), [4, 2, 2])
    }

    func testProcessesGrouping() throws {
        let section = try report([.process]).sections[0]
        XCTAssertEqual(section.rows.map(\.name), ["100 ./prog", "101 prog"])
        XCTAssertEqual(section.rows.map(\.count), [24, 7])
    }

    func testTextReport() throws {
        let text = try report().renderText()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[0], "faultline report: ./prog --fill")
        XCTAssertEqual(lines[1], "  8.00 µs, 2 processes, 31 faults")
        XCTAssertTrue(lines.contains("  anon       14   45.2%"), text)
        XCTAssertTrue(lines.contains("  total      31  100.0%"), text)
        XCTAssertTrue(lines.contains("WARNING: the kernel LOST 3 events: every count here is a LOWER BOUND"), text)
        // The totals table is aligned: every row has the same width.
        let start = lines.firstIndex { $0.hasPrefix("  kind") }!
        let totals = lines[start..<(start + 10)]
        XCTAssertEqual(Set(totals.map(\.count)).count, 1, totals.joined(separator: "\n"))
        // Both default sections, in order, with shares and kind breakdowns.
        let functions = lines.firstIndex { $0.hasPrefix("functions of 31 faults") }!
        let mappings = lines.firstIndex { $0.hasPrefix("mappings of 31 faults") }!
        XCTAssertLessThan(functions, mappings)
        XCTAssertEqual(lines[functions + 2], "      16  51.6%  anon 10, cow 5, other 1  fill prog.c:20")
        XCTAssertEqual(lines[mappings + 2], "      15  48.4%  anon 10, cow 4, other 1  [heap]")
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
