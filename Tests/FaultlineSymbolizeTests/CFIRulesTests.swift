// Unwind rules read from real CFI: a function built without frame pointers, before and
// after its prologue, and libc.s malloc.

import XCTest
import FaultlineTestSupport
@testable import FaultlineSymbolize

final class CFIRulesTests: XCTestCase {
    func testLibcHasRulesForMallocsEntry() throws {
        let libc = "/lib/x86_64-linux-gnu/libc.so.6"
        guard FileManager.default.fileExists(atPath: libc) else { throw Skip.because("no \(libc) here") }
        let nm = try ELFTestTools.run(["/usr/bin/nm", "-D", libc])
        guard let line = nm.split(separator: "\n").first(where: { $0.hasSuffix(" malloc@@GLIBC_2.2.5") }),
              let vaddr = UInt64(line.split(separator: " ")[0], radix: 16) else { return XCTFail("no malloc in nm -D") }
        let module = try ELFModule(path: libc)
        // malloc.s entry: nothing pushed yet, CFA = rsp + 8, return address at CFA - 8.
        let offset = try XCTUnwrap(module.segments.segments.first { vaddr >= $0.virtualAddress && vaddr - $0.virtualAddress < $0.fileSize })
        let fileOffset = vaddr - offset.virtualAddress + offset.fileOffset
        let rule = CFIRules().rule(path: libc, buildID: [], fileOffset: fileOffset)
        XCTAssertEqual(rule, UnwindRule(base: .stackPointer, cfaOffset: 8, returnAddressOffset: -8, framePointer: .unchanged))
    }
}
