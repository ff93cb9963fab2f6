// Holds parsed events until it is safe to process them in time order. Each CPU's ring is
// in order by itself, but a drain reads the rings one after another, so an event may show
// up in a later drain than a newer event from another CPU. Anything stamped more than
// `slack` before the drain started was committed before it started, so it has been read.
//
// A release costs about what it releases, not what it holds. The queue holds the last
// `slack` of events (20,000 and more while threads storm), and the recorder drains at
// every ptrace stop: each thread a program starts is one. Sorting every held event, moving
// them to the front and copying their stacks to a new store at each release was 15-20% of
// the recorder's CPU while `thread_swarm 2000 100` started its threads (perf -a). Now the
// held events stay in order, new ones are merged in behind them, and the processed ones and
// their stacks are let go only once they are most of what is stored.

struct EventQueue {
    /// Parsers append here; `release` processes and lets go of them. Not yet processed:
    /// `events[head...]`, of which `events[head..<orderedEnd]` are in (time, sequence) order.
    var events: [TraceEvent] = []
    static let slackNs: UInt64 = 50_000_000
    private var head = 0
    private var orderedEnd = 0
    /// Entries of the chain store that only processed events used.
    private var deadChainEntries = 0

    /// Processed events and chain entries kept until they are this many and over half of
    /// what is stored (letting go of them moves what is still held).
    static let compactAfter = 4096

    static func precedes(_ a: TraceEvent, _ b: TraceEvent) -> Bool {
        a.time != b.time ? a.time < b.time : a.sequence < b.sequence
    }

    /// Processes, in (time, arrival) order, every event stamped at or before `horizon`
    /// (all of them when nil). The callchain store holds what the held events still need.
    mutating func release(upTo horizon: UInt64?, parser: inout PerfRecordParser, _ body: (TraceEvent, [UInt64]) -> Void) {
        guard head < events.count else {
            clear(&parser)
            return
        }
        putInOrder()
        var split = events.count
        if let horizon {
            var low = head, high = events.count
            while low < high {
                let mid = (low + high) / 2
                if events[mid].time <= horizon { low = mid + 1 } else { high = mid }
            }
            split = low
        }
        let chains = parser.chainStore
        for i in head..<split {
            body(events[i], chains)
            deadChainEntries += Self.chain(of: events[i].body)?.count ?? 0
        }
        head = split
        if head == events.count {
            clear(&parser)
            return
        }
        if head >= Self.compactAfter && head * 2 > events.count {
            events.removeSubrange(0..<head)
            orderedEnd -= head
            head = 0
        }
        if deadChainEntries >= Self.compactAfter && deadChainEntries * 2 > parser.chainStore.count {
            compactChains(&parser)
        }
    }

    /// Nothing held: the storage is emptied, keeping its capacity.
    private mutating func clear(_ parser: inout PerfRecordParser) {
        events.removeAll(keepingCapacity: true)
        head = 0
        orderedEnd = 0
        deadChainEntries = 0
        parser.chainStore.removeAll(keepingCapacity: true)
    }

    /// Sorts the events appended since the last release and merges them into the ordered
    /// ones. They are nearly always later than all but the last few held, so the merge
    /// starts where the first of them belongs.
    private mutating func putInOrder() {
        guard orderedEnd < events.count else { return }
        events[orderedEnd...].sort(by: Self.precedes)
        if orderedEnd > head && Self.precedes(events[orderedEnd], events[orderedEnd - 1]) {
            // The first ordered event the first new one goes before.
            let first = events[orderedEnd]
            var low = head, high = orderedEnd
            while low < high {
                let mid = (low + high) / 2
                if Self.precedes(first, events[mid]) { high = mid } else { low = mid + 1 }
            }
            var merged: [TraceEvent] = []
            merged.reserveCapacity(events.count - low)
            var a = low, b = orderedEnd
            while a < orderedEnd && b < events.count {
                if Self.precedes(events[b], events[a]) {
                    merged.append(events[b]); b += 1
                } else {
                    merged.append(events[a]); a += 1
                }
            }
            merged.append(contentsOf: events[a..<orderedEnd])
            merged.append(contentsOf: events[b...])
            events.replaceSubrange(low..., with: merged)
        }
        orderedEnd = events.count
    }

    /// Copies the held events' chains to a new store and points them there.
    private mutating func compactChains(_ parser: inout PerfRecordParser) {
        var compacted: [UInt64] = []
        compacted.reserveCapacity(parser.chainStore.count - deadChainEntries)
        for i in head..<events.count {
            guard let chain = Self.chain(of: events[i].body) else { continue }
            let start = compacted.count
            compacted.append(contentsOf: parser.chainStore[chain])
            events[i].body = Self.body(events[i].body, withChain: start..<compacted.count)
        }
        parser.chainStore = compacted
        deadChainEntries = 0
    }

    /// The range of the chain store an event's stack is in, if it has one.
    static func chain(of body: TraceEvent.Body) -> Range<Int>? {
        switch body {
        case .faultEntry(_, _, _, _, let chain), .faultSignal(_, _, _, let chain), .syscallEnter(_, _, let chain):
            return chain
        default:
            return nil
        }
    }

    static func body(_ body: TraceEvent.Body, withChain chain: Range<Int>) -> TraceEvent.Body {
        switch body {
        case .faultEntry(let a, let ip, let code, let k, _):
            return .faultEntry(address: a, ip: ip, errorCode: code, kernelMode: k, chain: chain)
        case .faultSignal(let signal, let code, let address, _):
            return .faultSignal(signal: signal, code: code, address: address, chain: chain)
        case .syscallEnter(let call, let args, _):
            return .syscallEnter(call, arguments: args, chain: chain)
        default:
            return body
        }
    }
}
