// Replay's reading of a log in two passes, so that the model starts before the faults are
// all decoded. Loading a log whole and then replaying it put the whole load (0.085 s of a
// 0.25 s replay of a 2M-fault storm, on both cores) before the model's first fault.
//
// The first pass (`ScannedLog.scan`, on every core) checks and inflates every chunk and
// decodes what the model must know before its first fault: every record but the faults
// (the address-space timeline), and of the faults only the streams that give each chunk's
// earliest time, its pids in order of appearance, and whether faults say their page size.
// A chunk of faults alone that says those in its summary (format 10, FaultChunkSummary) is
// only checked: the second pass inflates it, and holds its faults to what it said.
// The second (`ScannedFaults.faults(ofChunk:)`, on the thread that puts the faults in time
// order while the model reads them) decodes each chunk's faults, in order. The earliest
// times bound what a later chunk can still hold, so the faults come out in exactly the
// order the whole log would give (CompactFaults.forEachInTimeOrder(parts:...)).
//
// Where several models will run (`decodingFaults`), the first pass decodes each chunk's
// faults itself, on every core, and keeps them packed instead of its inflated bytes: the
// models then share the cores with nothing but the time order, and no chunk is inflated
// twice. With one model, the second pass's decoding runs on the core the model leaves,
// which is sooner. (2M-fault storm, swarm and shuffled pages over 8 GiB, medians of 11-15
// alternated runs: 4-6% less wall with the eight default configurations, 0-11% at one
// configuration beside the 4K baseline, in a noisy hour.)
//
// Hazard: damage. Only a log whose every chunk the first pass read cleanly is scanned; any
// damage, or a chunk whose fault streams the second pass finds bad, means the caller loads
// the log whole instead (LoadedLog.load), which names the damage as every reading does.
// The records of a later chunk must never be used with the faults of a damaged one.

import CMallocArena
import Dispatch
import FaultlineCore

/// A log read for replay: every record, and its faults still to be decoded a chunk at a time.
public struct ScannedLog: Sendable {
    /// Every record applied, as LoadedLog.load makes it; its faults are not in it.
    public var log: LoadedLog
    public var faults: ScannedFaults
    /// Every pid that faulted, in the order of its first fault, with its number of faults.
    public var faultsPerPid: [(pid: Int32, faults: Int)] { counted.inOrder }
    private var counted = FaultsByPid()
    /// The earliest and the latest time of any fault; nil when there are none.
    public var timeRange: ClosedRange<UInt64>?
    /// Some fault says which page size it mapped.
    public var knowsPageSizes = false
    /// The first pass decoded the faults (`scan`'s `decodingFaults`).
    public private(set) var faultsDecodedFirst = false

    /// Inflated chunks kept from the first pass for the second: the log's first chunks, up
    /// to this, to twice the log's own size, and to `keptBytesPerFault` for each fault the
    /// whole file is reckoned to hold (from the faults in the part read so far); past that,
    /// a chunk is read from the file again (the page cache has it) and inflated again.
    ///
    /// A prefix, because the second pass lets each payload go as it reaches it: the first
    /// chunks are gone before the models' pages and the faults in time order grow. Kept
    /// chunks spread over the whole log (each one that fits) held memory to the end: the
    /// 2M-fault swarm's default replay peaked at 20.0 bytes a fault keeping 6 a fault so,
    /// against 16.6 keeping 7 a fault as a prefix (medians of 5, BENCHMARKS.md). Twice
    /// the log's size held random pages over 8 GiB (which inflate to only twice their
    /// stored bytes) at 27 bytes a fault, over issue 9's 24; 8 a fault keeps it under. On
    /// thread storms and swarms (3.3-3.5 times) twice the log's size is the lower bound:
    /// 60% of their chunks are kept; keeping all of them cost 4-6 bytes a fault more.
    ///
    /// The bytes a fault are at least `keptFloorBytes` in all: a small log of many
    /// processes with stacks (a build's: 202,573 faults, 9.8 stored bytes a fault) kept
    /// only its first 1.6 MB inflated so, and inflating the rest again in the second pass
    /// cost 8% of its replay (alternated medians of 11, 0.072 -> 0.066 s, BENCHMARKS.md).
    /// Only logs under a million faults reach the floor, where a few MB are no matter.
    public static let keptPayloadBytes = 64 << 20
    public static let keptBytesPerFault = 8
    public static let keptFloorBytes = 8 << 20

