// Finds the mapping a fault address fell into, as it was when the fault happened.
//
// One sweep through the log in time order replays every process's address space with the
// kernel's rules (FaultlineAddressSpace): mappings, munmap, mremap, mprotect, madvise, brk,
// fork, exec and exit. Each fault is looked up as the sweep passes its time, so a report
// costs O((faults + changes) · log VMAs) however much the program mapped and unmapped. A
// mapping mremap moves becomes a copy of its row at the new place, so faults there still
// belong to the code that first mapped the memory, and reports show where it is now. For a
// fault outside every mapping, the sweep keeps its neighbours as they were then.

import FaultlineAddressSpace
import FaultlineCore
import FaultlineLog

public struct MappingIndex: Sendable {
    /// The log's mmaps, then one copy per mremap destination.
    public private(set) var mmaps: [MmapEvent]
    /// Per fault of the log, by the same index: the mapping it fell into, or -1.
    private var faultMappings: [Int32] = []
    /// For refused accesses and faults outside every mapping, by fault index: the VMAs at
    /// and around the address then.
    private var surroundings: [Int: Surroundings] = [:]

    /// The VMA at an address and the nearest ones around it, as the address space had them
    /// (labelled with rows of `mmaps`): what a crash report shows.
    public struct Surroundings: Sendable, Equatable {
        public var inside: VMA?
        public var below: VMA?
        public var above: VMA?
    }

    /// With `only`, just those faults are looked up (the slowest few of a report: the sweep
    /// then costs the changes, not every fault); the others answer nil.
    public init(log: LoadedLog, only: [Int]? = nil) {
        var mmaps = log.mmaps
        var sweep = Sweep(log: log)
        let changes = log.changesInTimeOrder()
        var next = 0
        var faultMappings = [Int32](repeating: -1, count: log.faults.count)
        var surroundings: [Int: Surroundings] = [:]
        func visit(_ f: Int, _ fault: FaultEvent) {
            while next < changes.count, log.time(of: changes[next]) < fault.timeNs
                    || (log.time(of: changes[next]) == fault.timeNs && log.precedesFaults(atItsTime: changes[next])) {
                sweep.apply(changes[next], mmaps: &mmaps)
                next += 1
            }
            // Asked in place: a copy of the process's address space out of the dictionary
            // at every fault was 40% of this sweep (perf, a 2M-fault report).
            guard let p = sweep.spaces.index(forKey: fault.pid) else { return }
            let vma = sweep.spaces.values[p].lookupRemembering(fault.address)
            if let vma { faultMappings[f] = vma.label }
            if vma == nil || fault.kind == .segv {
                let n = sweep.spaces.values[p].neighbours(of: fault.address)
                surroundings[f] = Surroundings(inside: vma, below: n.below, above: n.above)
            }
        }
        if let only {
            let order = Set(only.filter(log.faults.indices.contains))
                .sorted { (log.faults[$0].timeNs, $0) < (log.faults[$1].timeNs, $1) }
            for f in order { visit(f, log.faults[f]) }
        } else {
            log.faults.forEachInTimeOrder { f, fault in visit(f, fault) }
        }
        self.mmaps = mmaps
        self.faultMappings = faultMappings
        self.surroundings = surroundings
    }

    /// The index in `mmaps` of the mapping `log.faults[index]` fell into, or nil when no
    /// recorded mapping covered it.
    public func mapping(ofFault index: Int) -> Int? {
        guard faultMappings.indices.contains(index), faultMappings[index] >= 0,
              Int(faultMappings[index]) < mmaps.count else { return nil }
        return Int(faultMappings[index])
    }

    /// The mapping that covered `address` in `pid` at `timeNs` (changes at that very time
    /// included), or nil. Sweeps the log again: for occasional questions; faults have
    /// `mapping(ofFault:)`.
    public static func mapping(in log: LoadedLog, pid: Int32, address: UInt64, timeNs: UInt64) -> Int? {
        var mmaps = log.mmaps
        var sweep = Sweep(log: log)
        for change in log.changesInTimeOrder() where log.time(of: change) <= timeNs {
            sweep.apply(change, mmaps: &mmaps)
        }
        return sweep.spaces[pid]?.lookup(address).flatMap { $0.label >= 0 ? Int($0.label) : nil }
    }

