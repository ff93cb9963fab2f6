// One process's address space: its VMAs, sorted and disjoint, and the questions asked of
// them. The kernel's rules for changing it (mmap, munmap, mremap, mprotect, madvise, brk,
// fork, exec) are in AddressSpace+Calls.swift and Remap.swift; they exist once, here, for
// the recorder, the reports, the unwinder and the replay model alike.
//
// Hazard: every number given to it may come from a file. Ranges are clipped and lengths
// rounded with saturating arithmetic, so no input can make it trap.

import FaultlineCore

public struct AddressSpace: Sendable {
    /// The base page size of the recorded system: lengths round up to it.
    public let pageSize: UInt64
    public let kernel: KernelBehaviour
    /// Sorted by start, disjoint, none empty.
    public internal(set) var vmas = VMAStore() {
        didSet { lastIndex = -1; otherIndex = -1 }
    }
    /// prctl(PR_SET_THP_DISABLE): kept by fork and by exec.
    public var thpDisable: THPDisable = .none
    /// mlockall(MCL_FUTURE) (mm->def_flags): `locked`, and `lockOnFault` with MCL_ONFAULT,
    /// for memory mapped from now on; neither fork nor exec keeps it.
    public internal(set) var lockFuture: VMAFlags = []
    /// The program break as the last brk(2) returned it; 0 before the first.
    public internal(set) var programBreak: UInt64 = 0
    private var nextSerial: UInt32 = 1
    /// The last VMA `find` hit, and its position: most lookups hit it again, and reading it
    /// back (`self[i]`) then needs no search of the store.
    @usableFromInline var lastIndex = -1
    @usableFromInline var lastVMA = VMA(start: 0, end: 0, prot: 0, backing: .anonymous)
    /// Where in the store the last hit is (valid while `lastIndex` is).
    @usableFromInline var lastLocation = VMAStore.Location(chunk: 0, offset: 0)
    /// The one hit before it: two threads writing two mappings take turns, and each turn
    /// was a binary search (a tenth of a two-thread storm's model time).
    @usableFromInline var otherIndex = -1
    @usableFromInline var otherVMA = VMA(start: 0, end: 0, prot: 0, backing: .anonymous)
    @usableFromInline var otherLocation = VMAStore.Location(chunk: 0, offset: 0)

    /// The highest address a mapping can end at: 2^57 (5-level x86-64, arm64 with 52-bit VAs).
    public static let addressLimit: UInt64 = 1 << 57
    /// How far below a growsDown VMA a fault still grows it. Linux allows growth up to the
    /// stack rlimit, which the recorder does not see; a fault the kernel refused is recorded
    /// as segv anyway, so being generous here misclassifies nothing.
    public static let stackGrowthLimit: UInt64 = 1 << 30
    /// stack_guard_gap: a stack does not grow to within this of the VMA below it (256 pages).
    public static let stackGuardGap: UInt64 = 256 << 12

    public init(pageSize: UInt64 = 4096, kernel: KernelBehaviour = .newest) {
        // A page size from a file: a power of two between 4 KiB and 1 GiB, else 4 KiB.
        self.pageSize = pageSize >= 4096 && pageSize <= 1 << 30 && pageSize & (pageSize - 1) == 0 ? pageSize : 4096
        self.kernel = kernel
    }

    public var isEmpty: Bool { vmas.isEmpty }
    public var count: Int { vmas.count }
    @inlinable public subscript(index: Int) -> VMA { index == lastIndex ? lastVMA : vmas[index] }

    // MARK: lookups

    /// The index of the VMA holding `address`, or nil; remembers the last two hits, so a
    /// run of lookups in one or two VMAs costs a compare or two each.
    @inlinable
    public mutating func find(_ address: UInt64) -> Int? {
        if let hit = cachedHit(address) { return hit }
        return findAndRemember(address)
    }

    @inlinable
    func cachedHit(_ address: UInt64) -> Int? {
        lastIndex >= 0 && address >= lastVMA.start && address < lastVMA.end ? lastIndex : nil
    }

