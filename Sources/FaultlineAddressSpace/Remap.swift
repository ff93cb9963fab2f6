// mremap(2), as mm/mremap.c does it, given the call's arguments and its result. The
// kernel's cases, in the order it tries them:
// - old length 0 (a shared mapping only): a second mapping of the same pages at the new
//   address; the old one stays.
// - MREMAP_FIXED (and MREMAP_DONTUNMAP, which always moves): whatever is at the new range
//   is unmapped first; a shrink unmaps the old tail; then the rest moves.
// - not moved, smaller: the tail is unmapped in place.
// - not moved, larger: the VMA is extended in place.
// - moved (MREMAP_MAYMOVE, could not grow in place): the VMA moves whole to the new address
//   and grows there.
// A move takes the pages along (move_page_tables). The old range is unmapped, except with
// MREMAP_DONTUNMAP, which leaves it mapped and empty.

import FaultlineCore

/// One successful mremap.
public struct RemapCall: Sendable, Equatable {
    public var oldAddress: UInt64
    public var oldLength: UInt64
    public var newLength: UInt64
    /// MREMAP_* (0 where a log did not keep them).
    public var flags: UInt32
    /// What the call returned: where the mapping is now.
    public var newAddress: UInt64

    public init(oldAddress: UInt64, oldLength: UInt64, newLength: UInt64, flags: UInt32, newAddress: UInt64) {
        self.oldAddress = oldAddress; self.oldLength = oldLength; self.newLength = newLength
        self.flags = flags; self.newAddress = newAddress
    }

    public var moves: Bool { newAddress != oldAddress }
    public var keepsOldRange: Bool { flags & RemapFlags.dontUnmap != 0 }
}

/// What an mremap did, for users that keep pages.
public struct RemapEffect: Sendable, Equatable {
    /// Memory gone: an old tail, what MREMAP_FIXED replaced, the old range after a move.
    public var unmapped: [VMA] = []
    /// Pages that moved with their memory: from `from` to `to`, `length` bytes.
    public var moved: (from: UInt64, to: UInt64, length: UInt64)?
    /// The old range left mapped and empty (MREMAP_DONTUNMAP): its pages moved away.
    public var emptied: (start: UInt64, end: UInt64)?
    /// New, empty memory: what a mapping grew by, or a duplicate of a shared mapping.
    public var grown: (start: UInt64, end: UInt64)?

    public static func == (a: RemapEffect, b: RemapEffect) -> Bool {
        a.unmapped == b.unmapped && a.moved.map { [$0.from, $0.to, $0.length] } == b.moved.map { [$0.from, $0.to, $0.length] }
            && a.emptied.map { [$0.start, $0.end] } == b.emptied.map { [$0.start, $0.end] }
            && a.grown.map { [$0.start, $0.end] } == b.grown.map { [$0.start, $0.end] }
    }
}

extension AddressSpace {
    /// What an in-place shrink frees, known before the call returns: [old + new, old + old
    /// length). nil when the call could move or does not shrink. The recorder takes this out
    /// at the call's entry, so a mapping another thread makes there meanwhile survives.
    public func tailFreedInPlace(oldAddress: UInt64, oldLength: UInt64, newLength: UInt64, flags: UInt32)
        -> (start: UInt64, end: UInt64)? {
        guard flags & (RemapFlags.fixed | RemapFlags.dontUnmap) == 0,
              let old = range(oldAddress, oldLength) else { return nil }
        let new = pageRoundUp(newLength)
        guard new > 0, new < old.end - old.start else { return nil }
        return (old.start + new, old.end)
    }

    /// Applies a successful mremap. `source`: the pieces over the old range the call resized
    /// or moved, as they were at the call's entry (the recorder applies the call at its exit, and by then
    /// another thread may have mapped something over the old range, which stays); without
    /// it, whatever is at the old address now.
    @discardableResult
    public mutating func remap(_ call: RemapCall, source atEntry: [VMA]? = nil) -> RemapEffect {
        let onlySerials = atEntry.map { Set($0.map(\.serial)) }
        var effect = RemapEffect()
        guard call.oldAddress & (pageSize - 1) == 0, call.newAddress & (pageSize - 1) == 0,
              call.oldAddress < Self.addressLimit, call.newAddress < Self.addressLimit else { return effect }
        let oldLength = min(pageRoundUp(call.oldLength), Self.addressLimit - call.oldAddress)
        let newLength = min(pageRoundUp(call.newLength), Self.addressLimit - call.newAddress)
        let old = call.oldAddress, new = call.newAddress
        guard let source = index(containing: old).map({ vmas[$0].slice(old, vmas[$0].end) }) else { return effect }

        if oldLength == 0 {
            // A second mapping of the same shared pages.
            effect.unmapped = cut(new, new + newLength)
            var copy = source.moved(to: new)
            copy.end = new + newLength
            copy.serial = newSerial()
            place(copy)
            effect.grown = (new, new + newLength)
            return effect
        }
        if !call.moves {
            if newLength < oldLength {
                effect.unmapped = cut(old + newLength, old + oldLength, onlySerials: onlySerials)
            } else if newLength > oldLength {
                // vma_expand: the VMA that ends at the old end grows over free addresses.
                let s = old + oldLength, e = old + newLength
                if pieces(s, e).isEmpty, let last = index(containing: s - 1) {
                    var growth = vmas[last].slice(vmas[last].start, s)
                    growth.offset = growth.offset &+ growth.length
                    growth.start = s
                    growth.end = e
                    place(growth)
                    effect.grown = (s, e)
                }
            }
            return effect
        }
        // A move. MREMAP_FIXED first unmaps the destination.
        if call.flags & (RemapFlags.fixed | RemapFlags.dontUnmap) != 0 {
            effect.unmapped += cut(new, new + newLength)
        }
        var moving = oldLength
        if newLength < oldLength {
            effect.unmapped += cut(old + newLength, old + oldLength, onlySerials: onlySerials)
            moving = newLength
        }
        let carried = (atEntry ?? pieces(old, old + moving)).compactMap { v -> VMA? in
            let piece = v.slice(max(v.start, old), min(v.end, old + moving))
            return piece.isEmpty ? nil : piece
        }
        if call.keepsOldRange {
            effect.emptied = (old, old + moving)
        } else {
            cut(old, old + moving, onlySerials: onlySerials)
        }
        // Whatever sits at the destination now (a move without MREMAP_FIXED went to free
        // addresses; a log may say otherwise) gives way.
        effect.unmapped += cut(new, new + max(moving, newLength))
        var lastMoved: VMA?
        for piece in carried {
            let moved = piece.moved(to: new + (piece.start - old))
            place(moved)
            lastMoved = moved
        }
        effect.moved = (old, new, moving)
        if newLength > moving, var growth = lastMoved ?? carried.last.map({ $0.moved(to: new) }) {
            // Moved and grown: the moved VMA extends to the new length.
            let s = new + moving
            growth.offset = growth.offset &+ (s - growth.start)
            growth.start = s
            growth.end = new + newLength
            place(growth)
            effect.grown = (s, new + newLength)
        }
        return effect
    }
}
