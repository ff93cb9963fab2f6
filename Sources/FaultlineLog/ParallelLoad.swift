// Loading a log on every core. Chunks decode on their own (each starts a fresh delta
// state), so a bounded batch of them is read in order, checked and decoded at once, then
// applied in order: the log comes out exactly as reading one chunk at a time makes it,
// damage (kind, byte offset, reason) included, with faults packed by column as they are
// decoded. Memory stays bounded: one batch of stored bytes and its decoded chunks.

import Dispatch
import FaultlineCore

extension LoadedLog {
    /// Chunks read and decoded together: enough to keep every core busy, few enough that
    /// a batch's bytes stay small next to the faults they hold.
    static let batchChunks = 64
    static let batchBytes = 8 << 20

    /// Reads every complete chunk of `path`; `parallel: false` decodes one chunk at a time
    /// on this thread (the reference the tests compare the parallel reading with). With
    /// `faults: .compact` the faults go to `compactFaults` with only the model's fields.
    public static func load(path: String, parallel: Bool, faults detail: FaultDetail = .every) throws -> LoadedLog {
        let reader = try LogReader(path: path)
        var log = LoadedLog(path: path, fileSize: reader.fileSize)
        log.formatVersion = reader.version
        let version = reader.version
        reading: while true {
            let batch = reader.readChunks(limit: parallel ? batchChunks : 1, bytes: batchBytes)
            if batch.isEmpty { break }
            let decoded = parallel && batch.count > 1
                ? decodeInParallel(batch, version: version, detail: detail)
                : batch.map { LogReader.columns(of: $0, version: version, detail: detail) }
            for (chunk, result) in zip(batch, decoded) {
                switch result {
                case .success(let d):
                    log.chunks += 1
                    log.apply(d)
                case .failure(let damage):
                    // An earlier chunk's damage wins over a later one's found while reading ahead.
                    reader.stop(at: damage, chunkEnd: chunk.end)
                    break reading
                }
            }
        }
        log.damage = reader.damage
        log.fileSize = reader.fileSize // a pipe's size is known only now
        log.retimeExecsOfOlderRecorders()
        log.nameInitialHeaps()
        return log
    }

    private static func decodeInParallel(_ batch: [RawChunk], version: UInt16, detail: FaultDetail) -> [Result<DecodedChunk, LogDamage>] {
        let results = UnsafeMutableBufferPointer<Result<DecodedChunk, LogDamage>?>.allocate(capacity: batch.count)
        results.initialize(repeating: nil)
        defer {
            _ = results.deinitialize()
            results.deallocate()
        }
        DispatchQueue.concurrentPerform(iterations: batch.count) { i in
            results[i] = LogReader.columns(of: batch[i], version: version, detail: detail)
        }
        return results.map { $0! }
    }

    /// Applies a decoded chunk: its records in order, each after the faults that preceded
    /// it, then its faults.
    mutating func apply(_ chunk: DecodedChunk) {
        let base = faults.count + compactFaults.count
        for (record, before) in zip(chunk.records, chunk.faultsBefore) {
            apply(record, faultsBefore: base + before)
        }
        if chunk.faults.count > 0 { faults.append(contentsOf: chunk.faults) }
        if chunk.compact.count > 0 { compactFaults.append(contentsOf: chunk.compact) }
    }
}
