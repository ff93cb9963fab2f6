// PageMap against a Dictionary on random operations: the replay's counts are only as right
// as its hash map.

import XCTest
@testable import FaultlineReplay

final class PageMapTests: XCTestCase {
    func testMatchesDictionaryUnderRandomOperations() {
        var rng = SystemRandomNumberGenerator()
        let map = PageMap()
        defer { map.destroy() }
        var reference: [UInt64: UInt8] = [:]
        for _ in 0..<200_000 {
            // A small key space so that removals hit and probe runs wrap.
            let key = UInt64.random(in: 0..<5_000, using: &rng) * 7919
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                let v = UInt8.random(in: 1...255, using: &rng)
                XCTAssertEqual(map.set(key, v), reference[key] ?? 0)
                reference[key] = v
            case 1:
                XCTAssertEqual(map.remove(key), reference.removeValue(forKey: key) ?? 0)
            default:
                XCTAssertEqual(map.get(key), reference[key] ?? 0)
            }
        }
        XCTAssertEqual(map.count, reference.count)
        var seen = 0
        map.forEach { k, v in seen += 1; XCTAssertEqual(reference[k], v) }
        XCTAssertEqual(seen, reference.count)
        let low: UInt64 = 1000 * 7919, high: UInt64 = 1100 * 7919
        XCTAssertEqual(Set(map.entries(in: low, high).map(\.0)), Set(reference.keys.filter { $0 >= low && $0 < high }))
    }
}
