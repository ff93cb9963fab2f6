// Demangling and offset→address conversion, checked without compiling anything.

@testable import FaultlineSymbolize
import XCTest

final class DemangleTests: XCTestCase {
    func testCPlusPlusNames() {
        XCTAssertEqual(demangle("_ZN9faultline5Probe3runEi"), "faultline::Probe::run(int)")
        XCTAssertEqual(demangle("_Z3fooPKcz"), "foo(char const*, ...)")
    }

    func testSwiftNames() {
        XCTAssertEqual(demangle("$sSi"), "Swift.Int")
        XCTAssertEqual(demangle("$s4main3fooyyF"), "main.foo() -> ()")
        XCTAssertEqual(demangle("_$s4main3fooyyF"), "main.foo() -> ()")
    }

    func testPlainAndMalformedNamesAreUnchanged() {
        XCTAssertEqual(demangle("malloc"), "malloc")
        XCTAssertEqual(demangle("_Znot_really_mangled"), "_Znot_really_mangled")
        XCTAssertEqual(demangle("$s!!!"), "$s!!!")
    }
}

final class LoadSegmentsTests: XCTestCase {
    // The layout of a typical non-PIE executable: text at 0x401000 from offset 0x1000, data
    // sharing a file page with rodata, and a .bss tail (memsz > filesz, not modelled here).
    private let segments = LoadSegments([
        .init(fileOffset: 0x0, fileSize: 0x4f8, virtualAddress: 0x400000),
        .init(fileOffset: 0x1000, fileSize: 0x1a5, virtualAddress: 0x401000),
        .init(fileOffset: 0x2df0, fileSize: 0x230, virtualAddress: 0x403df0),
    ])

    func testOffsetsInsideSegmentsMapToTheirAddresses() {
        XCTAssertEqual(segments.virtualAddress(forFileOffset: 0x0), 0x400000)
        XCTAssertEqual(segments.virtualAddress(forFileOffset: 0x1000), 0x401000)
        XCTAssertEqual(segments.virtualAddress(forFileOffset: 0x11a4), 0x4011a4)
        XCTAssertEqual(segments.virtualAddress(forFileOffset: 0x2e00), 0x403e00)
    }

    func testOffsetsOutsideEverySegmentHaveNoAddress() {
        XCTAssertNil(segments.virtualAddress(forFileOffset: 0x4f8))   // gap after the headers
        XCTAssertNil(segments.virtualAddress(forFileOffset: 0x11a5))  // one past text
        XCTAssertNil(segments.virtualAddress(forFileOffset: 0x3020))  // past the file-backed data
        XCTAssertNil(segments.virtualAddress(forFileOffset: .max))
    }
}
