// A recording flattened into one time-ordered list of small events, built once and shared
// read-only by every configuration's replay (they run in parallel). The hazard is order:
// the address-space timeline, forks, execs and faults come from different tables of the log,
// and a fork or an exec put at the wrong place changes every later fault's class.

import FaultlineCore
import FaultlineLog

public struct ReplayInput: Sendable {
    public enum Op: UInt8, Sendable {
        /// Resets a process's address space: the first event of a new image after exec.
        case execReset = 0
        case fork, mmap, munmap, mremap, mprotect, madvise, brk, fault, exit
        /// Pages [a, b) written without a fault event (execve's copy of the arguments).
        case populate
    }

    /// 40 bytes; `a`, `b`, `c` mean what the op says (see `ReplayEngine.apply`).
    public struct Event: Sendable {
        public var time: UInt64
        public var a: UInt64
        public var b: UInt64
        public var c: UInt64
        public var process: Int32
        public var op: Op
        /// Faults: Access raw value, bit 7 set for kernel mode.
        public var access: UInt8
        /// Faults: the recorded FaultKind raw value.
        public var recordedKind: UInt8
    }

    /// A new mapping as the log describes it.
    public struct Mapping: Sendable {
        public var vma: VMA
        public var name: String
        public var pid: Int32
    }

    public var events: [Event] = []
    public var mappings: [Mapping] = []
    /// mremap's four arguments, by index (`Event.a`).
    public var remaps: [(old: UInt64, oldLength: UInt64, new: UInt64, newLength: UInt64)] = []
    /// pid of each dense process index.
    public var pids: [Int32] = []
    public var faultCount = 0
    /// Faults by process index, to size each process's page map up front.
    public var faultsPerProcess: [Int] = []
    public var hostPageSize: UInt64 = 4096
    public var hostTHP: THPMode?
    /// The log carried munmap/mremap/mprotect/madvise/brk records.
    public var hasAddressSpaceTimeline = false
    public var firstTime: UInt64 = 0
    public var lastTime: UInt64 = 0
    /// Bytes of new stacks taken as filled by execve (see `stackFill`).
    public var execStackBytes: UInt64 = 0

    public init() {}

    public var processCount: Int { pids.count }

