// What a chunk of nothing but faults holds, said ahead of its payload (format 10): the
// earliest and latest fault time, whether any fault says the size of the page it mapped,
// and each pid's faults in the order of its first. Replay's first pass needs exactly these
// of a chunk before its model can start (LogScan.swift); a chunk that says them is not
// inflated then, but on the thread that decodes the faults while the model runs. On a
// log of many threads' faults (thread_swarm 64 16384: 1,048,769 faults in 219 chunks)
// the first pass had inflated 14 MB and read four streams of every fault before the
// model's first fault.
//
// Stored uncompressed at the start of the chunk's stored bytes (so the checksum covers it),
// behind the `chunkSummarized` flag: varint length of what follows, then varint earliest,
// varint latest - earliest, u8 knows-page-sizes, varint number of pids, and for each pid
// zigzag pid and varint faults.
//
// Hazard: a summary is a claim. Every reading that decodes the chunk's faults compares
// them with it (LogReader.summaryDamage, ScannedFaults.faults(ofChunk:)), and a summary
// that disagrees is damage, as a bad checksum is: replay's early start trusted it, and
// falls back to reading the log whole.

import FaultlineCore

public struct FaultChunkSummary: Equatable, Sendable {
    public var earliest: UInt64
    public var latest: UInt64
    public var knowsPageSizes: Bool
    /// Each pid that faulted, in the order of its first fault, with its number of faults.
    public var faultsPerPid: [PidFaults]

    public struct PidFaults: Equatable, Sendable {
        public var pid: Int32
        public var faults: Int
    }

    /// The summary of `faults`; nil when there are none.
    public init?(_ faults: [FaultEvent]) {
        var builder = Builder()
        for f in faults { builder.note(f) }
        guard let summary = builder.summary else { return nil }
        self = summary
    }

    /// The summary of a chunk's faults decoded for the model; nil when there are none.
    init?(_ faults: CompactFaults) {
        guard let range = faults.timeRange else { return nil }
        self.init(earliest: range.lowerBound, latest: range.upperBound, knowsPageSizes: faults.knowsPageSizes,
                  faultsPerPid: faults.faultsPerPidInOrderOfAppearance().map { PidFaults(pid: $0.pid, faults: $0.faults) })
    }

    init(earliest: UInt64, latest: UInt64, knowsPageSizes: Bool, faultsPerPid: [PidFaults]) {
        self.earliest = earliest
        self.latest = latest
        self.knowsPageSizes = knowsPageSizes
        self.faultsPerPid = faultsPerPid
    }

    /// The faults' facts gathered one at a time, as the writer appends them.
    struct Builder {
        private var earliest = UInt64.max, latest: UInt64 = 0
        private var knowsPageSizes = false
        private var counted = FaultsByPid()
        private var any = false

        mutating func note(_ f: FaultEvent) {
            any = true
            earliest = min(earliest, f.timeNs)
            latest = max(latest, f.timeNs)
            // As the log holds it: a summary says what a reader will decode.
            knowsPageSizes = knowsPageSizes || LogRecord.storedPageShift(f) != 0
            counted.add(f.pid, 1)
        }

        var summary: FaultChunkSummary? {
            guard any else { return nil }
            return FaultChunkSummary(earliest: earliest, latest: latest, knowsPageSizes: knowsPageSizes,
                                     faultsPerPid: counted.inOrder.map { PidFaults(pid: $0.pid, faults: $0.faults) })
        }
    }

    /// The stored form, its length first.
    var encoded: [UInt8] {
        var body = ByteEncoder()
        body.varint(earliest)
        body.varint(latest &- earliest)
        body.u8(knowsPageSizes ? 1 : 0)
        body.varint(faultsPerPid.count)
        for p in faultsPerPid {
            body.zigzag(Int64(p.pid))
            body.varint(p.faults)
        }
        var out = ByteEncoder()
        out.varint(body.bytes.count)
        out.bytes += body.bytes
        return out.bytes
    }

    /// The summary at the start of a summarized chunk's stored bytes, and where the payload
    /// after it starts. `faults`: the chunk's stated record count, which the pids' faults
    /// must add up to (a summarized chunk holds nothing else). Throws at anything else.
    static func decode(_ stored: [UInt8], faults: Int) throws -> (summary: FaultChunkSummary, payloadStart: Int) {
        var d = ByteDecoder(stored)
        let length = try d.varint()
        guard length <= UInt64(d.remaining) else { throw d.fail("chunk summary of \(length) bytes runs past its chunk") }
        let end = d.position + Int(length)
        var body = ByteDecoder(stored, from: d.position, to: end)
        let earliest = try body.varint()
        let span = try body.varint()
        guard span <= UInt64.max - earliest else { throw body.fail("chunk summary's latest time overflows") }
        let knows = try body.u8()
        guard knows <= 1 else { throw body.fail("chunk summary's page-size flag is \(knows)") }
        let pids = try body.varint()
        // Each pid takes two bytes at least: a count past that is a lie, not an allocation.
        guard pids >= 1, pids <= UInt64(body.remaining / 2) else { throw body.fail("chunk summary names \(pids) pids") }
        var perPid: [PidFaults] = []
        perPid.reserveCapacity(Int(pids))
        var total = 0
        for _ in 0..<pids {
            let pid = try body.zigzag()
            let n = try body.varint()
            guard let pid32 = Int32(exactly: pid), n >= 1, n <= UInt64(faults - total) else {
                throw body.fail("chunk summary's pid \(pid) with \(n) faults does not fit its chunk")
            }
            total += Int(n)
            perPid.append(PidFaults(pid: pid32, faults: Int(n)))
        }
        guard total == faults else { throw body.fail("chunk summary counts \(total) faults of \(faults)") }
        guard body.isAtEnd else { throw body.fail("chunk summary has \(body.remaining) bytes left over") }
        return (FaultChunkSummary(earliest: earliest, latest: earliest + span, knowsPageSizes: knows == 1, faultsPerPid: perPid), end)
    }
}
