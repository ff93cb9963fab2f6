// Faults by the size of the page each one mapped (the kernel's word at completion,
// PERF_SAMPLE_DATA_PAGE_SIZE), and the memory those pages cover: one fault that mapped a
// 2 MiB THP or hugetlb page is why the other 511 base pages never faulted.
//
// Hazard: sizes come from the log; a shift outside 12..63 is not a size (counted unknown),
// and byte totals saturate.

import FaultlineCore

public struct PageSizeCounts: Sendable, Equatable {
    /// Faults by log2 of the page size they mapped.
    private var byShift: [UInt8: UInt64] = [:]
    /// Faults whose page size the log does not say: refused accesses (segv), logs before
    /// format 2, kernels before 5.11.
    public private(set) var unknown: UInt64 = 0

    public init() {}

    public mutating func add(_ fault: FaultEvent) {
        if fault.mappedPageBytes != nil {
            byShift[fault.pageShift, default: 0] = (byShift[fault.pageShift] ?? 0).addingSaturated(1)
        } else {
            unknown = unknown.addingSaturated(1)
        }
    }

    public struct Row: Sendable, Equatable {
        public var pageBytes: UInt64
        public var faults: UInt64
        /// faults × page size: the memory those faults mapped.
        public var mappedBytes: UInt64
    }

    /// One row per page size seen, smallest first.
    public var rows: [Row] {
        byShift.keys.sorted().map { shift in
            let bytes = UInt64(1) << UInt64(shift), n = byShift[shift] ?? 0
            return Row(pageBytes: bytes, faults: n, mappedBytes: n.multipliedSaturated(by: bytes))
        }
    }

    /// Whether any fault mapped more than a 4 KiB base page.
    public var hasHugePages: Bool { byShift.keys.contains { $0 > 12 } }

    /// "page sizes mapped: 4 KiB 1,024 faults (4 MiB), 2 MiB 32 faults (64 MiB)", or nil
    /// when every fault mapped a base page (the common case says nothing new).
    public var line: String? {
        guard hasHugePages else { return nil }
        let parts = rows.map { "\(TextFormat.distance($0.pageBytes)) \(TextFormat.count($0.faults)) "
            + "\($0.faults == 1 ? "fault" : "faults") (\(TextFormat.distance($0.mappedBytes)))" }
        return "page sizes mapped: " + parts.joined(separator: ", ")
            + (unknown > 0 ? "; size not known for \(TextFormat.count(unknown))" : "")
    }

    /// `page_sizes` in `report --format json`.
    public var jsonObject: [[String: Any]] {
        rows.map { ["page_size": $0.pageBytes, "faults": $0.faults, "mapped_bytes": $0.mappedBytes] }
    }
}
