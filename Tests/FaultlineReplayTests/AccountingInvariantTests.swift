// The model's accounting must balance whatever a log does: every byte charged to the totals
// and to a mapping's row is released again by the time every process has exited. Random
// timelines (seeded: a failure names its seed) of mappings (anonymous, file, shared,
// hugetlb, MAP_POPULATE, MAP_LOCKED), faults, munmap, mprotect, mremap, madvise, brk, fork
// and exit, replayed at granules and THP modes where pages larger than the recording's span
// VMAs. Each bug this found charged a page to one row and released it from another, or not
// at all: rows that grew a page with each fork child (a shell loop's bash at 64k), a moved
// page that was its neighbour's, an explicit 2m page over a collapsed THP (76 MiB still
// resident after every exit).

import XCTest
import FaultlineAddressSpace
import FaultlineCore
import FaultlineTestSupport
@testable import FaultlineReplay

final class AccountingInvariantTests: XCTestCase {
    let window: UInt64 = 1 * GiB
    let span: UInt64 = 16 * MiB
    /// Where the break moves (a heap grows up from here).
    let heap: UInt64 = 512 * MiB
    /// Where hugetlb memory goes: apart, as the kernel splits a hugetlb VMA only at its own
    /// page boundaries (an mmap, munmap or mprotect elsewhere in it fails).
    let hugetlbArea: UInt64 = 4 * GiB

    /// One step of a timeline.
    enum Step: CustomStringConvertible {
        case map(VMA, name: String, process: Int32, mapFlags: UInt32 = 0)
        case touch(UInt64, pages: UInt64, Access, process: Int32)
        case change(AddressSpaceChange, process: Int32)
        case fork(parent: Int32, child: Int32)
        case exit(Int32)
        case wait

        var description: String {
            switch self {
            case .map(let v, let name, let process, let flags): return "p\(process) map \(name) \(hex(v.start))-\(hex(v.end)) prot \(v.prot) flags \(hex(UInt64(flags)))"
            case .touch(let a, let pages, let access, let process): return "p\(process) \(access) \(hex(a)) x\(pages)"
            case .change(let c, let process): return "p\(process) \(c)"
            case .fork(let parent, let child): return "p\(parent) fork p\(child)"
            case .exit(let process): return "p\(process) exit"
            case .wait: return "wait 20 ms"
            }
        }
        private func hex(_ x: UInt64) -> String { "0x" + String(x, radix: 16) }
    }

