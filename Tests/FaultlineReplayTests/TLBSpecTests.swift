// TLB hierarchy files: the README's example parses; every bad file gets one line that
// names what is wrong.

import XCTest
@testable import FaultlineReplay

final class TLBSpecTests: XCTestCase {
    func parse(_ json: String) throws -> TLBSpec { try TLBSpec.fromJSON(Data(json.utf8), source: "t.json") }

    func message(_ json: String) -> String {
        do { _ = try parse(json); return "parsed" } catch { return "\(error)" }
    }

    func testIssueExample() throws {
        let s = try parse(#"{"name":"tiny","levels":[{"name":"L1D","entries":64,"ways":64,"page_sizes":["4k"],"replacement":"lru"}]}"#)
        XCTAssertEqual(s.name, "tiny")
        XCTAssertEqual(s.levels, [TLBLevelSpec(name: "L1D", entries: 64, ways: 64, pageSizes: [4096], replacement: .lru,
                                               serves: .data, tier: 1)])
    }

    func testFullSchema() throws {
        let s = try parse(#"""
        {"name": "x", "levels": [
          {"name": "L1I", "entries": 48, "ways": 48, "page_sizes": ["4k", "64k"], "replacement": "plru"},
          {"name": "STLB", "entries": 1536, "ways": 12, "page_sizes": ["4k", "2m", "1g"], "replacement": "random",
           "serves": "unified", "tier": 2, "smash_to": "2m"}],
         "walk_cache": [16, 2], "walk_cycles_per_access": {"min": 5, "max": 300}, "seed": 7}
        """#)
        XCTAssertEqual(s.levels[0].serves, .instruction)
        XCTAssertEqual(s.levels[1].tier, 2)
        XCTAssertEqual(s.levels[1].sets, 128)
        XCTAssertEqual(s.levels[1].smashTo, 2 << 20)
        XCTAssertEqual(s.walkCacheEntries, [16, 2])
        XCTAssertEqual(s.walkAccessCycles.max, 300)
        XCTAssertEqual(s.seed, 7)
    }

    func testBadFiles() {
        XCTAssertEqual(message("[1]"), "t.json: expected a JSON object")
        XCTAssertEqual(message("{}"), "t.json: missing \"levels\" array")
        XCTAssertEqual(message(#"{"levels":[]}"#), "t.json: no levels")
        XCTAssertEqual(message(#"{"levels":[{"name":"A","ways":2,"page_sizes":["4k"]}]}"#), "t.json: level A: \"entries\" must be an integer")
        XCTAssertEqual(message(#"{"levels":[{"name":"A","entries":8,"ways":3,"page_sizes":["4k"]}]}"#), "t.json: level A: 8 entries do not divide into 3 ways")
        XCTAssertEqual(message(#"{"levels":[{"name":"A","entries":8,"page_sizes":["5k"]}]}"#), "t.json: level A: bad page size 5k (use 4k, 16k, 64k, 2m, 32m, 512m, 1g)")
        XCTAssertEqual(message(#"{"levels":[{"name":"A","entries":8,"page_sizes":["4k"],"replacement":"fifo"}]}"#), "t.json: level A: replacement must be lru, plru or random")
        XCTAssertEqual(message(#"{"levels":[{"name":"A","entries":-8,"page_sizes":["4k"]}]}"#), "t.json: level A: entries must be positive, not -8")
        XCTAssertEqual(message(#"{"levels":[{"name":"A","entries":8,"page_sizes":["4k"]}],"walk_cycles_per_access":{"min":9,"max":1}}"#),
                       "t.json: walk_cycles_per_access needs 0 <= min <= max")
    }

    func level(_ fields: String) -> String { #"{"levels":[{"name":"A","page_sizes":["4k"],"# + fields + "}]}" }

    /// Issue 9: 4e9 entries aborted on a 32 GB allocation, 1e9 or 2^63-1 spun for minutes.
    /// Every size has a limit, and a file past it gets one line naming the field.
    func testSizesHaveLimits() {
        for entries in ["4000000000", "4e9", "1e9", "9223372036854775807", "1e300", "18446744073709551616"] {
            XCTAssertTrue(message(level(#""entries":"# + entries)).hasPrefix("t.json: level A: entries "), entries)
            XCTAssertTrue(message(level(#""entries":"# + entries)).hasSuffix(" is above the limit of 262144"), entries)
        }
        XCTAssertEqual(message(level(#""entries":2048"#)), #"t.json: level A: ways 2048 is above the limit of 1024 (give "ways" for a large array)"#)
        XCTAssertEqual(message(level(#""entries":262144,"ways":1024"#)), "parsed")
        XCTAssertEqual(message(#"{"levels":[{"name":"A","entries":8,"page_sizes":["4k"]}],"walk_cache":[4096]}"#),
                       "t.json: walk_cache: 4096 entries is above the limit of 1024")
        XCTAssertEqual(message(#"{"levels":[{"name":"A","entries":8,"page_sizes":["4k"]}],"walk_cache":[1,1,1,1,1,1,1,1,1]}"#),
                       "t.json: walk_cache: 9 levels is above the limit of 8")
        XCTAssertEqual(message(#"{"levels":[{"name":"A","entries":8,"page_sizes":["4k"]}],"walk_cycles_per_access":{"min":1,"max":1e12}}"#),
                       "t.json: walk_cycles_per_access: max 1000000000000 is above the limit of 100000")
        let many = Array(repeating: #"{"entries":8,"page_sizes":["4k"]}"#, count: 17).joined(separator: ",")
        XCTAssertEqual(message(#"{"levels":["# + many + "]}"), "t.json: levels: 17 levels is above the limit of 16")
        // Page sizes: a product past 2^64 is not wrapped into a small size; large ones are named.
        XCTAssertEqual(message(level(#""entries":8,"page_sizes":["1152921504606846976g"]"#).replacingOccurrences(of: #""page_sizes":["4k"],"#, with: "")),
                       "t.json: level A: bad page size 1152921504606846976g (use 4k, 16k, 64k, 2m, 32m, 512m, 1g)")
        XCTAssertEqual(message(level(#""entries":8,"page_sizes":["2048g"]"#).replacingOccurrences(of: #""page_sizes":["4k"],"#, with: "")),
                       "t.json: level A: page size 2048g is not a power of two from 4k to 1g")
        XCTAssertEqual(message(level(#""entries":8,"smash_to":"4096g""#)), "t.json: level A: smash_to 4096g is not a power of two from 4k to 1g")
        XCTAssertNil(TLBSpec.parseSize("18446744073709551616"))
        XCTAssertNil(TLBSpec.parseSize("17179869184g"))
    }

    func testInclusionField() throws {
        XCTAssertEqual(try parse(level(#""entries":8"#)).inclusion, .nonInclusive)
        for mode in TLBInclusion.allCases {
            XCTAssertEqual(try parse(#"{"inclusion":""# + mode.rawValue + #"","# + level(#""entries":8"#).dropFirst()).inclusion, mode)
        }
        XCTAssertEqual(message(#"{"inclusion":"sometimes","# + level(#""entries":8"#).dropFirst()),
                       "t.json: inclusion must be inclusive, exclusive or non-inclusive")
    }

    /// A TLB file is read up to a limit: a huge file (or a device) is refused, not loaded.
    func testLargeFileIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tlb-\(getpid()).json").path
        try Data(repeating: 32, count: 2 << 20).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try TLBSpec.named(path)) { error in
            XCTAssertEqual("\(error)", "\(path): larger than 1048576 bytes, the limit for a TLB file")
        }
    }

    func testWalkCyclesSaturate() {
        XCTAssertEqual(TLBHierarchy.saturatingProduct(.max / 2, 3), .max)
        XCTAssertEqual(TLBHierarchy.saturatingProduct(7, 3), 21)
    }

    func testPresetsByName() throws {
        XCTAssertEqual(try TLBSpec.named("Skylake").name, "skylake")
        XCTAssertThrowsError(try TLBSpec.named("pentium"))
        XCTAssertThrowsError(try TLBSpec.named("/no/such/file.json"))
    }
}
