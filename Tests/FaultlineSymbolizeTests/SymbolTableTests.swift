// Checks the sorted symbol table at the places a lookup goes wrong by one: a function's
// last byte and the byte after it, labels without a size, symbols nested in or overlapping
// others, aliases; then against binutils (nm, addr2line) on a hand-laid assembler sample
// and on gcc's cc1, the module whose 27,000 exported functions made naming slow.

@testable import FaultlineSymbolize
import Foundation
import XCTest
import FaultlineTestSupport

final class SymbolTableTests: XCTestCase {
    private typealias Entry = SymbolTable.Entry

    private static func sized(_ name: String, _ start: UInt64, _ size: UInt64, rank: UInt8 = 2) -> Entry {
        Entry(start: start, end: start + size, rank: rank, name: name)
    }

    private static func label(_ name: String, _ start: UInt64, rank: UInt8 = 0) -> Entry {
        Entry(start: start, end: start, rank: rank, name: name)
    }

    // MARK: - rules, on tables built by hand

    func testRangeIsHalfOpen() {
        let table = SymbolTable(entries: [Self.sized("f", 0x100, 0x10)])
        XCTAssertNil(table.entry(at: 0xff))
        XCTAssertEqual(table.entry(at: 0x100)?.name, "f")
        XCTAssertEqual(table.entry(at: 0x10f)?.name, "f")
        XCTAssertNil(table.entry(at: 0x110), "the byte after the last one is not the function's")
    }

    func testNextFunctionOwnsTheFirstByteAfterTheEnd() {
        let table = SymbolTable(entries: [Self.sized("g", 0x110, 8), Self.sized("f", 0x100, 0x10)])
        XCTAssertEqual(table.entry(at: 0x10f)?.name, "f")
        XCTAssertEqual(table.entry(at: 0x110)?.name, "g")
    }

    func testLabelWithoutSizeNamesWhatFollowsIt() {
        let table = SymbolTable(entries: [Self.sized("f", 0x100, 0x10), Self.label("stub", 0x110),
                                          Self.label("later", 0x200)])
        XCTAssertEqual(table.entry(at: 0x110)?.name, "stub", "a label right at a function's end")
        XCTAssertEqual(table.entry(at: 0x1ff)?.name, "stub")
        XCTAssertEqual(table.entry(at: 0x200)?.name, "later")
        XCTAssertEqual(table.entry(at: UInt64.max)?.name, "later")
    }

    func testLabelInsideAnEndedFunctionNamesNothingPastIt() {
        // "inner" is a label in f's body: past f's end it is not the closest owner of anything.
        let table = SymbolTable(entries: [Self.sized("f", 0x100, 0x10), Self.label("inner", 0x108)])
        XCTAssertEqual(table.entry(at: 0x109)?.name, "f", "a sized function beats a label inside it")
        XCTAssertNil(table.entry(at: 0x110))
        XCTAssertNil(table.entry(at: 0x120))
    }

    func testLabelNamesNothingPastTheEndOfItsSection() {
        var header = Self.label("__ehdr_start", 0)
        header.lastInSection = nil // the ELF header is in no section
        var tail = Self.label("tail", 0x200)
        tail.lastInSection = 0x23f
        let table = SymbolTable(entries: [header, Self.sized("f", 0x100, 0x10), tail])
        XCTAssertNil(table.entry(at: 0x40), "before the first function: not the ELF header's label")
        XCTAssertEqual(table.entry(at: 0x23f)?.name, "tail")
        XCTAssertNil(table.entry(at: 0x240), "the first byte of the next section")
    }

    func testZeroSizedSymbolAtAFunctionsStartDoesNotOutliveIt() {
        let table = SymbolTable(entries: [Self.label("alias0", 0x100, rank: 2), Self.sized("f", 0x100, 0x10, rank: 0)])
        XCTAssertEqual(table.entry(at: 0x100)?.name, "f", "sized beats sizeless whatever the binding")
        XCTAssertNil(table.entry(at: 0x110))
    }

