// A map from a page (or table) number below 2^56 to a small non-zero value, built for the
// replay's inner loop, which looks pages up several times per event. Keys are grouped in
// blocks of 64 consecutive keys, found through an open-addressing directory of 8-byte words
// (Fibonacci-hashed block number, linear probing, backward-shift deletion), each with an
// 8-byte info word beside it. A block has one of three forms:
// - uniform: all 64 keys present with one value (a run of pages in the same state: the
//   usual case), held in its directory word alone;
// - one-valued: some keys present, all with one value (pages touched at random, each
//   faulted in the same way), the value in the directory word and the keys' bit mask in
//   the info word;
// - mixed: any other block, whose 64 values, one cache line, are kept in a pool.
// A lookup is one directory probe, plus one byte load for a mixed block.
//
// Why: with one 8-byte slot per key, a random trace over 1 GiB (262,144 pages) needed an
// 8 MiB table, and its cache- and TLB-missing loads were 90% of the engine's time (perf,
// issue 8). On this project's VM a random load costs 7 ns within 256 KiB, 53 ns at 1 MiB
// and 160 ns at 4 MiB (measured by pointer chasing), so the map must be small: the same
// pages now take a 64 KiB directory. Sparse keys cost more than before: a key alone in
// its block takes a 64-byte block plus 16 bytes of directory (about 100 bytes at the
// directory's load), against 16.
//
// Why one-valued blocks: a random fill (random_touch over 8 GiB, 2M pages) keeps nearly
// every block partly filled until late, and each lookup's pool line was a third cache miss,
// dependent on the info word: the one load in the model's profile that stalled (perf
// annotate, 45% of the fault path's samples). Its pages all hold one state, so the mask
// answers without the pool.
//
// A PageMap is a handle to storage it does not reference-count (copies share the table),
// so the inner loop pays no retain/release for it (ARC was over half of trace replay's
// time with a class here); whoever creates one calls `destroy()` once.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPrefetch
import FaultlineCore

public struct PageMap {
    @usableFromInline struct Header {
        /// The directory: two words per slot, side by side, so that a probe reads one
        /// cache line, not one in each of two arrays (on random pages over 8 GiB the
        /// prefetches of the two lines were where perf saw the fault loop wait; side by
        /// side, 1-5% less wall on three 2M-fault shapes, close to this VM's noise).
        var directory: UnsafeMutablePointer<UInt64>
        /// Slot words: (block number + 1) << 10, plus the form (`uniform`, `oneValued`, or
        /// neither: mixed) and, for the first two, the value in the low 8 bits; 0 is an
        /// empty slot.
        @usableFromInline var slots: DirectoryColumn { DirectoryColumn(base: directory) }
        /// By slot: for a mixed block, pool index << 8 | population (keys present, 1...64);
        /// for a one-valued block, the bit mask of its keys present (never 0); for a
        /// uniform block, 64.
        @usableFromInline var info: DirectoryColumn { DirectoryColumn(base: directory + 1) }
        /// Directory size - 1 (a power of two) and 64 - log2(size), for the hash.
        var mask: Int
        var shift: UInt64
        var slotsUsed: Int
        var pool: UnsafeMutablePointer<UInt8>
        var poolBlocks: Int
        /// Pool blocks handed out so far; freed ones are reused first.
        var poolUsed: Int
        var free: UnsafeMutablePointer<UInt32>
        var freeCount: Int
        var count: Int
        /// The one allocation a small map starts in (this header, then its directory, pool
        /// and free list), and its size; nil for a map that started large. An array that
        /// grows moves out of it; only arrays outside it are freed on their own.
        var block: UnsafeMutableRawPointer?
        var blockBytes = 0
    }
    @usableFromInline let header: UnsafeMutablePointer<Header>

    @usableFromInline static let blockShift: UInt64 = 6
    static let blockKeys = 64
    @usableFromInline static let keyShift: UInt64 = 10
    /// The bits of a directory word above its form and value: the block's tag.
    @usableFromInline static let tagBits: UInt64 = ~0x3FF
    @usableFromInline static let uniform: UInt64 = 0x100
    @usableFromInline static let oneValued: UInt64 = 0x200
    /// Keys must be below this (page numbers of 57-bit addresses are below 2^45).
    public static let keyLimit: UInt64 = 1 << 56

    public var count: Int { header.pointee.count }

    /// One word of each directory slot (the slot word, or the info word beside it).
    @usableFromInline struct DirectoryColumn {
        @usableFromInline let base: UnsafeMutablePointer<UInt64>
        @usableFromInline init(base: UnsafeMutablePointer<UInt64>) { self.base = base }

        @inlinable subscript(i: Int) -> UInt64 {
            @inline(__always) get { base[i &<< 1] }
            @inline(__always) nonmutating set { base[i &<< 1] = newValue }
        }
    }

    /// A map expected to hold about `capacity` keys without growing, if they are dense.
    public init(capacity: Int = 64) {
        let blocks = max(capacity / Self.blockKeys + 1, 4)
        var size = 16
        while size < blocks * 2 { size <<= 1 }
        let pool = 4
        let shift = UInt64(64 - size.trailingZeroBitCount)
        let directoryBytes = size * 2 * MemoryLayout<UInt64>.stride
        guard directoryBytes <= 4096 else {
            header = .allocate(capacity: 1)
            header.initialize(to: Header(directory: Self.zeroedDirectory(size * 2), mask: size - 1, shift: shift, slotsUsed: 0,
                                         pool: Self.zeroed(pool * Self.blockKeys), poolBlocks: pool, poolUsed: 0,
                                         free: Self.zeroed(pool), freeCount: 0, count: 0))
            return
        }
        // A small map in one zeroed allocation, not four: a process's seven maps (pages,
        // huge pages, edges, four levels of page tables) took 28, and as many frees, and in
        // a replay of 1,000 short processes on two CPUs the models waited on malloc's lock
        // (then one arena for the whole replay; now one a CPU: ScannedLog.scan).
        let headerBytes = (MemoryLayout<Header>.stride + 63) & ~63
        let poolBytes = pool * Self.blockKeys, freeBytes = pool * MemoryLayout<UInt32>.stride
        let bytes = headerBytes + directoryBytes + poolBytes + freeBytes
        guard let raw = calloc(1, bytes) else { fatalError("out of memory for a page map") }
        header = raw.bindMemory(to: Header.self, capacity: 1)
        header.initialize(to: Header(
            directory: (raw + headerBytes).bindMemory(to: UInt64.self, capacity: size * 2), mask: size - 1, shift: shift,
            slotsUsed: 0, pool: (raw + headerBytes + directoryBytes).bindMemory(to: UInt8.self, capacity: poolBytes),
            poolBlocks: pool, poolUsed: 0,
            free: (raw + headerBytes + directoryBytes + poolBytes).bindMemory(to: UInt32.self, capacity: pool),
            freeCount: 0, count: 0, block: raw, blockBytes: bytes))
    }

