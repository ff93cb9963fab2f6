// Rows of unsigned integers stored by column, in blocks of up to 256 rows: each column of
// a block keeps its smallest value and every row's difference from it in as few bits as
// the block's range needs (frame of reference). Millions of faults whose fields change
// little from one to the next take a few bytes each this way, instead of the 72 bytes of a
// FaultEvent, and a block decodes column by column in a tight loop.
//
// Hazard: values are bit patterns. A column of signed values is stored as their UInt64 bit
// patterns, so a block mixing -1 with small numbers takes 64 bits a row: right, but wide.

public struct PackedColumns: Sendable {
    /// Rows per full block: a column of width w then takes exactly 4·w words.
    public static let blockRows = 256

    public let columns: Int
    /// The packed bits, block after block and, within a block, column after column; each
    /// column starts on a word and its rows follow each other, lowest bits first.
    private var words: [UInt64] = []
    /// Per block and column (block * columns + column): the smallest value and the bits
    /// each row's difference from it takes (0: every row holds the smallest value).
    private var bases: [UInt64] = []
    private var widths: [UInt8] = []
    /// Per block, where its words begin.
    private var wordStarts: [Int] = []
    /// The first row of each block, then the row count: blocks may hold fewer than 256 rows.
    private var rowStarts: [Int] = [0]

    public init(columns: Int) {
        precondition(columns > 0)
        self.columns = columns
    }

    public var count: Int { rowStarts[rowStarts.count - 1] }
    public var blockCount: Int { wordStarts.count }

    /// The rows of block `b`.
    @inline(__always)
    public func rows(ofBlock b: Int) -> Range<Int> { rowStarts[b]..<rowStarts[b + 1] }

    /// The smallest value of `column` in block `b`.
    @inline(__always)
    public func minimum(ofBlock b: Int, column: Int) -> UInt64 { bases[b * columns + column] }

    /// Whether every row of block `b` holds the same value of `column` (its minimum).
    @inline(__always)
    public func isConstant(block b: Int, column: Int) -> Bool { widths[b * columns + column] == 0 }

