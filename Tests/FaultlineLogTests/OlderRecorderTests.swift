// Logs from recorders before 0.3.0 timed an exec at the ptrace exec stop, after the new
// image's mappings; reading one moves each exec to its new image's [stack] mapping, so it
// reads like a current log. Current logs are left as they are.

import XCTest
import FaultlineCore
@testable import FaultlineLog

final class OlderRecorderTests: XCTestCase {
    /// A process that execs twice; exec records at `stops`, [stack] mappings at 10 and 30.
    private func log(recorder: String, stops: [UInt64]) -> LoadedLog {
        var log = LoadedLog()
        log.apply(.header(LogHeader(pageSize: 4096, thpMode: "never", recorderVersion: recorder)))
        log.apply(.string(StringID(rawValue: 0), "[stack]"))
        log.apply(.module(ModuleID(rawValue: 0), Module(path: StringID(rawValue: 0), buildID: [])))
        log.apply(.process(ProcessEvent(pid: 7, ppid: 1, timeNs: 1, command: StringID(rawValue: 0))))
        for (stack, stop) in zip([UInt64(10), 30], stops) {
            log.apply(.mmap(MmapEvent(pid: 7, timeNs: stack, start: 0x7ff0_0000_0000, length: 0x21000, pageOffset: 0,
                                      prot: 3, flags: 2, inode: 0, module: ModuleID(rawValue: 0))))
            log.apply(.exec(pid: 7, timeNs: stop, command: StringID(rawValue: 0)))
        }
        return log
    }

    private func execTimes(_ log: LoadedLog) -> [UInt64] {
        log.lifecycle.compactMap { if case .exec(_, let t, _) = $0 { return t } else { return nil } }
    }

    func testExecsOfAnOlderRecorderMoveToTheirNewStack() {
        var old = log(recorder: "0.2.0", stops: [20, 40])
        old.retimeExecsOfOlderRecorders()
        XCTAssertEqual(execTimes(old), [10, 30])
    }

    func testCurrentLogsAreLeftAlone() {
        // 0.3.0 times each exec before its image's mappings; the earlier image's [stack]
        // must not pull the second exec back.
        for recorder in ["0.3.0", "1.0.0", "faultline-test"] {
            var current = log(recorder: recorder, stops: [5, 25])
            current.retimeExecsOfOlderRecorders()
            XCTAssertEqual(execTimes(current), [5, 25], recorder)
        }
    }
}
