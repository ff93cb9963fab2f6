// Arithmetic on values read from a log: the file may say anything, so sums, differences
// and products of its numbers stop at the ends of their type instead of trapping. For
// counts, times and sizes a person reads, "at least 2^64-1" is the honest answer.

extension UInt64 {
    /// self + other, or UInt64.max when that would not fit.
    @inlinable public func addingSaturated(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// self - other, or 0 when other is larger.
    @inlinable public func subtractingSaturated(_ other: UInt64) -> UInt64 {
        self > other ? self - other : 0
    }

    /// self * other, or UInt64.max when that would not fit.
    @inlinable public func multipliedSaturated(by other: UInt64) -> UInt64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }
}
