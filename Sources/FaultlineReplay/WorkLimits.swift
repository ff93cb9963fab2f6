// What a log may ask of one replay's model in all. A few records can ask for hours: moving
// the same gigabytes back and forth, populating terabytes, forking a process that holds
// gigabytes again and again. Each kind of work has a budget shared by the whole replay;
// past it the model does less (drops the pages it would carry, fills less, copies nothing)
// and counts the calls that found the budget spent, which the replay names in a warning.

struct WorkLimits {
    /// The most memory one populate (MAP_POPULATE, MADV_POPULATE_*) fills: 8 GiB.
    static let populatePerCall: UInt64 = 8 << 30
    /// The most all of a replay's populates fill: 256 GiB (at 4 KiB pages, a few seconds of
    /// model). Without it, a file of MAP_POPULATE records of 8 GiB each, 20 bytes apiece,
    /// asked for about a tenth of a second of work per record.
    static let populateTotal: UInt64 = 256 << 30
    /// The most pages all of a replay's mremaps carry and its huge-page splits write (512 GiB
    /// of 4 KiB pages, a few seconds): a move costs a step per page. Past it, a move drops
    /// the pages it would carry, and a huge page that would split goes whole.
    static let movedPages: UInt64 = 1 << 27
    /// The most pages all of a replay's forks copy (1 TiB of 4 KiB pages, a few seconds): a
    /// fork costs a walk of its parent's maps. Past it, a child shares none of its parent's
    /// pages.
    static let forkedPages: UInt64 = 1 << 28

    /// What is left of each budget (tests set them lower).
    var populateLeft = populateTotal
    var movedPagesLeft = movedPages
    var forkedPagesLeft = forkedPages
    /// Populates cut short, and the moves, huge-page splits and forks that found their
    /// budget spent.
    private(set) var populatesCapped: UInt64 = 0
    private(set) var movesCapped: UInt64 = 0
    private(set) var forksCapped: UInt64 = 0

    /// What one populate call may fill: its own limit, or what is left of the total.
    var populateGrant: UInt64 { min(Self.populatePerCall, populateLeft) }

    /// A populate call granted `granted` bytes left `unused` of them.
    mutating func populated(granted: UInt64, unused: UInt64) {
        populateLeft -= granted - min(unused, granted)
    }

    mutating func populateCutShort() { populatesCapped &+= 1 }

    /// Takes `pages` for a huge-page split, which writes them all or none; false (and
    /// counted) when fewer are left.
    mutating func takeHugePageSplit(_ pages: UInt64) -> Bool { Self.take(pages, from: &movedPagesLeft, counting: &movesCapped) }

    /// Up to `pages` of the moves' budget: how many may be carried. The caller counts a
    /// move cut short once (`moveCutShort`), however many of its runs were.
    mutating func carry(_ pages: UInt64) -> UInt64 {
        let carried = min(pages, movedPagesLeft)
        movedPagesLeft -= carried
        return carried
    }

    mutating func moveCutShort() { movesCapped &+= 1 }

    /// Takes `pages` for one fork's copy; false (and counted) when fewer are left.
    mutating func takeFork(_ pages: UInt64) -> Bool { Self.take(pages, from: &forkedPagesLeft, counting: &forksCapped) }

    private static func take(_ pages: UInt64, from left: inout UInt64, counting capped: inout UInt64) -> Bool {
        guard pages <= left else {
            capped &+= 1
            return false
        }
        left -= pages
        return true
    }
}
