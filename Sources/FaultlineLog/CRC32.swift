// CRC-32 (IEEE 802.3, the zlib polynomial) over each chunk's stored bytes, so a torn or
// corrupted chunk is detected rather than decoded into nonsense. libdeflate computes it with
// carry-less multiplication where the CPU has it: zlib's table-driven crc32 was 1.4% of a
// 2M-fault replay's CPU (perf, random_touch 8192 4), on the first pass every model waits for.

import CLibdeflate

enum CRC32 {
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { b in libdeflate_crc32(0, b.baseAddress, b.count) }
    }
}