    /// Frees the table; no copy of this handle may be used afterwards.
    public func destroy() {
        freeArray(header.pointee.directory)
        freeArray(header.pointee.pool)
        freeArray(header.pointee.free)
        if let block = header.pointee.block { free(block) } else { header.deallocate() }
    }

    /// Frees one of the map's arrays, unless it lies in the map's first allocation.
    private func freeArray<T>(_ array: UnsafeMutablePointer<T>) {
        let address = UnsafeMutableRawPointer(array)
        if let block = header.pointee.block, address >= block, address < block + header.pointee.blockBytes { return }
        free(address)
    }

    /// Zeroed memory from calloc: the kernel supplies large blocks already zero.
    private static func zeroed<T>(_ n: Int) -> UnsafeMutablePointer<T> {
        guard let raw = calloc(max(n, 1), MemoryLayout<T>.stride) else { fatalError("out of memory for a page map of \(n) entries") }
        return raw.bindMemory(to: T.self, capacity: max(n, 1))
    }

    /// Memory from malloc, for what is written before it is read.
    private static func uninitialized<T>(_ n: Int) -> UnsafeMutablePointer<T> {
        guard let raw = malloc(max(n, 1) * MemoryLayout<T>.stride) else { fatalError("out of memory for a page map of \(n) entries") }
        return raw.bindMemory(to: T.self, capacity: max(n, 1))
    }

    /// A zeroed directory of `n` words, its pages already mapped writable. Why: a directory
    /// is probed (read) before it is written, so each fresh page of one was first mapped to
    /// the kernel's zero page and then copied on its first write, and replacing a present
    /// page flushes the TLB of every CPU the process runs on: an IPI to the thread replaying
    /// the other configuration, per page. Growing the directory was a fifth of the CPU time
    /// between the load and the models on a two-thread storm (perf: do_wp_page ->
    /// smp_call_function_many_cond under addSlot).
    private static func zeroedDirectory(_ n: Int) -> UnsafeMutablePointer<UInt64> {
        let words: UnsafeMutablePointer<UInt64> = zeroed(n)
        mapWritable(UnsafeMutableRawPointer(words), bytes: max(n, 1) * MemoryLayout<UInt64>.stride)
        return words
    }

    /// How many dense keys the directory holds before it grows.
    public var capacity: Int { (header.pointee.mask + 1) / 2 * Self.blockKeys }

    @inline(__always) @usableFromInline
    static func home(_ blockKey: UInt64, _ h: UnsafeMutablePointer<Header>) -> Int {
        Int(truncatingIfNeeded: (blockKey &* 0x9E37_79B9_7F4A_7C15) >> h.pointee.shift)
    }

    @inline(__always) static func blockKey(ofSlot word: UInt64) -> UInt64 { (word >> keyShift) &- 1 }

    /// The directory slot of `blockKey`, or nil.
    @inline(__always) @usableFromInline
    func slotIndex(_ blockKey: UInt64) -> Int? {
        let h = header
        let slots = h.pointee.slots, mask = h.pointee.mask
        let tag = (blockKey &+ 1) << Self.keyShift
        var i = Self.home(blockKey, h)
        while true {
            let s = slots[i]
            if s & Self.tagBits == tag { return i }
            if s == 0 { return nil }
            i = (i &+ 1) & mask
        }
    }

    /// The value stored for `key`, or 0 when absent (stored values are never 0).
    @inline(__always)
    public func get(_ key: UInt64) -> UInt8 {
        guard key < Self.keyLimit else { return 0 }
        let h = header
        let slots = h.pointee.slots, mask = h.pointee.mask
        let bk = key >> Self.blockShift
        let tag = (bk &+ 1) << Self.keyShift
        var i = Self.home(bk, h)
        while true {
            let s = slots[i]
            if s & Self.tagBits == tag {
                if s & Self.uniform != 0 { return UInt8(truncatingIfNeeded: s) }
                if s & Self.oneValued != 0 {
                    return h.pointee.info[i] >> (key & 63) & 1 != 0 ? UInt8(truncatingIfNeeded: s) : 0
                }
                return h.pointee.pool[Int(truncatingIfNeeded: h.pointee.info[i] >> 8) << 6 | Int(key & 63)]
            }
            if s == 0 { return 0 }
            i = (i &+ 1) & mask
        }
    }

    @inline(__always)
    public func contains(_ key: UInt64) -> Bool { get(key) != 0 }

    /// Asks for the directory lines where `key`'s block is looked up first, without
    /// waiting for them: a lookup a few keys later then finds them cached.
    @inline(__always)
    public func prefetchDirectory(_ key: UInt64) {
        let h = header
        let i = Self.home(key >> Self.blockShift, h)
        faultline_prefetch(h.pointee.directory + (i &<< 1))
    }

    /// The second step, once the directory lines have had time to arrive: asks for the
    /// line of `key`'s value if its block is mixed (the others need no more lines) and in
    /// its home slot.
    @inline(__always)
    public func prefetchValue(_ key: UInt64) {
        let h = header
        // No mixed block, no line to ask for: the directory word's load below would only
        // wait for the line the directory prefetch asked for (on random pages over 8 GiB,
        // whose blocks are all one-valued, a fifth of the fault loop's samples).
        guard h.pointee.poolUsed != h.pointee.freeCount else { return }
        let bk = key >> Self.blockShift
        let i = Self.home(bk, h)
        let s = h.pointee.slots[i]
        guard s & Self.tagBits == (bk &+ 1) << Self.keyShift, s & (Self.uniform | Self.oneValued) == 0 else { return }
        faultline_prefetch(h.pointee.pool + (Int(truncatingIfNeeded: h.pointee.info[i] >> 8) << 6))
    }

