// Which base pages of one address space hold memory that nothing has freed since a fault
// (or MAP_POPULATE, MADV_POPULATE) put it there: the history that tells a swap-in from a
// first touch. When such a page faults again as missing, reclaim took it, and only swap
// gives it back.
//
// One bit per base page, in blocks of 512 pages (2 MiB at 4 KiB, 64 bytes each), kept in a
// dictionary by block: a 512 MiB heap costs 16 KiB, a sparse 1 TiB reservation nothing
// until it is touched. Every range operation visits only the blocks that exist, so a
// munmap of a huge reservation costs what was populated in it, not its size.
//
// Hazard: addresses and lengths come from a traced program or a log; ranges are clipped
// and end at 2^64 without wrapping.

public struct PopulatedPages: Sendable, Equatable {
    /// 512 bits: one block of pages.
    typealias Block = SIMD8<UInt64>

    /// log2 of the base page size.
    public let pageShift: UInt64
    private var blockShift: UInt64 { pageShift + 9 }
    private var blocks: [UInt64: Block] = [:]

    public init(pageSize: UInt64 = 4096) {
        let size = pageSize >= 4096 && pageSize <= 1 << 30 && pageSize & (pageSize - 1) == 0 ? pageSize : 4096
        pageShift = UInt64(size.trailingZeroBitCount)
    }

    public var isEmpty: Bool { blocks.isEmpty }

    /// How many pages are populated (for tests and statistics; visits every block).
    public var pageCount: Int {
        blocks.values.reduce(0) { total, b in
            (0..<8).reduce(total) { $0 + b[$1].nonzeroBitCount }
        }
    }

    /// Bytes of the recorder's memory the history takes, roughly.
    public var approximateBytes: Int { blocks.count * (MemoryLayout<Block>.stride + 16) }

    // MARK: single pages

    public func contains(_ address: UInt64) -> Bool {
        let page = address >> pageShift
        guard let block = blocks[page >> 9] else { return false }
        return block[Int(page >> 6) & 7] & (1 << (page & 63)) != 0
    }

    /// Marks the pages of [start, end) populated, and says whether the page holding
    /// `address` was populated already: one dictionary visit for the common base page.
    public mutating func testAndInsert(_ address: UInt64, start: UInt64, end: UInt64) -> Bool {
        let was = contains(address)
        let page = start >> pageShift
        if end &- start == 1 << pageShift && start & ((1 << pageShift) - 1) == 0 {
            blocks[page >> 9, default: Block()][Int(page >> 6) & 7] |= 1 << (page & 63)
        } else {
            insert(start, end)
        }
        return was
    }

    // MARK: ranges

    /// Marks every page overlapping [start, end) populated.
    public mutating func insert(_ start: UInt64, _ end: UInt64) {
        guard end > start else { return }
        let first = start >> pageShift, last = (end - 1) >> pageShift
        var key = first >> 9
        while key <= last >> 9 {
            let low = key == first >> 9 ? first & 511 : 0
            let high = key == last >> 9 ? last & 511 : 511
            blocks[key, default: Block()] |= Self.mask(low, high)
            if key == UInt64.max >> 9 { break }
            key += 1
        }
    }

    /// Forgets every page overlapping [start, end): munmap, MADV_DONTNEED and the like.
    public mutating func remove(_ start: UInt64, _ end: UInt64) {
        guard end > start, !blocks.isEmpty else { return }
        let first = start >> pageShift, last = (end - 1) >> pageShift
        for key in keys(first >> 9, last >> 9) {
            let low = key == first >> 9 ? first & 511 : 0
            let high = key == last >> 9 ? last & 511 : 511
            guard var block = blocks[key] else { continue }
            block &= ~Self.mask(low, high)
            blocks[key] = block == Block() ? nil : block
        }
    }

    /// The populated pages in [start, end), as page addresses, in order.
    public func pages(_ start: UInt64, _ end: UInt64) -> [UInt64] {
        guard end > start, !blocks.isEmpty else { return [] }
        let first = start >> pageShift, last = (end - 1) >> pageShift
        var result: [UInt64] = []
        for key in keys(first >> 9, last >> 9).sorted() {
            guard let block = blocks[key] else { continue }
            let masked = block & Self.mask(key == first >> 9 ? first & 511 : 0, key == last >> 9 ? last & 511 : 511)
            for w in 0..<8 {
                var word = masked[w]
                while word != 0 {
                    let bit = UInt64(word.trailingZeroBitCount)
                    result.append((key << 9 | UInt64(w) << 6 | bit) << pageShift)
                    word &= word - 1
                }
            }
        }
        return result
    }

    /// mremap moved `length` bytes from `from` to `to`: the pages go with their memory
    /// (move_page_tables), whatever the distance; what was at the destination is gone.
    public mutating func move(from: UInt64, to: UInt64, length: UInt64) {
        guard length > 0 else { return }
        let (fromEnd, o1) = from.addingReportingOverflow(length)
        let (toEnd, o2) = to.addingReportingOverflow(length)
        let moving = pages(from, o1 ? .max : fromEnd)
        remove(from, o1 ? .max : fromEnd)
        remove(to, o2 ? .max : toEnd)
        for page in moving {
            let target = page &- from &+ to
            guard target >= to, o2 || target < toEnd else { continue }
            let (end, top) = target.addingReportingOverflow(1 << pageShift)
            insert(target, top ? .max : end)
        }
    }

    /// Forgets everything (execve).
    public mutating func removeAll() { blocks.removeAll() }

    // MARK: helpers

    /// The keys of existing blocks from `first` to `last`: by range when it is short, else
    /// by the dictionary (a huge range over a few blocks).
    private func keys(_ first: UInt64, _ last: UInt64) -> [UInt64] {
        let span = last - first
        if span < UInt64(blocks.count) * 2 + 8 {
            return (0...span).compactMap { blocks[first + $0] != nil ? first + $0 : nil }
        }
        return blocks.keys.filter { $0 >= first && $0 <= last }
    }

    /// Bits `low` through `high` (0...511) of a block.
    static func mask(_ low: UInt64, _ high: UInt64) -> Block {
        var m = Block()
        for w in 0..<8 {
            let wl = UInt64(w) * 64, wh = wl + 63
            guard high >= wl, low <= wh else { continue }
            let lo = max(low, wl) - wl, hi = min(high, wh) - wl
            let width = hi - lo + 1
            m[w] = (width == 64 ? UInt64.max : (UInt64(1) << width) - 1) << lo
        }
        return m
    }
}