    /// `keptBytesPerFault` for each fault of a file of `fileSize` bytes that holds `faults`
    /// faults in its first `bytes`, if the rest is alike; at least `keptFloorBytes`.
    static func keptBytes(faults: Int, through bytes: UInt64, of fileSize: UInt64) -> Int {
        guard bytes > 0 else { return 0 }
        let reckoned = Double(faults) * Double(max(fileSize, bytes)) / Double(bytes)
        return max(Int(min(reckoned * Double(keptBytesPerFault), Double(Int.max / 2))), keptFloorBytes)
    }

    /// Scans `path`; nil when it cannot be read this way: not a regular file (it could not
    /// be read again), a format before fault field streams, or any damage or error. The
    /// caller then loads it whole, which reports what was wrong. The first chunks, up to
    /// `keepingPayloads` inflated bytes (and see `keptPayloadBytes`), are kept for the
    /// second pass; with `decodingFaults`, every chunk's faults are decoded here instead
    /// (damage in any fault stream then makes this nil). Side effect: malloc keeps an
    /// arena a CPU for the rest of the process (see below).
    public static func scan(path: String, keepingPayloads: Int = keptPayloadBytes, decodingFaults: Bool = false) -> ScannedLog? {
        // Asked before a reader opens it: opening reads the header, which a pipe would not
        // give again to the whole reading.
        guard LogReader.isRegularFile(path), let reader = try? LogReader(path: path), reader.damage == nil,
              reader.isRegularFile, reader.version >= LogFormat.faultFieldStreamsVersion else { return nil }
        let version = reader.version
        // A malloc arena for each CPU (up to 8), for the rest of the process. With one, the
        // models that replay a log of many processes at once waited on its lock (futex calls
        // 5% of the samples of a shell loop's replay at 16k beside its 4K baseline, perf),
        // and one had been chosen for a cost that is gone: the worker threads' arenas giving
        // back the chunks the time order freed (malloc_trim's madvise calls, 10-15% of the
        // CPU of a replay of random pages over 8 GiB when first measured). Alternated
        // medians, one arena against one a CPU (2 CPUs): the shell loop at 16k 0.094 ->
        // 0.073 s, by default 0.261 -> 0.161 s; the build at 16k 0.085 -> 0.073 s; random
        // pages over 8 GiB at 16k 0.199 -> 0.192 s. Peak RSS: 1.7 MB more on a tiny log,
        // 1.5-5.7 MB more on the 2M-fault shapes (BENCHMARKS.md).
        faultline_use_an_arena_per_cpu()
        var log = LoadedLog(path: path, fileSize: reader.fileSize)
        log.formatVersion = version
        var scanned = ScannedLog(log: log, faults: ScannedFaults(path: path, version: version))
        scanned.faultsDecodedFirst = decodingFaults
        var faultsSoFar = 0, kept = 0, keeping = true
        let twiceTheFile = Int(clamping: min(reader.fileSize, UInt64(Int.max / 2)) * 2)
        // The faults a file holds are reckoned once enough of it is read that its first
        // chunks (a process starting: records, few faults) do not sway the reckoning.
        let reckonFrom = min(reader.fileSize / 8, 1 << 20)
        /// Applies a decoded batch in order; false at the first chunk that did not scan.
        func apply(_ batch: [RawChunk], _ results: UnsafeMutableBufferPointer<ChunkScan?>) -> Bool {
            if let end = batch.last?.end, end > 0 {
                scanned.log.reserve(for: results.lazy.flatMap { $0?.records ?? [] },
                                    scale: Double(reader.fileSize) / Double(end))
            }
            for (chunk, result) in zip(batch, results) {
                guard var scan = result else { return false }
                scanned.log.chunks += 1
                for (record, before) in zip(scan.records, scan.faultsBefore) {
                    scanned.log.apply(record, faultsBefore: faultsSoFar + before)
                }
                faultsSoFar += scan.faults
                for (pid, n) in scan.counted.inOrder { scanned.counted.add(pid, n) }
                if let range = scan.timeRange {
                    scanned.timeRange = scanned.timeRange.map { min($0.lowerBound, range.lowerBound)...max($0.upperBound, range.upperBound) } ?? range
                }
                scanned.knowsPageSizes = scanned.knowsPageSizes || scan.knowsPageSizes
                guard scan.faults > 0 else { continue }
                // The payload goes to the second pass, or is read again there.
                let reckoned = chunk.end >= reckonFrom ? Self.keptBytes(faults: faultsSoFar, through: chunk.end, of: reader.fileSize) : .max
                if scan.decoded != nil {
                    scan.payload.removeAll()   // its faults are decoded: the bytes have done their work
                } else if keeping && kept + scan.payload.count <= min(keepingPayloads, twiceTheFile, reckoned) {
                    kept += scan.payload.count
                } else {
                    keeping = false
                    scan.payload = []
                }
                scanned.faults.append(ScannedFaults.Chunk(start: chunk.start, faults: scan.faults, records: scan.records.count,
                                                          earliest: scan.timeRange?.lowerBound ?? .max, payload: scan.payload,
                                                          decoded: scan.decoded, summary: scan.summary,
                                                          deflatedTo: scan.deflatedTo))
            }
            return true
        }

        // A batch of many records is applied (on one thread, in order) while the next one
        // decodes on the other cores, and on that one too once it is done: applying 300,000
        // records took as long as decoding them, with every core but one idle
        // (mapping_churn, perf). A batch of few is applied first: it takes no time, and
        // holding two batches' chunks at once raised a 2M-fault replay's peak by 3-5 MB.
        var pending: (batch: [RawChunk], results: UnsafeMutableBufferPointer<ChunkScan?>)?
        defer { if let pending { Self.release(pending.results) } }
        while true {
            if let few = pending, few.results.reduce(0, { $0 + ($1?.records.count ?? 0) }) < Self.recordsWorthOverlapping {
                pending = nil
                let applied = apply(few.batch, few.results)
                Self.release(few.results)
                guard applied else { return nil }
            }
            let batch = reader.readChunks(limit: LoadedLog.batchChunks, bytes: LoadedLog.batchBytes)
            let results = UnsafeMutableBufferPointer<ChunkScan?>.allocate(capacity: max(batch.count, 1))
            results.initialize(repeating: nil)
            var applied = true
            // Iteration 0 applies the pending batch; the others decode this one's chunks.
            DispatchQueue.concurrentPerform(iterations: batch.count + 1) { i in
                if i == 0 {
                    if let pending { applied = apply(pending.batch, pending.results) }
                } else {
                    results[i - 1] = ChunkScan(batch[i - 1], version: version, decodingFaults: decodingFaults)
                }
            }
            if let done = pending { Self.release(done.results) }
            pending = (batch, results)
            guard applied else { return nil }
            if batch.isEmpty { break }
        }
        guard reader.damage == nil else { return nil }
        scanned.log.fileSize = reader.fileSize
        scanned.log.retimeExecsOfOlderRecorders()
        scanned.log.nameInitialHeaps()
        return scanned
    }
}

