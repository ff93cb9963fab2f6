// `export --format jsonl`: every fault and address-space event of a log, one JSON object
// per line, in time order (DESIGN.md's contract). Streams through a BufferedOutput; each
// distinct stack is serialized once and reused, since stacks repeat across faults.

import FaultlineCore
import FaultlineLog

public final class JSONLExporter {
    private let timeline: Timeline
    private let namer: FrameNamer
    /// `--kind` keeps faults of that kind; `--pid`/`--comm` every record of those processes.
    private let selection: FaultSelection
    private var stackJSON: [StackID: [UInt8]] = [:]
    /// One buffer reused for every line.
    private var line = JSONLine()

    public init(timeline: Timeline, symbolizer: Symbolizer, selection: FaultSelection = .everything) {
        self.timeline = timeline
        self.selection = selection
        self.namer = FrameNamer(log: timeline.log, symbolizer: symbolizer)
    }

    /// Writes every selected record; returns how many lines were written.
    @discardableResult
    public func write(to output: BufferedOutput) throws -> Int {
        let log = timeline.log
        var lines = 0
        try timeline.forEachEntry { entry, fault in
            switch entry {
            case .fault:
                guard let fault, selection.matches(fault) else { return }
                writeFault(fault)
            case .mmap(let i):
                guard selection.matches(pid: log.mmaps[i].pid) else { return }
                writeMmap(log.mmaps[i])
            case .addressSpace(let i):
                guard selection.matches(pid: log.addressSpaceEvents[i].pid) else { return }
                writeAddressSpace(log.addressSpaceEvents[i])
            case .lifecycle(let i):
                guard selection.matches(pid: timeline.lifecycle[i].pid) else { return }
                writeLifecycle(timeline.lifecycle[i])
            }
            try output.write(line.bytes)
            lines += 1
        }
        try output.flush()
        return lines
    }

    private func writeFault(_ f: FaultEvent) {
        line.begin()
        line.string("type", "fault")
        line.int("pid", f.pid)
        line.int("tid", f.tid)
        line.int("time_ns", f.timeNs)
        line.hex("address", f.address)
        line.hex("ip", f.ip)
        line.string("kind", f.kind.name)
        line.string("access", f.access.description)
        line.bool("kernel_mode", f.kernelMode)
        line.optionalInt("error_code", f.errorCode)
        line.optionalInt("service_ns", f.serviceNs)
        // The size of the page the fault mapped, where it was larger than a base page: the
        // other base pages of a THP or hugetlb page never faulted because this fault mapped them.
        if f.pageShift > 12 && f.pageShift < 64 { line.int("page_size", UInt64(1) << UInt64(f.pageShift)) }
        // A swap-in from disk is a major fault; one from the swap cache a minor one.
        if f.kind == .swap { line.bool("from_disk", f.swapFromDisk) }
        if f.kind == .segv {
            line.int("signal", f.signal)
            line.int("si_code", f.signalCode)
        }
        let stackBytes = stack(f.stack)
        line.raw("stack", stackBytes)
        line.end()
    }

    private func writeMmap(_ m: MmapEvent) {
        line.begin()
        line.string("type", "mmap")
        line.int("pid", m.pid)
        line.int("time_ns", m.timeNs)
        line.hex("address", m.start)
        line.int("length", m.length)
        line.int("offset", m.pageOffset)
        line.int("prot", m.prot)
        line.int("flags", m.flags)
        line.string("path", MappingName.display(timeline.log.modulePath(m.module)))
        if m.stack != .empty { line.raw("stack", stack(m.stack)) }
        line.end()
    }

    /// munmap, mremap, mprotect, madvise, brk, mlock, munlock: `address` and `length` (brk's
    /// address is the requested break, its length 0), plus each call's own arguments;
    /// mlockall its flags.
    private func writeAddressSpace(_ a: AddressSpaceEvent) {
        line.begin()
        line.string("type", a.change.name)
        line.int("pid", a.pid)
        line.int("tid", a.tid)
        line.int("time_ns", a.timeNs)
        switch a.change {
        case .munmap(let address, let length):
            line.hex("address", address)
            line.int("length", length)
        case .mremap(let address, let length, let newAddress, let newLength, let flags):
            line.hex("address", address)
            line.int("length", length)
            line.hex("new_address", newAddress)
            line.int("new_length", newLength)
            line.int("flags", flags)
        case .mprotect(let address, let length, let prot):
            line.hex("address", address)
            line.int("length", length)
            line.int("prot", prot)
        case .madvise(let address, let length, let advice):
            line.hex("address", address)
            line.int("length", length)
            line.string("advice", Advice.name(advice))
        case .brk(let requested, let result):
            line.hex("address", requested)
            line.int("length", 0)
            line.hex("result", result)
        case .thpDisable(let mode):
            line.string("thp", mode.name)
        case .mlock(let address, let length, let flags):
            line.hex("address", address)
            line.int("length", length)
            line.int("flags", flags)
        case .munlock(let address, let length):
            line.hex("address", address)
            line.int("length", length)
        case .mlockall(let flags):
            line.int("flags", flags)
        case .munlockall, .readTHPSetting:
            break
        }
        if a.stack != .empty { line.raw("stack", stack(a.stack)) }
        line.end()
    }

    private func writeLifecycle(_ event: LifecycleEvent) {
        line.begin()
        switch event {
        case .fork(let p):
            line.string("type", "fork")
            line.int("pid", p.pid)
            line.int("ppid", p.ppid)
            line.int("time_ns", p.timeNs)
            line.string("command", timeline.log.string(p.command))
        case .exec(let pid, let time, let command):
            line.string("type", "exec")
            line.int("pid", pid)
            line.int("time_ns", time)
            line.string("command", timeline.log.string(command))
        case .exit(let x):
            line.string("type", "exit")
            line.int("pid", x.pid)
            line.int("time_ns", x.timeNs)
            line.int("exit_code", x.exitCode)
            line.int("signal", x.signal)
        }
        line.end()
    }

    private func stack(_ id: StackID) -> [UInt8] {
        if let cached = stackJSON[id] { return cached }
        var out: [UInt8] = [UInt8(ascii: "[")]
        // One object per function, inline chains expanded: an inlined function's frame
        // says so, and the next frame is the function it was inlined into.
        for (i, name) in namer.stackNames(id).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            var object = JSONLine()
            object.string("function", name.function)
            if let file = name.file { object.string("file", file) }
            if let line = name.line { object.int("line", line) }
            if let module = name.module { object.string("module", module) }
            if name.inlined { object.bool("inlined", true) }
            object.end(newline: false)
            out += object.bytes
        }
        out.append(UInt8(ascii: "]"))
        stackJSON[id] = out
        return out
    }
}
