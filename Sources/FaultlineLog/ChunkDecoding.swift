// Decoding one chunk that has been read: checksum, inflate, records. A chunk decodes on its
// own (its delta state starts fresh), so LoadedLog decodes many at once on every core; the
// damage found is the same, with the same byte offset, as one chunk at a time would find.

import FaultlineCore

/// A chunk as read from the file: its header's fields and its stored bytes, unchecked.
struct RawChunk: Sendable {
    /// File offsets of its header and of the byte after its stored bytes.
    var start: UInt64
    var end: UInt64
    var rawLength: UInt32
    var count: UInt32
    var flags: UInt32
    var crc: UInt32
    var stored: [UInt8]

    var isDeflated: Bool { flags & LogFormat.chunkDeflated != 0 }
    /// Its stored bytes begin with a FaultChunkSummary (and it holds nothing but faults).
    var isSummarized: Bool { flags & LogFormat.chunkSummarized != 0 }
}

/// A chunk's records with its faults packed apart (what LoadedLog keeps of them).
struct DecodedChunk: Sendable {
    /// Every record but the faults, in order.
    var records: [LogRecord] = []
    /// For each of `records`, how many of the chunk's faults came before it.
    var faultsBefore: [Int] = []
    var faults = FaultColumns()
    /// The faults instead, when only the model's fields are read (FaultDetail.compact).
    var compact = CompactFaults()
}

/// How much of each fault a load keeps.
public enum FaultDetail: Sendable {
    /// Every field, in `LoadedLog.faults`.
    case every
    /// What an address-space model reads, in `LoadedLog.compactFaults` (`faults` stays empty).
    case compact
}

extension LogReader {
    /// The chunk's records, in order.
    static func records(of chunk: RawChunk, version: UInt16) -> Result<[LogRecord], LogDamage> {
        checked(chunk).flatMap { checked in inflated(chunk, checked.stored).flatMap { payload in
            var records: [LogRecord] = []
            records.reserveCapacity(Int(min(chunk.count, UInt32(payload.count))))
            let failure = decodeRecords(payload, chunk: chunk, version: version) { d, s in
                records.append(try LogRecord.decode(from: &d, state: &s))
            }
            if let failure { return .failure(failure) }
            if checked.summary != nil {
                let faults = records.compactMap { if case .fault(let f) = $0 { f } else { nil } }
                if let damage = summaryDamage(chunk, claimed: checked.summary, actual: FaultChunkSummary(faults),
                                              records: records.count - faults.count) { return .failure(damage) }
            }
            return checkCount(chunk, records.count).map { records }
        } }
    }

    /// The chunk's records, faults packed into columns as they are decoded. For the model
    /// (`.compact`) in a log with field streams, the faults are read by field after the
    /// records (CompactChunkDecoding).
    static func columns(of chunk: RawChunk, version: UInt16, detail: FaultDetail = .every) -> Result<DecodedChunk, LogDamage> {
        let byField = detail == .compact && version >= LogFormat.faultFieldStreamsVersion
        let decoded = columns(of: chunk, version: version, detail: detail, byField: byField)
        // Damage found by field is read again fault by fault, so that it is named as every
        // other reading names it (a fault's bad value at its tag among the records).
        if byField, case .failure = decoded { return columns(of: chunk, version: version, detail: detail, byField: false) }
        return decoded
    }

    /// One reading, by field or fault by fault, with no fall-back. Not private: a test holds
    /// the reading by field to its own result, which the fall-back above would hide (a
    /// stream left unread would only cost every chunk a second reading).
    static func columns(of chunk: RawChunk, version: UInt16, detail: FaultDetail, byField: Bool) -> Result<DecodedChunk, LogDamage> {
        checked(chunk).flatMap { checked in inflated(chunk, checked.stored).flatMap { payload in
            var decoded = DecodedChunk()
            var faults = 0
            var summary = FaultChunkSummary.Builder()
            let failure = decodeRecords(payload, chunk: chunk, version: version, { d, s in
                if d.peek() == RecordTag.fault.rawValue {
                    _ = try d.u8()
                    if byField {
                        faults += 1
                    } else {
                        let fault = try LogRecord.decodeFault(from: &d, state: &s)
                        if checked.summary != nil { summary.note(fault) }
                        if detail == .compact { decoded.compact.append(fault) } else { decoded.faults.append(fault) }
                    }
                } else {
                    decoded.faultsBefore.append(byField ? faults : decoded.faults.count + decoded.compact.count)
                    decoded.records.append(try LogRecord.decode(from: &d, state: &s))
                }
            }, afterRecords: { s in
                if byField { try decodeFaultColumns(count: faults, state: &s, into: &decoded.compact) }
            })
            if let failure { return .failure(failure) }
            decoded.faults.seal()
            decoded.compact.seal()
            if checked.summary != nil, let damage = summaryDamage(chunk, claimed: checked.summary,
                    actual: byField ? FaultChunkSummary(decoded.compact) : summary.summary, records: decoded.records.count) {
                return .failure(damage)
            }
            return checkCount(chunk, decoded.records.count + decoded.faults.count + decoded.compact.count).map { decoded }
        } }
    }

