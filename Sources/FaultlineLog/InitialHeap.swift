// The heap by the kernel's name. /proc/PID/maps and smaps call "[heap]" the VMA that
// holds the program break (fs/proc/task_mmu.c, vma_is_initial_heap: vm_start <= mm->brk
// and vm_end >= mm->start_brk), but perf announced the heap's first growth as anonymous
// memory ("//anon", later ones as "[heap]"). Without this, reports put most of a heap's
// faults under "[anon]" and replay named its row so, where the kernel says "[heap]".
//
// The log holds what the rule needs. glibc's first call after an exec is brk(0), whose
// result is the break the kernel chose (start_brk); each later brk moves the break; a fork
// keeps both, an exec forgets them. A process whose first brk the log missed (attached to)
// keeps perf's name: its first mappings came from its maps file, which names the heap.

import FaultlineCore

extension LoadedLog {
    /// Renames to "[heap]" each anonymous mapping record that holds its process's break
    /// when made. Runs once, after loading, over the changes it needs in time order (the
    /// recorder writes a brk at its exit, after the mapping its growth announced).
    public mutating func nameInitialHeaps() {
        guard addressSpaceEvents.contains(where: { if case .brk = $0.change { return true } else { return false } }) else { return }
        var breaks: [Int32: (start: UInt64, current: UInt64)] = [:]
        var heap: ModuleID?
        for change in changesNamingHeaps() {
            switch change {
            case .lifecycle(let i):
                switch lifecycle[i] {
                case .fork(let p): breaks[p.pid] = breaks[p.ppid]
                case .exec(let pid, _, _): breaks[pid] = nil
                case .exit(let x): breaks[x.pid] = nil
                }
            case .addressSpace(let i):
                let event = addressSpaceEvents[i]
                guard case .brk(let requested, let result) = event.change else { continue }
                if breaks[event.pid] != nil {
                    breaks[event.pid]!.current = result
                } else if requested == 0 {
                    breaks[event.pid] = (result, result)
                }
            case .mmap(let i):
                let m = mmaps[i]
                guard let b = breaks[m.pid], m.start <= b.current, m.end >= b.start else { continue }
                if heap == nil { heap = heapModule() }
                mmaps[i].module = heap!
            }
        }
    }

    /// The process lifecycle, every brk, and the anonymous mapping records, by time (log
    /// order at equal times). Nearly in order already: a brk is written at its exit, a few
    /// records late.
    private func changesNamingHeaps() -> [LogChange] {
        let anonymous = modules.map { string($0.path) == "//anon" }
        var keyed: [(time: UInt64, seq: Int, change: LogChange)] = []
        keyed.reserveCapacity(lifecycle.count + mmaps.count / 2)
        for change in changes {
            switch change {
            case .lifecycle: break
            case .addressSpace(let i): guard case .brk = addressSpaceEvents[i].change else { continue }
            case .mmap(let i):
                let module = mmaps[i].module.index
                guard module < anonymous.count, anonymous[module] else { continue }
            }
            keyed.append((time(of: change), keyed.count, change))
        }
        keyed.sortNearlySorted(movesPerElement: 16) { $0.time != $1.time ? $0.time < $1.time : $0.seq < $1.seq }
        return keyed.map(\.change)
    }

    /// The log's "[heap]" module (one read from a maps file), or a new one.
    private mutating func heapModule() -> ModuleID {
        if let i = modules.firstIndex(where: { string($0.path) == "[heap]" }) { return ModuleID(rawValue: UInt32(i)) }
        strings.append("[heap]")
        modules.append(Module(path: StringID(rawValue: UInt32(strings.count - 1)), buildID: []))
        return ModuleID(rawValue: UInt32(modules.count - 1))
    }
}
