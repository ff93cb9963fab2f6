// Configurations that replay alike share one model run, and only those: THP `madvise` is
// `never` exactly where nothing advises huge pages.

import XCTest
import FaultlineAddressSpace
import FaultlineCore
@testable import FaultlineReplay

final class SweepPlanTests: XCTestCase {
    let base: UInt64 = 0x7f00_0000_0000

    /// 4 MiB of anonymous memory written page by page, advised MADV_HUGEPAGE or not, recorded
    /// on a 4K host in `madvise` mode.
    func input(advised: Bool) -> ReplayInput {
        var input = ReplayInput()
        input.hostTHP = .madvise
        input.appendMapping(anonymous(base, 4 * MiB), name: "//anon")
        if advised { input.append(.madvise(address: base, length: 4 * MiB, advice: Advice.hugePage)) }
        for i in 0..<UInt64(1024) { input.appendAccess(base + i * 4 * KiB, .write, recorded: .anon) }
        return input
    }

    func plan(_ configs: [ReplayConfig], recorded: ReplayConfig? = config(.k4, .madvise),
              khugepaged: KhugepagedModel = .off, advised: Bool) -> SweepPlan {
        SweepPlan(configs: configs, baseline: config(.k4, .never), recorded: recorded, source: .recordedFaults,
                  khugepaged: khugepaged, advised: advised)
    }

    func testTheRecordedMadviseConfigurationIsTheBaselineWhereNothingIsAdvised() {
        let p = plan([config(.k16, .never)], advised: false)
        XCTAssertEqual(p.jobs.count, 2, "16k, and one run for both the 4k baseline and the 4k madvise self-check")
        XCTAssertEqual(p.checkJob, p.baselineJob)
        XCTAssertNotEqual(p.configJobs[0], p.baselineJob)
    }

    func testAdvisedMemoryKeepsMadviseApartFromNever() {
        let p = plan([config(.k16, .never)], advised: true)
        XCTAssertEqual(p.jobs.count, 3)
        XCTAssertNotEqual(p.checkJob, p.baselineJob)
    }

    func testKhugepagedKeepsAnAdvisedConfigurationApartFromTheSelfCheck() {
        // The self-check runs without khugepaged; a shown madvise column with it differs
        // where memory is advised, and cannot differ where none is (khugepaged never wakes).
        XCTAssertEqual(plan([config(.k4, .madvise)], khugepaged: .paced, advised: true).jobs.count, 3)
        let quiet = plan([config(.k4, .madvise)], khugepaged: .paced, advised: false)
        XCTAssertEqual(quiet.jobs.count, 1, "4k madvise, the baseline and the self-check are one run")
    }

    func testEqualConfigurationsShareAndAlwaysNeverDoes() {
        let p = plan([config(.k4, .never), config(.k4, .always)], recorded: config(.k4, .never), advised: false)
        XCTAssertEqual(p.jobs.count, 2)
        XCTAssertEqual(p.baselineJob, p.configJobs[0])
        XCTAssertEqual(p.checkJob, p.configJobs[0])
    }

    func testATraceDoesNotShareWithTheSelfCheckOfTheRecordedFaults() {
        let p = SweepPlan(configs: [config(.k4, .never)], baseline: config(.k4, .never), recorded: config(.k4, .never),
                          source: .lackey(path: "t.lackey"), khugepaged: .off, advised: false)
        XCTAssertEqual(p.jobs.count, 2)
        XCTAssertEqual(p.baselineJob, p.configJobs[0])
        XCTAssertNotEqual(p.checkJob, p.configJobs[0])
    }

    func testTheInputSaysWhetherAnythingIsAdvised() {
        XCTAssertFalse(input(advised: false).advisesHugePages)
        XCTAssertTrue(input(advised: true).advisesHugePages)
        var mapped = ReplayInput()
        var vma = anonymous(base, 4 * MiB)
        vma.flags.insert(.hugePage)
        mapped.appendMapping(vma, name: "//anon")
        XCTAssertTrue(mapped.advisesHugePages, "a mapping recorded VM_HUGEPAGE")
        var other = input(advised: false)
        other.append(.madvise(address: base, length: 4 * MiB, advice: Advice.noHugePage))
        XCTAssertFalse(other.advisesHugePages)
    }

    /// The shared run gives each configuration its own results, and separate runs give the
    /// advised ones theirs: madvise takes 2 THP faults where never takes 1,024.
    func testSharedRunsGiveEachConfigurationItsResults() throws {
        for advised in [false, true] {
            let report = try ReplaySweep.run(input: input(advised: advised), configs: [config(.k4, .never), config(.k4, .madvise)],
                                             tlb: nil, source: .recordedFaults, selfCheck: true, log: true)
            XCTAssertEqual(report.configs.map(\.config), [config(.k4, .never), config(.k4, .madvise)])
            XCTAssertEqual(report.configs[0].faults(.anon), 1024)
            XCTAssertEqual(report.configs[1].faults(.anon), advised ? 2 : 1024)
            XCTAssertEqual(report.selfCheck?.config, config(.k4, .madvise))
            XCTAssertEqual(report.baseline?.config, config(.k4, .never))
            XCTAssertEqual(report.baseline?.faults(.anon), 1024)
        }
    }

    /// Six models on four cores run on threads of their own, all at once: each configuration
    /// still gets its own model's results, the same as one core running them in turn.
    func testAFewMoreModelsThanCoresEachGiveTheirOwnResults() throws {
        let configs = [config(.k16, .never), config(.k64, .never), config(.k4, .always), config(.k16, .always)]
        let plan = plan(configs, advised: true)
        XCTAssertEqual(plan.jobs.count, 6, "four shown, the baseline, and the advised self-check")
        let report = try ReplaySweep.run(input: input(advised: true), configs: configs, tlb: nil,
                                         source: .recordedFaults, selfCheck: true, log: true, cores: 4)
        XCTAssertEqual(report.configs.map(\.config), configs)
        // 1,024 pages of 4 KiB in an aligned 4 MiB: 256 pages of 16 KiB, 64 of 64 KiB, two
        // THPs of 2 MiB; a 16k granule's THP (32 MiB) does not fit.
        XCTAssertEqual(report.configs.map { $0.faults(.anon) }, [256, 64, 2, 256])
        XCTAssertEqual(report.baseline?.faults(.anon), 1024)
        XCTAssertEqual(report.selfCheck?.config, config(.k4, .madvise))
        let serial = try ReplaySweep.run(input: input(advised: true), configs: configs, tlb: nil,
                                         source: .recordedFaults, selfCheck: true, log: true, cores: 1)
        XCTAssertEqual(report.configs.map(\.counts), serial.configs.map(\.counts))
        XCTAssertEqual(report.configs.map(\.peakResidentBytes), serial.configs.map(\.peakResidentBytes))
    }

    func testSeveralModelsCountTheBaseline() {
        XCTAssertFalse(ReplaySweep.runsSeveralModels([config(.k4, .never)]))
        XCTAssertFalse(ReplaySweep.runsSeveralModels([config(.k4, .madvise)]), "madvise counts as never")
        XCTAssertTrue(ReplaySweep.runsSeveralModels([config(.k16, .never)]), "16k and the 4K baseline")
        XCTAssertTrue(ReplaySweep.runsSeveralModels([config(.k4, .never), config(.k4, .always)]))
    }
}
