// The TLB model's share of a trace replay, queued for a thread of its own: the page-table
// model decides each access's page size (and the flushes its faults cause); the TLB model
// needs only those, in order. On two cores the two models then run side by side.

/// One access or flush for the TLB model.
struct TLBRequest {
    var address: UInt64
    /// A range flush's end (exclusive); for an access, how many times more it is made
    /// (accesses to the same 4 KiB page in a row, folded into one request).
    var end: UInt64
    var asid: Int32
    var pageShift: UInt8
    var operation: UInt8

    static let dataAccess: UInt8 = 0, instructionFetch: UInt8 = 1, flushRange: UInt8 = 2, flushSpace: UInt8 = 3
}

/// The producer side (the page-table model's thread) and the consumer loop (the TLB's).
final class TLBQueue {
    private let pipe = BatchPipe<TLBRequest>(batchCapacity: 4096)
    private var slot: UnsafeMutableBufferPointer<TLBRequest>
    private var count = 0

    init() { slot = pipe.slotToFill() }

    @inline(__always)
    func append(_ request: TLBRequest) {
        slot[count] = request
        count &+= 1
        if count == slot.count {
            pipe.publish(count: count)
            slot = pipe.slotToFill()
            count = 0
        }
    }

    /// Appends an access to the same 4 KiB page, by the same kind of access, as the one
    /// before: folded into that one's request while it is still in the slot. (The TLB
    /// model finds the same entry either way: entries and walks depend on the page, not
    /// on the byte.)
    @inline(__always)
    func appendRepeat(_ request: TLBRequest) {
        if count > 0 {
            let last = slot[count - 1]
            if last.operation == request.operation && last.asid == request.asid && last.pageShift == request.pageShift
                && last.address >> 12 == request.address >> 12 && request.operation <= TLBRequest.instructionFetch {
                slot[count - 1].end &+= 1
                return
            }
        }
        append(request)
    }

    /// Producer: hands over what is queued and ends the stream.
    func finish() {
        if count > 0 {
            pipe.publish(count: count)
            slot = pipe.slotToFill()
            count = 0
        }
        pipe.publish(count: 0)
    }

    /// Consumer: plays every request into `tlb` until the stream ends.
    func drain(into tlb: TLBHierarchy) {
        while true {
            let batch = pipe.nextBatch()
            if batch.isEmpty { pipe.release(); return }
            for r in batch {
                switch r.operation {
                case TLBRequest.flushRange: tlb.flush(asid: r.asid, start: r.address, end: r.end)
                case TLBRequest.flushSpace: tlb.flush(asid: r.asid)
                default:
                    var times = r.end
                    repeat {
                        tlb.access(asid: r.asid, address: r.address, pageShift: Int(r.pageShift),
                                   instruction: r.operation == TLBRequest.instructionFetch)
                        times &-= 1
                    } while times != .max
                }
            }
            pipe.release()
        }
    }
}
