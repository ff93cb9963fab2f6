// The command line's output side on a real recording: samples/bin/cow_fork recorded once
// with `faultline record`, then read by every reading command as a person runs them. Each
// output is held to what the sample knows (its parent wrote 1000 pages from main, its child
// 250 of them again, each a fault of its own) and to the log itself, counted here without
// the analysis code: every export format, the flame graph, the heatmap, `--kind`, and
// replay's text and JSON values.

import XCTest
import Foundation
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis
import FaultlineSymbolize
import FaultlineTestSupport

final class CommandOutputTests: XCTestCase {
    /// One recording for the whole class: what the sample said, and the log read back.
    struct Recording {
        var path: String
        var log: LoadedLog
        var parent: Expectation
        var child: Expectation
        /// Each fault's functions, root first (as folded and flame graphs draw them), each
        /// frame's inline chain expanded (the functions it inlined come after it).
        var rootFirstFrames: [[FrameName]]
        /// The same, by function name alone.
        var rootFirst: [[String]] { rootFirstFrames.map { $0.map(\.function) } }
        /// The same, each inlined function marked as `marked` writes it.
        func rootFirst(_ marked: (FrameName) -> String) -> [[String]] { rootFirstFrames.map { $0.map(marked) } }
    }

    nonisolated(unsafe) private static var shared: Result<Recording, Error>?

    var cli: CLI!

    override func setUpWithError() throws { cli = try CLI(test: name) }

    func recording() throws -> Recording {
        if let shared = Self.shared { return try shared.get() }
        let made = Result { try Self.record(cli) }
        Self.shared = made
        return try made.get()
    }

    private static func record(_ cli: CLI) throws -> Recording {
        _ = Samples.built
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-output-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("cow_fork.flt").path
        if let why = Samples.missingCapability { throw Skip.because(why) }
        let o = try cli.run(["record", "-q", "-o", path, "--", Samples.path("cow_fork")])
        XCTAssertEqual(o.status, 0, o.stderr)
        let expectations = o.stdout.split(separator: "\n").compactMap(Expectation.init(line:))
        let parent = try XCTUnwrap(expectations.first { $0.kind == .anon }, o.stdout)
        let child = try XCTUnwrap(expectations.first { $0.kind == .cow }, o.stdout)
        XCTAssertEqual(parent.count, 1000)
        XCTAssertEqual(child.count, 250)
        let log = try LoadedLog.load(path: path)
        let namer = FrameNamer(log: log, symbolizer: LibdwSymbolizer())
        let rootFirst = log.faults.map { f in Array(log.frames(of: f.stack).flatMap { namer.names($0) }.reversed()) }
        return Recording(path: path, log: log, parent: parent, child: child, rootFirstFrames: rootFirst)
    }