    /// The bits of a block's keys lo..<hi (0 <= lo <= hi <= 64).
    @inline(__always) private static func keyBits(_ lo: Int, _ hi: Int) -> UInt64 {
        (hi == blockKeys ? .max : (UInt64(1) << hi) - 1) & ~((UInt64(1) << lo) - 1)
    }

    @inline(__always) private func isUniform(_ si: Int) -> Bool { header.pointee.slots[si] & Self.uniform != 0 }
    @inline(__always) private func isOneValued(_ si: Int) -> Bool { header.pointee.slots[si] & Self.oneValued != 0 }
    @inline(__always) private func isMixed(_ si: Int) -> Bool {
        header.pointee.slots[si] & (Self.uniform | Self.oneValued) == 0
    }

    @inline(__always) private func population(_ si: Int) -> Int {
        if isUniform(si) { return Self.blockKeys }
        if isOneValued(si) { return header.pointee.info[si].nonzeroBitCount }
        return Int(header.pointee.info[si] & 0xFF)
    }

    /// Gives slot `si` its form and value (a mixed block's value bits stay 0).
    @inline(__always) private func setForm(_ si: Int, _ form: UInt64, _ value: UInt8) {
        let s = header.pointee.slots[si]
        header.pointee.slots[si] = s & Self.tagBits | form | (form == 0 ? 0 : UInt64(value))
    }

    /// A uniform block becomes one-valued with all 64 keys: the form a key can leave
    /// without the block needing the pool.
    @inline(__always) private func uniformToOneValued(_ si: Int) {
        setForm(si, Self.oneValued, UInt8(truncatingIfNeeded: header.pointee.slots[si]))
        header.pointee.info[si] = .max
    }

    /// The 64 values of mixed block `si`.
    @inline(__always) private func values(_ si: Int) -> UnsafeMutablePointer<UInt8> {
        header.pointee.pool + Int(truncatingIfNeeded: header.pointee.info[si] >> 8) * Self.blockKeys
    }

    /// Stores `value` (non-zero) for `key` (below `keyLimit`); returns the previous value or 0.
    @discardableResult
    public func set(_ key: UInt64, _ value: UInt8) -> UInt8 {
        precondition(value != 0 && key < Self.keyLimit, "PageMap values are non-zero and keys below 2^56")
        let bk = key >> Self.blockShift
        let si = slotIndex(bk) ?? addSlot(bk)
        let h = header
        if isUniform(si) {
            let old = UInt8(truncatingIfNeeded: h.pointee.slots[si])
            if old == value { return old }
            expand(si)
        } else if isOneValued(si) {
            let bit = UInt64(1) << (key & 63)
            let mask = h.pointee.info[si], current = UInt8(truncatingIfNeeded: h.pointee.slots[si])
            // The block stays one-valued when the value is its own, or no other key holds it.
            if value == current || mask & ~bit == 0 {
                let old = mask & bit != 0 ? current : 0
                if old == 0 { h.pointee.count += 1 }
                if mask | bit == .max {
                    setForm(si, Self.uniform, value)
                    h.pointee.info[si] = UInt64(Self.blockKeys)
                } else {
                    setForm(si, Self.oneValued, value)
                    h.pointee.info[si] = mask | bit
                }
                return old
            }
            expand(si)
        }
        let values = self.values(si)
        let old = values[Int(key & 63)]
        values[Int(key & 63)] = value
        if old == 0 {
            h.pointee.info[si] += 1
            h.pointee.count += 1
        }
        if population(si) == Self.blockKeys { compressIfUniform(si) }
        return old
    }

    /// Stores `value` (non-zero) for each key of [low, low + n) that is absent; returns how
    /// many were present, which keep their values. A block at a time where it can: a block
    /// new to the map, full, or one-valued with `value` takes them in one step (an mremap
    /// that moved 2,000 pages, or a huge page split into 512, took a probe for each key and
    /// a set for each absent one: a third of mapping_churn's address-space work, perf).
    @discardableResult
    public func fillAbsent(_ low: UInt64, _ n: Int, _ value: UInt8) -> Int {
        precondition(value != 0 && n >= 0 && low < Self.keyLimit && UInt64(n) <= Self.keyLimit - low,
                     "PageMap values are non-zero and keys below 2^56")
        let h = header
        let end = low + UInt64(n)
        var present = 0
        var key = low
        while key < end {
            let bk = key >> Self.blockShift
            let blockEnd = min(end, (bk + 1) << Self.blockShift)
            let span = blockEnd - key
            let mask: UInt64 = span == 64 ? .max : ((UInt64(1) << span) - 1) << (key & 63)
            if let si = slotIndex(bk) {
                let s = h.pointee.slots[si]
                if s & Self.uniform != 0 {
                    present += mask.nonzeroBitCount   // every key is there
                } else if s & Self.oneValued != 0 && UInt8(truncatingIfNeeded: s) == value {
                    // The keys filled take the value the others share.
                    let held = h.pointee.info[si]
                    present += (held & mask).nonzeroBitCount
                    h.pointee.count += (mask & ~held).nonzeroBitCount
                    let keys = held | mask
                    if keys == .max {
                        setForm(si, Self.uniform, value)
                        h.pointee.info[si] = UInt64(Self.blockKeys)
                    } else {
                        h.pointee.info[si] = keys
                    }
                } else {
                    // Mixed, or of another value (which takes the pool at the first key
                    // filled): key by key.
                    for k in key..<blockEnd {
                        if get(k) != 0 { present += 1 } else { set(k, value) }
                    }
                }
            } else {
                let si = addSlot(bk)
                h.pointee.count += mask.nonzeroBitCount
                if mask == .max {
                    setForm(si, Self.uniform, value)
                    h.pointee.info[si] = UInt64(Self.blockKeys)
                } else {
                    setForm(si, Self.oneValued, value)
                    h.pointee.info[si] = mask
                }
            }
            key = blockEnd
        }
        return present
    }

    /// Removes `key`; returns its value or 0 when absent.
    @discardableResult
    public func remove(_ key: UInt64) -> UInt8 {
        let old = removeKey(key)
        if old != 0 { shrinkIfSparse() }
        return old
    }

