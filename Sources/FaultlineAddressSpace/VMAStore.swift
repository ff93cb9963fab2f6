// An address space's VMAs in address order, as chunks of at most 256, so that a mapping
// made or removed among tens of thousands moves one chunk's worth, not all of them.
// Kept as one sorted array, every mmap and munmap moved half the array: with 8,000 threads
// (three VMAs each) a replay ran at 1.3M faults/s, 67% of it in memmove, and 30,000 mappings
// took 10 us a call (84% in memmove) (the kernel's maple tree is logarithmic).
//
// Positions are Ints, as in one sorted array: the VMA at position i is the i-th lowest. A
// store of one chunk (most processes) reads a position with no search.

public struct VMAStore: RandomAccessCollection, MutableCollection, Sendable {
    /// In address order; none empty, none over `largest`.
    @usableFromInline var chunks: [[VMA]] = []
    /// The position of each chunk's first VMA.
    @usableFromInline var firsts: [Int] = []
    /// Each chunk's last VMA's start and end, side by side: the searches find their chunk in
    /// this one small array. (Read through each chunk's own array, every step of the search
    /// was a load from another heap block, and a search a fault among 8,000 threads' 24,000
    /// VMAs was a tenth of the model's time, perf.)
    @usableFromInline var lastBounds: [UInt64] = []
    public private(set) var count = 0

    /// Where a position is: a chunk and the offset in it.
    public struct Location: Sendable {
        public var chunk: Int
        public var offset: Int
    }

    /// A chunk grows to twice this and then splits; one under a quarter of it joins a
    /// neighbour that has room. (512 moved 30 KB of VMAs a change: 10% of a replay of 8,000
    /// threads' 24,000 VMAs; at 128, renumbering the chunks costs about what moving saves
    /// more, callgrind: 1.187G instructions at 512, 1.105G at 128, 1.109G at 256.)
    static let chunkSize = 128
    static var largest: Int { 2 * chunkSize }

    public init() {}

