// Service times sorted for their percentiles: a 2M-fault report sorted them twice (by kind,
// then by process), and the comparison sort was 14% of `report`'s time (perf). Times are
// integers, most of them below 2^24 ns: sorted in place a byte at a time from the highest
// byte the largest time uses (an American flag sort), they need no comparisons and no
// scratch (a reading command holds at most 24 bytes a fault, issue 9).

extension Array where Element == UInt64 {
    /// Sorts the times in increasing order, in place.
    mutating func sortTimes() {
        guard count > Self.shortRun else { return sort() }
        let bits = 64 - (self.max() ?? 0).leadingZeroBitCount
        guard bits > 0 else { return }   // all zero
        withUnsafeMutableBufferPointer { Self.sortByByte($0, shift: (bits - 1) / 8 * 8) }
    }

    /// Below this many, a comparison sort is as quick.
    private static let shortRun = 64

    /// Sorts `a` by its bytes from the one at `shift` down, every higher byte being alike.
    private static func sortByByte(_ a: UnsafeMutableBufferPointer<UInt64>, shift: Int) {
        if a.count <= shortRun {
            var run = a
            run.sort()
            return
        }
        let s = UInt64(shift)
        func digit(_ v: UInt64) -> Int { Int(truncatingIfNeeded: (v >> s) & 0xFF) }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 512) { table in
            let next = UnsafeMutableBufferPointer(rebasing: table[0..<256])
            let end = UnsafeMutableBufferPointer(rebasing: table[256..<512])
            next.initialize(repeating: 0)
            for v in a { next[digit(v)] += 1 }
            var start = 0
            for d in 0..<256 {
                let n = next[d]
                next[d] = start
                start += n
                end[d] = start
            }
            // Each time is swapped into its byte's bucket until the bucket it came from holds
            // only its own.
            for d in 0..<256 {
                while next[d] < end[d] {
                    let v = a[next[d]]
                    let home = digit(v)
                    if home == d {
                        next[d] += 1
                    } else {
                        a.swapAt(next[d], next[home])
                        next[home] += 1
                    }
                }
            }
            guard shift > 0 else { return }
            var from = 0
            for d in 0..<256 {
                let to = end[d]
                if to - from > 1 { sortByByte(UnsafeMutableBufferPointer(rebasing: a[from..<to]), shift: shift - 8) }
                from = to
            }
        }
    }
}
