// The lackey import: a real trace (Fixtures/lackey-small.txt, valgrind 3.19's lackey on
// Fixtures/lackey-small.c, trimmed to main's loop: 16 pages written once, then read twice)
// parsed and replayed through a TLB; and the streaming reader across its block boundary.

import XCTest
import FaultlineCore
@testable import FaultlineReplay

final class LackeyTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/lackey-small.txt").path

    func readAll(_ path: String) throws -> ([TraceAccess], LackeyReader) {
        let reader = try LackeyReader(path: path)
        let buffer = UnsafeMutableBufferPointer<TraceAccess>.allocate(capacity: 100)
        defer { buffer.deallocate() }
        var all: [TraceAccess] = []
        while true {
            let n = try reader.read(into: buffer)
            if n == 0 { break }
            all.append(contentsOf: buffer[0..<n])
        }
        return (all, reader)
    }

    func testParsesTheFixture() throws {
        let (accesses, reader) = try readAll(Self.fixture)
        XCTAssertEqual(accesses.filter { $0.access == .exec }.count, 336)
        XCTAssertEqual(accesses.filter { $0.access == .write }.count, 16)
        XCTAssertEqual(accesses.filter { $0.access == .read }.count, 32)
        XCTAssertEqual(reader.malformedLines, 0)
        XCTAssertEqual(accesses.first, TraceAccess(address: 0x109175, size: 3, access: .exec))
        XCTAssertEqual(Set(accesses.filter { $0.access != .exec }.map { $0.address >> 12 }).count, 16)
    }

    func tlbResult(l1dEntries: Int) throws -> ConfigResult {
        let spec = TLBSpec(name: "tiny", levels: [
            TLBLevelSpec(name: "L1I", entries: 16, ways: 16, pageSizes: [4096], replacement: .lru),
            TLBLevelSpec(name: "L1D", entries: l1dEntries, ways: l1dEntries, pageSizes: [4096], replacement: .lru),
        ], walkCacheEntries: [], walkAccessCycles: (min: 1, max: 1))
        let engine = ReplayEngine(config: ReplayConfig(pageSize: .k4, thp: .never), input: .wholeAddressSpace(), tlb: spec)
        return try engine.runTrace(try LackeyReader(path: Self.fixture), process: 0)
    }

    func testTLBOnTheFixture() throws {
        // 16 data pages cycled three times: a 16-entry LRU DTLB misses each once, an 8-entry
        // one misses every time. The loop's code is one page: one ITLB miss.
        let fits = try tlbResult(l1dEntries: 16)
        XCTAssertEqual(fits.tlb!.levels[1].misses, 16)
        XCTAssertEqual(fits.tlb!.levels[1].hits, 32)
        XCTAssertEqual(fits.tlb!.levels[0].misses, 1)
        XCTAssertEqual(fits.tlb!.levels[0].hits, 335)
        XCTAssertEqual(fits.tlb!.walks, 17)
        let thrashes = try tlbResult(l1dEntries: 8)
        XCTAssertEqual(thrashes.tlb!.levels[1].misses, 48)
        // First touches: 16 pages written (anon); the code page, anonymous without a log,
        // is a first read (zero page).
        XCTAssertEqual(fits.faults(.anon), 16)
        XCTAssertEqual(fits.faults(.zero), 1)
    }

    func testStreamsAcrossBlocksAndCountsBadLines() throws {
        // ~1.6 MB: more than one read block, so lines straddle the boundary.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lackey-\(getpid()).txt").path
        var text = "==1== banner\n"
        for i in 0..<100_000 { text += i % 2 == 0 ? " L 7ff000ba0,8\n" : "I  04222cac,3\n" }
        text += "garbage line\n S 10,4"   // the last line has no newline
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (accesses, reader) = try readAll(path)
        XCTAssertEqual(accesses.count, 100_001)
        XCTAssertEqual(accesses.last, TraceAccess(address: 0x10, size: 4, access: .write))
        XCTAssertEqual(reader.malformedLines, 1)
        XCTAssertEqual(reader.firstMalformedLine, 100_002)
    }
}
