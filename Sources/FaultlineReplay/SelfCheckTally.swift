// What the self-check needs from a replay of recorded faults: each recorded kind against
// what the model said for the same access, the repeats no first-touch model can produce,
// and the first faults the model classed otherwise.

import FaultlineCore

final class SelfCheckTally {
    /// Columns: each FaultKind by raw value, then "no fault".
    static let columns = FaultKind.allCases.count + 1
    static var noFaultColumn: Int { columns - 1 }

    /// The two above, read once: a lazily initialised static costs a once-check at every
    /// read, and `note` runs for every recorded fault.
    private let width = SelfCheckTally.columns, noFault = SelfCheckTally.noFaultColumn

    /// recorded kind × replayed kind.
    let outcomes = Counters<UInt64>(FaultKind.allCases.count * SelfCheckTally.columns)
    /// Recorded faults, by kind, that found their page already mapped shortly after a
    /// recorded fault on the same page (see `isRepeat`).
    private(set) var repeats = [UInt64](repeating: 0, count: FaultKind.allCases.count)
    private(set) var mismatches: [FaultMismatch] = []
    static let mismatchExamples = 20
    /// A second fault on a page within this long of the first is a repeat.
    static let repeatWindowNs: UInt64 = 1_000_000

    /// The recent recorded faults, direct-mapped by page: a lookup is one compare.
    private let recentProcess = Counters<Int32>(256, initial: -1)
    private let recentPage = Counters<UInt64>(256), recentTime = Counters<UInt64>(256)

    deinit {
        outcomes.free()
        recentProcess.free()
        recentPage.free()
        recentTime.free()
    }

    @inline(__always) private static func slot(_ page: UInt64) -> Int { Int(truncatingIfNeeded: (page ^ (page >> 8)) & 255) }

    /// Notes one recorded fault and what the model said (nil: no fault).
    @inline(__always)
    func note(_ f: ReplayInput.Fault, replayed: FaultKind?, pid: Int32) {
        let recorded = Int(f.recorded.rawValue)
        let column = replayed.map { Int($0.rawValue) } ?? noFault
        outcomes[recorded * width + column] &+= 1
        let page = f.address >> 12
        if replayed == nil && isRepeat(process: f.process, page: page, time: f.time) {
            repeats[recorded] &+= 1
        } else if replayed != f.recorded && mismatches.count < Self.mismatchExamples {
            mismatches.append(FaultMismatch(pid: pid, timeNs: f.time, address: f.address, access: f.access,
                                            recorded: f.recorded, replayed: replayed))
        }
        let s = Self.slot(page)
        recentProcess[s] = f.process
        recentPage[s] = page
        recentTime[s] = f.time
    }

    /// A recorded fault the model finds already satisfied, within a millisecond of another
    /// recorded fault by the same process on the same 4 KiB page: the kernel fixed the page
    /// in the first and counted the second anyway (threads racing on one page, a retried
    /// CoW). No first-touch model produces these; the self-check shows them apart.
    private func isRepeat(process: Int32, page: UInt64, time: UInt64) -> Bool {
        let s = Self.slot(page)
        return recentProcess[s] == process && recentPage[s] == page && time &- recentTime[s] <= Self.repeatWindowNs
    }
}
