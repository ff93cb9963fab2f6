// The page cache of shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS, a shared /dev/zero):
// which of its pages exist. Such an object starts empty and only faults through its
// mappings fill it, so the model knows exactly; and fault-around (do_fault_around ->
// filemap_map_pages) maps only pages that exist. Assuming every page cached, as the model
// does for files, a read of each page of fresh shared memory took one fault in 16 where the
// kernel takes one each (64 MiB read every 4 KiB: 16,384 faults, the model said 1,057).
//
// MADV_REMOVE takes pages out of it (a hole punched in the object). (It frees them from
// other processes' mappings too; the model unmaps them from the caller's only.)
//
// Objects are told apart by inode: shmem numbers them with get_next_ino(), which comes back
// to a number only after 2^32 others, so no object inherits another's pages. memfd, SysV shm
// and tmpfs files are not tracked: write() and other processes fill those unseen, and the
// model takes their pages as cached, as a file's.

import FaultlineAddressSpace

struct ShmemCache {
    private var objects: [UInt64: PopulatedPages] = [:]

    /// Whether `vma`'s page cache is tracked here.
    @inline(__always)
    static func tracks(_ vma: VMA) -> Bool { vma.flags.contains(.anonymousShmem) && vma.inode != 0 }

    /// The page at `address` of `vma` (a tracked one) is in its object's page cache now.
    mutating func insert(_ vma: VMA, _ address: UInt64, pageShift: Int) {
        let offset = Self.offset(vma, address)
        objects[vma.inode, default: PopulatedPages(pageSize: UInt64(1) << UInt64(pageShift))].insert(offset, offset &+ 1)
    }

    /// The pages `vma` maps left the page cache (MADV_REMOVE punched a hole there).
    mutating func remove(_ vma: VMA) {
        objects[vma.inode]?.remove(Self.offset(vma, vma.start), Self.offset(vma, vma.end))
    }

    /// Whether the page at `address` of `vma` (a tracked one) is in its object's page cache.
    func contains(_ vma: VMA, _ address: UInt64, pageShift: Int) -> Bool {
        objects[vma.inode]?.contains(Self.offset(vma, address)) ?? false
    }

    /// The offset in the object of `address` (clipped to the VMA: a granule page may start
    /// before it).
    private static func offset(_ vma: VMA, _ address: UInt64) -> UInt64 {
        vma.offset &+ (max(address, vma.start) &- vma.start)
    }
}
