// One process's address space at the current moment of a sweep through the log: which
// recorded mapping covers each address. Spans are disjoint and kept sorted by start, so a
// lookup is a binary search and a change touches only the spans it overlaps. Every span a
// change ends is handed back with the time it ended, so the sweep can keep the history.

/// `mapping` covered [start, end) from `from` until `to` (UInt64.max while it still does).
struct MappingSpan: Sendable, Equatable {
    var start: UInt64
    var end: UInt64
    var mapping: Int32
    var from: UInt64
    var to: UInt64 = .max
}

struct LiveAddressMap: Sendable {
    private(set) var spans: [MappingSpan] = []

    /// The mapping covering `address` now, if any.
    func mapping(at address: UInt64) -> Int32? {
        let i = firstEndingAfter(address)
        guard i < spans.count, spans[i].start <= address else { return nil }
        return spans[i].mapping
    }

    /// Makes [start, end) belong to `mapping` (or to nothing, for nil) from `time` on.
    /// Spans it overlaps end at `time` and are appended to `ended`; their parts outside the
    /// range live on as new spans from `time`.
    mutating func assign(_ start: UInt64, _ end: UInt64, to mapping: Int32?, at time: UInt64,
                         ended: inout [MappingSpan]) {
        guard start < end else { return }
        let first = firstEndingAfter(start)
        var last = first
        var replacement: [MappingSpan] = []
        while last < spans.count && spans[last].start < end {
            var old = spans[last]
            if old.start < start {
                replacement.append(MappingSpan(start: old.start, end: start, mapping: old.mapping, from: time))
            }
            if old.end > end {
                replacement.append(MappingSpan(start: end, end: old.end, mapping: old.mapping, from: time))
            }
            old.to = time
            ended.append(old)
            last += 1
        }
        if let mapping {
            replacement.append(MappingSpan(start: start, end: end, mapping: mapping, from: time))
        }
        replacement.sort { $0.start < $1.start }
        spans.replaceSubrange(first..<last, with: replacement)
    }

    /// Ends every span at `time` (an exec replaced the address space, or the pid was reused).
    mutating func clear(at time: UInt64, ended: inout [MappingSpan]) {
        for var span in spans {
            span.to = time
            ended.append(span)
        }
        spans.removeAll()
    }

    /// A copy for a forked child: the same mappings, starting at the fork.
    func inherited(at time: UInt64) -> LiveAddressMap {
        var copy = self
        for i in copy.spans.indices { copy.spans[i].from = time }
        return copy
    }

    /// The first span whose end lies beyond `address`: spans are disjoint and sorted, so
    /// their ends are sorted too.
    private func firstEndingAfter(_ address: UInt64) -> Int {
        var low = 0, high = spans.count
        while low < high {
            let mid = (low + high) / 2
            if spans[mid].end <= address { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
