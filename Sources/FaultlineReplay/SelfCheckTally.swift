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
    /// How long after a race's loser began, on a huge page, the race's other faults may
    /// come (a THP's allocation stalled 0.45 s in compaction under 32 threads). A base
    /// page's race is over within `repeatWindowNs`.
    static let hugeRaceWindowNs: UInt64 = 1_000_000_000

    /// The recent recorded faults, direct-mapped by page: a lookup is one compare.
    private let recentProcess = Counters<Int32>(256, initial: -1)
    private let recentPage = Counters<UInt64>(256), recentTime = Counters<UInt64>(256)
    /// Per slot, for a run of faults on its page: the kind the model gave the run's first
    /// fault recorded as `other` that the model filled (a thread that lost a race to fill
    /// the page, stamped before the winner: see `pairRace`), and that fault's time; no
    /// winner while there is none to pair.
    private let raceWinner = Counters<UInt8>(256, initial: SelfCheckTally.noWinner)
    private let raceLoserTime = Counters<UInt64>(256)
    /// Per slot: the loser wrote (1); a read of the race the model found satisfied, counted
    /// as a repeat until a write completes the loser's fill (its kind + 1; 0: none).
    private let raceLoserWrote = Counters<UInt8>(256), raceHeldRead = Counters<UInt8>(256)
    private static let noWinner = UInt8.max

    deinit {
        outcomes.free()
        recentProcess.free()
        recentPage.free()
        recentTime.free()
        raceWinner.free()
        raceLoserTime.free()
        raceLoserWrote.free()
        raceHeldRead.free()
    }

    @inline(__always) private static func slot(_ page: UInt64) -> Int { Int(truncatingIfNeeded: (page ^ (page >> 8)) & 255) }

    /// Notes one recorded fault and what the model said (nil: no fault).
    @inline(__always)
    func note(_ f: ReplayInput.Fault, replayed: FaultKind?, pid: Int32) {
        let recorded = Int(f.recorded.rawValue)
        let column = replayed.map { Int($0.rawValue) } ?? noFault
        // The page the recording mapped: racing threads fault on different base pages of
        // one huge page (see FaultAssembler.noteRace).
        let shift = max(12, Int(f.pageShift))
        let page = f.address >> UInt64(shift)
        let s = Self.slot(page)
        if raceWinner[s] != Self.noWinner || f.recorded == .other {
            // A race is open on the slot, or this may open one: rare, and out of line, so
            // that the common path stays small enough to inline (inside it, the tally's
            // new race logic cost the 4k model 3% more instructions).
            noteRacing(f, replayed: replayed, pid: pid, recorded: recorded, column: column, shift: shift, page: page, slot: s)
        } else {
            outcomes[recorded * width + column] &+= 1
            if replayed == nil && isRepeat(process: f.process, page: page, time: f.time, slot: s) {
                repeats[recorded] &+= 1
            } else if replayed != f.recorded && mismatches.count < Self.mismatchExamples {
                mismatches.append(FaultMismatch(pid: pid, timeNs: f.time, address: f.address, access: f.access,
                                                recorded: f.recorded, replayed: replayed))
            }
        }
        recentProcess[s] = f.process
        recentPage[s] = page
        recentTime[s] = f.time
    }

    /// `note` for a fault that may be part of a race: one recorded `other` (a loser, which
    /// opens one), or any fault while one is open on its slot.
    @inline(never)
    private func noteRacing(_ f: ReplayInput.Fault, replayed: FaultKind?, pid: Int32, recorded: Int, column: Int,
                            shift: Int, page: UInt64, slot s: Int) {
        let repeatsRecent = isRepeat(process: f.process, page: page, time: f.time, slot: s)
        // A race runs as long as its loser's fault may have: a huge page's allocation can
        // stall in compaction for hundreds of milliseconds while other threads fault there.
        let inRace = raceWinner[s] != Self.noWinner && recentProcess[s] == f.process && recentPage[s] == page
            && f.time &- raceLoserTime[s] <= (shift > 12 ? Self.hugeRaceWindowNs : Self.repeatWindowNs)
        let joinsRace = replayed == nil && inRace && Self.fills(f.recorded)
        if joinsRace && !(raceLoserWrote[s] != 0 && f.access != .write && raceWinner[s] != Self.filledByLoser) {
            pairRace(recorded: recorded, slot: s, page: page, shift: shift)
            return
        }
        outcomes[recorded * width + column] &+= 1
        if joinsRace {
            // A read the write that lost may have lost to (see `pairRace`): a repeat
            // until a write of the race completes the loser's fill.
            repeats[recorded] &+= 1
            raceHeldRead[s] = UInt8(recorded + 1)
        } else if replayed == nil && repeatsRecent {
            repeats[recorded] &+= 1
        } else if replayed != f.recorded && mismatches.count < Self.mismatchExamples {
            mismatches.append(FaultMismatch(pid: pid, timeNs: f.time, address: f.address, access: f.access,
                                            recorded: f.recorded, replayed: replayed))
        }
        if !inRace { raceWinner[s] = Self.noWinner }
        if f.recorded == .other, let replayed, Self.fills(replayed), raceWinner[s] == Self.noWinner {
            raceWinner[s] = replayed.rawValue
            raceLoserTime[s] = f.time
            raceLoserWrote[s] = f.access == .write ? 1 : 0
            raceHeldRead[s] = 0
        }
    }

    /// Two threads fault on one absent page at once. The one that gets the page-table lock
    /// first fills the page; the other finds it filled and is recorded as `other`. Faults
    /// are stamped when their handler begins, so the loser may come first in time order (node,
    /// whose garbage collector's threads write fresh pages together: 3 such pairs in 62,539
    /// faults). The model, in that order, fills the page in the loser's fault and finds it
    /// there in the winner's. Counted as they came, the pair would read as one anon fault
    /// too many (the loser's) and one repeat of anon (the winner's); it is one fault of the
    /// winner's kind, filled, and a repeat of `other`, as the kernel counted them.
    ///
    /// The winner may be of another kind, and not alone: a write that lost to a read of the
    /// same huge page retries, so the kernel took a zero fault (the read) and then a cow (the
    /// retried write), where the model, in time order, filled the page with the write (anon)
    /// and found it there for both (32 threads writing and reading at random over
    /// MADV_HUGEPAGE memory: 12 such triples in 429 faults). Once a write of the race
    /// completes a write's fill (a read alone does not: that loser did not retry, and the
    /// difference stays), each fault the model found satisfied within the race counts as
    /// the fault the kernel took, the read held back included; the loser's fill, once, as
    /// its repeat of `other`.
    private func pairRace(recorded: Int, slot s: Int, page: UInt64, shift: Int) {
        let other = Int(FaultKind.other.rawValue)
        if raceWinner[s] != Self.filledByLoser {
            let fill = Int(raceWinner[s])
            outcomes[other * width + fill] &-= 1
            outcomes[other * width + noFault] &+= 1
            repeats[other] &+= 1
            let loserTime = raceLoserTime[s]
            mismatches.removeAll { $0.timeNs == loserTime && $0.address >> UInt64(shift) == page && $0.recorded == .other }
            raceWinner[s] = Self.filledByLoser
            if raceHeldRead[s] != 0 {
                let read = Int(raceHeldRead[s]) - 1
                outcomes[read * width + noFault] &-= 1
                repeats[read] &-= 1
                outcomes[read * width + read] &+= 1
                raceHeldRead[s] = 0
            }
        }
        outcomes[recorded * width + recorded] &+= 1
    }

    /// `raceWinner` once the loser's fill has been taken back: later faults of the race
    /// count as themselves.
    private static let filledByLoser = UInt8.max - 1

    /// The kinds a fault that fills a page has: what a race loser's fill can stand for.
    @inline(__always)
    private static func fills(_ kind: FaultKind) -> Bool { kind == .anon || kind == .zero || kind == .cow || kind == .file }

    /// A recorded fault the model finds already satisfied, within a millisecond of another
    /// recorded fault by the same process on the same page (as recorded): the kernel fixed
    /// the page in the first and counted the second anyway (threads racing on one page, a
    /// retried CoW). No first-touch model produces these; the self-check shows them apart.
    @inline(__always)
    private func isRepeat(process: Int32, page: UInt64, time: UInt64, slot s: Int) -> Bool {
        recentProcess[s] == process && recentPage[s] == page && time &- recentTime[s] <= Self.repeatWindowNs
    }
}
