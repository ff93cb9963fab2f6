// One process's address space in the model: its VMAs, which pages are mapped at each page
// size (granule, THP, hugetlb), and which page-table pages exist. Shared by reference
// within one configuration's replay only; never across threads.

/// Bits of a mapped page's state. A page that is not mapped has no entry at all.
public enum PageState {
    public static let present: UInt8 = 0x01
    /// The PTE allows writes; a write to a present page without it is CoW or write-notify.
    public static let writable: UInt8 = 0x02
    /// The shared zero page (or huge zero page): mapped, but no memory of its own.
    public static let zero: UInt8 = 0x04
    /// Counted as this process's anonymous memory (a fork child's inherited pages are not:
    /// the parent already counts them).
    public static let ownsAnon: UInt8 = 0x08
    /// Counted as mapped file memory (like RSS).
    public static let ownsFile: UInt8 = 0x10
}

/// Which map a page lives in.
enum Layer: Int, CaseIterable {
    case base = 0, thp = 1, hugetlb = 2
}

final class ProcessState {
    var vmas = VMATable()
    /// By Layer raw value, for loops over all sizes; the hot path uses the named ones.
    let pages: [PageMap]
    let base: PageMap, thp: PageMap, hugetlb: PageMap
    /// Page-table pages by layout level (top first), keyed by `address >> tableShift(level)`.
    let tables: [PageMap]
    /// tables.last: the PTE tables, checked on every base-page fault.
    let leafTables: PageMap
    /// The program break, once a brk record said it (0 before).
    var programBreak: UInt64 = 0
    /// Dense process index: the TLB's address-space id.
    let index: Int32

    init(levels: Int, index: Int32, pages given: [PageMap]? = nil) {
        self.index = index
        let owned = given ?? [PageMap(), PageMap(), PageMap()]
        pages = owned
        base = owned[0]; thp = owned[1]; hugetlb = owned[2]
        tables = (0..<levels).map { _ in PageMap(capacity: 16) }
        leafTables = tables[levels - 1]
    }

    deinit {
        for m in pages { m.destroy() }
        for t in tables { t.destroy() }
    }

    @inline(__always) func map(_ layer: Layer) -> PageMap { pages[layer.rawValue] }
}
