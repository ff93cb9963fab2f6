// Mutations of a log's raw bytes: flips, inserts, deletes and cuts, which the chunk
// checksums catch, and payload edits resealed with a valid checksum, which reach the
// record decoder. What the reader must survive; little of it reaches the analysis (see
// RecordMutator for that).

import FaultlineLog

public struct ByteMutation: Sendable {
    public var bytes: [UInt8]
    /// For a raw mutation: the offset of the first changed byte (every chunk ending before
    /// it is intact). nil for a resealed one.
    public var firstChange: Int?
    /// For a resealed mutation: the index of the chunk whose payload was edited.
    public var resealedChunk: Int?
    public var description: String
}

public enum ByteMutator {
    public static func mutate<R: RandomNumberGenerator>(_ original: [UInt8], using rng: inout R) -> ByteMutation {
        var bytes = original
        guard !bytes.isEmpty else { return ByteMutation(bytes: [0], firstChange: 0, description: "byte into an empty file") }
        switch Int.random(in: 0..<6, using: &rng) {
        case 0:
            let n = Int.random(in: 1...4, using: &rng)
            var at = Int.max
            for _ in 0..<n {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[i] ^= UInt8.random(in: 1...255, using: &rng)
                at = min(at, i)
            }
            return ByteMutation(bytes: bytes, firstChange: at, description: "flip \(n) bytes from \(at)")
        case 1:
            let i = Int.random(in: 0...bytes.count, using: &rng)
            let n = Int.random(in: 1...32, using: &rng)
            bytes.insert(contentsOf: (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: i)
            return ByteMutation(bytes: bytes, firstChange: i, description: "insert \(n) bytes at \(i)")
        case 2:
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            let n = Int.random(in: 1...32, using: &rng)
            bytes.removeSubrange(i..<min(bytes.count, i + n))
            return ByteMutation(bytes: bytes, firstChange: i, description: "delete \(n) bytes at \(i)")
        case 3:
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            bytes.removeSubrange(i...)
            return ByteMutation(bytes: bytes, firstChange: i, description: "cut at \(i)")
        default:
            return resealed(bytes, using: &rng)
        }
    }

    /// A chunk's decoded payload edited a few times, then stored (or deflated) again with
    /// its record count and a valid checksum.
    static func resealed<R: RandomNumberGenerator>(_ original: [UInt8], using rng: inout R) -> ByteMutation {
        var bytes = original
        let spans = LogChunks.spans(in: bytes)
        guard !spans.isEmpty else { return ByteMutation(bytes: bytes, firstChange: nil, description: "nothing to reseal") }
        let k = Int.random(in: 0..<spans.count, using: &rng)
        guard let chunk = LogChunks.payload(ofChunkAt: spans[k], in: bytes) else {
            return ByteMutation(bytes: bytes, firstChange: nil, description: "chunk \(k) unreadable")
        }
        var payload = chunk.payload
        for _ in 0..<Int.random(in: 1...6, using: &rng) {
            let i = payload.isEmpty ? 0 : Int.random(in: 0..<payload.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where !payload.isEmpty: payload[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
            case 1 where !payload.isEmpty: payload[i] = UInt8.random(in: 0...255, using: &rng)
            case 2: payload.insert(contentsOf: [UInt8](repeating: 0xFF, count: Int.random(in: 1...12, using: &rng)), at: i)
            case 3 where !payload.isEmpty: payload.removeSubrange(i..<min(payload.count, i + Int.random(in: 1...8, using: &rng)))
            case 4: payload.insert(RecordTag.allCases.randomElement(using: &rng)!.rawValue, at: i)
            default: if !payload.isEmpty { payload.removeSubrange(i...) }
            }
        }
        bytes.replaceSubrange(spans[k], with: LogChunks.seal(payload: payload, count: chunk.count, deflate: Bool.random(using: &rng)))
        return ByteMutation(bytes: bytes, firstChange: nil, resealedChunk: k, description: "edit and reseal chunk \(k)")
    }
}
