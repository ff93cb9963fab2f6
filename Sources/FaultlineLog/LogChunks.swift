// A chunk as bytes: the one place its header (magic, lengths, count, flags, checksum) is
// laid out. The writer seals its chunks here; tools that take a log apart and put it back
// together (the fuzzers) use the same functions, so what they forge is what a writer
// would have written, valid checksums included.
// Hazard: `records(ofChunkAt:in:)` reads bytes that may be anything; it is as careful as
// the reader, and returns nil rather than trapping.

public enum LogChunks {
    /// The bytes before the first chunk: magic, version, reserved.
    public static var fileHeader: [UInt8] {
        LogFormat.magic + [UInt8(LogFormat.version & 0xFF), UInt8(LogFormat.version >> 8), 0, 0]
    }

    /// Records as one chunk's payload, delta-coded from the fresh state every chunk starts with.
    public static func payload(_ records: [LogRecord]) -> [UInt8] {
        payload(records, version: LogFormat.version)
    }

    /// The same, laid out as format `version` lays a chunk out.
    static func payload(_ records: [LogRecord], version: UInt16) -> [UInt8] {
        var encoder = ChunkPayloadEncoder(version: version)
        for r in records { encoder.append(r) }
        return encoder.bytes
    }

    /// A whole chunk holding `records`, deflated when asked (and when zlib works).
    public static func chunk(_ records: [LogRecord], deflate: Bool) -> [UInt8] {
        seal(payload: payload(records), count: UInt32(truncatingIfNeeded: records.count), deflate: deflate)
    }

    /// A whole chunk around an encoded payload: header with a valid checksum, then the
    /// stored bytes. `count` is written as given, so a caller can make it lie; so is a
    /// `summary` (a chunk of faults alone says it ahead of its payload, format 10 on).
    public static func seal(payload: [UInt8], count: UInt32, deflate: Bool, summary: FaultChunkSummary? = nil) -> [UInt8] {
        let compressed = deflate ? Deflate.compress(payload) : nil
        return seal(stored: compressed ?? payload, rawLength: payload.count, count: count, deflated: compressed != nil,
                    summary: summary)
    }

    /// `summary`: the chunk holds nothing but faults, and says so ahead of its payload.
    static func seal(stored payload: [UInt8], rawLength: Int, count: UInt32, deflated: Bool,
                     summary: FaultChunkSummary? = nil) -> [UInt8] {
        let stored = summary.map { $0.encoded + payload } ?? payload
        var chunk = ByteEncoder()
        chunk.bytes.reserveCapacity(LogFormat.chunkHeaderSize + stored.count)
        chunk.u32le(LogFormat.chunkMagic)
        chunk.u32le(UInt32(truncatingIfNeeded: stored.count))
        chunk.u32le(UInt32(truncatingIfNeeded: rawLength))
        chunk.u32le(count)
        chunk.u32le((deflated ? LogFormat.chunkDeflated : 0) | (summary != nil ? LogFormat.chunkSummarized : 0))
        chunk.u32le(CRC32.checksum(stored))
        chunk.bytes += stored
        return chunk.bytes
    }

    /// Where each whole chunk of a log's bytes lies (start of its header, end of its stored
    /// bytes), walking the stated lengths from the file header on; stops at the first
    /// chunk that does not fit.
    public static func spans(in bytes: [UInt8]) -> [Range<Int>] {
        var spans: [Range<Int>] = []
        var at = LogFormat.fileHeaderSize
        while bytes.count - at >= LogFormat.chunkHeaderSize {
            var d = ByteDecoder(bytes, from: at + 4, to: at + 8)
            guard let length = try? d.u32le(), UInt64(length) <= UInt64(bytes.count - at - LogFormat.chunkHeaderSize)
            else { break }
            let end = at + LogFormat.chunkHeaderSize + Int(length)
            spans.append(at..<end)
            at = end
        }
        return spans
    }

    /// The summary a chunk of faults alone at `span` says ahead of its payload; nil when it
    /// says none or its header or summary does not read.
    public static func summary(ofChunkAt span: Range<Int>, in bytes: [UInt8]) -> FaultChunkSummary? {
        guard let (header, body) = parts(ofChunkAt: span, in: bytes), header.flags & LogFormat.chunkSummarized != 0 else { return nil }
        return try? FaultChunkSummary.decode(body, faults: Int(header.count)).summary
    }

    /// The decoded payload and stated record count of the chunk at `span`, or nil when its
    /// header is not one or it does not inflate to its stated size.
    public static func payload(ofChunkAt span: Range<Int>, in bytes: [UInt8]) -> (payload: [UInt8], count: UInt32)? {
        guard let ((raw, count, flags), stored) = parts(ofChunkAt: span, in: bytes) else { return nil }
        var body = stored
        if flags & LogFormat.chunkSummarized != 0 {
            guard let (_, start) = try? FaultChunkSummary.decode(body, faults: Int(count)) else { return nil }
            body = Array(body[start...])
        }
        if flags & LogFormat.chunkDeflated == 0 { return (body, count) }
        return Deflate.decompress(body, expectedSize: Int(raw)).map { ($0, count) }
    }

    /// The header fields and the stored bytes of the chunk at `span`; nil when its header is
    /// not one (its magic, its stored length against the span, its raw length's bound).
    private static func parts(ofChunkAt span: Range<Int>, in bytes: [UInt8])
            -> (header: (raw: UInt32, count: UInt32, flags: UInt32), stored: [UInt8])? {
        guard span.lowerBound >= 0, span.upperBound <= bytes.count, span.count >= LogFormat.chunkHeaderSize else { return nil }
        var d = ByteDecoder(bytes, from: span.lowerBound, to: span.lowerBound + LogFormat.chunkHeaderSize)
        guard let magic = try? d.u32le(), magic == LogFormat.chunkMagic,
              let stored = try? d.u32le(), Int(stored) == span.count - LogFormat.chunkHeaderSize,
              let raw = try? d.u32le(), raw <= LogFormat.maxChunkSize,
              let count = try? d.u32le(), let flags = try? d.u32le() else { return nil }
        return ((raw, count, flags), Array(bytes[(span.lowerBound + LogFormat.chunkHeaderSize)..<span.upperBound]))
    }
}