extension ScannedLog {
    /// Records in a batch for its applying to overlap the next batch's decoding.
    static let recordsWorthOverlapping = 10_000

    fileprivate static func release(_ results: UnsafeMutableBufferPointer<ChunkScan?>) {
        _ = results.deinitialize()
        results.deallocate()
    }
}

/// The first pass's reading of one chunk.
private struct ChunkScan {
    var records: [LogRecord] = []
    var faultsBefore: [Int] = []
    var faults = 0
    var payload: [UInt8]
    var counted = FaultsByPid()
    var timeRange: ClosedRange<UInt64>?
    var knowsPageSizes = false
    /// The chunk's faults, when decoded here.
    var decoded: CompactFaults?
    /// What the chunk said of its faults, when it did (and they were not decoded here).
    var summary: FaultChunkSummary?
    /// The size `payload` inflates to, when it is kept as stored (deflated).
    var deflatedTo: Int?

    /// nil: damaged (a checksum, the inflation, a record, the fault streams read here, the
    /// count). `decodingFaults`: the faults are decoded here, whole, not in the second pass.
    init?(_ chunk: RawChunk, version: UInt16, decodingFaults: Bool) {
        guard case .success(let checked) = LogReader.checked(chunk) else { return nil }
        if let summary = checked.summary, !decodingFaults {
            // Nothing but faults, and what this pass reads them for said ahead: the payload
            // goes to the second pass as it is stored, to be inflated and held to the
            // summary there.
            payload = checked.stored
            self.summary = summary
            deflatedTo = chunk.isDeflated ? Int(chunk.rawLength) : nil
            faults = Int(chunk.count)
            timeRange = summary.earliest...summary.latest
            knowsPageSizes = summary.knowsPageSizes
            for p in summary.faultsPerPid { counted.add(p.pid, p.faults) }
            return
        }
        guard case .success(let payload) = LogReader.inflated(chunk, checked.stored) else { return nil }
        self.payload = payload
        do {
            var (state, decoder) = try ChunkCodingState.reading(payload, version: version)
            while !decoder.isAtEnd {
                if decoder.peek() == RecordTag.fault.rawValue {
                    _ = try decoder.u8()
                    faults += 1
                } else {
                    faultsBefore.append(faults)
                    records.append(try LogRecord.decode(from: &decoder, state: &state))
                }
            }
            guard records.count + faults == Int(chunk.count) else { return nil }
            if checked.summary != nil && !records.isEmpty { return nil }   // it said it held only faults
            if decodingFaults && faults > 0 {
                // What a summary would say, read from the faults (and held to the chunk's own).
                guard let out = ScannedFaults.decode(payload, faults: faults, version: version),
                      let read = FaultChunkSummary(out), checked.summary.map({ $0 == read }) ?? true else { return nil }
                timeRange = read.earliest...read.latest
                knowsPageSizes = read.knowsPageSizes
                for p in read.faultsPerPid { counted.add(p.pid, p.faults) }
                decoded = out
            } else {
                try scanFaultStreams(state, version: version)
            }
        } catch {
            return nil
        }
    }