    private func removeKey(_ key: UInt64) -> UInt8 {
        guard key < Self.keyLimit, let si = slotIndex(key >> Self.blockShift) else { return 0 }
        if isUniform(si) { uniformToOneValued(si) }
        if isOneValued(si) {
            let bit = UInt64(1) << (key & 63)
            guard header.pointee.info[si] & bit != 0 else { return 0 }
            header.pointee.info[si] &= ~bit
            let old = UInt8(truncatingIfNeeded: header.pointee.slots[si])
            dropped(si, 1)
            return old
        }
        let values = self.values(si)
        let old = values[Int(key & 63)]
        guard old != 0 else { return 0 }
        values[Int(key & 63)] = 0
        dropped(si, 1)
        return old
    }

    /// Accounts for `n` keys of slot `si` removed (a mixed block's values zeroed, a
    /// one-valued block's bits cleared); frees the slot when it empties.
    private func dropped(_ si: Int, _ n: Int) {
        let h = header
        h.pointee.count -= n
        if isMixed(si) { h.pointee.info[si] -= UInt64(n) }
        if population(si) == 0 { removeSlot(si) }
    }

    /// Removes the whole block in slot `si`.
    private func dropBlock(_ si: Int) {
        header.pointee.count -= population(si)
        removeSlot(si)
    }

    /// Gives a uniform or one-valued block its 64 values in the pool.
    private func expand(_ si: Int) {
        let h = header
        let value = UInt8(truncatingIfNeeded: h.pointee.slots[si])
        let mask = isUniform(si) ? UInt64.max : h.pointee.info[si]
        let block = takePoolBlock()
        let values = h.pointee.pool + Int(block) * Self.blockKeys
        var m = mask
        while m != 0 {
            values[m.trailingZeroBitCount] = value
            m &= m &- 1
        }
        setForm(si, 0, 0)
        h.pointee.info[si] = UInt64(block) << 8 | UInt64(mask.nonzeroBitCount)
    }

    /// A full block whose values are all equal goes back to its directory word alone.
    private func compressIfUniform(_ si: Int) {
        let h = header
        guard isMixed(si) else { return }
        let values = self.values(si)
        let first = values[0]
        for j in 1..<Self.blockKeys where values[j] != first { return }
        h.pointee.free[h.pointee.freeCount] = UInt32(truncatingIfNeeded: h.pointee.info[si] >> 8)
        h.pointee.freeCount += 1
        setForm(si, Self.uniform, first)
        h.pointee.info[si] = UInt64(Self.blockKeys)
    }

    /// A zeroed pool block: a freed one, else the next unused (growing the pool).
    private func takePoolBlock() -> UInt32 {
        let h = header
        let b: UInt32
        if h.pointee.freeCount > 0 {
            h.pointee.freeCount -= 1
            b = h.pointee.free[h.pointee.freeCount]
        } else {
            if h.pointee.poolUsed == h.pointee.poolBlocks { growPool() }
            h.pointee.poolUsed += 1
            b = UInt32(h.pointee.poolUsed - 1)
        }
        (h.pointee.pool + Int(b) * Self.blockKeys).update(repeating: 0, count: Self.blockKeys)
        return b
    }

    /// A new block for `blockKey`, one-valued with no key yet (the caller sets one at
    /// once: no block stays empty); returns its directory slot.
    private func addSlot(_ blockKey: UInt64) -> Int {
        let h = header
        if (h.pointee.slotsUsed + 1) * 2 > h.pointee.mask + 1 { growDirectory() }
        h.pointee.slotsUsed += 1
        var i = Self.home(blockKey, h)
        while h.pointee.slots[i] != 0 { i = (i &+ 1) & h.pointee.mask }
        h.pointee.slots[i] = (blockKey &+ 1) << Self.keyShift | Self.oneValued
        h.pointee.info[i] = 0
        return i
    }

    /// Frees slot `si` (and its pool block) and closes the hole in its probe run.
    private func removeSlot(_ si: Int) {
        let h = header
        let slots = h.pointee.slots, info = h.pointee.info, mask = h.pointee.mask
        if slots[si] & (Self.uniform | Self.oneValued) == 0 {
            h.pointee.free[h.pointee.freeCount] = UInt32(truncatingIfNeeded: info[si] >> 8)
            h.pointee.freeCount += 1
        }
        h.pointee.slotsUsed -= 1
        // Backward shift: move later members of the run into the hole unless their home
        // lies cyclically in (hole, j].
        var hole = si
        var j = (si &+ 1) & mask
        while slots[j] != 0 {
            let home = Self.home(Self.blockKey(ofSlot: slots[j]), h)
            let inRange = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !inRange {
                slots[hole] = slots[j]
                info[hole] = info[j]
                hole = j
            }
            j = (j &+ 1) & mask
        }
        slots[hole] = 0
        info[hole] = 0
    }

    private func growDirectory() { rehash(size: (header.pointee.mask + 1) * 2) }

    /// A directory left mostly empty by removals (a process that held gigabytes, then let
    /// them go) is made smaller: a walk of the whole directory, which a removal over a wide
    /// range makes, and a fork's copy of it, cost its size, not what it holds. Called at the
    /// end of a removal, never during one (a walk in place reads slots by position).
    private func shrinkIfSparse(floor: Int = smallestShrunk) {
        let h = header
        let size = h.pointee.mask + 1
        guard size > floor, h.pointee.slotsUsed * 16 < size else { return }
        var smaller = 16
        while smaller < h.pointee.slotsUsed * 4 { smaller <<= 1 }
        rehash(size: smaller)
    }

    static let smallestShrunk = 1024

    /// The directory at `size` slots (a power of two, more than twice the slots in use).
    private func rehash(size: Int) {
        let h = header
        let oldDirectory = h.pointee.directory
        let old = h.pointee.slots, oldInfo = h.pointee.info, oldSize = h.pointee.mask + 1
        h.pointee.directory = Self.zeroedDirectory(size * 2)
        let slots = h.pointee.slots, info = h.pointee.info
        h.pointee.mask = size - 1
        h.pointee.shift = UInt64(64 - size.trailingZeroBitCount)
        for i in 0..<oldSize where old[i] != 0 {
            var j = Self.home(Self.blockKey(ofSlot: old[i]), h)
            while slots[j] != 0 { j = (j &+ 1) & (size - 1) }
            slots[j] = old[i]
            info[j] = oldInfo[i]
        }
        freeArray(oldDirectory)
    }