    @usableFromInline
    mutating func findAndRemember(_ address: UInt64) -> Int? {
        let i: Int, hit: VMA, location: VMAStore.Location
        if otherIndex >= 0 && address >= otherVMA.start && address < otherVMA.end {
            (i, hit, location) = (otherIndex, otherVMA, otherLocation)
        } else {
            let found = vmas.locatedFirstEnding(after: address)
            guard let at = found.location else { return nil }
            let v = vmas[at]
            guard v.start <= address else { return nil }
            (i, hit, location) = (found.position, v, at)
        }
        // The hit becomes the last one, and the last one the other.
        (otherIndex, otherVMA, otherLocation) = (lastIndex, lastVMA, lastLocation)
        (lastIndex, lastVMA, lastLocation) = (i, hit, location)
        return i
    }

    /// The index of the VMA holding `address`, without remembering it.
    public func index(containing address: UInt64) -> Int? {
        let i = firstEnding(after: address)
        return i < vmas.count && vmas[i].start <= address ? i : nil
    }

    /// The VMA holding `address`, or the stack that a fault there would grow (as grown).
    public func lookup(_ address: UInt64) -> VMA? {
        if let i = index(containing: address) { return vmas[i] }
        guard let i = stackBelow(address) else { return nil }
        var grown = vmas[i]
        grown.start = address & ~(pageSize - 1)
        return grown
    }

    /// `lookup`, remembering the VMA found as `find` does: for a sweep that asks at every
    /// fault, mostly of the VMA it asked of last.
    public mutating func lookupRemembering(_ address: UInt64) -> VMA? {
        if let i = find(address) { return self[i] }
        return lookup(address)
    }

    /// The growsDown VMA that a fault at `address`, below every part of it, would grow:
    /// the kernel expands the stack down to the page if the gap to the VMA below stays at
    /// least stack_guard_gap (expand_downwards).
    public func stackBelow(_ address: UInt64) -> Int? {
        let i = firstEnding(after: address)
        guard i < vmas.count, vmas[i].flags.contains(.growsDown), vmas[i].start > address,
              vmas[i].start - address <= Self.stackGrowthLimit else { return nil }
        if i > 0, address < vmas[i - 1].end &+ Self.stackGuardGap { return nil }
        return i
    }

    /// Grows the stack VMA at `index` down to the page holding `address`.
    public mutating func growStack(_ index: Int, to address: UInt64) {
        let page = address & ~(pageSize - 1)
        guard vmas.indices.contains(index), page < vmas[index].start else { return }
        vmas[index].offset = vmas[index].offset &- (vmas[index].start - page)
        vmas[index].start = page
    }

    /// The VMAs overlapping [start, end), clipped to it, in address order.
    public func pieces(_ start: UInt64, _ end: UInt64) -> [VMA] {
        guard end > start else { return [] }
        var result: [VMA] = []
        var i = firstEnding(after: start)
        while i < vmas.count && vmas[i].start < end {
            result.append(vmas[i].slice(start, end))
            i += 1
        }
        return result
    }

    /// Whether any VMA overlaps [start, end) (`pieces` without making them).
    public func overlaps(_ start: UInt64, _ end: UInt64) -> Bool {
        guard end > start else { return false }
        let i = firstEnding(after: start)
        return i < vmas.count && vmas[i].start < end
    }

    /// Whether [start, end) lies inside the kernel's VMA that the piece at `index` belongs
    /// to: the piece and the mergeable pieces around it (VMA.mergeable). Walks only as far
    /// as the range needs.
    public func kernelVMACovers(_ index: Int, _ start: UInt64, _ end: UInt64) -> Bool {
        guard vmas.indices.contains(index), start < end else { return false }
        // The piece a fault just found: its location is known.
        if index == lastIndex { return vmas.runCovers(at: lastLocation, start, end) { $0.mergeable(with: $1) } }
        if index == otherIndex { return vmas.runCovers(at: otherLocation, start, end) { $0.mergeable(with: $1) } }
        return vmas.runCovers(index, start, end) { $0.mergeable(with: $1) }
    }