    func testNestedFunctionNamesItsOwnBytesAndTheOuterOneTheRest() {
        let table = SymbolTable(entries: [Self.sized("outer", 0x100, 0x40), Self.sized("inner", 0x110, 0x10, rank: 0)])
        XCTAssertEqual(table.entry(at: 0x10f)?.name, "outer")
        XCTAssertEqual(table.entry(at: 0x110)?.name, "inner")
        XCTAssertEqual(table.entry(at: 0x11f)?.name, "inner")
        XCTAssertEqual(table.entry(at: 0x120)?.name, "outer", "after the nested one ends, the outer one again")
        XCTAssertEqual(table.entry(at: 0x13f)?.name, "outer")
        XCTAssertNil(table.entry(at: 0x140))
    }

    func testOverlappingFunctionsClosestStartWins() {
        let table = SymbolTable(entries: [Self.sized("a", 0x100, 0x20), Self.sized("b", 0x110, 0x20)])
        XCTAssertEqual(table.entry(at: 0x10f)?.name, "a")
        XCTAssertEqual(table.entry(at: 0x110)?.name, "b")
        XCTAssertEqual(table.entry(at: 0x11f)?.name, "b")
        XCTAssertEqual(table.entry(at: 0x12f)?.name, "b")
        XCTAssertNil(table.entry(at: 0x130))
    }

    func testEndedSymbolUnderALongerOneIsSteppedOver() {
        // b ends inside c's range; a (outermost) is under both on the sweep's stack.
        let table = SymbolTable(entries: [Self.sized("a", 0x100, 0x100), Self.sized("b", 0x110, 0x10),
                                          Self.sized("c", 0x118, 0x4), Self.label("l", 0x130)])
        XCTAssertEqual(table.entry(at: 0x11c)?.name, "b")
        XCTAssertEqual(table.entry(at: 0x120)?.name, "a")
        XCTAssertEqual(table.entry(at: 0x140)?.name, "a", "a label inside a still-open function does not win")
    }

    func testAliasesPreferGlobalThenWeakThenLocalThenSmaller() {
        let table = SymbolTable(entries: [Self.sized("local", 0x100, 8, rank: 0), Self.sized("global", 0x100, 8, rank: 2),
                                          Self.sized("weak", 0x100, 8, rank: 1)])
        XCTAssertEqual(table.entry(at: 0x100)?.name, "global")
        XCTAssertEqual(table.entry(at: 0x107)?.name, "global")
        let sizes = SymbolTable(entries: [Self.sized("long", 0x100, 0x20), Self.sized("short", 0x100, 8)])
        XCTAssertEqual(sizes.entry(at: 0x107)?.name, "short")
        XCTAssertEqual(sizes.entry(at: 0x108)?.name, "long", "past the shorter alias, the longer one")
        let labels = SymbolTable(entries: [Self.label("l0", 0x100, rank: 0), Self.label("l2", 0x100, rank: 2)])
        XCTAssertEqual(labels.entry(at: 0x104)?.name, "l2")
    }

    func testHostileTablesStayBoundedAndNeverWrap() {
        // A size that runs past the top of the address space saturates instead of wrapping.
        let huge = SymbolTable(entries: [Entry(start: 0x100, end: UInt64.max, rank: 2, name: "all")])
        XCTAssertEqual(huge.entry(at: UInt64.max - 1)?.name, "all")
        XCTAssertNil(SymbolTable(entries: []).entry(at: 0))

        // Nested deeper than a lookup walks: the innermost still names its bytes, an address
        // only the outermost holds gets no name rather than a wrong one.
        let depth = SymbolTable.maxWalk + 10
        let nested = (0..<depth).map { Self.sized("n\($0)", 0x1000 + UInt64($0), UInt64(2 * (depth - $0) + 1)) }
        let table = SymbolTable(entries: nested.reversed())
        XCTAssertEqual(table.entry(at: 0x1000 + UInt64(depth - 1))?.name, "n\(depth - 1)")
        XCTAssertEqual(table.entry(at: 0x1000 + UInt64(depth + 1))?.name, "n\(depth - 1)", "its last byte")
        XCTAssertEqual(table.entry(at: 0x1000 + UInt64(depth + 2))?.name, "n\(depth - 2)", "one step out")
        XCTAssertNil(table.entry(at: 0x1000 + UInt64(2 * depth)), "only n0 holds it, beyond the walk")
    }

    // MARK: - against binutils

