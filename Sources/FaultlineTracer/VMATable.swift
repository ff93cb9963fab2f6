// One process's mappings as the recorder knows them, to classify a fault by the memory it
// hit and to turn code addresses into (module, file offset). A new mapping replaces whatever
// it overlaps, as mmap(MAP_FIXED) does.

import FaultlineCore

struct VMA {
    var start: UInt64
    var end: UInt64
    var pageOffset: UInt64
    var module: ModuleID
    var region: MemoryRegionKind
    var isStack: Bool
    /// PROT_EXEC: code can only return into such a mapping.
    var isExecutable: Bool = true
    /// Which insertion made it, kept by the pieces it is split into: tells a mapping apart
    /// from a later one made at the same addresses.
    var serial: UInt64 = 0
}

struct VMATable {
    private(set) var vmas: [VMA] = [] // sorted by start, non-overlapping
    private var nextSerial: UInt64 = 1

    /// Maps `vma` over whatever was there. `keepingSerial` for a piece of a mapping that
    /// already had one (put back, or grown).
    mutating func insert(_ vma: VMA, keepingSerial: Bool = false) {
        guard vma.end > vma.start else { return }
        var vma = vma
        if !keepingSerial {
            vma.serial = nextSerial
            nextSerial += 1
        }
        var result: [VMA] = []
        result.reserveCapacity(vmas.count + 2)
        var inserted = false
        for old in vmas {
            if old.end <= vma.start || old.start >= vma.end {
                if !inserted && old.start >= vma.end { result.append(vma); inserted = true }
                result.append(old)
                continue
            }
            // Keep the parts of the old mapping outside the new one.
            if old.start < vma.start {
                var left = old
                left.end = vma.start
                result.append(left)
            }
            if !inserted { result.append(vma); inserted = true }
            if old.end > vma.end {
                var right = old
                right.pageOffset += vma.end - old.start
                right.start = vma.end
                result.append(right)
            }
        }
        if !inserted { result.append(vma) }
        vmas = result
    }

    /// Inserts `vma` only where nothing is mapped yet (a /proc/PID/maps snapshot must not
    /// replace mappings that perf described with their build-ids).
    mutating func insertWhereUnmapped(_ vma: VMA, keepingSerial: Bool = false) {
        if !vmas.contains(where: { $0.start < vma.end && $0.end > vma.start }) { insert(vma, keepingSerial: keepingSerial) }
    }

    func lookup(_ address: UInt64) -> VMA? {
        var low = 0, high = vmas.count
        while low < high {
            let mid = (low + high) / 2
            if vmas[mid].end <= address { low = mid + 1 } else { high = mid }
        }
        guard low < vmas.count else { return nil }
        let vma = vmas[low]
        if vma.start <= address { return vma }
        // Below the stack: the kernel grows the stack VMA down to meet the access.
        if vma.isStack && vma.start - address < 1 << 30 { return vma }
        return nil
    }

    /// The mappings over [start, end), cut to it: what a munmap or mremap takes away.
    func pieces(_ start: UInt64, _ end: UInt64) -> [VMA] {
        vmas.compactMap { old in
            guard old.end > start, old.start < end else { return nil }
            var piece = old
            if piece.start < start {
                piece.pageOffset += start - piece.start
                piece.start = start
            }
            piece.end = min(piece.end, end)
            return piece
        }
    }

    /// munmap: removes [start, end), splitting mappings that straddle its edges; with
    /// `onlySerial`, only the pieces of that one mapping.
    mutating func remove(_ start: UInt64, _ end: UInt64, onlySerial: UInt64? = nil) {
        guard end > start else { return }
        var result: [VMA] = []
        result.reserveCapacity(vmas.count + 1)
        for old in vmas {
            if old.end <= start || old.start >= end || (onlySerial.map { $0 != old.serial } ?? false) {
                result.append(old)
                continue
            }
            if old.start < start {
                var left = old
                left.end = start
                result.append(left)
            }
            if old.end > end {
                var right = old
                right.pageOffset += end - old.start
                right.start = end
                result.append(right)
            }
        }
        vmas = result
    }

    var isEmpty: Bool { vmas.isEmpty }
    mutating func removeAll() { vmas.removeAll() }
}
