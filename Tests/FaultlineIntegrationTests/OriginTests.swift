// `report --by origin` on a program with the address-space history of a malloc-heavy one:
// thousands of short-lived mappings at one address and a buffer that mremap moves 100
// times. Every fault must be attributed to the function whose mmap made its memory, the
// moved buffer's included, at the counts the sample prints. Then a failed mmap and an exec:
// the new image's mappings were made by no code of the old one.

import XCTest
import FaultlineCore
import FaultlineLog
import FaultlineAnalysis
import FaultlineSymbolize

final class OriginTests: XCTestCase {
    func testFaultsAreAttributedToTheMmapThatMadeTheirMemoryThroughMunmapAndMremap() throws {
        let run = try Samples.record("mapping_churn", ["500", "100", "/bin/true"])
        let printed = run.stdout.split(separator: "\n").filter { $0.hasPrefix("CHURN ") }
        XCTAssertEqual(printed.count, 2, run.stdout)
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())
        let report = FaultReport(log: run.log, namer: namer,
                                 options: ReportOptions(groupings: [.origin, .mapping], filter: nil, top: 1000))
        let origins = report.sections[0].rows
        for line in printed {
            let fields = Dictionary(uniqueKeysWithValues: line.split(separator: " ").dropFirst().map {
                let kv = $0.split(separator: "=", maxSplits: 1)
                return (String(kv[0]), String(kv[1]))
            })
            let function = try XCTUnwrap(fields["origin"])
            let expected = try XCTUnwrap(fields["faults"].flatMap { UInt64($0) })
            // map_anon, the helper that called mmap, is a frame-pointer walk's blind spot
            // (mmap keeps no frame): the leaf's CFI puts it back. libc's mmap is one machine
            // frame, with __mmap64 inlined into __mmap where libc's debug info says so.
            let rows = origins.filter { row in
                let functions = row.frames.map(\.function)
                guard let caller = functions.firstIndex(of: "map_anon") else { return false }
                return functions[..<caller].allSatisfy { $0.contains("mmap") } && caller > 0
                    && Array(functions[caller...].prefix(3)) == ["map_anon", function, "main"]
            }
            XCTAssertEqual(rows.count, 1, "\(function): \(origins.map(\.name))")
            XCTAssertEqual(rows.first?.count, expected, "\(function)")
            XCTAssertEqual(rows.first?.counts[.anon], expected, "\(function)")
        }
        // No fault of the program's own anonymous memory is left without a mapping.
        let unmapped = report.sections[1].rows.first { $0.name == unmappedName }
        XCTAssertNil(unmapped, "faults outside every mapping: \(unmapped.map { "\($0.counts)" } ?? "")")

        let trueImage = run.log.mmaps.filter { run.log.modulePath($0.module).hasSuffix("/true") }
        XCTAssertFalse(trueImage.isEmpty, "no mapping of /bin/true after the exec")
        for m in trueImage {
            XCTAssertEqual(m.stack, .empty, "true's mapping at \(String(m.start, radix: 16)) credited to "
                           + namer.stackDescription(m.stack))
        }
    }

    /// The loader maps libc while the program runs on one CPU, and the program's mmap calls
    /// run on another: each CPU has its own perf ring, and the recorder must unwind the
    /// calls knowing libc is there. (It read ring after ring, and the mmap wrapper's caller
    /// went missing from the stacks of every call parsed before libc's MMAP2 record.)
    func testStacksUnwoundOnOneCPUKnowTheLibrariesMappedOnAnother() throws {
        let run = try Samples.record("cpu_hop", ["500"])
        let line = try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("CHURN ") }, run.stdout)
        let fields = Dictionary(uniqueKeysWithValues: line.split(separator: " ").dropFirst().map {
            let kv = $0.split(separator: "=", maxSplits: 1)
            return (String(kv[0]), String(kv[1]))
        })
        if fields["cpus"] == "1" { throw XCTSkip("one online CPU: the program cannot move between perf rings") }
        let expected = try XCTUnwrap(fields["faults"].flatMap { UInt64($0) })
        let namer = FrameNamer(log: run.log, symbolizer: LibdwSymbolizer())
        let report = FaultReport(log: run.log, namer: namer,
                                 options: ReportOptions(groupings: [.origin], filter: nil, top: 1000))
        let churn = report.sections[0].rows.filter { $0.name.contains("churn_once") }
        XCTAssertEqual(churn.map(\.name).count, 1, "churn_once's mmap calls unwound two ways: \(churn.map { "\($0.count) \($0.name)" })")
        // By function, outside the mmap wrapper's own inline chain (and without file:line):
        // the wrapper, then its callers in the program.
        let whole = churn.first { row in
            let functions = row.frames.filter { !$0.inlined }.map(\.function)
            guard let wrapper = functions.firstIndex(where: { $0.contains("mmap") }) else { return false }
            return Array(functions.dropFirst(wrapper + 1).prefix(3)) == ["map_anon", "churn_once", "main"]
        }
        XCTAssertEqual(whole?.count, expected, churn.map { "\($0.count) \($0.name)" }.joined(separator: "; "))
    }
}