    /// Every case above, laid out by the assembler, so the addresses come from nm.
    private static let edgeSource = """
    __asm__(
    ".text\\n"
    ".globl outer\\n.type outer,@function\\nouter:\\n nop\\n nop\\n"
    ".type nested,@function\\nnested:\\n nop\\n nop\\n.size nested, 2\\n"
    " nop\\n nop\\n.size outer, 6\\n"
    ".type label_at_end,@function\\nlabel_at_end:\\n nop\\n nop\\n"
    ".globl aliased\\n.type aliased,@function\\naliased:\\n"
    ".type local_alias,@function\\nlocal_alias:\\n"
    ".weak weak_alias\\n.type weak_alias,@function\\nweak_alias:\\n nop\\n nop\\n nop\\n nop\\n"
    ".size aliased, 4\\n.size local_alias, 4\\n.size weak_alias, 4\\n"
    ".type holder,@function\\nholder:\\n nop\\n nop\\n"
    ".type label_inside,@function\\nlabel_inside:\\n nop\\n nop\\n.size holder, 4\\n"
    " nop\\n nop\\n"
    ".globl overlap_a\\n.type overlap_a,@function\\noverlap_a:\\n nop\\n nop\\n"
    ".globl overlap_b\\n.type overlap_b,@function\\noverlap_b:\\n nop\\n nop\\n.size overlap_a, 4\\n"
    " nop\\n nop\\n.size overlap_b, 4\\n"
    " int3\\n int3\\n"
    );
    extern char __ehdr_start[]; /* the linker's label on the ELF header */
    int main(void) { return __ehdr_start[0] == 0x7f ? 0 : 1; }

    """

    func testAssemblerSampleAgainstNM() throws {
        for tool in ["gcc", "nm"] where !ELFTestTools.isAvailable(tool) {
            throw Skip.because("\(tool) is not installed (tools/setup installs it): cannot build or inspect the sample")
        }
        let directory = try ELFTestTools.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("edges.c").path
        let binary = directory.appendingPathComponent("edges").path
        try Self.edgeSource.write(toFile: source, atomically: true, encoding: .utf8)
        try ELFTestTools.run(["gcc", "-O0", "-o", binary, source])

        let symbols = try ELFTestTools.symbols(in: binary)
        func at(_ name: String) throws -> UInt64 {
            try XCTUnwrap(symbols.first { $0.name == name }?.value, "nm has no \(name)")
        }
        // nm's sizes are the .size directives above: the sample is what the test says it is.
        XCTAssertEqual(symbols.first { $0.name == "outer" }?.size, 6)
        XCTAssertEqual(symbols.first { $0.name == "label_at_end" }?.size, nil)
        XCTAssertEqual(try at("nested"), try at("outer") + 2)
        XCTAssertEqual(try at("label_at_end"), try at("outer") + 6)

        let table = try ELFModule(path: binary).symbolTable
        let expectations: [(UInt64, String?, String)] = [
            (try at("outer"), "outer", "start"),
            (try at("outer") + 1, "outer", "before the nested function"),
            (try at("nested"), "nested", "nested start"),
            (try at("nested") + 1, "nested", "nested last byte"),
            (try at("nested") + 2, "outer", "nested end is the outer function again"),
            (try at("outer") + 5, "outer", "last byte"),
            (try at("outer") + 6, "label_at_end", "the end: the label placed there"),
            (try at("label_at_end") + 1, "label_at_end", "sizeless: runs to the next symbol"),
            (try at("aliased"), "aliased", "global alias over weak and local"),
            (try at("aliased") + 3, "aliased", "alias last byte"),
            (try at("holder") + 2, "holder", "sized beats a label inside it"),
            (try at("holder") + 3, "holder", "last byte"),
            (try at("holder") + 4, nil, "padding after a function whose body has a label"),
            (try at("holder") + 5, nil, "padding"),
            (try at("overlap_a") + 1, "overlap_a", "before the overlap"),
            (try at("overlap_b"), "overlap_b", "overlap: closest start"),
            (try at("overlap_b") + 3, "overlap_b", "last byte of the later one"),
            (try at("overlap_b") + 4, nil, "end of the later one, in padding"),
            (try at("__ehdr_start") + 0x40, nil, "program headers: in no section, so not the header's label"),
        ]
        for (address, expected, why) in expectations {
            XCTAssertEqual(table.entry(at: address)?.name, expected, "\(why) (0x\(String(address, radix: 16)))")
        }
    }

