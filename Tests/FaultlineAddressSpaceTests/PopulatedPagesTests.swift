// The page history the recorder tells swap-ins by: pages in, out, moved, at block edges and
// at the top of the address space, against a plain set of pages as the reference.

import XCTest
@testable import FaultlineAddressSpace

final class PopulatedPagesTests: XCTestCase {
    let page: UInt64 = 4096
    let base: UInt64 = 0x7f00_0000_0000

    func testSinglePagesAndTheirNeighbours() {
        var pages = PopulatedPages()
        XCTAssertFalse(pages.testAndInsert(base + 5 * page + 17, start: base + 5 * page, end: base + 6 * page))
        XCTAssertTrue(pages.testAndInsert(base + 5 * page, start: base + 5 * page, end: base + 6 * page), "now it was populated")
        XCTAssertTrue(pages.contains(base + 6 * page - 1))
        XCTAssertFalse(pages.contains(base + 4 * page))
        XCTAssertFalse(pages.contains(base + 6 * page))
        XCTAssertEqual(pages.pageCount, 1)
    }

    func testRangesAcrossBlocksMatchASetOfPages() {
        var pages = PopulatedPages()
        var reference = Set<UInt64>()
        // Ranges that start and end inside blocks, span several, and touch block edges.
        let ranges: [(UInt64, UInt64)] = [(500, 530), (1023, 1025), (2048, 3072), (7, 8), (511, 512)]
        for (s, e) in ranges {
            pages.insert(base + s * page, base + e * page)
            for p in s..<e { reference.insert(base + p * page) }
        }
        pages.remove(base + 520 * page, base + 2100 * page)
        for p in UInt64(520)..<2100 { reference.remove(base + p * page) }
        XCTAssertEqual(Set(pages.pages(base, base + 4096 * page)), reference)
        XCTAssertEqual(pages.pageCount, reference.count)
        for p in UInt64(0)..<3200 {
            XCTAssertEqual(pages.contains(base + p * page), reference.contains(base + p * page), "page \(p)")
        }
    }

    func testAHugePageFaultPopulatesAllOfIt() {
        var pages = PopulatedPages()
        let huge = base + (2 << 20)
        XCTAssertFalse(pages.testAndInsert(huge + 77 * page, start: huge, end: huge + (2 << 20)))
        XCTAssertEqual(pages.pageCount, 512)
        XCTAssertTrue(pages.contains(huge) && pages.contains(huge + (2 << 20) - 1))
        XCTAssertFalse(pages.contains(huge - 1))
    }

    func testMoveTakesPagesAnyDistanceAndDropsWhatWasThere() {
        var pages = PopulatedPages()
        pages.insert(base, base + 3 * page)            // 3 pages to move
        pages.insert(base + 1000 * page, base + 1003 * page) // what the destination held
        pages.move(from: base, to: base + 1001 * page, length: 4 * page)
        XCTAssertEqual(pages.pages(0, .max), [base + 1000 * page, base + 1001 * page, base + 1002 * page, base + 1003 * page],
                       "the old destination pages in the range are gone, the moved ones are there, 1000 stays")
        XCTAssertFalse(pages.contains(base))
    }

    func testHugeRangesCostWhatIsPopulatedAndNothingWraps() {
        var pages = PopulatedPages()
        pages.insert(.max - page + 1, .max)
        XCTAssertTrue(pages.contains(.max - 5))
        pages.insert(base, base + page)
        // A munmap of the whole address space visits the two blocks, not 2^43 of them.
        pages.remove(0, .max)
        XCTAssertTrue(pages.isEmpty)
        pages.insert(base, base + page)
        pages.move(from: base, to: .max - page + 1, length: .max)
        XCTAssertFalse(pages.contains(base))
        XCTAssertTrue(pages.contains(.max - 1))
        pages.removeAll()
        XCTAssertEqual(pages.pageCount, 0)
    }

    func testOtherBasePageSizes() {
        var pages = PopulatedPages(pageSize: 16384)
        pages.insert(base, base + 1)
        XCTAssertTrue(pages.contains(base + 16383))
        XCTAssertFalse(pages.contains(base + 16384))
        XCTAssertEqual(PopulatedPages(pageSize: 12345).pageShift, 12, "not a page size: 4 KiB")
    }
}