    /// Where the kernel's VMA that the piece at `index` belongs to starts, looking back no
    /// further than `floor` (the answer is then `floor`).
    public func kernelVMAStart(_ index: Int, notBelow floor: UInt64) -> UInt64 {
        guard vmas.indices.contains(index) else { return floor }
        var i = index
        while vmas[i].start > floor, i > 0, vmas[i - 1].mergeable(with: vmas[i]) { i -= 1 }
        return max(vmas[i].start, floor)
    }

    /// The index of the first VMA that starts at or after `address`.
    public func firstStarting(atOrAfter address: UInt64) -> Int? {
        let i = vmas.firstStarting(atOrAfter: address)
        return i < vmas.count ? i : nil
    }

    /// The nearest VMAs wholly below and wholly above `address` (a crash's neighbours).
    public func neighbours(of address: UInt64) -> (below: VMA?, above: VMA?) {
        let i = firstEnding(after: address)
        let below = i > 0 ? vmas[i - 1] : nil
        var j = i
        if j < vmas.count && vmas[j].start <= address { j += 1 }
        return (below, j < vmas.count ? vmas[j] : nil)
    }

    /// The first VMA whose end lies beyond `address`: VMAs are disjoint and sorted, so their
    /// ends are sorted too.
    func firstEnding(after address: UInt64) -> Int {
        vmas.firstEnding(after: address)
    }

    // MARK: the table itself

    /// A serial for a new mapping.
    mutating func newSerial() -> UInt32 {
        defer { nextSerial &+= 1 }
        return nextSerial
    }

    /// Takes [start, end) out of every VMA, splitting those that straddle an edge; with
    /// `onlySerials`, only out of those mappings' pieces. Returns what it took, clipped.
    @discardableResult
    mutating func cut(_ start: UInt64, _ end: UInt64, onlySerials: Set<UInt32>? = nil) -> [VMA] {
        guard end > start else { return [] }
        let first = firstEnding(after: start)
        if onlySerials == nil, let whole = soleVMA(at: first, within: start, end) {
            // The common munmap: one whole mapping, taken out with no pieces to keep.
            vmas.remove(at: first)
            return [whole]
        }
        if onlySerials == nil, first < vmas.count, vmas[first].start <= start, vmas[first].end >= end {
            // The range inside one VMA (ld.so mapping a library's segments over the range
            // it reserved): the VMA keeps its head, its tail or both, changed in place.
            // (Through replaceSubrange, each such mmap built an array of the pieces kept;
            // cut's arrays were a sixth of a shell loop's allocations, callgrind.)
            let v = vmas[first]
            if v.start < start {
                vmas[first] = v.slice(v.start, start)
                if v.end > end { vmas.insert(v.slice(end, v.end), at: first + 1) }
            } else {
                vmas[first] = v.slice(end, v.end)
            }
            return [v.slice(start, end)]
        }
        var last = first
        var kept: [VMA] = [], taken: [VMA] = []
        while last < vmas.count && vmas[last].start < end {
            let v = vmas[last]
            last += 1
            if let onlySerials, !onlySerials.contains(v.serial) { kept.append(v); continue }
            if v.start < start { kept.append(v.slice(v.start, start)) }
            taken.append(v.slice(start, end))
            if v.end > end { kept.append(v.slice(end, v.end)) }
        }
        if !taken.isEmpty { vmas.replaceSubrange(first..<last, with: kept) }
        return taken
    }

    /// Puts `vma` in where nothing overlaps it (the caller made room), joined to a piece on
    /// either side that it carries on or that carries it on (VMA.continues).
    mutating func place(_ vma: VMA) {
        guard !vma.isEmpty else { return }
        let i = firstStarting(atOrAfter: vma.start) ?? vmas.count
        vmas.insert(vma, at: i)
        coalesce(i..<(i + 1))
    }