    /// cc1's .dynsym: every function nm lists is found at its first and last byte (or an
    /// alias of it is), and never at the byte after its end; every 50th function that
    /// holds no other agrees with addr2line at its first, middle and last byte and after it.
    func testGCCsCC1AgainstNMAndAddr2line() throws {
        for tool in ["gcc", "nm", "addr2line", "readelf"] where !ELFTestTools.isAvailable(tool) {
            throw Skip.because("\(tool) is not installed (tools/setup installs it): no cc1 to check against")
        }
        let cc1 = try ELFTestTools.run(["gcc", "-print-prog-name=cc1"]).trimmingCharacters(in: .whitespacesAndNewlines)
        guard cc1.hasPrefix("/"), FileManager.default.isExecutableFile(atPath: cc1) else {
            throw Skip.because("gcc names no cc1 file (\(cc1))")
        }
        // libdwfl prefers a separate debug file's .symtab, which nm -D does not read.
        let id = try ELFTestTools.buildID(of: cc1).map { String(format: "%02x", $0) }.joined()
        if id.count > 2, FileManager.default.fileExists(
            atPath: "/usr/lib/debug/.build-id/\(id.prefix(2))/\(id.dropFirst(2)).debug") {
            throw Skip.because("cc1 has a separate debug file (a gcc debug-symbols package is installed): libdw reads its .symtab, not the .dynsym that nm -D lists")
        }

        let functions = try ELFTestTools.run(["nm", "-D", "-S", "--defined-only", cc1])
            .split(separator: "\n").compactMap { line -> (name: String, start: UInt64, end: UInt64)? in
                let fields = line.split(separator: " ")
                guard fields.count == 4, ["T", "t", "W", "i"].contains(fields[2]),
                      let start = UInt64(fields[0], radix: 16), let size = UInt64(fields[1], radix: 16),
                      size > 0 else { return nil }
                return (String(fields[3].split(separator: "@")[0]), start, start + size)
            }
            .sorted { $0.start < $1.start }
        XCTAssertGreaterThan(functions.count, 1000, "cc1 exports its functions for plugins")
        var aliases: [UInt64: Set<String>] = [:]
        for f in functions { aliases[f.start, default: []].insert(f.name) }

        let table = try ELFModule(path: cc1).symbolTable
        var failures: [String] = []
        for f in functions {
            let names = aliases[f.start]!
            for (address, what) in [(f.start, "first byte"), (f.end - 1, "last byte")] {
                let got = table.entry(at: address)?.name
                if got.map(names.contains) != true { failures.append("\(f.name) \(what): \(got ?? "nil")") }
            }
            // At the end: the next function, padding, or nothing; never this one (unless an
            // alias of it also starts there, which a sane table does not have).
            if let got = table.entry(at: f.end)?.name, names.contains(got), aliases[f.end]?.contains(got) != true {
                failures.append("\(f.name): the byte after its end is named \(got)")
            }
        }
        XCTAssertEqual(failures.count, 0, failures.prefix(5).joined(separator: "; "))

        // addr2line (BFD) reads the same table its own way; compare where the answer is
        // unambiguous: one name at the start, no other function starting before the end.
        var probes: [(UInt64, String?)] = []
        for (i, f) in functions.enumerated() where i % 50 == 0 && aliases[f.start]!.count == 1 {
            guard i + 1 == functions.count || functions[i + 1].start >= f.end else { continue }
            probes += [(f.start, f.name), (f.start + (f.end - f.start) / 2, f.name), (f.end - 1, f.name)]
        }
        XCTAssertGreaterThan(probes.count, 300)
        let answers = try ELFTestTools.run(["addr2line", "-f", "-e", cc1] + probes.map { "0x" + String($0.0, radix: 16) })
            .split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertGreaterThanOrEqual(answers.count, 2 * probes.count)
        for (n, (address, expected)) in probes.enumerated() where 2 * n < answers.count {
            XCTAssertEqual(String(answers[2 * n]), expected, "addr2line at 0x\(String(address, radix: 16))")
            XCTAssertEqual(table.entry(at: address)?.name, expected, "table at 0x\(String(address, radix: 16))")
        }
    }
}