    /// main's own writes, as the flame graph and folded export name their stack.
    static let mainStack = ["__libc_start_call_main", "main"]

    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let o = try cli.run(args)
        XCTAssertEqual(o.status, 0, "\(args): \(o.stderr)", file: file, line: line)
        return o.stdout
    }

    /// Faults of the recording counted here, by kind (nil: all).
    func count(_ r: Recording, _ kind: FaultKind? = nil, where include: (Int) -> Bool = { _ in true }) -> Int {
        r.log.faults.indices.filter { (kind == nil || r.log.faults[$0].kind == kind) && include($0) }.count
    }

    /// Faults of `kind` taken in main itself (main is the leaf), counted from the log.
    func mainFaults(_ r: Recording, _ kind: FaultKind) -> Int {
        r.rootFirst.indices.filter { r.rootFirst[$0] == Self.mainStack && r.log.faults[$0].kind == kind }.count
    }

    func inRegion(_ r: Recording, _ e: Expectation, _ i: Int) -> Bool {
        let f = r.log.faults[i]
        return f.pid == e.pid && (e.start..<e.end).contains(f.address)
    }

    // MARK: export

    /// `-o -` is standard output, as for the pictures: it wrote a file named `-` (9.6 MB of
    /// one export) in the working directory, and nothing to the pipe.
    func testExportAndHTMLReportToDashWriteStandardOutput() throws {
        let r = try recording()
        let piped = try run(["export", r.path, "--format", "jsonl", "-o", "-"])
        XCTAssertEqual(piped, try run(["export", r.path, "--format", "jsonl"]))
        XCTAssertEqual(try jsonLines(piped).filter { $0["type"] as? String == "fault" }.count, r.log.faults.count)
        let page = try run(["report", r.path, "--html", "-"])
        XCTAssertTrue(page.hasPrefix("<!DOCTYPE html>"), String(page.prefix(80)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: cli.scratch.appendingPathComponent("-").path), "no file named -")
    }

    func testJSONLinesCarryEachFaultWithItsValues() throws {
        let r = try recording()
        let records = try jsonLines(try run(["export", r.path, "--format", "jsonl"]))
        let faults = records.filter { $0["type"] as? String == "fault" }
        XCTAssertEqual(faults.count, r.log.faults.count)
        func address(_ record: [String: Any]) -> UInt64? { (record["address"] as? String).flatMap { UInt64($0.dropFirst(2), radix: 16) } }
        func inside(_ e: Expectation) -> [[String: Any]] {
            faults.filter { $0["pid"] as? Int == Int(e.pid) && address($0).map { (e.start..<e.end).contains($0) } ?? false }
        }
        // The parent's 1000 first writes and the child's 250 copies, each with its values.
        for (e, kind, code) in [(r.parent, "anon", 6), (r.child, "cow", 7)] {
            let mine = inside(e)
            XCTAssertEqual(mine.count, e.count, kind)
            XCTAssertEqual(Set(mine.compactMap(address).map { $0 & ~4095 }).count, e.count, "one fault per page")
            for f in mine {
                XCTAssertEqual(f["kind"] as? String, kind)
                XCTAssertEqual(f["tid"] as? Int, Int(e.tid))
                XCTAssertEqual(f["access"] as? String, "write")
                XCTAssertEqual(f["kernel_mode"] as? Bool, false)
                XCTAssertEqual(f["error_code"] as? Int, code)
                XCTAssertTrue((f["service_ns"] as? Int).map { $0 > 0 } ?? false, "service time measured: \(f)")
                XCTAssertNil(f["page_size"], "a base page")
                let stack = try XCTUnwrap(f["stack"] as? [[String: Any]])
                XCTAssertEqual(stack.map { $0["function"] as? String }, Self.mainStack.reversed().map { $0 })
                XCTAssertEqual(stack[checked: 0]?["module"] as? String, Samples.path("cow_fork"))
                XCTAssertEqual(stack[checked: 0]?["file"] as? String, Samples.root.appendingPathComponent("samples/cow_fork.c").path)
            }
        }
        // Per kind, the lines agree with the log.
        for kind in FaultKind.allCases {
            XCTAssertEqual(faults.filter { $0["kind"] as? String == kind.name }.count, count(r, kind), kind.name)
        }
        XCTAssertEqual(faults.filter { $0["kernel_mode"] as? Bool == true }.count, r.log.faults.filter(\.kernelMode).count)
        // The fork, and the region's mmap with its length.
        let forks = records.filter { $0["type"] as? String == "fork" && $0["pid"] as? Int == Int(r.child.pid) }
        XCTAssertEqual(forks.count, 1)
        XCTAssertEqual(forks.first?["ppid"] as? Int, Int(r.parent.pid))
        let region = records.filter { $0["type"] as? String == "mmap" && address($0) == r.parent.start }
        XCTAssertEqual(region.map { $0["length"] as? Int }, [Int(r.parent.end - r.parent.start)])
        // Named as every report names anonymous memory (perf's "//anon" was left here).
        XCTAssertEqual(region.map { $0["path"] as? String }, ["[anon]"])
        XCTAssertFalse(records.contains { $0["path"] as? String == "//anon" })
    }

    func testFoldedStacksAreTheLogsStacksRootFirst() throws {
        let r = try recording()
        var folded: [String: Int] = [:]
        for line in try run(["export", r.path, "--format", "folded"]).split(separator: "\n") {
            let stack = String(line[..<(line.lastIndex(of: " ") ?? line.startIndex)])
            folded[stack, default: 0] += Int(line.split(separator: " ").last ?? "") ?? -1_000_000
        }
        var expected: [String: Int] = [:]
        // folded marks an inlined function as stackcollapse-perf.pl --inline does.
        for names in r.rootFirst({ $0.inlined ? $0.function + "_[i]" : $0.function }) {
            expected[names.joined(separator: ";"), default: 0] += 1
        }
        XCTAssertEqual(folded, expected)
        // main's own writes: the parent's 1000 and the child's 250 at least.
        XCTAssertGreaterThanOrEqual(folded[Self.mainStack.joined(separator: ";")] ?? 0, 1250)
    }

    func testSpeedscopeHasAProfilePerProcessWeighedInFaults() throws {
        let r = try recording()
        // Both processes are cow_fork: one profile by name, one each with --per-process.
        let byName = try jsonObject(try run(["export", r.path, "--format", "speedscope"]))
        XCTAssertEqual((byName["profiles"] as? [[String: Any]])?.count, 1)
        let file = try jsonObject(try run(["export", r.path, "--format", "speedscope", "--per-process"]))
        let frames = try XCTUnwrap((file["shared"] as? [String: Any])?["frames"] as? [[String: Any]]).map { $0["name"] as? String ?? "?" }
        let profiles = try XCTUnwrap(file["profiles"] as? [[String: Any]])
        XCTAssertEqual(profiles.count, 2)
        for e in [r.parent, r.child] {
            let p = try XCTUnwrap(profiles.first { ($0["name"] as? String)?.hasPrefix("\(e.pid) ") ?? false }, "\(e.pid)")
            let samples = try XCTUnwrap(p["samples"] as? [[Int]]), weights = try XCTUnwrap(p["weights"] as? [Int])
            XCTAssertEqual(samples.count, weights.count)
            var byStack: [String: Int] = [:]
            for (s, w) in zip(samples, weights) { byStack[s.map { frames[checked: $0] ?? "?" }.joined(separator: ";"), default: 0] += w }
            var expected: [String: Int] = [:]
            let marked = r.rootFirst { $0.inlined ? $0.function + " (inlined)" : $0.function }
            for (i, names) in marked.enumerated() where r.log.faults[i].pid == e.pid { expected[names.joined(separator: ";"), default: 0] += 1 }
            XCTAssertEqual(byStack, expected, "pid \(e.pid)")
        }
    }

    func testPprofColumnsCountEachKindOfEachStack() throws {
        let r = try recording()
        let out = cli.scratch.appendingPathComponent("profile.pb.gz")
        _ = try run(["export", r.path, "--format", "pprof", "-o", out.path])
        let raw = try XCTUnwrap(Gzip.decompress([UInt8](try Data(contentsOf: out))), "not gzip")
        let profile = try Perftools_Profiles_Profile(serializedBytes: raw)
        let strings = profile.stringTable
        let columns = profile.sampleType.map { strings[checked: Int($0.type)] ?? "?" }
        XCTAssertEqual(columns, ["faults", "fault_time"] + FaultKind.allCases.map(\.name))
        let functions = Dictionary(profile.function.map { ($0.id, strings[checked: Int($0.name)] ?? "?") }, uniquingKeysWith: { a, _ in a })
        let locations = Dictionary(profile.location.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var cells: [String: Int64] = [:]
        for sample in profile.sample {
            // Leaf first in pprof; folded order here to compare with the log.
            let names = sample.locationID.reversed().map { id in
                locations[id]?.line.map { functions[$0.functionID] ?? "?" }.reversed().joined(separator: ";") ?? "?"
            }.joined(separator: ";")
            for (column, value) in zip(columns, sample.value) { cells["\(names) \(column)", default: 0] += value }
        }
        var expected: [String: Int64] = [:]
        for (i, names) in r.rootFirst.enumerated() {
            let stack = names.joined(separator: ";")
            expected["\(stack) faults", default: 0] += 1
            expected["\(stack) fault_time", default: 0] += Int64(clamping: r.log.faults[i].serviceNs ?? 0)
            expected["\(stack) \(r.log.faults[i].kind.name)", default: 0] += 1
        }
        XCTAssertEqual(cells.filter { $0.value != 0 }, expected.filter { $0.value != 0 })
        XCTAssertEqual(cells["\(Self.mainStack.joined(separator: ";")) anon"].map { $0 >= 1000 }, true)
    }

    // MARK: --kind

    func testKindSelectsTheFaultsOfReportsTopFunctions() throws {
        let r = try recording()
        // The sample's own writes are main's: 1000 first writes (anon), 250 copies (cow);
        // main may take a few more on its own stack (a write after fork copies that page).
        for (kind, written) in [(FaultKind.anon, 1000), (.cow, 250)] {
            let mainCount = mainFaults(r, kind)
            XCTAssertGreaterThanOrEqual(mainCount, written)
            let json = try jsonObject(try run(["report", r.path, "--kind", kind.name, "--format", "json"]))
            XCTAssertEqual(json["kind"] as? String, kind.name)
            let top = try XCTUnwrap(json["top"] as? [[String: Any]])
            XCTAssertEqual(top.first?["name"] as? String, "main")
            XCTAssertEqual(top.first?["count"] as? Int, mainCount)
            XCTAssertTrue(top.allSatisfy { row in
                ((row["kinds"] as? [String: Int]) ?? [:]).allSatisfy { $0.key == kind.name || $0.value == 0 }
            }, "only \(kind.name) faults are counted: \(top)")
            let every = try jsonObject(try run(["report", r.path, "--kind", kind.name, "--top", "100000", "--format", "json"]))
            XCTAssertEqual((every["top"] as? [[String: Any]])?.compactMap { $0["count"] as? Int }.reduce(0, +), count(r, kind),
                           "every \(kind.name) fault, once")
            // The text report says the same, under a heading that names the kind.
            let text = try run(["report", r.path, "--kind", kind.name, "--by", "function", "--top", "1"])
            let lines = text.split(separator: "\n").map(String.init)
            let heading = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("top 1 functions (\(kind.name) faults only) of \(count(r, kind).grouped()) faults") },
                                        text)
            XCTAssertTrue(lines[checked: heading + 2]?.contains("  main cow_fork.c:") ?? false, "main, with its file and line: \(text)")
            XCTAssertTrue(lines[checked: heading + 2]?.contains(" \(mainCount.grouped()) ") ?? false, text)
        }
        let all = try jsonObject(try run(["report", r.path, "--by", "function", "--format", "json"]))
        XCTAssertEqual((all["top"] as? [[String: Any]])?.first { $0["name"] as? String == "main" }?["count"] as? Int,
                       r.rootFirst.filter { $0.last == "main" }.count, "without --kind every fault of main")
    }

    // MARK: pictures

    /// The flame graph's frames: name, count, depth, first sample; children are the frames
    /// one deeper that start inside their parent.
    struct Flame {
        struct Node { var name: String; var count: Int; var depth: Int; var start: Int }
        var nodes: [Node]

        init(svg: String) throws {
            nodes = try XMLCollector.parse(svg).all("g", where: "class", is: "f").map {
                Node(name: $0["data-n"] ?? "?", count: Int($0["data-c"] ?? "") ?? -1, depth: Int($0["data-d"] ?? "") ?? -1,
                     start: Int($0["data-s"] ?? "") ?? -1)
            }
        }

        /// The node reached from the root by `path` (names below "all").
        func node(_ path: [String]) -> Node? {
            var current = nodes.first { $0.depth == 0 && $0.name == "all" }
            for name in path {
                guard let parent = current else { return nil }
                current = children(of: parent).first { $0.name == name }
            }
            return current
        }

        func children(of parent: Node) -> [Node] {
            nodes.filter { $0.depth == parent.depth + 1 && $0.start >= parent.start && $0.start < parent.start + parent.count }
        }

        func selfCount(_ path: [String]) -> Int? {
            node(path).map { n in n.count - children(of: n).map(\.count).reduce(0, +) }
        }
    }

    func testFlameGraphCountsEveryFaultAndKindSelects() throws {
        let r = try recording()
        let out = cli.scratch.appendingPathComponent("flame.svg").path
        let o = try cli.run(["flamegraph", r.path, "-o", out])
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertEqual(o.stderr, "faultline: flame graph written to \(out)\n")
        let flame = try Flame(svg: try String(contentsOfFile: out, encoding: .utf8))
        XCTAssertEqual(flame.node([])?.count, r.log.faults.count)
        XCTAssertEqual(flame.node(["cow_fork"])?.count, r.log.faults.count, "both processes are cow_fork: one tower")
        let main = ["cow_fork"] + Self.mainStack
        XCTAssertEqual(flame.node(main)?.count, r.rootFirst.filter { $0.starts(with: Self.mainStack) }.count)
        XCTAssertEqual(flame.selfCount(main), r.rootFirst.filter { $0 == Self.mainStack }.count)

        for (kind, written) in [(FaultKind.anon, 1000), (.cow, 250)] {
            let mainCount = mainFaults(r, kind)
            XCTAssertGreaterThanOrEqual(mainCount, written)
            let picture = try run(["flamegraph", r.path, "--kind", kind.name, "-o", "-"])
            let only = try Flame(svg: picture)
            XCTAssertEqual(only.node([])?.count, count(r, kind), kind.name)
            XCTAssertEqual(only.selfCount(main), mainCount, "main's own \(kind.name) faults")
            XCTAssertEqual(only.node(main)?.count,
                           r.rootFirst.indices.filter { r.rootFirst[$0].starts(with: Self.mainStack) && r.log.faults[$0].kind == kind }.count)
        }
    }

    /// One titled element of the heatmap: a cell ("TIME, NAME 0xA–0xB: N faults (KIND N, …)")
    /// or a band ("NAME 0xA–0xB: P pages touched, N faults").
    struct HeatTitle {
        var text: String
        var range: Range<UInt64>?
        var faults: Int
        var pages: Int?
        var kinds: [String: Int]

        init?(_ text: String) {
            guard let colon = text.range(of: ": ", options: .backwards) else { return nil }
            self.text = text
            func number(_ s: Substring) -> Int? { Int(s.prefix { $0.isNumber || $0 == "," }.filter(\.isNumber)) }
            let head = text[..<colon.lowerBound], tail = text[colon.upperBound...]
            if let a = head.range(of: " 0x", options: .backwards), let dash = head[a.upperBound...].firstIndex(of: "–") {
                let low = UInt64(head[a.upperBound..<dash], radix: 16)
                let high = UInt64(head[head.index(after: dash)...].dropFirst(2), radix: 16)
                if let low, let high, low <= high { range = low..<high }
            }
            kinds = [:]
            if tail.contains(" pages touched, "), let p = number(tail),
               let n = tail.components(separatedBy: " pages touched, ").last.flatMap({ number(Substring($0)) }) {
                // A band: "P pages touched, N faults; by 4242 cc1 (N1), …".
                pages = p
                faults = n
            } else if tail.hasSuffix(")"), let open = tail.lastIndex(of: "(") {
                guard let n = number(tail) else { return nil }
                faults = n
                for part in tail[tail.index(after: open)..<tail.index(before: tail.endIndex)].split(separator: ",") {
                    let kv = part.split(separator: " ")
                    if kv.count == 2, let v = Int(kv[1]) { kinds[String(kv[0])] = v }
                }
            } else {
                return nil
            }
        }

        var isCell: Bool { pages == nil }
    }

    func heatTitles(_ svg: String) throws -> [HeatTitle] {
        try XMLCollector.parse(svg).texts(of: "title").compactMap(HeatTitle.init)
    }

    func testHeatmapPlacesEveryFaultAndKindSelects() throws {
        let r = try recording()
        let out = cli.scratch.appendingPathComponent("heat.svg").path
        let o = try cli.run(["heatmap", r.path, "-o", out])
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertEqual(o.stderr, "faultline: heatmap written to \(out)\n")
        let titles = try heatTitles(try String(contentsOfFile: out, encoding: .utf8))
        let cells = titles.filter(\.isCell)
        XCTAssertEqual(cells.map(\.faults).reduce(0, +), r.log.faults.count)
        for kind in FaultKind.allCases {
            XCTAssertEqual(cells.map { $0.kinds[kind.name] ?? 0 }.reduce(0, +), count(r, kind), kind.name)
        }
        // The sample's region is one band (its VMA, cut to the pages touched): the band
        // holds the parent's 1000 first writes and the child's 250 copies, and whatever else
        // the log has in its range; its cells add up to it, kind by kind.
        let band = try XCTUnwrap(titles.first { !$0.isCell && $0.text.hasPrefix("[anon] ") && $0.range?.lowerBound == r.parent.start },
                                 "no band starts at the region: \(titles.filter { !$0.isCell }.map(\.text))")
        let range = try XCTUnwrap(band.range)
        XCTAssertGreaterThanOrEqual(range.upperBound, r.parent.end)
        let logged = r.log.faults.filter { range.contains($0.address) && ($0.pid == r.parent.pid || $0.pid == r.child.pid) }
        XCTAssertEqual(band.faults, logged.count)
        XCTAssertEqual(band.pages, Set(logged.map { $0.address >> 12 }).count)
        let bandCells = cells.filter { cell in cell.text.contains(", [anon] 0x") && cell.range.map { range.contains($0.lowerBound) } ?? false }
        XCTAssertEqual(bandCells.map(\.faults).reduce(0, +), logged.count)
        for (kind, sample) in [(FaultKind.anon, r.parent), (.cow, r.child)] {
            let n = logged.filter { $0.kind == kind }.count
            XCTAssertEqual(bandCells.map { $0.kinds[kind.name] ?? 0 }.reduce(0, +), n, kind.name)
            XCTAssertGreaterThanOrEqual(n, sample.count)
        }

        let cow = try run(["heatmap", r.path, "--kind", "cow", "-o", "-"])
        let cowCells = try heatTitles(cow).filter(\.isCell)
        XCTAssertEqual(cowCells.map(\.faults).reduce(0, +), count(r, .cow))
        XCTAssertTrue(cowCells.allSatisfy { $0.kinds.keys.allSatisfy { $0 == "cow" } }, "only cow faults drawn")
        XCTAssertTrue(try XMLCollector.parse(cow).text.contains("cow \(count(r, .cow).grouped())"), "the legend counts them")
    }

    // MARK: replay

    /// The log keeps each multi-size THP size's modes, anonymous and shmem, and shmem's
    /// top-level mode, as sysfs says them (read here by name, independently of the
    /// recorder), so replay can tell where a fault mapped a folio.
    func testTheLogKeepsTheHostsMultiSizeTHPModes() throws {
        let dir = "/sys/kernel/mm/transparent_hugepage/"
        let sizes = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("hugepages-") }
        try XCTSkipIf(sizes.isEmpty, "this kernel has no multi-size THP (\(dir)hugepages-*, Linux 6.8)")
        var expected = ["always": UInt64(0), "madvise": 0, "inherit": 0]
        // (A size with no anonymous mode, 8 KiB on x86, has no `enabled`.)
        for name in sizes {
            guard let text = try? String(contentsOfFile: dir + name + "/enabled", encoding: .utf8) else { continue }
            let mode = String(text.split(separator: "[")[1].split(separator: "]")[0])
            let kB = try XCTUnwrap(UInt64(name.dropFirst("hugepages-".count).dropLast(2)))
            if expected[mode] != nil { expected[mode]! |= kB * 1024 }
        }
        var shmem = ["always": UInt64(0), "within_size": 0, "advise": 0, "inherit": 0]
        for name in sizes {
            guard let text = try? String(contentsOfFile: dir + name + "/shmem_enabled", encoding: .utf8) else { continue }
            let mode = String(text.split(separator: "[")[1].split(separator: "]")[0])
            let kB = try XCTUnwrap(UInt64(name.dropFirst("hugepages-".count).dropLast(2)))
            if shmem[mode] != nil { shmem[mode]! |= kB * 1024 }
        }
        let top = try String(contentsOfFile: dir + "shmem_enabled", encoding: .utf8).split(separator: "[")[1].split(separator: "]")[0]
        let header = try recording().log.header
        for (mode, mask) in expected {
            XCTAssertEqual(header.setting("thp_sizes_\(mode)"), mask, mode)
        }
        for (mode, mask) in shmem {
            XCTAssertEqual(header.setting("shmem_sizes_\(mode)"), mask, "shmem \(mode)")
        }
        XCTAssertEqual(header.modeSetting("shmem_enabled"), String(top))
    }

    func testReplayTextAndJSONValues() throws {
        let r = try recording()
        let host = r.log.header.thpMode
        XCTAssertTrue(["always", "madvise", "never"].contains(host), "the recorded THP mode: \(host)")
        let args = ["replay", r.path, "--page-size", "4k,16k", "--thp", host == "never" ? "never" : "never,\(host)"]
        let root = try jsonObject(try run(args + ["--format", "json"]))
        let check = try XCTUnwrap(root["self_check"] as? [String: Any])
        XCTAssertEqual(check["matches"] as? Bool, true)
        XCTAssertEqual(check["thp"] as? String, host, "checked at the mode the log was recorded with")
        // A major fault (a page read from disk) is not the page table's doing: the self-check
        // leaves the recorded majors out, and repeats (a fault taken again on a page the
        // model has mapped already), and compares the rest: exactly the log's counts.
        let recordedAll = try XCTUnwrap(check["recorded_all"] as? [String: Int])
        for kind in FaultKind.allCases { XCTAssertEqual(recordedAll[kind.name], count(r, kind), kind.name) }
        XCTAssertEqual(check["excluded_major"] as? Int, count(r, .major))
        let repeats = try XCTUnwrap(check["excluded_repeats"] as? [String: Int])
        let recorded = try XCTUnwrap(check["recorded"] as? [String: Int])
        let replayedChecked = try XCTUnwrap(check["replayed"] as? [String: Int])
        for kind in FaultKind.allCases {
            XCTAssertEqual(recorded[kind.name], kind == .major ? 0 : count(r, kind) - (repeats[kind.name] ?? 0), kind.name)
        }
        for kind in ["anon", "zero", "cow"] { XCTAssertEqual(replayedChecked[kind], recorded[kind], kind) }
        /// The faults whose replayed kind the log cannot tell: each may move one fault from
        /// one kind to another (a major write to a private file page replays as cow).
        let unknown = count(r, .major) + repeats.values.reduce(0, +)
        /// What replay at the recorded page size finds of each kind, those aside: the log's,
        /// majors as file.
        func replayed(_ kind: FaultKind) -> Int {
            switch kind {
            case .major: 0
            case .file: count(r, .file) + count(r, .major)
            default: count(r, kind)
            }
        }

        let configs = try XCTUnwrap(root["configs"] as? [[String: Any]])
        let modes = host == "never" ? ["never"] : ["never", host]
        XCTAssertEqual(configs.map { $0["page_size"] as? Int }, modes.map { _ in 4096 } + modes.map { _ in 16384 })
        XCTAssertEqual(configs.map { $0["thp"] as? String }, modes + modes)
        XCTAssertEqual(configs.map { $0["recorded"] as? Bool }, modes.map { $0 == host } + modes.map { _ in false })

        // The region: at 4 KiB one fault per page written (1000 in the parent, then 250
        // copies in the child) and as many pages resident at the peak; at 16 KiB one per
        // 16 KiB page each process touched.
        func pages(_ e: Expectation, _ size: UInt64) -> Int { Int((e.end + size - 1) / size - e.start / size) }
        for (i, c) in configs.enumerated() {
            let size = UInt64(c["page_size"] as? Int ?? 0)
            let faults = try XCTUnwrap(c["faults"] as? [String: Int])
            XCTAssertEqual(faults["total"], FaultKind.allCases.map { faults[$0.name] ?? 0 }.reduce(0, +), "config \(i)")
            XCTAssertEqual(faults["major"], 0, "the model has no disk")
            if size == 4096 {
                // (Besides, the faults the kernel took filling memory for execve, which no
                // recording has.)
                let filled = try XCTUnwrap(c["filled_faults"] as? Int)
                let off = FaultKind.allCases.map { abs((faults[$0.name] ?? -1_000_000) - replayed($0)) }.reduce(0, +)
                XCTAssertLessThanOrEqual(off, 2 * unknown + filled, "config \(i): \(faults)")
            }
            let mappings = try XCTUnwrap(c["mappings"] as? [[String: Any]])
            let region = try XCTUnwrap(mappings.first { $0["start"] as? String == "0x" + String(r.parent.start, radix: 16) }, "config \(i)")
            XCTAssertEqual(region["end"] as? String, "0x" + String(r.parent.end, radix: 16), "MADV_NOHUGEPAGE made the region a VMA of its own")
            let regionPages = pages(r.parent, size) + pages(r.child, size)
            XCTAssertEqual(region["faults"] as? Int, regionPages, "config \(i)")
            XCTAssertEqual(region["peak_resident_bytes"] as? Int, regionPages * Int(size), "config \(i)")
            XCTAssertEqual(c["lower_bound"] as? Bool, false)
        }

        // The text shows the same numbers: one column per configuration, the recorded one
        // starred, and the region among the top mappings.
        let text = try run(args)
        let lines = text.split(separator: "\n").map(String.init)
        func cells(_ label: String) -> [String]? {
            lines.first { $0.hasPrefix(label + "  ") }.map { $0.dropFirst(label.count).split(separator: " ").map(String.init) }
        }
        let header = try XCTUnwrap(lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("4k never") }, text)
        XCTAssertEqual(header.split(separator: " ").map(String.init),
                       zip(configs, modes + modes).map { c, mode in
                           ["\(c["page_size_label"] as? String ?? "?")", mode + (c["recorded"] as? Bool == true ? "*" : "")]
                       }.flatMap { $0 })
        for kind in FaultKind.allCases {
            XCTAssertEqual(cells("faults \(kind.name)"), configs.map { ((($0["faults"] as? [String: Int])?[kind.name]) ?? -1).grouped() },
                           kind.name)
        }
        XCTAssertEqual(cells("faults total"), configs.map { ((($0["faults"] as? [String: Int])?["total"]) ?? -1).grouped() })
        XCTAssertEqual(cells("no fault (mapped already)"), configs.map { (($0["no_fault"] as? Int) ?? -1).grouped() })
        let regionRow = try XCTUnwrap(cells("[anon] 0x" + String(r.parent.start, radix: 16)), text)
        XCTAssertEqual(regionRow.enumerated().filter { $0.offset % 4 == 0 }.map(\.element),
                       configs.map { c in
                           ((((c["mappings"] as? [[String: Any]])?.first { $0["start"] as? String == "0x" + String(r.parent.start, radix: 16) })?["faults"] as? Int) ?? -1).grouped()
                       })
        XCTAssertTrue(text.hasPrefix("replay of recorded faults\nself-check at 4k thp=\(host) (the recorded configuration): anon, zero, cow reproduced exactly (anon \((recorded["anon"] ?? -1).grouped()), zero \((recorded["zero"] ?? -1).grouped()), cow \((recorded["cow"] ?? -1).grouped()))\n"), text)
    }

    // MARK: processes one by one

    /// Each process's service time, p50, p90, p99 and max, in a table of the text report
    /// and in HTML: the parent's 1000 first writes and the child's 250 copies among them,
    /// the times counted here from the log, fault by fault (nearest rank).
    func testEachProcessHasItsServicePercentilesInTextAndHTML() throws {
        let r = try recording()
        let text = try run(["report", r.path])
        let html = cli.scratch.appendingPathComponent("r.html").path
        _ = try run(["report", r.path, "--html", html])
        let page = try String(contentsOfFile: html, encoding: .utf8)
        let json = try jsonObject(try run(["report", r.path, "--format", "json"]))
        let processes = try XCTUnwrap(json["processes"] as? [[String: Any]])
        let table = try XCTUnwrap(text.components(separatedBy: "time in faults by process\n").dropFirst().first, text)
        for e in [r.parent, r.child] {
            let mine = r.log.faults.filter { $0.pid == e.pid }
            let times = mine.compactMap(\.serviceNs).sorted()
            XCTAssertGreaterThanOrEqual(times.count, e.count)
            func rank(_ p: Int) -> UInt64 { times[(times.count * p + 99) / 100 - 1] }
            let stats = [times.reduce(0, +), rank(50), rank(90), rank(99), times.last ?? 0]
            let cells = stats.map { TextFormat.shortDuration(ns: $0) }
            // The row, its cells one space apart.
            let row = try XCTUnwrap(table.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
                .first { $0.hasPrefix("\(e.pid) ") }, table)
            XCTAssertTrue(row.hasPrefix(([String(e.pid), mine.count.grouped()] + cells).joined(separator: " ")), row)
            let all = try XCTUnwrap((processes.first { $0["pid"] as? Int == Int(e.pid) }?["service"] as? [String: [String: NSNumber]])?["all"])
            XCTAssertEqual(["total_ns", "p50_ns", "p90_ns", "p99_ns", "max_ns"].map { all[$0]?.uint64Value }, stats)
            let ppid = e.pid == r.child.pid ? String(r.parent.pid) : String(r.log.processes[e.pid]?.ppid ?? -1)
            XCTAssertTrue(page.contains("<tr><td class=\"n\">\(e.pid)</td><td class=\"n\">\(ppid)</td><td class=\"n\">\(mine.count.grouped())</td>"
                                        + cells.map { "<td class=\"n\">\($0)</td>" }.joined()), "pid \(e.pid)")
        }
    }

    /// `info --pid` lists the child and counts its faults alone; the header stays whole.
    func testInfoOfTheChildAlone() throws {
        let r = try recording()
        let child = Int(r.child.pid)
        let info = try run(["info", r.path, "--pid", String(child)])
        let faults = count(r, where: { r.log.faults[$0].pid == r.child.pid })
        let cow = count(r, .cow, where: { r.log.faults[$0].pid == r.child.pid })
        XCTAssertGreaterThanOrEqual(cow, r.child.count)
        XCTAssertTrue(info.contains("selected"), info)
        XCTAssertTrue(info.contains("faults by kind (the selected processes')\n"), info)
        let lines = info.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        XCTAssertTrue(lines.contains("total \(faults.grouped())"), info)
        XCTAssertTrue(lines.contains("cow \(cow.grouped())"), info)
        XCTAssertTrue(lines.contains { $0.hasPrefix("\(child) \(r.parent.pid) \(faults.grouped()) ") }, info)
        XCTAssertFalse(lines.contains { $0.hasPrefix("\(r.parent.pid) ") }, "the parent is not listed: \(info)")
    }

    /// `replay --pid` counts the selected process's faults and replays every process: the
    /// child's 250 writes to its parent's pages are copies (cow), not first touches, and the
    /// region counts the child's 250 faults, or the parent's 1000.
    func testReplayCountsTheSelectedProcessAndKeepsForksRight() throws {
        let r = try recording()
        let host = r.log.header.thpMode
        for (e, other) in [(r.child, r.parent), (r.parent, r.child)] {
            let args = ["replay", r.path, "--page-size", "4k", "--thp", host, "--pid", String(e.pid)]
            let root = try jsonObject(try run(args + ["--format", "json"]))
            XCTAssertEqual(root["pids"] as? [Int], [Int(e.pid)])
            let check = try XCTUnwrap(root["self_check"] as? [String: Any])
            XCTAssertEqual(check["matches"] as? Bool, true, "\(check)")
            let recordedAll = try XCTUnwrap(check["recorded_all"] as? [String: Int])
            for kind in FaultKind.allCases {
                XCTAssertEqual(recordedAll[kind.name], count(r, kind, where: { r.log.faults[$0].pid == e.pid }), kind.name)
            }
            let (recorded, replayed) = (check["recorded"] as? [String: Int], check["replayed"] as? [String: Int])
            for kind in ["anon", "zero", "cow"] { XCTAssertEqual(replayed?[kind], recorded?[kind], kind) }
            // Every fault of the process, and only those, replayed: a fault or none (and
            // the faults the kernel took filling memory for its execve).
            let config = try XCTUnwrap((root["configs"] as? [[String: Any]])?.first)
            let faults = try XCTUnwrap(config["faults"] as? [String: Int])
            let filled = try XCTUnwrap(config["filled_faults"] as? Int)
            XCTAssertEqual((faults["total"] ?? 0) - filled + (config["no_fault"] as? Int ?? 0),
                           count(r, where: { r.log.faults[$0].pid == e.pid }))
            let mappings = try XCTUnwrap(config["mappings"] as? [[String: Any]])
            let region = try XCTUnwrap(mappings.first { $0["start"] as? String == "0x" + String(r.parent.start, radix: 16) })
            XCTAssertEqual(region["faults"] as? Int, e.count, "the region's faults are \(e.pid)'s alone, not \(other.pid)'s")
            let text = try run(args)
            XCTAssertTrue(text.contains("counted: the faults of pid \(e.pid) (faults by kind, the self-check, mappings); every process is replayed"), text)
        }
        // By name: both processes ran cow_fork, so everything is counted.
        let both = try jsonObject(try run(["replay", r.path, "--page-size", "4k", "--thp", host, "--comm", "cow_fork", "--format", "json"]))
        let config = try XCTUnwrap((both["configs"] as? [[String: Any]])?.first)
        XCTAssertEqual(((config["faults"] as? [String: Int])?["total"] ?? 0) - (config["filled_faults"] as? Int ?? 0)
                       + (config["no_fault"] as? Int ?? 0), r.log.faults.count)
        XCTAssertEqual(try cli.run(["replay", r.path, "--pid", "1", "--accesses", "/dev/null"]).status, 64)
    }
}

private extension Int {
    /// Thousands separated by commas, as faultline's text prints counts.
    func grouped() -> String {
        let digits = String(self)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && c != "-" && (digits.count - i) % 3 == 0 && digits.first != "-" { out += "," }
            out.append(c)
        }
        return out
    }
}