    /// A timeline of a few processes (`input` ends it with every one exited).
    func timeline(seed: UInt64) -> [Step] {
        var random = SeededGenerator(seed: seed)
        var steps: [Step] = []
        var live: [Int32] = [0], next: Int32 = 1
        // Each process's address space, kept alongside so that every mremap is one the kernel
        // would have made (its old range inside one VMA, the new one elsewhere): a log holds
        // only calls that succeeded.
        var spaces: [Int32: AddressSpace] = [0: AddressSpace()]
        func page(_ limit: UInt64) -> UInt64 { UInt64.random(in: 0..<limit, using: &random) * 4 * KiB }
        func range() -> (UInt64, UInt64) { (window + page(span / (4 * KiB)), 4 * KiB + page(640)) }
        func take(_ step: Step) {
            steps.append(step)
            switch step {
            case .map(let v, _, let process, _): _ = spaces[process]?.apply(mapping: v, announced: false)
            case .change(let c, let process): _ = spaces[process]?.apply(c)
            case .fork(let parent, let child): spaces[child] = spaces[parent]?.forked()
            case .exit(let process): spaces[process] = nil
            case .touch, .wait: break
            }
        }
        for _ in 0..<400 {
            let process = live.randomElement(using: &random)!
            switch UInt64.random(in: 0..<100, using: &random) {
            case 0..<12:
                let (start, length) = range()
                let prot: UInt32 = [1, 3, 3, 3, 7].randomElement(using: &random)!
                switch UInt64.random(in: 0..<6, using: &random) {
                case 0:
                    take(.map(VMA(start: start, end: start + length, offset: 0, prot: prot, mapFlags: MapFlags.private,
                                          inode: 7, name: "/data/f", label: -1, kernel: .newest), name: "/data/f", process: process))
                case 2:
                    // hugetlb: its own 2 MiB pages, whatever the configuration.
                    let huge = hugetlbArea + 2 * MiB * UInt64.random(in: 0..<16, using: &random)
                    take(.map(VMA(start: huge, end: huge + 2 * MiB * UInt64.random(in: 1...4, using: &random), prot: prot,
                                  backing: .anonymous, inode: 99, hugePageShift: 21), name: "/anon_hugepage (deleted)", process: process))
                case 3:
                    take(.map(anonymous(start, min(length, 64 * KiB), prot: prot), name: "//anon", process: process,
                              mapFlags: [MapFlags.populate, MapFlags.locked].randomElement(using: &random)!))
                case 1:
                    take(.map(VMA(start: start, end: start + length, offset: 0, prot: prot, mapFlags: MapFlags.shared,
                                          inode: 8, name: "/dev/zero (deleted)", label: -1, kernel: .newest),
                                      name: "/dev/zero (deleted)", process: process))
                default:
                    take(.map(anonymous(start, length, prot: prot), name: "//anon", process: process))
                }
            case 12..<70:
                var (start, length) = range()
                switch UInt64.random(in: 0..<10, using: &random) {
                case 0, 1: start = heap + page(1024)                 // the heap's, if it is there
                case 2: start = hugetlbArea + page(8192)           // hugetlb memory's, if it is there
                default: break
                }
                let access: Access = [.read, .write, .write].randomElement(using: &random)!
                take(.touch(start, pages: min(UInt64.random(in: 1...8, using: &random), length / (4 * KiB)), access, process: process))
            case 70..<76:
                var (start, length) = range()
                if UInt64.random(in: 0..<4, using: &random) == 0 {
                    start = hugetlbArea + 2 * MiB * UInt64.random(in: 0..<16, using: &random)
                    length = 2 * MiB * UInt64.random(in: 1...3, using: &random)
                }
                take(.change(.munmap(address: start, length: length), process: process))
            case 76..<81:
                let (start, length) = range()
                take(.change(.mprotect(address: start, length: length, prot: [1, 3, 7].randomElement(using: &random)!), process: process))
            case 81..<86:
                guard let space = spaces[process], space.count > 0 else { continue }
                let i = Int.random(in: 0..<space.count, using: &random)
                guard !space[i].isHugetlb else { continue }
                let start = space[i].start + page((space[i].end - space[i].start) / (4 * KiB))
                var length = 4 * KiB + page(640)
                while length > 4 * KiB && !space.kernelVMACovers(i, start, start + length) { length = (length / 2) & ~(4 * KiB - 1) }
                let newLength = length + page(64), to = window + 2 * span + page(span / (4 * KiB))
                guard space.kernelVMACovers(i, start, start + length), to >= start + length || to + newLength <= start else { continue }
                take(.change(.mremap(address: start, length: length, newAddress: to, newLength: newLength, flags: 3), process: process))
            case 86..<91:
                let (start, length) = range()
                let advice = [Advice.dontNeed, Advice.hugePage, Advice.collapse, Advice.free, Advice.remove].randomElement(using: &random)!
                take(.change(.madvise(address: start, length: length, advice: advice), process: process))
            case 97..<100 where UInt64.random(in: 0..<2, using: &random) == 0:
                // The break, where a heap would be: set first, then grown and shrunk (a fork
                // child's break is its parent's).
                take(.change(.brk(requested: 0, result: heap + page(1024) + UInt64.random(in: 0..<4096, using: &random)), process: process))
            case 91..<95 where live.count < 4:
                take(.fork(parent: process, child: next))
                live.append(next)
                next += 1
            case 95..<97 where process != 0:
                take(.exit(process))
                live.removeAll { $0 == process }
            default:
                take(.wait)   // khugepaged's eager wake, every 10 ms
            }
        }
        return steps
    }

    /// The steps, and an exit for each process still alive after them (a timeline cut
    /// short by `minimized` ends with every process exited too).
    func input(_ steps: [Step]) -> ReplayInput {
        var input = ReplayInput()
        var live: Set<Int32> = [0]
        for step in steps {
            switch step {
            case .map(_, _, let process, _), .touch(_, _, _, let process), .change(_, let process): live.insert(process)
            case .fork(_, let child): live.insert(child)
            case .exit(let process): live.remove(process)
            case .wait: break
            }
            switch step {
            case .map(let v, let name, let process, let flags): input.appendMapping(v, name: name, process: process, mapFlags: flags)
            case .touch(let a, let pages, let access, let process):
                for k in 0..<pages { input.appendAccess(a + k * 4 * KiB, access, process: process) }
            case .change(let c, let process):
                if case .brk = c, input.heapRows[process] == nil {
                    // The heap's row, as ReplayInput gives one to each process that calls brk.
                    input.mappings.append(ReplayInput.Mapping(vma: anonymous(0, 0), name: "[heap]", pid: process + 1))
                    input.heapRows[process] = Int32(input.mappings.count - 1)
                }
                input.append(c, process: process)
            case .fork(let parent, let child): input.append(.fork(parent: parent), process: child)
            case .exit(let process): input.append(.exit, process: process)
            case .wait: input.advance(by: 20_000_000)
            }
        }
        for process in live.sorted() { input.append(.exit, process: process) }
        return input
    }

    /// What is wrong with the accounting after replaying `steps` at `c`, or nil.
    func imbalance(_ steps: [Step], _ c: ReplayConfig) -> String? {
        let input = input(steps)
        let engine = ReplayEngine(config: c, input: input, khugepaged: .eager)
        let r = engine.run()
        let rows = input.mappings.indices.filter { engine.memory.mapResident[$0] != 0 || engine.memory.mapHuge[$0] != 0 }
        let over = input.mappings.indices.filter { UInt64(max(engine.memory.mapPeak[$0], 0)) > r.peakResidentBytes }
        let tables = engine.tables.total, deposits = engine.tables.deposited
        // The totals themselves, not the result's, which reads a negative total as 0.
        let resident = engine.memory.resident
        guard resident != 0 || !rows.isEmpty || !over.isEmpty || tables != 0 || deposits != 0 else { return nil }
        return "\(resident) bytes resident after the last exit; rows left charged \(rows.map { "\($0): \(engine.memory.mapResident[$0]) (huge \(engine.memory.mapHuge[$0]))" }); rows over the peak \(over); page tables left \(tables), THP deposits left \(deposits)"
    }

