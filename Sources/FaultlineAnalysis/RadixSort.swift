// Service times sorted for their percentiles: a 2M-fault report sorted them twice (by kind,
// then by process), and the comparison sort was 15% of `report`'s time (perf). Times are
// integers, most of them below 2^24 ns: a least-significant-byte-first radix sort takes a
// pass a byte of the largest time, skips a byte every time shares, and does no comparisons.

extension Array where Element == UInt64 {
    /// Sorts the times in increasing order. Takes a scratch array of the same size while
    /// it runs (8 bytes a time, freed at the end).
    mutating func sortTimes() {
        // Short lists: a comparison sort is as quick, and needs no scratch.
        guard count > 256 else { return sort() }
        var scratch = [UInt64](repeating: 0, count: count)
        let bytes = (64 - (self.max() ?? 0).leadingZeroBitCount + 7) / 8
        var sortedInScratch = false
        withUnsafeMutableBufferPointer { a in
            scratch.withUnsafeMutableBufferPointer { b in
                var counts = [Int](repeating: 0, count: 256)
                for byte in 0..<bytes {
                    let shift = UInt64(byte * 8)
                    let (source, target) = sortedInScratch ? (b, a) : (a, b)
                    for i in 0..<256 { counts[i] = 0 }
                    for v in source { counts[Int(truncatingIfNeeded: (v >> shift) & 0xFF)] += 1 }
                    // Every time has this byte alike: the order stands.
                    if counts.contains(source.count) { continue }
                    var next = 0
                    for i in 0..<256 {
                        let n = counts[i]
                        counts[i] = next
                        next += n
                    }
                    // In order of the lower bytes within each value of this one: stable.
                    for v in source {
                        let d = Int(truncatingIfNeeded: (v >> shift) & 0xFF)
                        target[counts[d]] = v
                        counts[d] += 1
                    }
                    sortedInScratch.toggle()
                }
            }
        }
        if sortedInScratch { swap(&self, &scratch) }
    }
}
