// The trace shortcut for an access to the same page as the last one (RepeatedPage) must
// give exactly what looking every access up gives: faults by kind, resident memory and
// every TLB counter, serial and staged. The trace mixes runs in one page with reads before
// writes (a write after a read may fault: the shortcut must not take it), fetches, accesses
// that span pages, and huge zero pages that a write splits.

import XCTest
import FaultlineAddressSpace
import FaultlineCore
import FaultlineTestSupport
@testable import FaultlineReplay

final class RepeatedPageTests: XCTestCase {
    func trace(seed: UInt64) -> [TraceAccess] {
        var rng = SeededGenerator(seed: seed)
        let base: UInt64 = 0x7f00_0000_0000
        var accesses: [TraceAccess] = []
        for _ in 0..<4000 {
            // A run in one page of 64 MiB, at rising offsets, each access of a random kind.
            let page = base + UInt64.random(in: 0..<(16 << 10), using: &rng) << 12
            var offset = UInt64.random(in: 0..<64, using: &rng) * 8
            for _ in 0..<Int.random(in: 1...24, using: &rng) {
                let roll = Int.random(in: 0..<10, using: &rng)
                let access: Access = roll < 6 ? .read : roll < 9 ? .write : .exec
                // Now and then one that runs into the next page.
                if Int.random(in: 0..<12, using: &rng) == 0 {
                    accesses.append(TraceAccess(address: page + 4096 - 16, size: 64, access: access))
                    continue
                }
                accesses.append(TraceAccess(address: page + offset, size: 8, access: access))
                offset = min(offset + 8 * UInt64.random(in: 0...16, using: &rng), 4096 - 8)
            }
        }
        return accesses
    }

    func write(_ accesses: [TraceAccess]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("repeated-\(getpid()).txt").path
        var text = ""
        for a in accesses {
            let op = a.access == .write ? " S" : a.access == .exec ? "I " : " L"
            text += "\(op) \(String(a.address, radix: 16)),\(a.size)\n"
        }
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    func engine(thp: THPMode, kernel: String) throws -> ReplayEngine {
        var input = ReplayInput.wholeAddressSpace()
        input.kernel = KernelBehaviour(release: kernel)
        let engine = ReplayEngine(config: ReplayConfig(pageSize: .k4, thp: thp), input: input, tlb: try TLBSpec.named("skylake"))
        engine.prepareAddressSpace(process: 0)
        return engine
    }

    func testShortcutGivesWhatLookingUpEveryAccessGives() throws {
        let accesses = trace(seed: 51)
        let path = try write(accesses)
        defer { unlink(path) }
        for thp in [THPMode.never, .always] {
            for kernel in ["6.12.0", "6.18.0"] {
                // Every page of every access through the model, one by one.
                let reference = try engine(thp: thp, kernel: kernel)
                reference.permissive = true
                for a in accesses {
                    var page = a.address >> 12
                    while page <= a.lastByte >> 12 {
                        reference.touch(process: 0, address: page == a.address >> 12 ? a.address : page << 12, access: a.access)
                        page += 1
                    }
                }
                let expected = reference.result(seconds: 0)
                for cores in [1, 3] {
                    let got = try engine(thp: thp, kernel: kernel).runTrace(try LackeyReader(path: path), process: 0, cores: cores)
                    let what = "\(thp) \(kernel) cores \(cores)"
                    XCTAssertEqual(got.accesses, expected.accesses, what)
                    XCTAssertEqual(got.counts, expected.counts, what)
                    XCTAssertEqual(got.tlb, expected.tlb, what)
                    XCTAssertEqual(got.peakResidentBytes, expected.peakResidentBytes, what)
                    XCTAssertEqual(got.pageTablePeakPages, expected.pageTablePeakPages, what)
                }
                // The trace has what the shortcut must refuse: writes after reads that fault.
                XCTAssertGreaterThan(expected.faults(.cow), 10, "\(thp) \(kernel)")
            }
        }
    }
}
