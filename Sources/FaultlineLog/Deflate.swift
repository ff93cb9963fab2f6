// Chunk payloads are deflated (zlib's format, a fast level): the delta-coded events still
// repeat a lot, and a log a third the size is worth far more than the few ms of CPU per MiB.
// libdeflate writes and reads them: it works on a whole chunk at once, which is how the
// log stores them, and does that in about half of zlib's time.

import CLibdeflate

enum Deflate {
    /// libdeflate's level 2: on a 2M-fault storm's chunks (24 MB) and a Python recording's,
    /// 4–5% smaller than zlib's fastest level in 40–45% less time (212 ms against 356 ms,
    /// 6.7 against 12.4 ms; tools/deflate-cost, BENCHMARKS.md).
    static let level: Int32 = 2

    /// Deflates `input` as a zlib stream (tests and tools; a writer keeps a Compressor).
    static func compress(_ input: [UInt8]) -> [UInt8]? {
        Compressor()?.compress(input)
    }

    /// A compressor kept for every chunk of a log: setting libdeflate's up takes more
    /// memory than a chunk, so it is done once.
    final class Compressor {
        private let handle: OpaquePointer

        init?() {
            guard let handle = libdeflate_alloc_compressor(Deflate.level) else { return nil }
            self.handle = handle
        }

        deinit { libdeflate_free_compressor(handle) }

        /// `input` as a zlib stream; nil if it could not be deflated.
        func compress(_ input: [UInt8]) -> [UInt8]? {
            let bound = libdeflate_zlib_compress_bound(handle, input.count)
            var written = 0
            let output = [UInt8](unsafeUninitializedCapacity: max(bound, 1)) { out, initialized in
                written = input.withUnsafeBufferPointer { inp in
                    libdeflate_zlib_compress(handle, inp.baseAddress, inp.count, out.baseAddress, bound)
                }
                initialized = written
            }
            return written > 0 ? output : nil
        }
    }

    /// Inflates into exactly `expectedSize` bytes; nil if the data is not that (a stream
    /// that is not zlib's, a wrong Adler-32, more or fewer bytes than stated).
    ///
    /// libdeflate, not zlib: a chunk is inflated whole, and libdeflate does that about
    /// twice as fast (24 MB of a 2M-fault storm's chunks: 39 ms against 75 ms here), which
    /// took reading that log from 0.16 to 0.14 s. The streams are zlib's either way.
    static func decompress(_ input: [UInt8], expectedSize: Int) -> [UInt8]? {
        guard expectedSize >= 0, let decompressor = libdeflate_alloc_decompressor() else { return nil }
        defer { libdeflate_free_decompressor(decompressor) }
        var ok = false
        // Not zero-filled first: the array keeps only bytes libdeflate wrote (a chunk's
        // payload is filled once, not twice).
        let output = [UInt8](unsafeUninitializedCapacity: max(expectedSize, 1)) { out, initialized in
            var produced = 0
            let status = input.withUnsafeBufferPointer { inp in
                libdeflate_zlib_decompress(decompressor, inp.baseAddress, inp.count, out.baseAddress, expectedSize, &produced)
            }
            ok = status == LIBDEFLATE_SUCCESS && produced == expectedSize
            initialized = ok ? expectedSize : 0
        }
        return ok ? output : nil
    }
}