    init(_ vmas: [VMA]) {
        chunks = stride(from: 0, to: vmas.count, by: Self.chunkSize).map { Array(vmas[$0..<Swift.min($0 + Self.chunkSize, vmas.count)]) }
        count = vmas.count
        renumber(from: 0)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    /// The chunk holding position `i` (< count), and where in it.
    @inlinable
    func locate(_ i: Int) -> (chunk: Int, offset: Int) {
        if chunks.count <= 1 { return (0, i) }
        // Interpolation first: chunks hold 1 to 256 VMAs, mostly 128 to 256, so positions
        // grow nearly in proportion to chunks and a guess from the span is right or close.
        // The binary search's eight steps were 9% of a replay of 8,000 threads' 24,000 VMAs
        // at 2 MiB pages; a guess from the whole span alone missed too often (chunks that
        // stopped growing hold 128, those still growing up to 256).
        let last = firsts.count - 1
        var low = 0, high = last   // the last chunk starting at or before i is in low...high
        for _ in 0..<4 {
            let span = (high < last ? firsts[high + 1] : count) - firsts[low]
            let c = Swift.min(high, low + (i - firsts[low]) * (high - low + 1) / Swift.max(span, 1))
            if firsts[c] > i {
                high = c - 1
            } else if c < last && firsts[c + 1] <= i {
                low = c + 1
            } else {
                return (c, i - firsts[c])
            }
        }
        while low < high {
            let mid = (low + high + 1) / 2
            if firsts[mid] <= i { low = mid } else { high = mid - 1 }
        }
        return (low, i - firsts[low])
    }

    @inlinable
    public subscript(i: Int) -> VMA {
        get {
            let (c, o) = locate(i)
            return chunks[c][o]
        }
        set {
            let (c, o) = locate(i)
            chunks[c][o] = newValue
            if o == chunks[c].count - 1 { noteLast(c) }
        }
    }

    /// The VMA at a location `locate` or a search gave, with no change since.
    @inlinable
    public subscript(location: Location) -> VMA { chunks[location.chunk][location.offset] }

    /// The position of the first VMA that ends past `address` (count if none). VMAs are
    /// disjoint and sorted, so their ends are sorted too.
    func firstEnding(after address: UInt64) -> Int {
        located(firstPast: address, bound: 1) { $0.end > address }.position
    }

    /// `firstEnding(after:)`, and where that position is (nil when it is `count`).
    func locatedFirstEnding(after address: UInt64) -> (position: Int, location: Location?) {
        located(firstPast: address, bound: 1) { $0.end > address }
    }

    /// The position of the first VMA that starts at or after `address` (count if none).
    func firstStarting(atOrAfter address: UInt64) -> Int {
        // A start at or after `address` is a start past `address - 1`.
        guard address > 0 else { return 0 }
        return located(firstPast: address - 1, bound: 0) { $0.start >= address }.position
    }

    /// The first position whose VMA `isPast` holds for, where it holds for every VMA after
    /// one it holds for (count if none), and its location: a binary search over the chunks'
    /// last bounds (`lastBounds[2 * chunk + bound] > address` when `isPast` holds for the
    /// chunk's last VMA), then in one chunk. (Inlined, so that the searches above pay no
    /// closure call a probe.)
    @inline(__always)
    func located(firstPast address: UInt64, bound: Int, _ isPast: (VMA) -> Bool) -> (position: Int, location: Location?) {
        var low = 0, high = chunks.count
        lastBounds.withUnsafeBufferPointer { bounds in
            while low < high {
                let mid = (low + high) / 2
                if bounds[2 * mid + bound] > address { high = mid } else { low = mid + 1 }
            }
        }
        guard low < chunks.count else { return (count, nil) }
        let offset = chunks[low].withUnsafeBufferPointer { chunk in
            var a = 0, b = chunk.count
            while a < b {
                let mid = (a + b) / 2
                if isPast(chunk[mid]) { b = mid } else { a = mid + 1 }
            }
            return a
        }
        return (firsts[low] + offset, Location(chunk: low, offset: offset))
    }

    /// Whether the run of VMAs around position `i` (< count), each joined to the next while
    /// `joins` holds, covers [start, end). Steps through the chunks with no search a step:
    /// asked at every fault that does not fit a large page in its own piece (8,000 threads'
    /// stacks and mappings at 2 MiB pages), a search a step was a fifth of a replay, perf.
    func runCovers(_ i: Int, _ start: UInt64, _ end: UInt64, joins: (VMA, VMA) -> Bool) -> Bool {
        let (c, o) = locate(i)
        return runCovers(at: Location(chunk: c, offset: o), start, end, joins: joins)
    }

    /// `runCovers` from a location a search gave (no `locate` again: at 2 MiB pages, among
    /// 8,000 threads' 24,000 VMAs, finding the piece a second time for each fault was a
    /// tenth of the model's time, perf).
    func runCovers(at location: Location, _ start: UInt64, _ end: UInt64, joins: (VMA, VMA) -> Bool) -> Bool {
        let (c0, o0) = (location.chunk, location.offset)
        var (c, o) = (c0, o0)
        while chunks[c][o].start > start {
            let (pc, po) = o > 0 ? (c, o - 1) : (c - 1, c > 0 ? chunks[c - 1].count - 1 : 0)
            guard pc >= 0, joins(chunks[pc][po], chunks[c][o]) else { return false }
            (c, o) = (pc, po)
        }
        (c, o) = (c0, o0)
        while chunks[c][o].end < end {
            let (nc, no) = o + 1 < chunks[c].count ? (c, o + 1) : (c + 1, 0)
            guard nc < chunks.count, joins(chunks[c][o], chunks[nc][no]) else { return false }
            (c, o) = (nc, no)
        }
        return true
    }

    /// Replaces the VMAs at `range` with `new` (which must keep the order).
    mutating func replaceSubrange(_ range: Range<Int>, with new: [VMA]) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "VMA positions out of range")
        guard !chunks.isEmpty else {
            self = VMAStore(new)
            return
        }
        let (c1, o1) = boundary(range.lowerBound), (c2, o2) = boundary(range.upperBound)
        if c1 == c2 {
            editChunk(c1, growingBy: new.count - range.count) { $0.replaceSubrange(o1..<o2, with: new) }
        } else {
            let joined = chunks[c1][..<o1] + new + chunks[c2][o2...]
            chunks.replaceSubrange(c1...c2, with: [Array(joined)])
            count += new.count - range.count
            renumber(from: settle(c1))
        }
    }

    /// Changes chunk `c` with `edit`, which makes it `delta` VMAs longer.
    private mutating func editChunk(_ c: Int, growingBy delta: Int, _ edit: (inout [VMA]) -> Void) {
        let chunksBefore = chunks.count
        edit(&chunks[c])
        count += delta
        let settled = settle(c)
        if chunks.count == chunksBefore {
            noteLast(settled)
            // One chunk changed, and no chunk split, joined or went: the later ones' first
            // positions move by its change of length. (Recounting them read every later
            // chunk's length, a cache miss each: 5% of a replay of 8,000 threads' 24,000
            // VMAs, perf.)
            shiftFirsts(after: c, by: delta)
        } else {
            renumber(from: settled)
        }
    }

    private mutating func shiftFirsts(after c: Int, by delta: Int) {
        guard delta != 0 else { return }
        firsts.withUnsafeMutableBufferPointer { firsts in
            for k in (c + 1)..<firsts.count { firsts[k] &+= delta }
        }
    }

    // One VMA in or out edits its chunk in place: through replaceSubrange, each mmap and
    // munmap built an array of one (mapping_churn's 100,000 cycles, perf).
    mutating func insert(_ vma: VMA, at i: Int) {
        precondition(i >= 0 && i <= count, "VMA position out of range")
        guard !chunks.isEmpty else {
            self = VMAStore([vma])
            return
        }
        let (c, o) = boundary(i)
        editChunk(c, growingBy: 1) { $0.insert(vma, at: o) }
    }

    mutating func remove(at i: Int) {
        precondition(i >= 0 && i < count, "VMA position out of range")
        let (c, o) = locate(i)
        editChunk(c, growingBy: -1) { _ = $0.remove(at: o) }
    }
    mutating func removeAll() { self = VMAStore() }
    mutating func removeAll(where gone: (VMA) -> Bool) { self = VMAStore(filter { !gone($0) }) }

    /// The chunk and offset of the boundary before position `b` (0...count).
    private func boundary(_ b: Int) -> (Int, Int) {
        b < count ? locate(b) : (chunks.count - 1, chunks[chunks.count - 1].count)
    }

    /// Splits chunk `c` if it grew too large, removes it if empty, joins it to a neighbour
    /// if both are small; the first chunk whose position may have changed.
    private mutating func settle(_ c: Int) -> Int {
        let n = chunks[c].count
        if n == 0 {
            chunks.remove(at: c)
            return Swift.max(c - 1, 0)
        }
        if n > Self.largest {
            let whole = chunks[c]
            let pieces = stride(from: 0, to: n, by: Self.chunkSize).map { Array(whole[$0..<Swift.min($0 + Self.chunkSize, n)]) }
            chunks.replaceSubrange(c...c, with: pieces)
            return c
        }
        if n < Self.chunkSize / 4 {
            if c + 1 < chunks.count && n + chunks[c + 1].count <= Self.chunkSize {
                chunks[c] += chunks[c + 1]
                chunks.remove(at: c + 1)
            } else if c > 0 && n + chunks[c - 1].count <= Self.chunkSize {
                chunks[c - 1] += chunks[c]
                chunks.remove(at: c)
                return c - 1
            }
        }
        return c
    }

    /// Recounts the first positions from chunk `c` on, in place (removing them and
    /// appending each again checked the array's uniqueness a chunk: with 24,000 VMAs in
    /// chunks of 128, that was 15% of a replay's instructions, callgrind).
    private mutating func renumber(from c: Int) {
        if firsts.count > chunks.count { firsts.removeLast(firsts.count - chunks.count) }
        if firsts.count < chunks.count { firsts.append(contentsOf: repeatElement(0, count: chunks.count - firsts.count)) }
        if lastBounds.count > 2 * chunks.count { lastBounds.removeLast(lastBounds.count - 2 * chunks.count) }
        if lastBounds.count < 2 * chunks.count { lastBounds.append(contentsOf: repeatElement(0, count: 2 * chunks.count - lastBounds.count)) }
        let chunks = self.chunks
        firsts.withUnsafeMutableBufferPointer { firsts in
            var next = c > 0 ? firsts[c - 1] + chunks[c - 1].count : 0
            for k in c..<chunks.count {
                firsts[k] = next
                next += chunks[k].count
            }
        }
        lastBounds.withUnsafeMutableBufferPointer { bounds in
            for k in c..<chunks.count {
                let last = chunks[k][chunks[k].count - 1]
                bounds[2 * k] = last.start
                bounds[2 * k + 1] = last.end
            }
        }
    }

    /// Chunk `c`'s last VMA changed: its bounds in `lastBounds` follow.
    @usableFromInline mutating func noteLast(_ c: Int) {
        guard c < chunks.count, let last = chunks[c].last else { return }
        lastBounds[2 * c] = last.start
        lastBounds[2 * c + 1] = last.end
    }
}