    /// For a refused access, or a fault no mapping covered: the VMA at its address and the
    /// nearest ones around it, as they were at the fault (nil otherwise, and for a process
    /// the log never described).
    public func surroundings(ofFault index: Int) -> Surroundings? { surroundings[index] }

    /// Every process's address space at the sweep's moment; VMA labels are rows of `mmaps`.
    private struct Sweep {
        let log: LoadedLog
        let kernel: KernelBehaviour
        var spaces: [Int32: AddressSpace] = [:]

        init(log: LoadedLog) {
            self.log = log
            kernel = KernelBehaviour(release: log.header.kernelRelease)
        }

        func emptySpace() -> AddressSpace { AddressSpace(pageSize: log.header.pageSize, kernel: kernel) }

        mutating func apply(_ change: LogChange, mmaps: inout [MmapEvent]) {
            switch change {
            case .lifecycle(let i):
                switch log.lifecycle[i] {
                case .fork(let p):
                    // A process seen before its start record (an attach snapshot) keeps what
                    // it has; a new one starts as a copy of its parent.
                    guard spaces[p.pid]?.isEmpty ?? true, p.ppid != p.pid, let parent = spaces[p.ppid] else { return }
                    spaces[p.pid] = parent.forked()
                case .exec(let pid, _, _):
                    var space = spaces.removeValue(forKey: pid) ?? emptySpace()
                    space.exec()
                    spaces[pid] = space
                case .exit(let x):
                    spaces[x.pid] = nil
                }
            case .mmap(let i):
                let m = mmaps[i]
                let vma = VMA(m, name: log.modulePath(m.module), label: Int32(truncatingIfNeeded: i), kernel: kernel)
                var space = spaces.removeValue(forKey: m.pid) ?? emptySpace()
                space.apply(mapping: vma, announced: log.mmapsAreAnnouncements)
                spaces[m.pid] = space
            case .addressSpace(let i):
                let event = log.addressSpaceEvents[i]
                var space = spaces.removeValue(forKey: event.pid) ?? emptySpace()
                let effect = space.apply(event.change)
                if case .remapped(let remap) = effect, case .mremap(let old, _, let new, let length, _) = event.change,
                   remap.moved != nil || remap.grown != nil {
                    // Where the mapping is now: moved, grown in place, or both.
                    let start = remap.moved == nil ? old : new
                    relabel(start, start &+ length, in: &space, at: event.timeNs, pid: event.pid, mmaps: &mmaps)
                }
                spaces[event.pid] = space
            }
        }

        /// Gives the mappings over [start, end) (where an mremap left one) a row each: a copy
        /// of its row, spanning its pieces there, so reports show where the memory is now.
        private func relabel(_ start: UInt64, _ end: UInt64, in space: inout AddressSpace, at time: UInt64,
                             pid: Int32, mmaps: inout [MmapEvent]) {
            var extents: [Int32: (start: UInt64, end: UInt64, offset: UInt64)] = [:]
            var order: [Int32] = []
            for piece in space.pieces(start, end) where piece.label >= 0 && Int(piece.label) < mmaps.count {
                if let e = extents[piece.label] {
                    extents[piece.label] = (min(e.start, piece.start), max(e.end, piece.end), e.offset)
                } else {
                    extents[piece.label] = (piece.start, piece.end, piece.offset)
                    order.append(piece.label)
                }
            }
            for label in order {
                guard let e = extents[label] else { continue }
                var copy = mmaps[Int(label)]
                copy.pid = pid
                copy.timeNs = time
                copy.start = e.start
                copy.length = e.end - e.start
                copy.pageOffset = e.offset
                mmaps.append(copy)
                let row = Int32(truncatingIfNeeded: mmaps.count - 1)
                for piece in space.pieces(e.start, e.end) where piece.label == label {
                    space.relabel(piece.start, piece.end, to: row)
                }
            }
        }
    }
}