    /// The block holding `row` (0 <= row < count).
    public func block(containing row: Int) -> Int {
        // Blocks are full but for a few (the end of a log's chunk): start at the guess for
        // full blocks, which is never past the answer, and search from there.
        var lo = min(row / Self.blockRows, blockCount - 1), hi = blockCount - 1
        if rowStarts[lo + 1] > row { return lo }
        lo += 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if rowStarts[mid] <= row { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Bytes held, for the memory benchmarks and tests.
    public var byteCount: Int {
        (words.capacity + bases.capacity + wordStarts.capacity + rowStarts.capacity) * 8 + widths.capacity
    }

    /// Appends one block of `rows` rows (1...256), column-major: row r of column c at
    /// `values[c * stride + r]`.
    public mutating func appendBlock(_ values: UnsafePointer<UInt64>, stride: Int, rows: Int) {
        precondition(rows > 0 && rows <= Self.blockRows && stride >= rows)
        wordStarts.append(words.count)
        rowStarts.append(count + rows)
        // Every column's base and width first, so that the block's words are added at once.
        var total = 0
        for c in 0..<columns {
            let column = values + c * stride
            var lo = column[0], hi = column[0]
            for r in 1..<rows {
                let v = column[r]
                lo = Swift.min(lo, v)
                hi = Swift.max(hi, v)
            }
            let width = hi == lo ? 0 : 64 - (hi - lo).leadingZeroBitCount
            bases.append(lo)
            widths.append(UInt8(width))
            total += (rows * width + 63) >> 6
        }
        guard total > 0 else { return }
        let first = bases.count - columns, blockBases = bases, blockWidths = widths
        var out = words.count
        words.append(contentsOf: repeatElement(0, count: total))
        words.withUnsafeMutableBufferPointer { w in
            for c in 0..<columns {
                let width = Int(blockWidths[first + c])
                guard width > 0 else { continue }
                let column = values + c * stride, lo = blockBases[first + c]
                // Bits gather in a word, which is stored once full (a store a word, not a
                // read and a write a value); a value that crosses into the next word
                // starts it with its high bits.
                // (Wrapping arithmetic: none of it can overflow, and the checks were a
                // fifth of the loop.)
                var word: UInt64 = 0, filled = 0
                for r in 0..<rows {
                    let v = column[r] &- lo
                    word |= v &<< UInt64(truncatingIfNeeded: filled)
                    filled &+= width
                    if filled >= 64 {
                        w[out] = word
                        out &+= 1
                        filled &-= 64
                        word = filled == 0 ? 0 : v &>> UInt64(truncatingIfNeeded: width &- filled)
                    }
                }
                if filled > 0 {
                    w[out] = word
                    out += 1
                }
            }
        }
    }

    /// Appends every block of `other` (same column count) after this one's.
    public mutating func append(contentsOf other: PackedColumns) {
        precondition(other.columns == columns)
        guard other.blockCount > 0 else { return }
        let wordBase = words.count, rowBase = count
        words.append(contentsOf: other.words)
        bases.append(contentsOf: other.bases)
        widths.append(contentsOf: other.widths)
        wordStarts.append(contentsOf: other.wordStarts.lazy.map { $0 + wordBase })
        rowStarts.append(contentsOf: other.rowStarts.dropFirst().lazy.map { $0 + rowBase })
    }

    /// Appends block `b` of `other` (same column count) as it is packed, with `column`,
    /// which must be constant in that block, holding `value` instead: a block moved from
    /// one set of columns to another without unpacking it.
    public mutating func appendBlock(_ b: Int, of other: PackedColumns, replacingConstant column: Int, with value: UInt64) {
        precondition(other.columns == columns && other.isConstant(block: b, column: column))
        let from = other.wordStarts[b]
        let to = b + 1 < other.blockCount ? other.wordStarts[b + 1] : other.words.count
        wordStarts.append(words.count)
        rowStarts.append(count + other.rows(ofBlock: b).count)
        words.append(contentsOf: other.words[from..<to])
        let first = b * columns
        bases.append(contentsOf: other.bases[first..<(first + columns)])
        bases[bases.count - columns + column] = value
        widths.append(contentsOf: other.widths[first..<(first + columns)])
    }

    /// Where column `c` of block `b` begins in `words`.
    @inline(__always)
    private func wordStart(block b: Int, column c: Int, rows: Int) -> Int {
        var start = wordStarts[b]
        let first = b * columns
        for k in 0..<c { start += (rows * Int(widths[first + k]) + 63) >> 6 }
        return start
    }

    /// Writes column `c` of block `b` to `out[0..<rows]`.
    public func decode(block b: Int, column c: Int, into out: UnsafeMutablePointer<UInt64>) {
        let rows = rowStarts[b + 1] - rowStarts[b]
        let base = bases[b * columns + c]
        let width = Int(widths[b * columns + c])
        guard width > 0 else {
            out.update(repeating: base, count: rows)
            return
        }
        let start = wordStart(block: b, column: c, rows: rows)
        words.withUnsafeBufferPointer { w in
            guard width < 64 else {
                for r in 0..<rows { out[r] = base &+ w[start + r] }
                return
            }
            // The bits not yet handed out stay in `held`, lowest first, and a word is loaded
            // only when they run short: each word once, where each value loaded one or two.
            let mask: UInt64 = (1 << UInt64(width)) - 1
            var next = start, held: UInt64 = 0, available = 0
            for r in 0..<rows {
                let v: UInt64
                if available >= width {
                    v = held
                    held &>>= UInt64(truncatingIfNeeded: width)
                    available &-= width
                } else {
                    let word = w[next]
                    next &+= 1
                    v = held | word &<< UInt64(truncatingIfNeeded: available)
                    held = word &>> UInt64(truncatingIfNeeded: width &- available)
                    available &+= 64 &- width
                }
                out[r] = base &+ (v & mask)
            }
        }
    }

    /// Writes every column of block `b`, column-major with `stride`, as appendBlock takes them.
    public func decode(block b: Int, into out: UnsafeMutablePointer<UInt64>, stride: Int) {
        for c in 0..<columns { decode(block: b, column: c, into: out + c * stride) }
    }

    /// One value (0 <= row < count): a search for its block, then one extraction.
    public func value(row: Int, column c: Int) -> UInt64 {
        let b = block(containing: row)
        return value(block: b, offset: row - rowStarts[b], column: c)
    }

    /// The value of `column` in row `offset` of block `b`.
    public func value(block b: Int, offset r: Int, column c: Int) -> UInt64 {
        let base = bases[b * columns + c]
        let width = Int(widths[b * columns + c])
        guard width > 0 else { return base }
        let rows = rowStarts[b + 1] - rowStarts[b]
        let bit = r * width
        let i = wordStart(block: b, column: c, rows: rows) + (bit >> 6), shift = bit & 63
        var v = words[i] >> UInt64(shift)
        if shift + width > 64 { v |= words[i + 1] << UInt64(64 - shift) }
        let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
        return base &+ (v & mask)
    }
}