    /// The payload, its checksum checked and inflated (a summary before it left out).
    static func payload(of chunk: RawChunk) -> Result<[UInt8], LogDamage> {
        checked(chunk).flatMap { checked in inflated(chunk, checked.stored) }
    }

    /// The chunk's stored payload (deflated or not) and its summary if it has one, its
    /// checksum and its summary's form checked.
    static func checked(_ chunk: RawChunk) -> Result<(stored: [UInt8], summary: FaultChunkSummary?), LogDamage> {
        guard CRC32.checksum(chunk.stored) == chunk.crc else { return .failure(damage(.corrupt, chunk.start, "checksum mismatch")) }
        guard chunk.isSummarized else { return .success((chunk.stored, nil)) }
        // Each fault's tag is a byte of the payload: a chunk cannot hold more faults than
        // that, and a count past it is a claim nothing should be sized by.
        guard chunk.count <= chunk.rawLength else {
            return .failure(damage(.corrupt, chunk.start, "chunk says \(chunk.count) faults in \(chunk.rawLength) bytes"))
        }
        do {
            let (summary, start) = try FaultChunkSummary.decode(chunk.stored, faults: Int(chunk.count))
            return .success((Array(chunk.stored[start...]), summary))
        } catch let failure as DecodeFailure {
            // Named at the chunk: what a summary fails to fit is often its header's count.
            return .failure(damage(.corrupt, chunk.start, failure.reason))
        } catch {
            return .failure(damage(.corrupt, chunk.start, "\(error)"))
        }
    }

    /// A checked chunk's stored payload, inflated if it is deflated.
    static func inflated(_ chunk: RawChunk, _ stored: [UInt8]) -> Result<[UInt8], LogDamage> {
        guard chunk.isDeflated else {
            guard chunk.rawLength == UInt32(stored.count) else {
                return .failure(damage(.corrupt, chunk.start, "stored and raw lengths differ"))
            }
            return .success(stored)
        }
        guard let inflated = Deflate.decompress(stored, expectedSize: Int(chunk.rawLength)) else {
            return .failure(damage(.corrupt, chunk.start, "chunk does not inflate to its stated \(chunk.rawLength) bytes"))
        }
        return .success(inflated)
    }

    /// Damage when a summarized chunk's faults are not what its summary says (`actual`:
    /// the summary of what was decoded; nil for none), or when it holds other records.
    static func summaryDamage(_ chunk: RawChunk, claimed: FaultChunkSummary?, actual: FaultChunkSummary?, records: Int) -> LogDamage? {
        guard let claimed else { return nil }
        if records > 0 { return damage(.corrupt, chunk.start, "chunk says it holds only faults but holds \(records) other records") }
        guard claimed == actual else { return damage(.corrupt, chunk.start, "chunk's summary disagrees with its faults") }
        return nil
    }

    /// Runs `decodeOne` until the payload ends; the damage where it failed, or nil.
    /// `afterRecords` reads what is left of the field streams once the records are read.
    private static func decodeRecords(_ payload: [UInt8], chunk: RawChunk, version: UInt16,
                                      _ decodeOne: (inout ByteDecoder, inout ChunkCodingState) throws -> Void,
                                      afterRecords: (inout ChunkCodingState) throws -> Void = { _ in }) -> LogDamage? {
        do {
            var (state, decoder) = try ChunkCodingState.reading(payload, version: version)
            while !decoder.isAtEnd { try decodeOne(&decoder, &state) }
            try afterRecords(&state)
            try state.checkFieldStreamsRead()
            return nil
        } catch let failure as DecodeFailure {
            // In a deflated chunk a decoded offset is no file offset: name the chunk and the
            // offset inside its decoded payload.
            if chunk.isDeflated {
                return damage(.corrupt, chunk.start, "\(failure.reason) (at byte \(failure.offset) of the chunk's decoded payload)")
            }
            return damage(.corrupt, chunk.start + UInt64(LogFormat.chunkHeaderSize) + UInt64(failure.offset), failure.reason)
        } catch {
            return damage(.corrupt, chunk.start + UInt64(LogFormat.chunkHeaderSize), "\(error)")
        }
    }

    private static func checkCount(_ chunk: RawChunk, _ found: Int) -> Result<Void, LogDamage> {
        found == Int(chunk.count) ? .success(())
            : .failure(damage(.corrupt, chunk.start, "chunk says \(chunk.count) records but holds \(found)"))
    }

    private static func damage(_ kind: LogDamage.Kind, _ offset: UInt64, _ reason: String) -> LogDamage {
        LogDamage(kind: kind, offset: offset, reason: reason)
    }
}
