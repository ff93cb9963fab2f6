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
        var fillCursor = 0
        for (n, c) in input.changes.enumerated() where c.process == index {
            switch c.operation {
            case .fork, .exit: continue
            default:
                apply(c)
                fillExecStack(mappedBy: n, cursor: &fillCursor)
            }
        }
    }

    /// Replays a lackey trace in `process`; an access that spans 4 KiB boundaries touches
    /// every 4 KiB page it covers (at most 257: the reader bounds sizes), and one running
    /// past the top of the address space stops there. Returns the result with timing.
    /// With `cores` of 2 or more, reading the text, the page-table model and the TLB model
    /// run as three stages on threads of their own (the result is the same: each stage
    /// takes its input in order).
    public func runTrace(_ reader: LackeyReader, process index: Int32, cores: Int = 1) throws -> ConfigResult {
        permissive = true
        let clock = ContinuousClock()
        let started = clock.now
        var parsing = Duration.zero
        let tlbStage = cores >= 2 ? startTLBStage() : nil
        defer { stopTLBStage(tlbStage) }
        if try cores < 2 || !runStaged(reader, process: index, parsing: &parsing) {
            try runSerially(reader, process: index, parsing: &parsing)
        }
        stopTLBStage(tlbStage)
        let elapsed = clock.now - started
        var r = result(seconds: Self.seconds(elapsed))
        r.traceMalformedLines = reader.malformedLines
        r.traceFirstMalformedLine = reader.firstMalformedLine
        r.parseSeconds = Self.seconds(parsing)
        return r
    }

    /// Plays one access of the trace: every 4 KiB page it covers.
    @inline(__always)
    private func play(_ a: TraceAccess, process index: Int32) {
        if repeatedPage.covers(a, process: index) {
            // The same page as the last access, which took no fault: the same again.
            totals.accesses &+= 1
            counts[noFaultColumn] &+= 1
            tlbAccess(asid: index, address: a.address, pageShift: repeatedPage.pageShift, access: a.access, repeating: true)
            return
        }
        repeatedPage.clear()
        let outcome = touch(process: index, address: a.address, access: a.access)
        let lastPage = a.lastByte >> 12
        var page = a.address >> 12
        while page < lastPage {
            page += 1
            touch(process: index, address: page << 12, access: a.access)
        }
        repeatedPage.note(a, process: index, outcome: outcome)
    }

    private func runSerially(_ reader: LackeyReader, process index: Int32, parsing: inout Duration) throws {
        let clock = ContinuousClock()
        // 1024 accesses (16 KiB): the batch stays in the L1 between parsing and replay.
        let batch = UnsafeMutableBufferPointer<TraceAccess>.allocate(capacity: 1024)
        defer { batch.deallocate() }
        while true {
            let readStarted = clock.now
            let n = try reader.read(into: batch)
            parsing += clock.now - readStarted
            if n == 0 { break }
            for i in 0..<n { play(batch[i], process: index) }
        }
    }

    /// Reads the text on a thread of its own while this one plays it; false (nothing read)
    /// when no thread could be started.
    private func runStaged(_ reader: LackeyReader, process index: Int32, parsing: inout Duration) throws -> Bool {
        let pipe = BatchPipe<TraceAccess>(batchCapacity: 2048)
        // Written by the reading thread, read here after joining it.
        final class ReadingState: @unchecked Sendable { var error: Error?; var time = Duration.zero }
        let state = ReadingState()
        let readingThread = StageThread.start {
            let clock = ContinuousClock()
            while true {
                let slot = pipe.slotToFill()
                let readStarted = clock.now
                var n = 0
                do { n = try reader.read(into: slot) } catch { state.error = error }
                state.time += clock.now - readStarted
                pipe.publish(count: n)
                if n == 0 { return }
            }
        }
        guard let readingThread else { return false }
        while true {
            let batch = pipe.nextBatch()
            if batch.isEmpty { pipe.release(); break }
            for a in batch { play(a, process: index) }
            pipe.release()
        }
        readingThread.join()
        parsing = state.time
        if let error = state.error { throw error }
        return true
    }

    /// Moves the TLB model to a thread of its own, fed by `tlbQueue`; nil (the TLB stays
    /// inline) without a TLB or a thread.
    private func startTLBStage() -> StageThread? {
        guard let tlb else { return nil }
        let queue = TLBQueue()
        guard let thread = StageThread.start({ queue.drain(into: tlb) }) else {
            queue.finish()
            return nil
        }
        tlbQueue = queue
        tlbRef = nil
        return thread
    }

    /// Ends the TLB's stream and waits for the model to play all of it (idempotent).
    private func stopTLBStage(_ thread: StageThread?) {
        guard let thread, let queue = tlbQueue, let tlb else { return }
        queue.finish()
        thread.join()
        tlbQueue = nil
        tlbRef = Unmanaged.passUnretained(tlb)
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