    /// The steps of a failing timeline that it cannot do without (each one left out in turn).
    func minimized(_ steps: [Step], _ c: ReplayConfig) -> [Step] {
        var kept = steps
        var i = kept.count - 1
        while i >= 0 {
            var fewer = kept
            fewer.remove(at: i)
            if imbalance(fewer, c) != nil { kept = fewer }
            i -= 1
        }
        return kept
    }

    func testEveryChargeIsReleasedByTheLastExit() {
        let configs = [config(.k4, .always), config(.k16, .never), config(.k64, .always), config(.m2, .always), config(.k4, .madvise)]
        var failures = 0
        for seed in UInt64(1)...150 {
            let steps = timeline(seed: seed)
            for c in configs {
                guard let wrong = imbalance(steps, c) else { continue }
                failures += 1
                if failures <= 10 {
                    XCTFail("seed \(seed) \(c): \(wrong); the steps it needs:\n" + minimized(steps, c).map(\.description).joined(separator: "\n"))
                }
            }
        }
        XCTAssertEqual(failures, 0)
    }

    /// The smallest timelines of the seeds that found each bug (what `minimized` printed),
    /// so that each stays found whatever the seeds above come to cover.
    func testTheTimelinesThatFoundEachBug() {
        func anon(_ start: UInt64, _ end: UInt64, prot: UInt32 = 3, _ process: Int32) -> Step {
            .map(anonymous(start, end - start, prot: prot), name: "//anon", process: process)
        }
        func file(_ start: UInt64, _ end: UInt64, prot: UInt32, _ process: Int32) -> Step {
            .map(VMA(start: start, end: end, offset: 0, prot: prot, mapFlags: MapFlags.private, inode: 7, name: "/data/f",
                     label: -1, kernel: .newest), name: "/data/f", process: process)
        }
        func move(_ from: UInt64, _ length: UInt64, to: UInt64, _ newLength: UInt64, _ process: Int32) -> Step {
            .change(.mremap(address: from, length: length, newAddress: to, newLength: newLength, flags: 3), process: process)
        }
        let cases: [(String, ReplayConfig, [Step])] = [
            ("a move of two merged mappings and the THP over both", config(.k4, .always), [
                anon(0x4099f000, 0x40b67000, 0), anon(0x40ad9000, 0x40c1b000, 0),
                .touch(0x40aea000, pages: 3, .write, process: 0), move(0x409d3000, 0x1d3000, to: 0x428e5000, 0x1ed000, 0)]),
            ("a mapping put over part of a THP", config(.k4, .always), [
                anon(0x401dd000, 0x40438000, prot: 7, 1), .touch(0x40392000, pages: 3, .write, process: 1),
                file(0x4025e000, 0x40409000, prot: 3, 1)]),
            ("an edge part inside VMAs merged since", config(.k16, .never), [
                anon(0x40b94000, 0x40d7c000, 0), .change(.mprotect(address: 0x40cb6000, length: 0x1b3000, prot: 7), process: 0),
                .touch(0x40cb5000, pages: 3, .write, process: 0), .change(.mprotect(address: 0x40c8e000, length: 0x277000, prot: 1), process: 0),
                .change(.munmap(address: 0x40c3c000, length: 0x239000), process: 0)]),
            ("an edge part that begins in another piece of the VMA", config(.k64, .always), [
                anon(0x4073f000, 0x408d5000, 2), anon(0x40786000, 0x40893000, 2), .fork(parent: 2, child: 6),
                .change(.munmap(address: 0x40772000, length: 0x10000), process: 6), .fork(parent: 6, child: 9),
                .touch(0x4078a000, pages: 4, .write, process: 9)]),
            ("a move's last page landing past the mapping", config(.k16, .never), [
                file(0x4069d000, 0x406d6000, prot: 1, 4), .touch(0x406c2000, pages: 7, .read, process: 4),
                move(0x406b3000, 0x12000, to: 0x42f98000, 0x13000, 4)]),
            ("a page a move left where the mapping does not begin, then a mapping over it", config(.k16, .never), [
                anon(0x40d7c000, 0x40ee6000, 0), .touch(0x40ec5000, pages: 2, .write, process: 0),
                move(0x40ec4000, 0x4000, to: 0x42e63000, 0x13000, 0), file(0x40a92000, 0x40bf4000, prot: 7, 0),
                move(0x40bc1000, 0x27000, to: 0x42e5e000, 0x56000, 0)]),
        ]
        for (name, c, steps) in cases {
            XCTAssertNil(imbalance(steps, c), name)
        }
    }
}
