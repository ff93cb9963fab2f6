// Chunk payloads are deflated (zlib, fastest level): the delta-coded events still repeat a
// lot, and a log a third the size is worth far more than the few ms of CPU per MiB.

import CZlib

enum Deflate {
    static func compress(_ input: [UInt8]) -> [UInt8]? {
        var bound = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(bound))
        let status = output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { inp in
                compress2(out.baseAddress, &bound, inp.baseAddress, uLong(inp.count), 1)
            }
        }
        guard status == Z_OK else { return nil }
        output.removeSubrange(Int(bound)...)
        return output
    }

    /// Inflates into exactly `expectedSize` bytes; nil if the data is not that.
    static func decompress(_ input: [UInt8], expectedSize: Int) -> [UInt8]? {
        var ok = false
        // Not zero-filled first: zlib writes every byte it reports, and the array keeps
        // exactly those (a chunk's payload is filled once, not twice).
        let output = [UInt8](unsafeUninitializedCapacity: max(expectedSize, 1)) { out, initialized in
            var size = uLong(expectedSize)
            let status = input.withUnsafeBufferPointer { inp in
                uncompress(out.baseAddress, &size, inp.baseAddress, uLong(inp.count))
            }
            ok = status == Z_OK && Int(size) == expectedSize
            initialized = ok ? expectedSize : 0
        }
        return ok ? output : nil
    }
}
