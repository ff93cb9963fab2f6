// Checks LibdwSymbolizer against programs compiled here and against the system libc,
// using nm/readelf as the independent answer. Needs gcc and binutils; g++ is optional.

import FaultlineAnalysis
@testable import FaultlineSymbolize
import Foundation
import XCTest
import FaultlineTestSupport

final class LibdwSymbolizerTests: XCTestCase {
    private static let cSource = """
    #include <stdio.h>

    int faultline_probe_function(int x) {
        return x * 2 + 1;
    }

    static inline __attribute__((always_inline)) int faultline_inner(int x) {
        return x * 3 + 7; /* inner body */
    }

    int faultline_outer(int x) {
        int y = faultline_inner(x);
        return y + 1;
    }

    int main(int argc, char **argv) {
        (void)argv;
        printf("%d\\n", faultline_probe_function(argc) + faultline_outer(argc));
        return 0;
    }

    """

    private var directory: URL!

    override func setUpWithError() throws {
        for tool in ["gcc", "nm", "readelf"] where !ELFTestTools.isAvailable(tool) {
            throw Skip.because("\(tool) is not installed: cannot build or inspect the probe program")
        }
        directory = try ELFTestTools.makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// Compiles `cSource` with -g -O0; `pie: false` gives an ET_EXEC whose addresses do not
    /// equal its file offsets, which is what the offset→vaddr conversion is for.
    private func compileProbe(pie: Bool) throws -> (binary: String, source: String) {
        let source = directory.appendingPathComponent("probe.c").path
        try Self.cSource.write(toFile: source, atomically: true, encoding: .utf8)
        let binary = directory.appendingPathComponent(pie ? "probe-pie" : "probe-exec").path
        try ELFTestTools.run(["gcc", "-g", "-O0", pie ? "-pie" : "-no-pie", "-o", binary, source])
        return (binary, source)
    }

    private func fileOffset(of name: String, in binary: String) throws -> (offset: UInt64, size: UInt64) {
        let symbol = try XCTUnwrap(try ELFTestTools.symbol(named: name, in: binary), "nm has no \(name)")
        let offset = try XCTUnwrap(try ELFTestTools.fileOffset(ofVirtualAddress: symbol.value, in: binary),
                                   "no PT_LOAD holds \(name)")
        return (offset, symbol.size ?? 1)
    }

    func testNamesFunctionFileAndLineInPIEAndNonPIE() throws {
        let expectedLine = try XCTUnwrap(
            ELFTestTools.lineNumber(of: "int faultline_probe_function(", in: Self.cSource))
        for pie in [true, false] {
            let (binary, _) = try compileProbe(pie: pie)
            let (offset, _) = try fileOffset(of: "faultline_probe_function", in: binary)
            let symbolizer = LibdwSymbolizer()
            let symbol = try XCTUnwrap(
                symbolizer.symbolize(modulePath: binary, buildID: [], fileOffset: offset), "pie: \(pie)")
            XCTAssertEqual(symbol.function, "faultline_probe_function", "pie: \(pie)")
            XCTAssertEqual(symbol.file.map { URL(fileURLWithPath: $0).lastPathComponent }, "probe.c",
                           "pie: \(pie)")
            XCTAssertEqual(symbol.line, expectedLine, "pie: \(pie)")
            // Second call is answered from the cache and must agree.
            XCTAssertEqual(symbolizer.symbolize(modulePath: binary, buildID: [], fileOffset: offset), symbol)
        }
    }

    func testInlinedBodyIsNamedAfterTheInlinedFunction() throws {
        let (binary, _) = try compileProbe(pie: true)
        let (offset, size) = try fileOffset(of: "faultline_outer", in: binary)
        let innerLine = try XCTUnwrap(ELFTestTools.lineNumber(of: "inner body", in: Self.cSource))
        let symbolizer = LibdwSymbolizer()

        XCTAssertEqual(symbolizer.symbolize(modulePath: binary, buildID: [], fileOffset: offset)?.function,
                       "faultline_outer")
        let symbols = (offset..<offset + size).compactMap {
            symbolizer.symbolize(modulePath: binary, buildID: [], fileOffset: $0)
        }
        let inlined = symbols.filter { $0.function == "faultline_inner" }
        XCTAssertFalse(inlined.isEmpty, "no byte of faultline_outer was attributed to the inlined call")
        XCTAssertTrue(inlined.contains { $0.line == innerLine }, "inlined lines: \(inlined.map(\.line))")
    }

    func testMatchingBuildIDIsAcceptedAndDifferentOneRejected() throws {
        let (binary, _) = try compileProbe(pie: true)
        let (offset, _) = try fileOffset(of: "faultline_probe_function", in: binary)
        let buildID = try ELFTestTools.buildID(of: binary)
        try Skip.if(buildID.isEmpty, "this gcc does not emit a GNU build-id note (--build-id)")
        let symbolizer = LibdwSymbolizer()

        XCTAssertEqual(symbolizer.symbolize(modulePath: binary, buildID: buildID, fileOffset: offset)?.function,
                       "faultline_probe_function")
        var wrong = buildID
        wrong[0] ^= 0xff
        // Asked after the address is cached, so the check cannot be bypassed by the cache.
        XCTAssertNil(symbolizer.symbolize(modulePath: binary, buildID: wrong, fileOffset: offset))
        XCTAssertNil(symbolizer.symbolize(modulePath: binary, buildID: [1, 2, 3], fileOffset: offset))
    }

    func testUnusableModulesYieldNil() throws {
        let symbolizer = LibdwSymbolizer()
        let missing = directory.appendingPathComponent("no-such-binary").path
        XCTAssertNil(symbolizer.symbolize(modulePath: missing, buildID: [], fileOffset: 0x1000))
        XCTAssertNil(symbolizer.symbolize(modulePath: missing, buildID: [], fileOffset: 0x1000))
        XCTAssertNil(symbolizer.symbolize(modulePath: "[vdso]", buildID: [], fileOffset: 0))
        XCTAssertNil(symbolizer.symbolize(modulePath: directory.path, buildID: [], fileOffset: 0))
        XCTAssertNil(symbolizer.symbolize(modulePath: "/dev/zero", buildID: [], fileOffset: 0))

        let (binary, source) = try compileProbe(pie: true)
        XCTAssertNil(symbolizer.symbolize(modulePath: source, buildID: [], fileOffset: 0), "not an ELF file")
        // Far past the end of every PT_LOAD: no address, so no name.
        XCTAssertNil(symbolizer.symbolize(modulePath: binary, buildID: [], fileOffset: 1 << 40))
    }

    func testDemanglesCPlusPlusSymbols() throws {
        try Skip.unless(ELFTestTools.isAvailable("g++"), "g++ is not installed: no C++ binary to symbolize")
        let source = directory.appendingPathComponent("probe.cpp").path
        try """
        namespace faultline {
        struct Probe { static int run(int x); };
        int Probe::run(int x) { return x + 1; }
        }
        int main(int argc, char **) { return faultline::Probe::run(argc); }

        """.write(toFile: source, atomically: true, encoding: .utf8)
        let binary = directory.appendingPathComponent("probe-cpp").path
        try ELFTestTools.run(["g++", "-g", "-O0", "-o", binary, source])

        let (offset, _) = try fileOffset(of: "_ZN9faultline5Probe3runEi", in: binary)
        let symbol = LibdwSymbolizer().symbolize(modulePath: binary, buildID: [], fileOffset: offset)
        XCTAssertEqual(symbol?.function, "faultline::Probe::run(int)")
        XCTAssertEqual(symbol?.line, 3)
    }

    func testNamesAnExportedFunctionInLibc() throws {
        let libc = "/lib/x86_64-linux-gnu/libc.so.6"
        try Skip.unless(FileManager.default.fileExists(atPath: libc), "\(libc) not present (not x86_64 Debian/Ubuntu)")
        let dynamic = try ELFTestTools.symbols(in: libc, dynamic: true)
        let malloc = try XCTUnwrap(dynamic.first { $0.name == "malloc" })
        // glibc exports aliases at the same address (__libc_malloc); any of them is right.
        let aliases = Set(dynamic.filter { $0.value == malloc.value }.map(\.name))
        let offset = try XCTUnwrap(try ELFTestTools.fileOffset(ofVirtualAddress: malloc.value, in: libc))

        let symbol = try XCTUnwrap(LibdwSymbolizer().symbolize(
            modulePath: libc, buildID: try ELFTestTools.buildID(of: libc), fileOffset: offset))
        let function = try XCTUnwrap(symbol.function)
        XCTAssertTrue(aliases.contains(function), "\(function) is not one of \(aliases.sorted())")
        // Lines exist only when libc's debug info is installed (libc6-dbg).
        if let file = symbol.file { XCTAssertTrue(file.hasSuffix("malloc.c"), file) }
    }
}
