// From format 5 a chunk stores its faults' fields by field: all the chunk's time deltas
// together, all its service times together, and so on, each field a stream of its own; the
// record stream keeps only each fault's tag, in its place among the other records. Deflate
// finds the repeats of one field far better when they are not interleaved with the others:
// a Python recording's faults, re-encoded both ways (from its export), deflated to 4.84
// bytes a fault instead of 6.55; the field values are the same ones as before.
//
// Payload layout (before deflate): varint N (the number of streams, FaultField.allCases),
// N varint lengths, the N streams in FaultField order, then the records to the end.
// Hazard: the lengths come from the file; they are checked against the payload before any
// stream is read, and every stream must be read to its end (a fault the records do not
// announce is damage, not silently dropped).

/// One field of a fault, and the stream it is stored in from format 5.
enum FaultField: Int, CaseIterable {
    case bits, thread, time, page, inPage, ip, stack, errorCode, service, signal
}

extension LogFormat {
    /// The first version whose chunks store fault fields by field.
    public static let faultFieldStreamsVersion: UInt16 = 5
}

/// Where a chunk's encoder puts what it writes: the records, and (format 5 on) each fault
/// field's stream.
struct ChunkPayloadEncoder {
    var records = ByteEncoder()
    var state: ChunkCodingState

    init(version: UInt16 = LogFormat.version) {
        state = ChunkCodingState(version: version)
    }

    mutating func append(_ record: LogRecord) {
        record.encode(into: &records, state: &state)
    }

    /// Bytes written so far, streams included: what a writer measures a chunk by.
    var count: Int { records.bytes.count + state.fieldStreams.reduce(0) { $0 + $1.bytes.count } }

    /// The payload as stored (before deflate).
    var bytes: [UInt8] {
        guard state.version >= LogFormat.faultFieldStreamsVersion else { return records.bytes }
        var out = ByteEncoder()
        out.bytes.reserveCapacity(count + 4 * (FaultField.allCases.count + 1))
        out.varint(state.fieldStreams.count)
        for stream in state.fieldStreams { out.varint(stream.bytes.count) }
        for stream in state.fieldStreams { out.bytes += stream.bytes }
        out.bytes += records.bytes
        return out.bytes
    }

    /// Empties it for the next chunk, keeping its buffers' capacity.
    mutating func reset() {
        records.bytes.removeAll(keepingCapacity: true)
        var fresh = ChunkCodingState(version: state.version)
        swap(&fresh.fieldStreams, &state.fieldStreams)
        for i in fresh.fieldStreams.indices { fresh.fieldStreams[i].bytes.removeAll(keepingCapacity: true) }
        state = fresh
    }
}

extension ChunkCodingState {
    /// A decoding state for `payload`: format 5's stream table read and checked, the field
    /// streams ready in `fieldReaders`, and a decoder for the records after them.
    static func reading(_ payload: [UInt8], version: UInt16) throws -> (state: ChunkCodingState, records: ByteDecoder) {
        var state = ChunkCodingState(version: version)
        // An empty payload holds no records (and so needs no streams).
        guard version >= LogFormat.faultFieldStreamsVersion, !payload.isEmpty else { return (state, ByteDecoder(payload)) }
        var table = ByteDecoder(payload)
        let count = try table.varint()
        guard count == UInt64(FaultField.allCases.count) else {
            throw table.fail("chunk has \(count) fault field streams, not \(FaultField.allCases.count)")
        }
        var lengths: [Int] = []
        for _ in 0..<count {
            let length = try table.varint()
            guard length <= UInt64(payload.count) else { throw table.fail("fault field stream of \(length) bytes in a smaller chunk") }
            lengths.append(Int(length))
        }
        var start = table.position
        for length in lengths {
            guard length <= payload.count - start else { throw table.fail("fault field streams run past the end of the chunk") }
            state.fieldReaders.append(ByteDecoder(payload, from: start, to: start + length))
            start += length
        }
        return (state, ByteDecoder(payload, from: start))
    }

    /// Throws unless every field stream was read to its end.
    func checkFieldStreamsRead() throws {
        if let left = fieldReaders.first(where: { !$0.isAtEnd }) {
            throw left.fail("fault fields left over after the chunk's last fault")
        }
    }
}
