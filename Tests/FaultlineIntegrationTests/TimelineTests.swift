// The address-space timeline: a sample makes one of each call (madvise, mprotect, mremap,
// munmap, brk) and prints its arguments; each must appear in the JSONL export with exactly
// those arguments, and faults after the calls must be classified against the mappings as
// they then were (the moved mremap region, the grown heap).

import FaultlineCore
import XCTest
import Foundation
import FaultlineAnalysis

final class TimelineTests: XCTestCase {
    func testEveryAddressSpaceCallIsExportedWithItsArguments() throws {
        let run = try Samples.record("timeline")
        assertExpectations(run)

        let out = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-it-\(getpid())-timeline.jsonl").path
        let timeline = try Timeline.load(path: run.log.path)
        let output = try BufferedOutput(path: out)
        try JSONLExporter(timeline: timeline, symbolizer: NullSymbolizer()).write(to: output)
        try output.close()
        let records = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }

        let printed = run.stdout.split(separator: "\n").filter { $0.hasPrefix("TIMELINE ") }
        XCTAssertEqual(printed.count, 5, run.stdout)
        for line in printed {
            let words = line.split(separator: " ")
            let type = String(words[1])
            var want: [String: String] = [:]
            for kv in words.dropFirst(2) {
                let parts = kv.split(separator: "=", maxSplits: 1).map(String.init)
                want[parts[0]] = parts[1]
            }
            let found = records.contains { r in
                guard r["type"] as? String == type, r["pid"] as? Int == Int(run.expectations[0].pid) else { return false }
                return want.allSatisfy { key, value in
                    if key == "length" && type == "brk" { return true }
                    if let s = r[key] as? String { return s == value }
                    if let n = r[key] as? Int { return String(n) == value }
                    return false
                }
            }
            XCTAssertTrue(found, "no \(type) record with \(want) in the export")
        }
    }
}
