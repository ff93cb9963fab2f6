// A trace's run of accesses to one page: a sequential walk reads each 4 KiB page dozens of
// times in a row (64-byte strides: 64 times), and after the first access each of the rest
// finds what it found, with no fault. Such an access only counts, and asks the TLB for the
// same page again, without the address-space, page-map and page-table lookups (perf, on a
// 1 GiB sequential trace: the engine was about 18 ns an access and 38% of the time).
//
// Hazard: the shortcut holds only while nothing changed the page since its last access.
// It is set by an access that took no fault and cleared before every other access, so any
// fault, flush or change between two accesses (all of which come from an access that did
// not take the shortcut) ends it. Only trace replay uses it: no timeline runs during one.

/// The 4 KiB page of the last access, when that access touched only it and took no fault.
struct RepeatedPage {
    /// The page number, with its process; nil when no access may take the shortcut.
    private var page: UInt64?
    private var process: Int32 = 0
    /// log2 of the page that translated it.
    private(set) var pageShift = 0
    /// The last access wrote, so a write finds the page writable too.
    private var writable = false

    /// Whether `access` of `process` finds exactly what the last access found.
    @inline(__always)
    func covers(_ access: TraceAccess, process index: Int32) -> Bool {
        guard let page, index == process, access.address >> 12 == page, access.lastByte >> 12 == page else { return false }
        return access.access != .write || writable
    }

    /// Notes an access that touched one page and took no fault (`outcome.kind == nil`).
    @inline(__always)
    mutating func note(_ access: TraceAccess, process index: Int32, outcome: FaultOutcome) {
        guard outcome.kind == nil, access.address >> 12 == access.lastByte >> 12 else { page = nil; return }
        page = access.address >> 12
        process = index
        pageShift = outcome.pageShift
        writable = access.access == .write
    }

    mutating func clear() { page = nil }
}
