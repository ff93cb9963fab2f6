// A trace replay split into stages (reading, page-table model, TLB model on threads of
// their own) must give exactly the serial replay's result: each stage takes its input in
// order, and the flushes the page-table model causes reach the TLB between the same accesses.

import XCTest
import FaultlineAddressSpace
import FaultlineCore
@testable import FaultlineReplay

final class StagedTraceTests: XCTestCase {
    /// 32 MiB at a 2 MiB boundary read page by page (the huge zero page under THP always),
    /// then written page by page (the first write to each splits the huge zero page and
    /// flushes it; the rest copy the zero page), then
    /// 100,000 seeded random reads and writes.
    func writeTrace() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("staged-\(getpid()).txt").path
        let base: UInt64 = 0x7f00_0000_0000, span: UInt64 = 32 << 20
        var text = ""
        text.reserveCapacity(8 << 20)
        for a in stride(from: base, to: base + span, by: 4096) { text += " L \(String(a, radix: 16)),8\n" }
        for a in stride(from: base, to: base + span, by: 4096) { text += " S \(String(a, radix: 16)),8\n" }
        var x: UInt64 = 0x2545_F491_4F6C_DD1D
        for i in 0..<100_000 {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            text += " \(i % 5 == 0 ? "S" : "L") \(String(base + (x % span) & ~7, radix: 16)),8\n"
        }
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    /// Replays on the rules of Linux 6.12: there a write to the huge zero page splits it
    /// (and flushes the TLB) instead of allocating a THP.
    func replay(_ path: String, thp: THPMode, cores: Int) throws -> ConfigResult {
        var input = ReplayInput.wholeAddressSpace()
        input.kernel = KernelBehaviour(release: "6.12.0")
        let engine = ReplayEngine(config: ReplayConfig(pageSize: .k4, thp: thp), input: input,
                                  tlb: try TLBSpec.named("skylake"))
        engine.prepareAddressSpace(process: 0)
        return try engine.runTrace(try LackeyReader(path: path), process: 0, cores: cores)
    }

    func testStagesGiveTheSerialResult() throws {
        let path = try writeTrace()
        defer { unlink(path) }
        for thp in [THPMode.never, .always] {
            let serial = try replay(path, thp: thp, cores: 1)
            let staged = try replay(path, thp: thp, cores: 3)
            XCTAssertEqual(serial.accesses, 2 * 8192 + 100_000, "\(thp)")
            XCTAssertEqual(staged.accesses, serial.accesses, "\(thp)")
            XCTAssertEqual(staged.tlb, serial.tlb, "\(thp)")
            XCTAssertEqual(staged.tlb?.accesses, serial.accesses, "\(thp)")
            for kind in FaultKind.allCases { XCTAssertEqual(staged.faults(kind), serial.faults(kind), "\(thp) \(kind)") }
            XCTAssertEqual(staged.peakResidentBytes, serial.peakResidentBytes, "\(thp)")
        }
        // The case the flushes matter in: under THP always every first read maps the huge
        // zero page (16 of them) and every write copies a zero page (cow).
        let always = try replay(path, thp: .always, cores: 3)
        XCTAssertEqual(always.faults(.zero), 16)
        XCTAssertEqual(always.faults(.cow), 8192)
        XCTAssertEqual(always.totalFaults, 16 + 8192)
    }
}
