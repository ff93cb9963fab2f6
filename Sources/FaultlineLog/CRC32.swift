// CRC-32 (IEEE 802.3, the zlib polynomial) over each chunk's stored bytes, so a torn or
// corrupted chunk is detected rather than decoded into nonsense. zlib's crc32 computes it
// several bytes at a time: a byte-at-a-time loop here was a tenth of loading a log.

import CZlib

enum CRC32 {
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { b in
            var crc = crc32(0, nil, 0)
            var at = 0
            // zlib takes a 32-bit length: feed it in pieces (a chunk is at most 16 MiB anyway).
            while at < b.count {
                let n = min(b.count - at, 1 << 30)
                crc = crc32(crc, b.baseAddress! + at, uInt(n))
                at += n
            }
            return UInt32(truncatingIfNeeded: crc)
        }
    }
}