    /// Reads the bits, thread, time and error-code streams as CompactChunkDecoding reads
    /// them, for the times, the pids and the page sizes. The kinds and every other check
    /// are left to the second pass, which reads every stream (damage there sends the
    /// caller to the whole reading). Kept tight: it is a first pass over every fault
    /// before the model can start.
    private mutating func scanFaultStreams(_ s: ChunkCodingState, version: UInt16) throws {
        guard faults > 0 else { return }
        var bits = s.fieldReaders[FaultField.bits.rawValue], thread = s.fieldReaders[FaultField.thread.rawValue]
        var time = s.fieldReaders[FaultField.time.rawValue], errorCode = s.fieldReaders[FaultField.errorCode.rawValue]
        var tid = s.previousTid, process = s.previousPid
        var shift = try LogRecord.errorCodeField(s.previousErrorCode, version: version, errorCode).pageShift
        var knowsPageSizes = false
        // Faults come in runs of one process: a run is counted when it ends.
        var run = 0
        for _ in 0..<faults {
            let b = try bits.u8()
            if b & FaultBits.sameThread == 0 {
                let (t, p) = try LogRecord.threadIDs(previousTid: tid, tidDelta: try thread.zigzag(), pidDelta: try thread.zigzag(), thread)
                if p != process && run > 0 {
                    counted.add(process, run)
                    run = 0
                }
                (tid, process) = (t, p)
            }
            run += 1
            if b & FaultBits.sameErrorCode == 0 {
                shift = try LogRecord.errorCodeField(try errorCode.varint(), version: version, errorCode).pageShift
            }
            knowsPageSizes = knowsPageSizes || shift != 0
        }
        let (earliest, latest) = try time.zigzagSums(faults, from: s.previousTime)
        counted.add(process, run)
        timeRange = earliest...latest
        self.knowsPageSizes = knowsPageSizes
    }
}

