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

    func testPresetsByName() throws {
        XCTAssertEqual(try TLBSpec.named("Skylake").name, "skylake")
        XCTAssertThrowsError(try TLBSpec.named("pentium"))
        XCTAssertThrowsError(try TLBSpec.named("/no/such/file.json"))
    }
}
