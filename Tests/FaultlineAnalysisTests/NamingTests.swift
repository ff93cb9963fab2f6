// How reports name things for a person: anonymous mappings as pmap names them, long C++
// names cut to what tells them apart, numbers with thousands separators, heatmap bands
// with the processes that faulted in them.

import XCTest
import FaultlineCore
import FaultlineLog
@testable import FaultlineAnalysis

final class NamingTests: FixtureTestCase {
    func testAnonymousMemoryIsNamedAsPmapNamesIt() {
        XCTAssertEqual(MappingName.display("//anon"), "[anon]")
        XCTAssertEqual(MappingName.display("[heap]"), "[heap]")
        XCTAssertEqual(MappingName.display("/usr/lib/libc.so.6"), "/usr/lib/libc.so.6")
        XCTAssertTrue(MappingName.isFile("/usr/lib/libc.so.6"))
        XCTAssertFalse(MappingName.isFile("//anon"))
        XCTAssertFalse(MappingName.isFile("[anon]"))
    }

    func testLongCppNamesKeepTheirEnd() {
        let name = "std::vector<Foo, std::allocator<Foo>>::_M_realloc_insert<Foo const&>(__gnu_cxx::__normal_iterator<Foo*, std::vector<Foo, std::allocator<Foo>>>, Foo const&)"
        XCTAssertEqual(NameShortener.shorten(name, to: 60), "std::vector<…>::_M_realloc_insert<…>(…)")
        // Parameters go first; that is enough here.
        XCTAssertEqual(NameShortener.shorten("ns::Widget::paint(QPainter*, QRect const&) const", to: 30), "ns::Widget::paint(…) const")
        // "(anonymous namespace)" is not a parameter list; operators are not templates.
        XCTAssertEqual(NameShortener.collapseParameters("(anonymous namespace)::g"), "(anonymous namespace)::g")
        XCTAssertEqual(NameShortener.collapseTemplates("operator<<(std::ostream&)"), "operator<<(std::ostream&)")
        XCTAssertEqual(NameShortener.collapseTemplates("a->b<int>"), "a->b<…>")
        // Short names and a cut name with unbalanced brackets are left alone.
        XCTAssertEqual(NameShortener.shorten("main", to: 60), "main")
        XCTAssertEqual(NameShortener.collapseTemplates("f<int"), "f<int")
        // Without templates or parameters to drop, the middle goes, the end stays.
        let plain = String(repeating: "a", count: 50) + "::" + String(repeating: "b", count: 50)
        let cut = NameShortener.shorten(plain, to: 30)
        XCTAssertEqual(cut.count, 30)
        XCTAssertTrue(cut.hasSuffix(String(repeating: "b", count: 20)), cut)
        XCTAssertTrue(cut.contains("…"))
        // Where a scope begins, when the method fits: the method's name whole.
        let method = "very_long_namespace_name::inner_detail_namespace::PageToucherWithAnExtremelyLongName<std::string, long>"
            + "::touch_every_page_of_the_mapping(std::map<std::string, long>&, int)"
        XCTAssertEqual(NameShortener.shorten(method, to: 60), "very_long_namespace_nam…::touch_every_page_of_the_mapping(…)")
        XCTAssertEqual(NameShortener.shorten(method, to: 100),
                       "very_long_namespace_name…::PageToucherWithAnExtremelyLongName<…>::touch_every_page_of_the_mapping(…)")
    }

    func testNumbersAreGroupedInThrees() {
        XCTAssertEqual(0.grouped, "0")
        XCTAssertEqual(999.grouped, "999")
        XCTAssertEqual(77992.grouped, "77,992")
        XCTAssertEqual(1_234_567.grouped, "1,234,567")
        XCTAssertEqual((-1234).grouped, "-1,234")
        XCTAssertEqual(UInt64.max.grouped, "18,446,744,073,709,551,615")
        XCTAssertEqual(Int64.min.grouped, "-9,223,372,036,854,775,808")
    }

    func testRatiosAreRoundedWithOneDecimalBelowTen() {
        // 171 µs against a median of 65.1 µs is 2.63 times: not "2×".
        XCTAssertEqual(TextFormat.times(171_000, 65_100), "2.6×")
        XCTAssertEqual(TextFormat.times(9_090_000, 942_000), "9.6×")
        XCTAssertEqual(TextFormat.times(9_980_000, 1_000_000), "10×", "9.98 rounds to 10")
        XCTAssertEqual(TextFormat.times(15_300_000, 942_000), "16×", "16.2, rounded")
        XCTAssertEqual(TextFormat.times(7_370_000, 4_810), "1,532×")
        XCTAssertEqual(TextFormat.times(.max, 1), "1.84e+19×")
        XCTAssertNil(TextFormat.times(5, 0))
    }

    func testDistancesAreExactWithGroupedDigits() {
        XCTAssertEqual(TextFormat.distance(1), "1 byte")
        XCTAssertEqual(TextFormat.distance(16), "16 bytes")
        XCTAssertEqual(TextFormat.distance(36_864), "36 KiB")
        XCTAssertEqual(TextFormat.distance(4_097), "4,097 bytes (4.00 KiB)")
        XCTAssertEqual(TextFormat.distance(94_279_139_360_752), "94,279,139,360,752 bytes (85.75 TiB)")
        XCTAssertEqual(TextFormat.distance(1 << 50), "1,024 TiB")
    }

    func testHeatmapBandsNameTheirProcesses() throws {
        let log = try FixtureLog.load()
        let (owner, owners) = Heatmap.owners([100: 3, 101: 12], log: log)
        XCTAssertEqual(owner, "2 processes")
        XCTAssertEqual(owners, "101 prog (12), 100 prog (3)")
        XCTAssertEqual(Heatmap.owners([101: 1], log: log).owner, "101 prog")
        // The fixture's [heap] band holds both processes' faults: 11 of the parent's, 4 of the child's.
        let path = FixtureLog.temporaryPath("owners.flt")
        try FixtureLog.write(to: path)
        let map = Heatmap(timeline: try Timeline.load(path: path))
        let heap = try XCTUnwrap(map.bands.first { $0.label == "[heap]" })
        XCTAssertEqual(heap.owner, "2 processes")
        XCTAssertEqual(heap.owners, "100 prog (11), 101 prog (4)")
    }
}