    /// Joins each piece of `range`, and the pieces on either side of it, to the one after it
    /// wherever that one carries it on (VMA.continues).
    mutating func coalesce(_ range: Range<Int>) {
        var i = max(range.lowerBound - 1, 0)
        var last = min(range.upperBound, vmas.count - 1)   // the last piece that may join one before it
        while i < last {
            if vmas[i].continues(into: vmas[i + 1]) {
                vmas[i].end = vmas[i + 1].end
                vmas.remove(at: i + 1)
                last -= 1
            } else {
                i += 1
            }
        }
    }

    /// Applies `change` to the parts of VMAs inside [start, end), splitting at the edges.
    mutating func update(_ start: UInt64, _ end: UInt64, _ change: (inout VMA) -> Void) {
        guard end > start else { return }
        let first = firstEnding(after: start)
        if var whole = soleVMA(at: first, within: start, end) {
            // The common madvise or mprotect: one whole mapping, changed in place.
            change(&whole)
            vmas[first] = whole
            coalesce(first..<(first + 1))
            return
        }
        if first < vmas.count, vmas[first].start <= start, vmas[first].end >= end {
            // Part of one VMA (ld.so's RELRO mprotect): split in place, as `cut` does.
            let v = vmas[first]
            var middle = v.slice(start, end)
            change(&middle)
            let head = v.start < start ? 1 : 0, tail = v.end > end ? 1 : 0
            if head == 1 {
                vmas[first] = v.slice(v.start, start)
                vmas.insert(middle, at: first + 1)
            } else {
                vmas[first] = middle
            }
            if tail == 1 { vmas.insert(v.slice(end, v.end), at: first + head + 1) }
            coalesce(first..<(first + head + 1 + tail))
            return
        }
        var last = first
        var replacement: [VMA] = []
        while last < vmas.count && vmas[last].start < end {
            let v = vmas[last]
            last += 1
            if v.start < start { replacement.append(v.slice(v.start, start)) }
            var middle = v.slice(start, end)
            change(&middle)
            replacement.append(middle)
            if v.end > end { replacement.append(v.slice(end, v.end)) }
        }
        guard first < last else { return }
        vmas.replaceSubrange(first..<last, with: replacement)
        coalesce(first..<(first + replacement.count))   // a change undone (mprotect back) joins the pieces again
    }

    /// The VMA at position `i`, the first ending past `start`, when it is the only one that
    /// overlaps [start, end) and lies wholly inside it: no piece of it is kept apart.
    private func soleVMA(at i: Int, within start: UInt64, _ end: UInt64) -> VMA? {
        guard i < vmas.count else { return nil }
        let v = vmas[i]
        guard v.start >= start, v.end <= end, i + 1 == vmas.count || vmas[i + 1].start >= end else { return nil }
        return v
    }

    /// Keeps only the VMAs `keep` accepts.
    mutating func keep(where keep: (VMA) -> Bool) {
        vmas.removeAll { !keep($0) }
    }

    mutating func removeAllVMAs() { vmas.removeAll() }

    // MARK: arithmetic on untrusted numbers

    /// `length` rounded up to whole pages, saturating.
    public func pageRoundUp(_ length: UInt64) -> UInt64 {
        let (sum, overflow) = length.addingReportingOverflow(pageSize - 1)
        return overflow ? UInt64.max & ~(pageSize - 1) : sum & ~(pageSize - 1)
    }

    /// [address, address + length rounded up to pages), clipped to the address space; nil
    /// when the kernel would refuse it (an address not page aligned) or it is empty.
    public func range(_ address: UInt64, _ length: UInt64) -> (start: UInt64, end: UInt64)? {
        guard address & (pageSize - 1) == 0, address < Self.addressLimit else { return nil }
        let end = min(address.addingReportingOverflow(pageRoundUp(length)).overflow ? UInt64.max : address + pageRoundUp(length),
                      Self.addressLimit)
        return end > address ? (address, end) : nil
    }
}
