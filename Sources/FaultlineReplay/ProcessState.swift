// One process in the model: its address space (the shared kernel rules), which pages are
// mapped at each page size, and which page-table pages exist. Shared by reference within
// one configuration's replay only; never across threads.

import FaultlineAddressSpace

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
    /// A THP that khugepaged or MADV_COLLAPSE made, not a fault.
    public static let collapsed: UInt8 = 0x20
    /// An anonymous page a fork child maps without owning it (its parent's, or an
    /// ancestor's): RSS counts it as the child's anonymous memory (ResidentAtExit), even in a
    /// private file mapping, where it is a copy the parent made.
    public static let inheritedAnon: UInt8 = 0x40

    /// What a fork child's copy of a page of state `s` is: shared, write-protected and not
    /// its own, an anonymous page still anonymous.
    @inline(__always)
    static func inheritedCopy(_ s: UInt8) -> UInt8 {
        let kept = s & ~(writable | ownsAnon | ownsFile | collapsed)
        return s & ownsAnon != 0 ? kept | inheritedAnon : kept
    }
}

/// Which kind of page a map holds.
enum Layer: Int, CaseIterable {
    /// Pages of the configuration's granule.
    case base = 0
    /// PMD-size transparent huge pages.
    case thp = 1
    /// hugetlb pages: a hugetlb VMA's own size, or the configuration's explicit 2m/1g.
    case huge = 2
}

/// One page map and what it holds.
struct PageLayer {
    let layer: Layer
    let shift: Int
    let map: PageMap
}

final class ProcessState {
    var space: AddressSpace
    /// Granule pages and THPs, the hot path's two maps.
    let base: PageMap, thp: PageMap
    /// Granule pages that two kernel VMAs share, when the granule is coarser than the
    /// recording's pages: each VMA's part is a page of its own, as in a kernel of that
    /// granule, where no two VMAs share a page. Keyed by `page << 4 | slot`, slot being the
    /// 4 KiB slot within the page where that VMA's part begins (ReplayEngine.edgeKey).
    let edges: PageMap
    /// Huge pages by size: each hugetlb page size in use has a map of its own.
    private(set) var huge: [PageLayer] = []
    /// Page-table pages by layout level (top first), keyed by `address >> tableShift(level)`.
    let tables: [PageMap]
    /// tables.last: the PTE tables, checked on every base-page fault.
    let leafTables: PageMap
    /// Dense process index: the TLB's address-space id.
    let index: Int32
    let granuleShift: Int, thpShift: Int

    init(space: AddressSpace, levels: Int, index: Int32, granuleShift: Int, thpShift: Int,
         base: PageMap = PageMap(), thp: PageMap = PageMap(), huge: [PageLayer] = [], edges: PageMap = PageMap()) {
        self.space = space
        self.edges = edges
        self.index = index
        self.granuleShift = granuleShift
        self.thpShift = thpShift
        self.base = base
        self.thp = thp
        self.huge = huge
        tables = (0..<levels).map { _ in PageMap(capacity: 16) }
        leafTables = tables[levels - 1]
    }

    deinit {
        base.destroy()
        thp.destroy()
        edges.destroy()
        for l in huge { l.map.destroy() }
        for t in tables { t.destroy() }
    }

    /// Whether an anonymous fault in `v` may get a THP under `mode` (AddressSpace's rule).
    /// Asked through the space's instance method from here, the whole space was copied,
    /// arrays retained and released, at every call: an eighth of a 4k thp=always model's
    /// time on the two-thread storm.
    @inline(__always)
    func thpAllowed(_ v: VMA, mode: THPMode) -> Bool {
        AddressSpace.thpAllowed(v, mode: mode, thpDisable: space.thpDisable)
    }

    /// Asks the space in place. A call of one of its non-mutating methods on `p.space`, from
    /// this module, copied the whole space first (its arrays retained and released): 2% of
    /// a munmap-heavy replay (mapping_churn, perf). An exclusive access copies nothing.
    @inline(__always)
    func inSpace<R>(_ body: (inout AddressSpace) -> R) -> R { body(&space) }

    /// Every map with pages in it, largest pages first.
    var layers: [PageLayer] {
        var all: [PageLayer] = []
        all.reserveCapacity(huge.count + 2)
        forEachLayer { all.append($0) }
        return all
    }

    /// `layers` one by one, with no array made (every zap asks: sorting, appending and
    /// filtering took 2% of a munmap-heavy replay, mapping_churn); a layer's emptiness is
    /// looked at when its turn comes.
    @inline(__always)
    func forEachLayer(_ body: (PageLayer) -> Void) {
        if !huge.isEmpty {
            for layer in huge.filter({ $0.map.count > 0 }).sorted(by: { $0.shift > $1.shift }) { body(layer) }
        }
        if thp.count > 0 { body(PageLayer(layer: .thp, shift: thpShift, map: thp)) }
        if base.count > 0 { body(PageLayer(layer: .base, shift: granuleShift, map: base)) }
    }

    /// The map of huge pages of 2^shift bytes, made on first use.
    func hugeMap(shift: Int) -> PageMap {
        if let l = huge.first(where: { $0.shift == shift }) { return l.map }
        let map = PageMap()
        huge.append(PageLayer(layer: .huge, shift: shift, map: map))
        return map
    }

    /// The huge map of 2^shift bytes if it exists.
    func existingHugeMap(shift: Int) -> PageMap? { huge.first { $0.shift == shift }?.map }
}