/// The faults of a scanned log, decoded a chunk at a time, in order, by one reader (the
/// thread that puts them in time order). Each chunk's bytes are let go once decoded.
public final class ScannedFaults: @unchecked Sendable {
    struct Chunk {
        /// The chunk's offset in the file, to read it again when its payload was not kept.
        var start: UInt64
        var faults: Int
        var records: Int
        var earliest: UInt64
        var payload: [UInt8]
        /// Its faults, when the first pass decoded them.
        var decoded: CompactFaults?
        /// What the chunk says of its faults, which they must match, when the first pass
        /// took that instead of reading them.
        var summary: FaultChunkSummary?
        /// The size `payload` inflates to, when it is kept as stored (deflated).
        var deflatedTo: Int?
    }

    private let path: String
    private let version: UInt16
    private var chunks: [Chunk] = []
    private var rereader: LogReader?

    init(path: String, version: UInt16) {
        self.path = path
        self.version = version
    }

    func append(_ chunk: Chunk) { chunks.append(chunk) }

    /// Chunks that hold faults.
    public var chunkCount: Int { chunks.count }
    /// Of those, the chunks the first pass took by their summary, not inflating them.
    var summarizedChunks: Int { chunks.reduce(0) { $0 + ($1.summary != nil ? 1 : 0) } }
    public var count: Int { chunks.reduce(0) { $0 + $1.faults } }
    /// The earliest fault time of each chunk.
    public var earliest: [UInt64] { chunks.map(\.earliest) }
    /// The number of faults in each chunk.
    public var counts: [Int] { chunks.map(\.faults) }

    /// Chunk `k`'s faults (with only the model's fields, as `LoadedLog.load(faults: .compact)`
    /// reads them); nil when they are damaged, or the chunk can no longer be read as it
    /// was. Call once per chunk, from one thread.
    public func faults(ofChunk k: Int) -> CompactFaults? {
        guard k >= 0 && k < chunks.count else { return nil }
        if let decoded = chunks[k].decoded {
            chunks[k].decoded = nil
            return decoded
        }
        var payload: [UInt8] = []
        swap(&payload, &chunks[k].payload)
        if payload.isEmpty {
            guard let again = reread(k) else { return nil }
            payload = again
        } else if let size = chunks[k].deflatedTo {
            guard let inflated = Deflate.decompress(payload, expectedSize: size) else { return nil }
            payload = inflated
        }
        guard let out = Self.decode(payload, faults: chunks[k].faults, version: version) else { return nil }
        // The first pass ordered and numbered the faults by the summary: one that lied sends
        // the caller to the whole reading, which names it as damage.
        if let claimed = chunks[k].summary, claimed != FaultChunkSummary(out) { return nil }
        return out
    }

    /// The `faults` faults of an inflated chunk; nil when they are damaged.
    static func decode(_ payload: [UInt8], faults: Int, version: UInt16) -> CompactFaults? {
        var out = CompactFaults()
        do {
            var (state, _) = try ChunkCodingState.reading(payload, version: version)
            try LogReader.decodeFaultColumns(count: faults, state: &state, into: &out)
            try state.checkFieldStreamsRead()
        } catch {
            return nil
        }
        out.seal()
        return out.count == faults ? out : nil
    }

    /// Chunk `k`'s payload, read from the file again; nil if it is no longer what the
    /// first pass read (the file changed: its checksum, or its counts, differ).
    private func reread(_ k: Int) -> [UInt8]? {
        if rereader == nil { rereader = try? LogReader(path: path) }
        guard let chunk = rereader?.chunk(at: chunks[k].start), Int(chunk.count) == chunks[k].faults + chunks[k].records,
              case .success(let payload) = LogReader.payload(of: chunk) else { return nil }
        return payload
    }
}
