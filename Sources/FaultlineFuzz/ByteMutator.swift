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
    /// its record count and a valid checksum. A chunk of faults alone loses its summary,
    /// keeps it, or keeps it falsified (its payload then mostly left as it was): a lie only
    /// the decoded faults can show.
    static func resealed<R: RandomNumberGenerator>(_ original: [UInt8], using rng: inout R) -> ByteMutation {
        var bytes = original
        let spans = LogChunks.spans(in: bytes)
        guard !spans.isEmpty else { return ByteMutation(bytes: bytes, firstChange: nil, description: "nothing to reseal") }
        let k = Int.random(in: 0..<spans.count, using: &rng)
        guard let chunk = LogChunks.payload(ofChunkAt: spans[k], in: bytes) else {
            return ByteMutation(bytes: bytes, firstChange: nil, description: "chunk \(k) unreadable")
        }
        var payload = chunk.payload
        var summary = LogChunks.summary(ofChunkAt: spans[k], in: bytes)
        var edits = Int.random(in: 1...6, using: &rng)
        var said = ""
        if summary != nil {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: summary = nil; said = ", its summary dropped"
            case 1: said = ", its summary kept"
            default:
                falsify(&summary!, using: &rng)
                edits = Int.random(in: 0...1, using: &rng)
                said = ", its summary falsified"
            }
        }
        for _ in 0..<edits {
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
        bytes.replaceSubrange(spans[k], with: LogChunks.seal(payload: payload, count: chunk.count, deflate: Bool.random(using: &rng),
                                                             summary: summary))
        return ByteMutation(bytes: bytes, firstChange: nil, resealedChunk: k, description: "edit and reseal chunk \(k)\(said)")
    }

    /// One claim of `summary` made false, its form kept (it still reads).
    private static func falsify<R: RandomNumberGenerator>(_ summary: inout FaultChunkSummary, using rng: inout R) {
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: summary.earliest = summary.earliest == 0 ? 1 : summary.earliest - 1
        case 1: summary.latest = summary.latest == .max ? summary.latest - 1 : summary.latest + 1
        case 2: summary.knowsPageSizes.toggle()
        case 3: summary.faultsPerPid[0].pid &+= 1
        default:
            if summary.faultsPerPid.count > 1 { summary.faultsPerPid.swapAt(0, summary.faultsPerPid.count - 1) }
            else { summary.faultsPerPid[0].pid = ~summary.faultsPerPid[0].pid }
        }
    }
}
