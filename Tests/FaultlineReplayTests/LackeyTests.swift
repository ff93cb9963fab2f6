// The lackey import: a real trace (Fixtures/lackey-small.txt, valgrind 3.19's lackey on
// Fixtures/lackey-small.c, trimmed to main's loop: 16 pages written once, then read twice)
// parsed and replayed through a TLB; and the streaming reader across its block boundary.

import XCTest
import FaultlineTestSupport
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

    func write(_ bytes: [UInt8], name: String = #function) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lackey-\(getpid())-\(name.hashValue).txt").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Issue 9's hostile lines: the last page of the address space, an access running past
    /// its end, sizes that do not fit, trailing junk, overlong and binary lines. None traps;
    /// each is read as what it is or counted as malformed.
    func testHostileLines() throws {
        let text = """
         S fffffffffffff000,8
         S fffffffffffffff8,16
         L 10,99999999999
         L 10,1048577
         L 10,1048576
         L 10,8xyz
         L 1fffffffffffffffff,8
         L ,8
        I  400000,3\r
         M 20,
        
        ==12== banner
        """
        let garbage: [UInt8] = [0, 255, 1, 10, 32, 76, 32, 0, 44, 56, 10, 200, 83, 83, 10]
        let (accesses, reader) = try readAll(try write(Array(text.utf8) + [10] + garbage + Array(" S 30,4".utf8)))
        XCTAssertEqual(accesses, [
            TraceAccess(address: 0xffff_ffff_ffff_f000, size: 8, access: .write),
            TraceAccess(address: 0xffff_ffff_ffff_fff8, size: 16, access: .write),
            TraceAccess(address: 0x10, size: 1 << 20, access: .read),
            TraceAccess(address: 0x40_0000, size: 3, access: .exec),
            TraceAccess(address: 0x30, size: 4, access: .write),
        ])
        XCTAssertEqual(reader.malformedLines, 9)
        XCTAssertEqual(reader.firstMalformedLine, 3)
        XCTAssertEqual(reader.lines, 16)
        // The access past the end stops at the last byte instead of wrapping to page 0.
        XCTAssertEqual(accesses[0].lastByte, 0xffff_ffff_ffff_f007)
        XCTAssertEqual(accesses[1].lastByte, .max)
    }

    /// A line longer than the read block is one malformed line, skipped to its newline: the
    /// text after the block boundary is not read as a line of its own.
    func testOverlongLineIsSkippedWhole() throws {
        var bytes = [UInt8](repeating: 120, count: LackeyReader.blockSize)   // "xxx…", no newline
        bytes += Array(" L 1234,8\n S 10,4\n".utf8)
        bytes += [UInt8](repeating: 121, count: 3 * LackeyReader.blockSize / 2)   // another, at the end
        let (accesses, reader) = try readAll(try write(bytes))
        XCTAssertEqual(accesses, [TraceAccess(address: 0x10, size: 4, access: .write)])
        XCTAssertEqual(reader.malformedLines, 2)
        XCTAssertEqual(reader.firstMalformedLine, 1)
        XCTAssertEqual(reader.lines, 3)
    }

    /// The reader against a plain line-by-line parser written from the format's rules, on
    /// a seeded mix of valid lines, mutated lines and junk spanning more than one block.
    func testMatchesAPlainParserOnMutatedLines() throws {
        var rng = SeededGenerator(seed: 42)
        var bytes: [UInt8] = []
        let ops: [UInt8] = Array("ILSM".utf8)
        for _ in 0..<120_000 {
            let op = ops[Int(rng.next() % 4)]
            var line = Array((op == 73 ? "I  " : " \(Character(UnicodeScalar(op))) ").utf8)
            var hex = String(rng.next() >> (rng.next() % 64), radix: 16)
            switch rng.next() % 8 {
            case 0: hex = hex.uppercased()
            case 1: hex = String(repeating: "0", count: Int(rng.next() % 14)) + hex   // up to 30 digits
            default: break
            }
            line += Array(hex.utf8) + [44]
            line += Array(String(rng.next() % 100 == 0 ? rng.next() % 3_000_000 : rng.next() % 64).utf8)
            switch rng.next() % 20 {
            case 0: line[Int(rng.next() % UInt64(line.count))] = UInt8(truncatingIfNeeded: rng.next())
            case 1: line.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(line.count + 1)))
            case 2: line.removeLast(Int(rng.next() % UInt64(line.count)))
            case 3: line += [13]
            default: break
            }
            bytes += line + [10]
        }
        let (accesses, reader) = try readAll(try write(bytes))
        let (expected, malformed) = Self.plainParse(bytes)
        XCTAssertGreaterThan(bytes.count, LackeyReader.blockSize)
        XCTAssertEqual(accesses.count, expected.count)
        XCTAssertTrue(accesses == expected, "first difference at \(accesses.indices.first { accesses[$0] != expected[$0] } ?? -1)")
        XCTAssertEqual(reader.malformedLines, malformed)
        XCTAssertGreaterThan(malformed, 1000)
    }

    /// The word-at-a-time hex reader against a byte-at-a-time one, on words mixing hex
    /// digits with their neighbours in ASCII ('/', ':', '@', 'G', '`', 'g'), any byte and
    /// the bytes at and above 0x80.
    func testHexWordMatchesBytewise() {
        var rng = SeededGenerator(seed: 7)
        let near: [UInt8] = Array("0123456789abcdefABCDEF/:@G`g,\n ".utf8) + [0, 0x7F, 0x80, 0xB0, 0xE1, 0xFF]
        let word = UnsafeMutablePointer<UInt8>.allocate(capacity: 8)
        defer { word.deallocate() }
        for _ in 0..<200_000 {
            for i in 0..<8 { word[i] = rng.next() % 4 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : near[Int(rng.next() % UInt64(near.count))] }
            var value: UInt64 = 0, digits = 0
            while digits < 8, let d = Character(UnicodeScalar(word[digits])).hexDigitValue, word[digits] < 0x80 {
                value = value << 4 | UInt64(d)
                digits += 1
            }
            let got = LackeyReader.hexWord(word)
            XCTAssertEqual(got.digits, digits, "\(Array(UnsafeBufferPointer(start: word, count: 8)))")
            XCTAssertEqual(got.value, value, "\(Array(UnsafeBufferPointer(start: word, count: 8)))")
        }
    }

    /// The format's rules, one line at a time, with Swift strings.
    static func plainParse(_ bytes: [UInt8]) -> ([TraceAccess], UInt64) {
        var out: [TraceAccess] = []
        var malformed: UInt64 = 0
        for raw in bytes.split(separator: 10, omittingEmptySubsequences: false).dropLast() {
            var line = Substring(String(decoding: raw, as: UTF8.self))
            while line.first == " " { line.removeFirst() }
            if line.isEmpty || line.first == "=" { continue }
            let kinds: [Character: Access] = ["I": .exec, "L": .read, "S": .write, "M": .write]
            guard let kind = line.first.flatMap({ kinds[$0] }), line.dropFirst().first == " " else { malformed += 1; continue }
            let rest = line.dropFirst().drop { $0 == " " }
            var fields = rest.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
            while let last = fields.last?.last, [" ", "\r", "\t"].contains(last) { fields[fields.count - 1].removeLast() }
            guard fields.count == 2, (1...16).contains(fields[0].count), fields[0].allSatisfy(\.isHexDigit),
                  let address = UInt64(fields[0], radix: 16), (1...7).contains(fields[1].count),
                  fields[1].allSatisfy({ $0.isASCII && $0.isNumber }), let size = UInt32(fields[1]), size <= 1 << 20 else {
                malformed += 1; continue
            }
            out.append(TraceAccess(address: address, size: size, access: kind))
        }
        return (out, malformed)
    }
}

