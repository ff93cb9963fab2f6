// folded, pprof and speedscope exports of the fixture log: each carries every fault (31, as
// `report` counts them), with the fixture's real call chains and names.

import Foundation
import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class ProfileExportTests: FixtureTestCase {
    private func fixture(_ name: String = #function) throws -> (LoadedLog, FrameNamer) {
        let log = try FixtureLog.load(name)
        return (log, FrameNamer(log: log, symbolizer: NullSymbolizer()))
    }

    private func reportTotal(_ log: LoadedLog) -> UInt64 {
        FaultReport(log: log, namer: FrameNamer(log: log, symbolizer: NullSymbolizer())).totals.faults
    }

    func testFoldedLinesAreRootFirstAndSumToTheReportTotal() throws {
        let (log, namer) = try fixture()
        let lines = FoldedExporter.lines(StackCounts(log: log), namer: namer)
        // Counted out in FixtureLog: fill's stack 11 in the parent + 5 cow in the child,
        // memset 5 zero + 2 kernel-mode anon, main 3 file + 2 major + 2 child anon, 1 segv.
        XCTAssertEqual(lines, ["main 7\n", "main;0xdead0 1\n", "main;fill 16\n", "main;fill;memset 7\n"])
        let sum = lines.map { UInt64($0.split(separator: " ").last!.dropLast())! }.reduce(0, +)
        XCTAssertEqual(sum, 31)
        XCTAssertEqual(sum, reportTotal(log))
    }

    func testFoldedByTimeSumsNanosecondsAndLeavesOutUntimedStacks() throws {
        let (log, namer) = try fixture()
        // main: 3 file and 2 child anon at 500 ns, 2 major at 100 µs; fill 16 and memset 7
        // at 500 ns; the segv under 0xdead0 has no time, so its stack weighs nothing.
        XCTAssertEqual(FoldedExporter.lines(StackCounts(log: log), namer: namer, weight: .time),
                       ["main 202500\n", "main;fill 8000\n", "main;fill;memset 3500\n"])
    }

    func testFoldedPerProcessAddsARootFramePerProcess() throws {
        let (log, namer) = try fixture()
        XCTAssertEqual(FoldedExporter.lines(StackCounts(log: log), namer: namer, perProcess: true),
                       ["prog-100;main 5\n", "prog-100;main;0xdead0 1\n", "prog-100;main;fill 11\n",
                        "prog-100;main;fill;memset 7\n", "prog-101;main 2\n", "prog-101;main;fill 5\n"])
        // --pid keeps one process.
        let child = FaultSelection(pids: [FixtureLog.child])
        XCTAssertEqual(FoldedExporter.lines(StackCounts(log: log, selection: child), namer: namer, perProcess: true),
                       ["prog-101;main 2\n", "prog-101;main;fill 5\n"])
    }

    func testFoldedWithKindFilterCountsOnlyThatKind() throws {
        let (log, namer) = try fixture()
        XCTAssertEqual(FoldedExporter.lines(StackCounts(log: log, filter: .kind(.cow)), namer: namer), ["main;fill 5\n"])
    }

    func testFoldedFrameTextCannotBreakTheFormat() {
        XCTAssertEqual(FoldedExporter.frameText("a;b\nc"), "a:b c")
        XCTAssertEqual(FoldedExporter.frameText("operator() const"), "operator() const")
    }

    func testPprofDecodesWithTotalsPerColumnAndNames() throws {
        let (log, namer) = try fixture()
        let gzipped = try PprofExporter.data(log: log, namer: namer)
        XCTAssertEqual(Array(gzipped.prefix(2)), [0x1f, 0x8b], "a gzip stream")
        let raw = try XCTUnwrap(Gzip.decompress(gzipped))
        let profile = try Perftools_Profiles_Profile(serializedBytes: raw)
        let strings = profile.stringTable
        XCTAssertEqual(strings.first, "")

        let columns = profile.sampleType.map { (strings[checked: Int($0.type)] ?? "?") + "/" + (strings[checked: Int($0.unit)] ?? "?") }
        XCTAssertEqual(columns, ["faults/count", "fault_time/nanoseconds"] + FaultKind.allCases.map { "\($0.name)/count" })
        XCTAssertEqual(strings[checked: Int(profile.defaultSampleType)], "faults")
        var sums = [Int64](repeating: 0, count: columns.count)
        for sample in profile.sample {
            XCTAssertEqual(sample.value.count, columns.count)
            for (i, v) in sample.value.enumerated() { sums[i] += v }
            // Column 0 is every fault: the kinds (from column 2) add up to it on each sample.
            XCTAssertEqual(sample.value[0], sample.value.dropFirst(2).reduce(0, +))
        }
        XCTAssertEqual(sums[0], 31)
        XCTAssertEqual(UInt64(sums[0]), reportTotal(log))
        // 28 faults of 500 ns, 2 of 100 µs, a segv without a time.
        XCTAssertEqual(sums[checked: 1], 214_000)
        let perKind = Dictionary(uniqueKeysWithValues: zip(FaultKind.allCases.map(\.name), sums.dropFirst(2)))
        XCTAssertEqual(perKind, ["anon": 14, "zero": 5, "file": 3, "cow": 5, "swap": 0, "major": 2, "segv": 1, "other": 1])
        XCTAssertEqual(profile.sample.count, 6, "one sample per (process, stack)")

        // Every location resolves, and stacks name the fixture's functions leaf first.
        let functions = Dictionary(uniqueKeysWithValues: profile.function.map { ($0.id, (strings[checked: Int($0.name)] ?? "?")) })
        let locations = Dictionary(uniqueKeysWithValues: profile.location.map { ($0.id, $0) })
        let stacks = Set(profile.sample.map { sample in
            Self.names(sample.locationID, locations, functions).joined(separator: "<")
        })
        XCTAssertEqual(stacks, ["fill<main", "memset<fill<main", "main", "0xdead0<main"])
        let labels = profile.sample.map { s in s.label.first { strings[checked: Int($0.key)] == "pid" }?.num }
        XCTAssertEqual(Set(labels), [100, 101])

        // Mappings carry paths and hex build-ids; a location's address maps back to the
        // frame's file offset through its mapping.
        let mappings = Dictionary(uniqueKeysWithValues: profile.mapping.map { ($0.id, $0) })
        XCTAssertEqual(Set(profile.mapping.map { (strings[checked: Int($0.filename)] ?? "?") + " " + (strings[checked: Int($0.buildID)] ?? "?") }),
                       ["/usr/bin/prog 010203", "/usr/lib/libc.so.6 0405"])
        let fill = try XCTUnwrap(profile.location.first { $0.line.first.flatMap { l in functions[l.functionID] } == "fill" })
        let m = try XCTUnwrap(mappings[fill.mappingID])
        XCTAssertEqual(fill.address - m.memoryStart + m.fileOffset, 0x1100)
        XCTAssertTrue(fill.address < m.memoryLimit)
        XCTAssertEqual(fill.line.first?.line, 20)
        let absolute = try XCTUnwrap(profile.location.first { $0.line.first.flatMap { l in functions[l.functionID] } == "0xdead0" })
        XCTAssertEqual(absolute.mappingID, 0, "an absolute frame has no mapping")
        XCTAssertEqual(absolute.address, 0xdead0)
    }

    /// The function names of a sample's locations, leaf first; "?" where the profile defines
    /// no such location, line or function (the comparison fails; the test process goes on).
    static func names(_ locationIDs: [UInt64], _ locations: [UInt64: Perftools_Profiles_Location],
                      _ functions: [UInt64: String]) -> [String] {
        locationIDs.map { id in locations[id]?.line.first.flatMap { functions[$0.functionID] } ?? "?" }
    }

    func testPprofWeighedByTimeDefaultsToFaultTime() throws {
        let (log, namer) = try fixture()
        let raw = try XCTUnwrap(Gzip.decompress(try PprofExporter.data(log: log, namer: namer, weight: .time)))
        let profile = try Perftools_Profiles_Profile(serializedBytes: raw)
        XCTAssertEqual(profile.stringTable[Int(profile.defaultSampleType)], "fault_time")
        // Only the parent's main stack holds the two major faults: 2 × 100 µs + 3 file × 500 ns.
        let functions = Dictionary(uniqueKeysWithValues: profile.function.map { ($0.id, profile.stringTable[Int($0.name)]) })
        let locations = Dictionary(uniqueKeysWithValues: profile.location.map { ($0.id, $0) })
        let mainOnly = profile.sample.filter { s in
            Self.names(s.locationID, locations, functions) == ["main"]
                && s.label.first { profile.stringTable[Int($0.key)] == "pid" }?.num == 100
        }
        XCTAssertEqual(mainOnly.map { $0.value[1] }, [201_500])
    }

    func testSpeedscopeMergesProcessesOfOneName() throws {
        let (log, namer) = try fixture()
        let file = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try SpeedscopeExporter.data(log: log, namer: namer))) as? [String: Any])
        let profiles = try XCTUnwrap(file["profiles"] as? [[String: Any]])
        XCTAssertEqual(profiles.map { $0["name"] as? String }, ["prog (2 processes)"])
        XCTAssertEqual(profiles.map { $0["endValue"] as? Int }, [31])

        // By time: nanoseconds, adding up to the faults' time (the segv has none).
        let timed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try SpeedscopeExporter.data(log: log, namer: namer, weight: .time))) as? [String: Any])
        let timedProfiles = try XCTUnwrap(timed["profiles"] as? [[String: Any]])
        XCTAssertEqual(timedProfiles.map { $0["unit"] as? String }, ["nanoseconds"])
        XCTAssertEqual(timedProfiles.map { ($0["weights"] as? [Int])?.reduce(0, +) }, [214_000])
    }

    func testSpeedscopeHasTheSchemaFieldsAndWeightsSumToTheTotal() throws {
        let (log, namer) = try fixture()
        let data = try SpeedscopeExporter.data(log: log, namer: namer, perProcess: true)
        let file = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(data)) as? [String: Any])
        // The schema's required fields: $schema, shared.frames[].name, profiles[] with
        // type, name, unit, startValue, endValue, samples, weights.
        XCTAssertEqual(file["$schema"] as? String, "https://www.speedscope.app/file-format-schema.json")
        let frames = try XCTUnwrap((file["shared"] as? [String: Any])?["frames"] as? [[String: Any]])
        XCTAssertTrue(frames.allSatisfy { $0["name"] is String })
        let names = frames.map { $0["name"] as! String }
        XCTAssertEqual(Set(names), ["main", "fill", "memset", "0xdead0"])
        let profiles = try XCTUnwrap(file["profiles"] as? [[String: Any]])
        XCTAssertEqual(profiles.count, 2, "one per process")
        var total = 0
        var perProcess: [String: Int] = [:]
        for p in profiles {
            for key in ["type", "name", "unit", "startValue", "endValue", "samples", "weights"] {
                XCTAssertNotNil(p[key], "profile lacks \(key)")
            }
            XCTAssertEqual(p["type"] as? String, "sampled")
            XCTAssertEqual(p["unit"] as? String, "none")
            let samples = try XCTUnwrap(p["samples"] as? [[Int]])
            let weights = try XCTUnwrap(p["weights"] as? [Int])
            XCTAssertEqual(samples.count, weights.count)
            XCTAssertTrue(samples.allSatisfy { $0.allSatisfy { frames.indices.contains($0) } })
            // Root first: every fixture stack starts at main.
            XCTAssertTrue(samples.allSatisfy { names[$0[0]] == "main" })
            let sum = weights.reduce(0, +)
            XCTAssertEqual(p["endValue"] as? Int, sum)
            perProcess[p["name"] as! String] = sum
            total += sum
        }
        XCTAssertEqual(total, 31)
        XCTAssertEqual(UInt64(total), reportTotal(log))
        XCTAssertEqual(perProcess, ["100 ./prog": 24, "101 prog": 7])
        XCTAssertEqual(file["activeProfileIndex"] as? Int, 0, "the busiest process opens first")
    }

    func testGzipRoundTrips() throws {
        let input = [UInt8]((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7 / 13) })
        let packed = try XCTUnwrap(Gzip.compress(input))
        XCTAssertLessThan(packed.count, input.count)
        XCTAssertEqual(Gzip.decompress(packed), input)
        XCTAssertNil(Gzip.decompress([1, 2, 3, 4]), "not gzip")
    }
}
