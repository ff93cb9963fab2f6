// The top of each new stack that execve wrote. execve writes the arguments, environment and
// auxiliary vector there through get_user_pages, which raises no fault event. Where the log
// has the pages the stack held as the exec returned (the `execStack` record, format 9 on),
// those are the fill. Otherwise the pages above the first recorded fault in the stack are
// taken as filled: the program's first pushes land just below what execve wrote. That is a
// page too many for about one exec in four on x86: the kernel leaves a random gap of up to
// 8 KiB between the strings and the tables (arch_align_stack), and a gap that holds a whole
// page leaves it unwritten. Each fill is applied right after the change that mapped its
// stack, at that change's time.
//
// Found when a model first reaches that change, not while the log is flattened: finding a
// fill reads the faults after its exec in time order, which are still being sorted when
// the models start. Found while flattening, every exec waited for its faults to be sorted
// before the first model could start: on the log of a build (`make -j2`, 202 processes,
// 202,573 faults) that was 21 ms of a 65 ms replay.
//
// Hazard: a fill depends only on the input, so whichever model finds it first, every
// model applies the same one; the lock makes each be found once.

import Foundation
import FaultlineAddressSpace
import FaultlineLog

final class ExecStackFills: @unchecked Sendable {
    /// An exec's new stack: the mapping change that made it, and where to look for its
    /// first fault.
    struct Candidate {
        /// The stack's mapping, by index in ReplayInput.changes.
        var change: Int
        var execTime: UInt64
        var process: Int32
        var stack: VMA
        /// The pages the log says the stack held as the exec returned, if it says.
        var recorded: [Range<UInt64>]?
    }

    /// An exec, by its process and time: what a logged stack is matched to.
    struct Exec: Hashable {
        var pid: Int32
        var time: UInt64
    }

    /// How far past an exec to look for its stack's mapping (in changes) and first fault
    /// (in faults). Looking only so far ahead keeps a hostile log of many execs linear.
    static let lookahead = 100_000
    /// How many of those are read one at a time first.
    static let firstLook = 32

    /// In order of `change`.
    let candidates: [Candidate]
    private let faults: ReplayFaults
    private let lock = NSLock()
    /// For each candidate, once found: the pages filled, in runs (empty for none).
    private var found: [[Range<UInt64>]?]

    /// The stacks of `changes`' execs: each exec's process's first [stack] mapping after it
    /// and before the process's next exec. `recorded`: the logged pages of new stacks by
    /// exec (`pids` gives each process index's pid).
    init(changes: [ReplayInput.Change], mappings: [ReplayInput.Mapping], faults: ReplayFaults,
         pids: [Int32] = [], recorded: [Exec: [Range<UInt64>]] = [:]) {
        var candidates: [Candidate] = []
        for (n, change) in changes.enumerated() {
            guard case .exec = change.operation else { continue }
            for m in (n + 1)..<min(changes.count, n + 1 + Self.lookahead) where changes[m].process == change.process {
                if case .exec = changes[m].operation { break }
                if case .mapping(let row) = changes[m].operation, mappings[Int(row)].name == "[stack]" {
                    let pid = Int(change.process) < pids.count ? pids[Int(change.process)] : nil
                    let logged = pid.flatMap { recorded[Exec(pid: $0, time: change.time)] }
                    candidates.append(Candidate(change: m, execTime: change.time, process: change.process,
                                                stack: mappings[Int(row)].vma, recorded: logged))
                    break
                }
            }
        }
        // Each stack is found by one exec at most (an exec's search stops at its process's
        // next exec), so the changes are distinct; sorted for the cursors.
        candidates.sort { $0.change < $1.change }
        self.candidates = candidates
        self.faults = faults
        found = Array(repeating: nil, count: candidates.count)
    }

    /// The fill that follows change `n`, if `n` mapped an exec's stack, in runs (empty when
    /// none). `cursor` starts at 0 and is kept by the caller between calls, with `n` never
    /// decreasing.
    func fill(afterChange n: Int, cursor: inout Int) -> [Range<UInt64>] {
        while cursor < candidates.count && candidates[cursor].change < n { cursor += 1 }
        guard cursor < candidates.count && candidates[cursor].change == n else { return [] }
        return fill(cursor)
    }

