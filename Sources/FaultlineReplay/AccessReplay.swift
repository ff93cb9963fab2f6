// Replaying an imported access trace instead of the recorded faults. With a log, the
// address space is the traced process's mappings as the log leaves them (lackey has no
// timestamps, so the trace cannot be interleaved with the timeline); without one, all
// memory is one anonymous mapping, eligible for THP wherever alignment allows.

import FaultlineAddressSpace
import FaultlineCore

extension ReplayEngine {
    /// The process whose address space a trace runs in: the one that took the most faults
    /// (under `faultline record -- valgrind --tool=lackey …`, valgrind's own process).
    public static func traceProcess(of input: ReplayInput) -> Int32 {
        let counts = input.faultsPerProcess
        return Int32(counts.indices.max { counts[$0] < counts[$1] } ?? 0)
    }

    /// Builds `process`'s address space from the input's timeline, without its faults.
    public func prepareAddressSpace(process index: Int32) {
        for c in input.changes where c.process == index {
            switch c.operation {
            case .fork, .exit: continue
            default: apply(c)
            }
        }
    }

    /// Replays a lackey trace in `process`; an access that spans 4 KiB boundaries touches
    /// every 4 KiB page it covers (at most 257: the reader bounds sizes), and one running
    /// past the top of the address space stops there. Returns the result with timing.
    public func runTrace(_ reader: LackeyReader, process index: Int32) throws -> ConfigResult {
        permissive = true
        let clock = ContinuousClock()
        let started = clock.now
        // 1024 accesses (16 KiB): the batch stays in the L1 between parsing and replay.
        let batch = UnsafeMutableBufferPointer<TraceAccess>.allocate(capacity: 1024)
        defer { batch.deallocate() }
        var parsing = Duration.zero
        while true {
            let readStarted = clock.now
            let n = try reader.read(into: batch)
            parsing += clock.now - readStarted
            if n == 0 { break }
            for i in 0..<n {
                let a = batch[i]
                touch(process: index, address: a.address, access: a.access)
                let lastPage = a.lastByte >> 12
                var page = a.address >> 12
                while page < lastPage {
                    page += 1
                    touch(process: index, address: page << 12, access: a.access)
                }
            }
        }
        let elapsed = clock.now - started
        var r = result(seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        r.traceMalformedLines = reader.malformedLines
        r.traceFirstMalformedLine = reader.firstMalformedLine
        r.parseSeconds = Double(parsing.components.seconds) + Double(parsing.components.attoseconds) * 1e-18
        return r
    }
}

extension ReplayInput {
    /// The input for a trace without a log: one process, all of its user address space a
    /// single anonymous mapping, from 0 so that every huge page size fits everywhere.
    public static func wholeAddressSpace() -> ReplayInput {
        var input = ReplayInput()
        input.appendMapping(VMA(start: 0, end: 1 << 47, prot: 7, backing: .anonymous), name: "[trace]")
        input.pids = [0]
        input.isSyntheticAddressSpace = true
        return input
    }
}