    private func growPool() {
        let h = header
        let blocks = h.pointee.poolBlocks * 2
        let pool: UnsafeMutablePointer<UInt8> = Self.zeroed(blocks * Self.blockKeys)
        pool.update(from: h.pointee.pool, count: h.pointee.poolUsed * Self.blockKeys)
        freeArray(h.pointee.pool)
        h.pointee.pool = pool
        let freeList: UnsafeMutablePointer<UInt32> = Self.zeroed(blocks)
        freeList.update(from: h.pointee.free, count: h.pointee.freeCount)
        freeArray(h.pointee.free)
        h.pointee.free = freeList
        h.pointee.poolBlocks = blocks
    }

    public func removeAll() {
        let h = header
        h.pointee.directory.update(repeating: 0, count: (h.pointee.mask + 1) * 2)
        h.pointee.slotsUsed = 0
        h.pointee.poolUsed = 0
        h.pointee.freeCount = 0
        h.pointee.count = 0
    }

    /// Calls `body` with each key of the block in slot `si` and its value.
    @inline(__always)
    private func forEachKey(_ si: Int, _ body: (UInt64, UInt8) -> Void) {
        let s = header.pointee.slots[si]
        let first = Self.blockKey(ofSlot: s) << Self.blockShift
        if s & Self.uniform != 0 {
            let v = UInt8(truncatingIfNeeded: s)
            for j in 0..<UInt64(Self.blockKeys) { body(first | j, v) }
            return
        }
        if s & Self.oneValued != 0 {
            let v = UInt8(truncatingIfNeeded: s)
            var m = header.pointee.info[si]
            while m != 0 {
                body(first | UInt64(m.trailingZeroBitCount), v)
                m &= m &- 1
            }
            return
        }
        // Eight values a load, skipping empty words (a byte at a time, this loop was 40% of
        // fork's own time in a replay of 1,000 forks, perf annotate).
        let values = self.values(si)
        let raw = UnsafeRawPointer(values)
        for w in 0..<(Self.blockKeys / 8) {
            var word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self))
            while word != 0 {
                let j = w * 8 + word.trailingZeroBitCount / 8
                body(first | UInt64(j), values[j])
                word &= ~(UInt64(0xFF) << UInt64((j & 7) * 8))
            }
        }
    }

    /// The occupied slots with block numbers in [low, high], by block number.
    private func sortedSlots(_ low: UInt64 = 0, _ high: UInt64 = .max) -> [(blockKey: UInt64, slot: Int)] {
        let h = header
        var found: [(blockKey: UInt64, slot: Int)] = []
        for i in 0...h.pointee.mask where h.pointee.slots[i] != 0 {
            let bk = Self.blockKey(ofSlot: h.pointee.slots[i])
            if bk >= low && bk <= high { found.append((bk, i)) }
        }
        return found.sorted { $0.blockKey < $1.blockKey }
    }

    /// Calls `body` for every entry, in key order. The map must not change during the walk.
    public func forEach(_ body: (UInt64, UInt8) -> Void) {
        for (_, si) in sortedSlots() { forEachKey(si, body) }
    }

    /// Calls `body` with the first key of each block of 64 that holds an entry, in no
    /// particular order (no sort): for walks that ask one thing of a block's range, such
    /// as which page table holds it. The map must not change during the walk.
    public func forEachBlock(_ body: (_ firstKey: UInt64) -> Void) {
        let h = header
        for i in 0...h.pointee.mask where h.pointee.slots[i] != 0 {
            body(Self.blockKey(ofSlot: h.pointee.slots[i]) << Self.blockShift)
        }
    }

    /// Calls `body` for each block held, in no particular order, with its first key and its
    /// keys as bits (bit j for key first + j) with the value they hold: a block of one value
    /// once, a mixed one once for each value in it. The map must not change during the walk.
    public func forEachGroup(_ body: (_ firstKey: UInt64, _ keys: UInt64, _ value: UInt8) -> Void) {
        let h = header
        for i in 0...h.pointee.mask where h.pointee.slots[i] != 0 {
            let s = h.pointee.slots[i]
            let first = Self.blockKey(ofSlot: s) << Self.blockShift
            if s & Self.uniform != 0 {
                body(first, .max, UInt8(truncatingIfNeeded: s))
            } else if s & Self.oneValued != 0 {
                body(first, h.pointee.info[i], UInt8(truncatingIfNeeded: s))
            } else {
                // A pass over the values for each value held (a forked child's block
                // usually holds one or two).
                let values = self.values(i)
                var rest = Self.keys(of: values, holding: nil)
                while rest != 0 {
                    let value = values[rest.trailingZeroBitCount]
                    let keys = Self.keys(of: values, holding: value)
                    body(first, keys, value)
                    rest &= ~keys
                }
            }
        }
    }

    /// Whether some key in [low, high) holds a value `matches` accepts: a probe a block,
    /// one test for a block of one value.
    public func contains(in low: UInt64, _ high: UInt64, where matches: (UInt8) -> Bool) -> Bool {
        guard high > low, count > 0 else { return false }
        var key = low
        while key < high && key < Self.keyLimit {
            let bk = key >> Self.blockShift
            let blockEnd = min(high, (bk + 1) << Self.blockShift)
            if let si = slotIndex(bk) {
                let s = header.pointee.slots[si]
                let lo = Int(key & 63), hi = Int((blockEnd - 1) & 63) + 1
                let inside = Self.keyBits(lo, hi)
                if s & Self.uniform != 0 {
                    if matches(UInt8(truncatingIfNeeded: s)) { return true }
                } else if s & Self.oneValued != 0 {
                    if header.pointee.info[si] & inside != 0 && matches(UInt8(truncatingIfNeeded: s)) { return true }
                } else {
                    let values = self.values(si)
                    for j in lo..<hi where values[j] != 0 && matches(values[j]) { return true }
                }
            }
            key = blockEnd
        }
        return false
    }

    /// The blocks overlapping keys [low, high), ascending: probed one by one when there are
    /// fewer block numbers in the range than blocks in use, else found by a directory walk.
    private func blocks(overlapping low: UInt64, _ high: UInt64) -> [UInt64] {
        let first = low >> Self.blockShift, last = (high - 1) >> Self.blockShift
        if last - first < UInt64(header.pointee.slotsUsed) {
            var found: [UInt64] = []
            var bk = first
            while true {
                if bk < Self.keyLimit >> Self.blockShift, slotIndex(bk) != nil { found.append(bk) }
                if bk == last { break }
                bk += 1
            }
            return found
        }
        // One array, sorted in place (the slots' pairs sorted and mapped to their keys took
        // three allocations each time page tables were freed at a munmap).
        let h = header
        var found: [UInt64] = []
        for i in 0...h.pointee.mask where h.pointee.slots[i] != 0 {
            let bk = Self.blockKey(ofSlot: h.pointee.slots[i])
            if bk >= first && bk <= last { found.append(bk) }
        }
        found.sort()
        return found
    }

    /// The keys in [low, high) with their values, in key order.
    public func entries(in low: UInt64, _ high: UInt64) -> [(UInt64, UInt8)] {
        var found: [(UInt64, UInt8)] = []
        guard high > low, count > 0 else { return found }
        for bk in blocks(overlapping: low, high) {
            forEachKey(slotIndex(bk)!) { k, v in if k >= low && k < high { found.append((k, v)) } }
        }
        return found
    }

    /// Removes every key in [low, high), calling `body` with each removed entry first, in
    /// key order. Unmapping gigabytes costs one pass over the blocks it covers.
    public func removeAll(in low: UInt64, _ high: UInt64, _ body: (UInt64, UInt8) -> Void) {
        removeAll(in: low, high, wholeBlock: { forEachKey($0, body) }, key: body)
    }

    /// Removes every key in [low, high), calling `body` with each value removed and how
    /// many keys held it, in no particular order: a block of one value once, with 64
    /// (freeing a process's gigabytes one page at a time was a tenth of a 2M-fault replay's
    /// model, perf).
    public func removeAll(in low: UInt64, _ high: UInt64, runs body: (_ value: UInt8, _ keys: Int) -> Void) {
        removeAll(in: low, high, inKeyOrder: false, wholeBlock: { si in
            if !isMixed(si) {
                body(UInt8(truncatingIfNeeded: header.pointee.slots[si]), population(si))
            } else {
                forEachKey(si) { _, v in body(v, 1) }
            }
        }, runsOfOneValue: true, partOfOneValue: body, key: { _, v in body(v, 1) })
    }

    /// The walk both removals make: `wholeBlock` for a block wholly inside the range,
    /// before it goes; `key` for each key removed from a block partly inside.
    @inline(__always)
    private func removeAll(in low: UInt64, _ high: UInt64, inKeyOrder: Bool = true,
                           wholeBlock: (_ slot: Int) -> Void, runsOfOneValue: Bool = false, partOfOneValue: (UInt8, Int) -> Void = { _, _ in },
                           key body: (UInt64, UInt8) -> Void) {
        guard high > low, count > 0 else { return }
        defer { shrinkIfSparse() }
        let first = low >> Self.blockShift, last = (high - 1) >> Self.blockShift
        if last - first < UInt64(header.pointee.slotsUsed) {
            // Few block numbers: each probed in turn, with no list of them made (a munmap of
            // a few pages asks for one or two; the list's allocation was most of the cost).
            var bk = first
            while true {
                if bk < Self.keyLimit >> Self.blockShift, let si = slotIndex(bk) {
                    removeBlock(bk, si, in: low, high, wholeBlock: wholeBlock, runsOfOneValue: runsOfOneValue, partOfOneValue: partOfOneValue, key: body)
                }
                if bk == last { break }
                bk += 1
            }
            return
        }
        if !inKeyOrder {
            // A wide range (the page tables between a munmap's neighbours span gigabytes):
            // the directory walked once in place, with no sorted list of its blocks. A freed
            // slot takes a later member of its probe run (backward shift), so the slot is
            // looked at again; a member moved from the directory's start, already seen, has
            // nothing left in the range.
            let h = header
            var i = 0
            while i <= h.pointee.mask {
                let s = h.pointee.slots[i]
                let bk = Self.blockKey(ofSlot: s)
                guard s != 0, bk >= first, bk <= last else { i += 1; continue }
                removeBlock(bk, i, in: low, high, wholeBlock: wholeBlock, runsOfOneValue: runsOfOneValue, partOfOneValue: partOfOneValue, key: body)
                if h.pointee.slots[i] & Self.tagBits == s & Self.tagBits { i += 1 }
            }
            return
        }
        for bk in blocks(overlapping: low, high) {
            // Slots move as emptied blocks are freed: find each block again.
            guard let si = slotIndex(bk) else { continue }
            removeBlock(bk, si, in: low, high, wholeBlock: wholeBlock, runsOfOneValue: runsOfOneValue, partOfOneValue: partOfOneValue, key: body)
        }
    }

    /// `removeAll`'s work on block `bk`, in slot `si`.
    @inline(__always)
    private func removeBlock(_ bk: UInt64, _ si: Int, in low: UInt64, _ high: UInt64,
                             wholeBlock: (_ slot: Int) -> Void, runsOfOneValue: Bool, partOfOneValue: (UInt8, Int) -> Void,
                             key body: (UInt64, UInt8) -> Void) {
        let first = bk << Self.blockShift
        if first >= low && first | 63 < high {
            wholeBlock(si)
            dropBlock(si)
            return
        }
        // The block's keys inside the range: lo..<hi (a munmap of 16 pages looked at all 64).
        let lo = low > first ? Int(low - first) : 0
        let hi = high < first + UInt64(Self.blockKeys) ? Int(high - first) : Self.blockKeys
        if isUniform(si) { uniformToOneValued(si) }
        if isOneValued(si) {
            let v = UInt8(truncatingIfNeeded: header.pointee.slots[si])
            let inside = Self.keyBits(lo, hi)
            var m = header.pointee.info[si] & inside
            let removed = m.nonzeroBitCount
            if runsOfOneValue {
                // Keys of one value, counted once (a munmap of 16 pages called it 16 times).
                if removed > 0 { partOfOneValue(v, removed) }
                m = 0
            }
            while m != 0 {
                body(first | UInt64(m.trailingZeroBitCount), v)
                m &= m &- 1
            }
            header.pointee.info[si] &= ~inside
            if removed > 0 { dropped(si, removed) }
            return
        }
        let values = self.values(si)
        var removed = 0
        for j in lo..<hi where values[j] != 0 {
            body(first | UInt64(j), values[j])
            values[j] = 0
            removed += 1
        }
        if removed > 0 { dropped(si, removed) }
    }

    /// Replaces the values of slot `si` by `transform`'s, keeping a block uniform or
    /// one-valued where the results allow; returns how many became 0. Those are out of the
    /// block's contents already (values zeroed, bits cleared): the caller settles them
    /// with `dropped`.
    private func transformBlock(_ si: Int, _ transform: (UInt64, UInt8) -> UInt8) -> Int {
        var results = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var zeros = 0
        withUnsafeMutableBytes(of: &results) { raw in
            let out = raw.bindMemory(to: UInt8.self)
            forEachKey(si) { k, v in
                let r = transform(k, v)
                out[Int(k & 63)] = r
                if r == 0 { zeros += 1 }
            }
            if isUniform(si) { uniformToOneValued(si) }
            if isOneValued(si) {
                // Still one value when every key kept got the same result.
                var kept: UInt64 = 0, value: UInt8 = 0, single = true
                var m = header.pointee.info[si]
                while m != 0 {
                    let j = m.trailingZeroBitCount
                    m &= m &- 1
                    guard out[j] != 0 else { continue }
                    if kept != 0 && out[j] != value { single = false }
                    value = out[j]
                    kept |= UInt64(1) << j
                }
                if single {
                    if kept == .max {
                        setForm(si, Self.uniform, value)
                        header.pointee.info[si] = UInt64(Self.blockKeys)
                    } else {
                        if kept != 0 { setForm(si, Self.oneValued, value) }
                        header.pointee.info[si] = kept
                    }
                    return
                }
                expand(si)
            }
            let values = self.values(si)
            for j in 0..<Self.blockKeys where values[j] != 0 { values[j] = out[j] }
        }
        return zeros
    }

    /// A copy with the same layout, each value replaced by `transform`'s (0 drops the
    /// entry). Memcpys and one pass: fork copies millions of pages this way.
    public func copy(transform: (UInt64, UInt8) -> UInt8) -> PageMap {
        copy(transform: transform, updatesKept: false, updatingKept: { $0 })
    }

    /// The same, and each key the copy kept takes `kept`'s value here, in the same pass:
    /// fork write-protects in the parent what the child now shares. (A second walk that
    /// asked the copy for each key was a fifth of a fork's time: a shell loop of 1,000
    /// forks, perf.)
    @inline(__always)
    public func copy(transform: (UInt64, UInt8) -> UInt8, updatingKept kept: (UInt8) -> UInt8) -> PageMap {
        copy(transform: transform, updatesKept: true, updatingKept: kept)
    }

    // (Not an optional closure: that would be escaping, and fork's transform, which reads
    // the parent's address space, then copied that space for every key.)
    @inline(__always)
    private func copy(transform: (UInt64, UInt8) -> UInt8, updatesKept: Bool, updatingKept kept: (UInt8) -> UInt8) -> PageMap {
        let m = duplicate()
        let c = m.header
        let size = header.pointee.mask + 1
        var emptied: [(UInt64, Int)] = []
        for i in 0..<size where c.pointee.slots[i] != 0 {
            guard updatesKept else {
                let zeros = m.transformBlock(i, transform)
                if zeros > 0 { emptied.append((Self.blockKey(ofSlot: c.pointee.slots[i]), zeros)) }
                continue
            }
            var keptKeys: UInt64 = 0
            let zeros = m.transformBlock(i) { k, v in
                let r = transform(k, v)
                if r != 0 { keptKeys |= UInt64(1) << (k & 63) }
                return r
            }
            if zeros > 0 { emptied.append((Self.blockKey(ofSlot: c.pointee.slots[i]), zeros)) }
            // This map's slot i is the same block: its directory has not moved (the copy's
            // emptied blocks are settled after the walk).
            guard keptKeys != 0 else { continue }
            _ = transformBlock(i) { k, v in
                guard keptKeys >> (k & 63) & 1 != 0 else { return v }
                let r = kept(v)
                precondition(r != 0)
                return r
            }
            if population(i) == Self.blockKeys { compressIfUniform(i) }
        }
        // Blocks that lost keys are settled after the walk (freeing a slot moves others).
        for (bk, zeros) in emptied {
            if let si = m.slotIndex(bk) { m.dropped(si, zeros) }
        }
        return m
    }

    /// fork's copy, a block at a time: the copy keeps the keys `kept` marks (asked once for
    /// each block held, with its first key and its keys held as bits, bit j for key
    /// first + j; it answers in the same way), each with `child`'s value for it, and drops
    /// the others; and here each key the copy kept takes `parent`'s value. Neither `child`
    /// nor `parent` may return 0. A block of one value takes a few word operations; a
    /// mixed one goes key by key. (Key by key, fork's test of each page's VMA was 17% of
    /// the instructions of a shell loop's replay, 1,000 forks of an 835-page bash:
    /// callgrind.)
    public func forkCopy(kept: (_ firstKey: UInt64, _ held: UInt64) -> UInt64, child: (UInt8) -> UInt8,
                         parent: (UInt8) -> UInt8) -> PageMap {
        // Sized for what it holds, not for what it once held: the child's copy, and every
        // walk of either directory (an exit's, each later fork's), cost its size. (A shell
        // that once read 100,000 lines kept a 1,024-slot directory for 20 blocks, and each
        // of its children walked it and zeroed it again: callgrind.)
        shrinkIfSparse(floor: 16)
        let m = duplicate()
        let c = m.header
        var emptied: [(UInt64, Int)] = []
        for i in 0...c.pointee.mask where c.pointee.slots[i] != 0 {
            let bk = Self.blockKey(ofSlot: c.pointee.slots[i])
            let held = heldKeys(i)
            let bits = kept(bk << Self.blockShift, held)   // (its bits for keys not held are not read)
            let zeros = m.keepOnly(i, bits, child)
            if zeros > 0 { emptied.append((bk, zeros)) }
            // This map's slot i is the same block: its directory has not moved (the copy's
            // emptied blocks are settled after the walk).
            if bits != 0 { rewrite(i, bits, parent) }
        }
        for (bk, zeros) in emptied {
            if let si = m.slotIndex(bk) { m.dropped(si, zeros) }
        }
        return m
    }

    /// The keys slot `si` holds, as bits.
    private func heldKeys(_ si: Int) -> UInt64 {
        let s = header.pointee.slots[si]
        if s & Self.uniform != 0 { return .max }
        if s & Self.oneValued != 0 { return header.pointee.info[si] }
        return Self.keys(of: values(si), holding: nil)
    }

    /// The keys of a mixed block's 64 values that hold `value` (nil: any value), as bits: an
    /// 8-byte word at a time, each byte's test gathered into a bit by a multiply. (A byte
    /// at a time, asking a forked child's blocks which keys they held, and by value, was
    /// over a third of an exit's instructions: callgrind, a shell loop of 1,000 processes.)
    @inline(__always)
    static func keys(of values: UnsafeMutablePointer<UInt8>, holding value: UInt8?) -> UInt64 {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F, spread: UInt64 = 0x0101_0101_0101_0101
        let pattern = value.map { UInt64($0) &* spread } ?? 0
        let raw = UnsafeRawPointer(values)
        var keys: UInt64 = 0
        for w in 0..<(blockKeys / 8) {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self)) ^ pattern
            // The top bit of each byte that is not 0 (exactly: no borrow crosses bytes).
            let nonZero = ((word & low7) &+ low7 | word) & ~low7
            // Gathered: the top bit of byte i lands on bit 56 + i.
            let bits = ((nonZero >> 7) &* 0x0102_0408_1020_4080) >> 56
            keys |= (value == nil ? bits : ~bits & 0xFF) << UInt64(w * 8)
        }
        return keys
    }

    /// A map with this one's storage copied: the same directory, pool and free list.
    private func duplicate() -> PageMap {
        let h = header
        let m = PageMap(capacity: 1)
        let c = m.header
        m.freeArray(c.pointee.directory); m.freeArray(c.pointee.pool); m.freeArray(c.pointee.free)
        let size = h.pointee.mask + 1
        let ownBlock = c.pointee.block, ownBlockBytes = c.pointee.blockBytes
        c.pointee = h.pointee
        c.pointee.block = ownBlock
        c.pointee.blockBytes = ownBlockBytes
        // Only what is copied is ever read: a pool block is zeroed when it is taken, and
        // the free list is read below its count. (Zeroed first, a fork's copy of a page map
        // spent as long in memset as in memcpy: callgrind, 1,000 forks of bash.)
        c.pointee.directory = Self.uninitialized(size * 2)
        c.pointee.directory.update(from: h.pointee.directory, count: size * 2)
        c.pointee.pool = Self.uninitialized(h.pointee.poolBlocks * Self.blockKeys)
        c.pointee.pool.update(from: h.pointee.pool, count: h.pointee.poolUsed * Self.blockKeys)
        c.pointee.free = Self.uninitialized(h.pointee.poolBlocks)
        c.pointee.free.update(from: h.pointee.free, count: h.pointee.freeCount)
        return m
    }

    /// Keeps the keys of slot `si` that `bits` marks, each with `transform`'s value, and
    /// zeroes the others; returns how many it zeroed, which the caller settles with
    /// `dropped` (as `transformBlock`'s).
    private func keepOnly(_ si: Int, _ bits: UInt64, _ transform: (UInt8) -> UInt8) -> Int {
        let h = header
        let s = h.pointee.slots[si]
        if s & (Self.uniform | Self.oneValued) != 0 {
            let held = s & Self.uniform != 0 ? UInt64.max : h.pointee.info[si]
            let keys = held & bits
            if keys == .max {
                setForm(si, Self.uniform, nonZero(transform(UInt8(truncatingIfNeeded: s))))
                h.pointee.info[si] = UInt64(Self.blockKeys)
            } else {
                // With no keys left it stays one-valued and empty until `dropped` frees it.
                setForm(si, Self.oneValued, keys == 0 ? UInt8(truncatingIfNeeded: s) : nonZero(transform(UInt8(truncatingIfNeeded: s))))
                h.pointee.info[si] = keys
            }
            return (held & ~bits).nonzeroBitCount
        }
        let values = self.values(si)
        var zeros = 0
        for j in 0..<Self.blockKeys where values[j] != 0 {
            if bits >> UInt64(j) & 1 != 0 {
                values[j] = nonZero(transform(values[j]))
            } else {
                values[j] = 0
                zeros += 1
            }
        }
        return zeros
    }

    /// Gives each key of slot `si` that `bits` marks `transform`'s value (none absent).
    private func rewrite(_ si: Int, _ bits: UInt64, _ transform: (UInt8) -> UInt8) {
        let h = header
        let s = h.pointee.slots[si]
        let form = s & (Self.uniform | Self.oneValued)
        if form != 0 {
            let held = form == Self.uniform ? UInt64.max : h.pointee.info[si]
            let keys = held & bits
            let old = UInt8(truncatingIfNeeded: s), new = nonZero(transform(old))
            guard keys != 0, new != old else { return }
            // Every key of the block changes alike: it keeps its form.
            if keys == held { return setForm(si, form, new) }
            expand(si)
        }
        let values = self.values(si)
        var m = bits
        while m != 0 {
            let j = m.trailingZeroBitCount
            m &= m &- 1
            if values[j] != 0 { values[j] = nonZero(transform(values[j])) }
        }
        if population(si) == Self.blockKeys { compressIfUniform(si) }
    }

    @inline(__always) private func nonZero(_ value: UInt8) -> UInt8 {
        precondition(value != 0, "PageMap values are non-zero")
        return value
    }

    /// Replaces every value in place (no entry moves).
    public func updateAll(_ transform: (UInt64, UInt8) -> UInt8) {
        let h = header
        for i in 0...h.pointee.mask where h.pointee.slots[i] != 0 {
            let zeros = transformBlock(i) { k, v in
                let r = transform(k, v)
                precondition(r != 0)
                return r
            }
            assert(zeros == 0)
            if population(i) == Self.blockKeys { compressIfUniform(i) }
        }
    }
}