    /// Bytes of new stacks taken as filled, in all. (Finds every fill not yet found.)
    var totalBytes: UInt64 {
        candidates.indices.reduce(0) { sum, k in fill(k).reduce(sum) { $0 + UInt64($1.count) } }
    }

    /// Bytes of new stacks taken as filled because the log says so, not inferred.
    var recordedBytes: UInt64 {
        candidates.indices.reduce(0) { sum, k in
            candidates[k].recorded == nil ? sum : fill(k).reduce(sum) { $0 + UInt64($1.count) }
        }
    }

    private func fill(_ k: Int) -> [Range<UInt64>] {
        lock.lock()
        defer { lock.unlock() }
        if let known = found[k] { return known }
        let c = candidates[k]
        let fill = c.recorded.map { Self.clipped(unfaulted(c, $0), to: c.stack) } ?? find(c).map { [$0.start..<$0.end] } ?? []
        found[k] = fill
        return fill
    }

    /// The logged pages less those the exec's own faults mapped. The kernel writes the
    /// tables (argv, envp, auxv) with copy_to_user, in kernel-mode faults the log has, before
    /// the program's first instruction; only the strings, which get_user_pages wrote, have
    /// none. (Taken as filled too, those faults replayed as no fault at all.)
    private func unfaulted(_ c: Candidate, _ runs: [Range<UInt64>]) -> [Range<UInt64>] {
        var faulted: [UInt64] = []
        _ = faults.first(from: faults.firstIndex(atOrAfter: c.execTime), limit: Self.lookahead) { f in
            guard f.process == c.process else { return false }
            guard f.kernelMode else { return true }   // the program runs: the exec is over
            if f.address >= c.stack.start && f.address < c.stack.end { faulted.append(f.address & ~4095) }
            return false
        }
        guard !faulted.isEmpty else { return runs }
        let pages = Set(faulted).sorted()
        var kept: [Range<UInt64>] = []
        for run in runs {
            var start = run.lowerBound
            for page in pages where page >= start && page < run.upperBound {
                if page > start { kept.append(start..<page) }
                start = page + 4096
            }
            if start < run.upperBound { kept.append(start..<run.upperBound) }
        }
        return kept
    }

    /// The logged runs inside the stack's mapping (a file's runs are not to be trusted past
    /// it), at most the MiB the inference would take.
    private static func clipped(_ runs: [Range<UInt64>], to stack: VMA) -> [Range<UInt64>] {
        var left: UInt64 = 1 << 20
        var kept: [Range<UInt64>] = []
        for run in runs.reversed() {
            let lower = max(run.lowerBound, stack.start), upper = min(run.upperBound, stack.end)
            guard lower < upper, left > 0 else { continue }
            let taken = min(upper - lower, left)
            kept.append((upper - taken)..<upper)
            left -= taken
        }
        return kept.reversed()
    }

    /// The pages above the process's first fault in the stack (or in the MiB below it, which
    /// it may grow into) after its exec: waits for the faults to be sorted that far.
    private func find(_ c: Candidate) -> (start: UInt64, end: UInt64)? {
        let lo = faults.firstIndex(atOrAfter: c.execTime)
        let inStack = { (f: ReplayInput.Fault) in
            f.process == c.process && f.address >= c.stack.start &- (1 << 20) && f.address < c.stack.end
        }
        // The stack is among the first pages a new program touches: the first faults are
        // read one at a time before any block is decoded (decoding a block of faults for
        // one of them was most of the model's time on execs in a shell loop, perf).
        var firstInStack = faults.first(from: lo, limit: Self.firstLook, where: inStack)
        var seen = Self.firstLook
        if firstInStack == nil {
            faults.forEachBlock(from: lo + Self.firstLook) { block in
                for f in block.prefix(Self.lookahead - seen) where inStack(f) {
                    firstInStack = f
                    return false
                }
                seen += block.count
                return seen < Self.lookahead
            }
        }
        guard let first = firstInStack else { return nil }
        let start = max((first.address & ~4095) &+ 4096, c.stack.start)
        guard start < c.stack.end, c.stack.end - start <= 1 << 20 else { return nil }
        return (start, c.stack.end)
    }
}