    /// Flattens `log`.
    public init(log: LoadedLog) {
        hostPageSize = log.header.pageSize
        hostTHP = THPMode(rawValue: log.header.thpMode)
        hasAddressSpaceTimeline = !log.addressSpaceEvents.isEmpty

        var index: [Int32: Int32] = [:]
        var lastPid: Int32 = -1, lastIndex: Int32 = -1   // faults come in runs of one process
        func proc(_ pid: Int32) -> Int32 {
            if pid == lastPid { return lastIndex }
            if let i = index[pid] { lastPid = pid; lastIndex = i; return i }
            let i = Int32(pids.count)
            pids.append(pid); index[pid] = i
            return i
        }
        // Timeline events carry a priority so that, at equal times, a reset comes before the
        // new image's mappings, mappings before faults, and exits last.
        var timeline: [(event: Event, priority: UInt8, seq: Int)] = []
        func add(_ e: Event, _ priority: UInt8) { timeline.append((e, priority, timeline.count)) }

        for p in log.processes.values.sorted(by: { ($0.startNs, $0.pid) < ($1.startNs, $1.pid) }) {
            let child = proc(p.pid)
            if log.processes[p.ppid] != nil && p.ppid != p.pid {
                add(Event(time: p.startNs, a: 0, b: 0, c: 0, process: child, op: .fork,
                          access: 0, recordedKind: 0), 1)
                // The parent's index travels in `a`.
                timeline[timeline.count - 1].event.a = UInt64(proc(p.ppid))
            }
            if let x = p.exit {
                add(Event(time: x.timeNs, a: 0, b: 0, c: 0, process: child, op: .exit, access: 0, recordedKind: 0), 9)
            }
        }

        // Each exec's reset goes at the exec record's time: when the kernel replaced the address
        // space, before it announced the new image's mappings.
        var resets: [(Int32, UInt64)] = []
        for case .exec(let pid, let time, _) in log.lifecycle {
            resets.append((pid, time))
            add(Event(time: time, a: 0, b: 0, c: 0, process: proc(pid), op: .execReset, access: 0, recordedKind: 0), 0)
        }

        for m in log.mmaps {
            let name = log.modulePath(m.module)
            var vma = VMA(start: m.start, end: m.end, prot: m.prot,
                          backing: Backing.of(name: name, inode: m.inode, shared: m.isShared),
                          inode: m.inode, offset: m.pageOffset, mapping: Int32(mappings.count))
            vma.growsDown = name == "[stack]"
            mappings.append(Mapping(vma: vma, name: name, pid: m.pid))
            add(Event(time: m.timeNs, a: UInt64(mappings.count - 1), b: 0, c: 0, process: proc(m.pid),
                      op: .mmap, access: 0, recordedKind: 0), 2)
        }

        var heapRows: [Int32: Int] = [:]
        func heapRow(_ pid: Int32) -> Int {
            if let r = heapRows[pid] { return r }
            mappings.append(Mapping(vma: VMA(start: 0, end: 0, prot: 3, backing: .anonymous, mapping: Int32(mappings.count)),
                                    name: "[heap]", pid: pid))
            heapRows[pid] = mappings.count - 1
            return mappings.count - 1
        }
        for a in log.addressSpaceEvents {
            var e = Event(time: a.timeNs, a: 0, b: 0, c: 0, process: proc(a.pid), op: .munmap, access: 0, recordedKind: 0)
            switch a.change {
            case .munmap(let address, let length):
                e.a = address; e.b = length
            case .mremap(let address, let length, let newAddress, let newLength):
                e.op = .mremap; e.a = UInt64(remaps.count)
                remaps.append((address, length, newAddress, newLength))
            case .mprotect(let address, let length, let prot):
                e.op = .mprotect; e.a = address; e.b = length; e.c = UInt64(prot)
            case .madvise(let address, let length, let advice):
                e.op = .madvise; e.a = address; e.b = length; e.c = UInt64(UInt32(bitPattern: advice))
            case .brk(_, let result):
                // `b`: the mapping row a heap grown by brk alone is counted under.
                e.op = .brk; e.a = result; e.b = UInt64(heapRow(a.pid))
            }
            add(e, 2)
        }

        var faults: [Event] = []
        faults.reserveCapacity(log.faults.count)
        for f in log.faults {
            faults.append(Event(time: f.timeNs, a: f.address, b: 0, c: 0, process: proc(f.pid), op: .fault,
                                access: f.access.rawValue | (f.kernelMode ? 0x80 : 0), recordedKind: f.kind.rawValue))
        }
        // The recorder writes faults in time order; sort only if a log says otherwise.
        if zip(faults, faults.dropFirst()).contains(where: { $0.time > $1.time }) {
            faults = faults.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
        }
        faultCount = faults.count
        faultsPerProcess = Array(repeating: 0, count: pids.count)
        for f in faults { faultsPerProcess[Int(f.process)] += 1 }

        // execve writes the arguments, environment and auxiliary vector at the top of the new
        // stack through get_user_pages, which raises no fault event. Take the pages above the
        // first recorded fault in the stack as filled: the program's first pushes land just
        // below what execve wrote. (The initial stack pointer, if the recorder logged it at
        // exec, would make this exact.)
        for (n, (pid, at)) in resets.enumerated() {
            // The new image's stack: the process's first [stack] mapping after the exec and
            // before its next one.
            let nextReset = resets[(n + 1)...].first { $0.0 == pid }?.1 ?? .max
            guard let stack = log.mmaps.first(where: { $0.pid == pid && $0.timeNs >= at && $0.timeNs < nextReset
                                                        && log.modulePath($0.module) == "[stack]" }),
                  let pi = index[pid] else { continue }
            var lo = 0, hi = faults.count   // the first fault at or after the reset
            while lo < hi { let mid = (lo + hi) / 2; if faults[mid].time < at { lo = mid + 1 } else { hi = mid } }
            guard let first = faults[lo...].first(where: { $0.process == pi
                && $0.a >= stack.start &- (1 << 20) && $0.a < stack.end }) else { continue }
            let fill = max((first.a & ~4095) + 4096, stack.start)
            guard fill < stack.end, stack.end - fill <= 1 << 20 else { continue }
            execStackBytes += stack.end - fill
            timeline.append((Event(time: stack.timeNs, a: fill, b: stack.end, c: 0, process: pi, op: .populate,
                                   access: 0, recordedKind: 0), 2, timeline.count))
        }
        timeline.sort { ($0.event.time, $0.priority, $0.seq) < ($1.event.time, $1.priority, $1.seq) }

        // Merge: at equal times the timeline (priority < 3) goes first, exits (9) after faults.
        events.reserveCapacity(faults.count + timeline.count)
        var i = 0, j = 0
        while i < timeline.count || j < faults.count {
            if j == faults.count || (i < timeline.count && (timeline[i].event.time < faults[j].time
                || (timeline[i].event.time == faults[j].time && timeline[i].priority < 3))) {
                events.append(timeline[i].event); i += 1
            } else {
                events.append(faults[j]); j += 1
            }
        }
        firstTime = events.first?.time ?? 0
        lastTime = events.last?.time ?? 0
    }

    /// Appends an event (tests build timelines by hand).
    public mutating func append(_ op: Op, process: Int32 = 0, _ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0) {
        let t = (events.last?.time ?? 0) + 1
        events.append(Event(time: t, a: a, b: b, c: c, process: process, op: op, access: 0, recordedKind: 0))
        if Int(process) >= pids.count { pids.append(contentsOf: (pids.count...Int(process)).map { Int32($0 + 1) }) }
        lastTime = t
    }

    public mutating func appendMapping(_ vma: VMA, name: String, process: Int32 = 0) {
        var v = vma
        v.mapping = Int32(mappings.count)
        v.growsDown = v.growsDown || name == "[stack]"
        mappings.append(Mapping(vma: v, name: name, pid: Int32(process + 1)))
        append(.mmap, process: process, UInt64(mappings.count - 1))
    }

    public mutating func appendAccess(_ address: UInt64, _ access: Access, process: Int32 = 0,
                                      recorded: FaultKind = .other, kernelMode: Bool = false) {
        append(.fault, process: process, address)
        events[events.count - 1].access = access.rawValue | (kernelMode ? 0x80 : 0)
        events[events.count - 1].recordedKind = recorded.rawValue
        faultCount += 1
    }
}
