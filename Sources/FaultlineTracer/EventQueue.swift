// Holds parsed events until it is safe to process them in time order. Each CPU's ring is
// in order by itself, but a drain reads the rings one after another, so an event may show
// up in a later drain than a newer event from another CPU. Anything stamped more than
// `slack` before the drain started was committed before it started, so it has been read.

struct EventQueue {
    var events: [TraceEvent] = []
    static let slackNs: UInt64 = 50_000_000

    /// Processes, in (time, arrival) order, every event stamped at or before `horizon`
    /// (all of them when nil), and compacts the callchain store to what is still held.
    mutating func release(upTo horizon: UInt64?, parser: inout PerfRecordParser, _ body: (TraceEvent, [UInt64]) -> Void) {
        guard !events.isEmpty else { parser.chainStore.removeAll(keepingCapacity: true); return }
        events.sort { $0.time != $1.time ? $0.time < $1.time : $0.sequence < $1.sequence }
        var split = events.count
        if let horizon {
            var low = 0, high = events.count
            while low < high {
                let mid = (low + high) / 2
                if events[mid].time <= horizon { low = mid + 1 } else { high = mid }
            }
            split = low
        }
        for e in events[0..<split] { body(e, parser.chainStore) }
        events.removeSubrange(0..<split)

        var compacted: [UInt64] = []
        for i in events.indices {
            switch events[i].body {
            case .faultEntry(let a, let ip, let code, let k, let chain):
                let start = compacted.count
                compacted.append(contentsOf: parser.chainStore[chain])
                events[i].body = .faultEntry(address: a, ip: ip, errorCode: code, kernelMode: k,
                                             chain: start..<compacted.count)
            case .faultSignal(let signal, let code, let address, let chain):
                let start = compacted.count
                compacted.append(contentsOf: parser.chainStore[chain])
                events[i].body = .faultSignal(signal: signal, code: code, address: address, chain: start..<compacted.count)
            case .syscallEnter(let call, let args, let chain):
                let start = compacted.count
                compacted.append(contentsOf: parser.chainStore[chain])
                events[i].body = .syscallEnter(call, arguments: args, chain: start..<compacted.count)
            default:
                break
            }
        }
        parser.chainStore = compacted
    }
}
