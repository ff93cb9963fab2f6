// The TLB model's share of a trace replay, queued for a thread of its own: the page-table
// model decides each access's page size (and the flushes its faults cause); the TLB model
// needs only those, in order. On two cores the two models then run side by side.
//
// A request is 16 bytes: on a random trace the TLB thread is the longest stage, and every
// byte of the stream it reads passes through its caches beside the TLB's own tables (perf:
// loads of the tables' state stalled; requests of 32 bytes were 640 MB a 20M-access trace).

/// One access or flush for the TLB model: an address, and the rest packed in one word.
struct TLBRequest {
    var address: UInt64
    /// asid (bits 0-31), page shift (32-39), operation (40-47), and for an access how many
    /// times more it is made (48-63: accesses to the same 4 KiB page in a row, folded).
    var info: UInt64

    static let dataAccess: UInt64 = 0, instructionFetch: UInt64 = 1, flushRange: UInt64 = 2, flushSpace: UInt64 = 3
    /// The request after a flushRange: its address is the range's end (exclusive).
    static let rangeEnd: UInt64 = 4
    static let maxRepeats: UInt64 = 0xFFFF

    @inline(__always)
    init(address: UInt64, asid: Int32, pageShift: Int, operation: UInt64) {
        self.address = address
        info = UInt64(UInt32(bitPattern: asid)) | UInt64(UInt8(truncatingIfNeeded: pageShift)) << 32 | operation << 40
    }

    var asid: Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: info)) }
    var pageShift: Int { Int((info >> 32) & 0xFF) }
    var operation: UInt64 { (info >> 40) & 0xFF }
    var repeats: UInt64 { info >> 48 }
    /// Who asks, and how (asid, page shift, operation): what a folded repeat must share.
    var asker: UInt64 { info & 0xFFFF_FFFF_FFFF }
}

/// The producer side (the page-table model's thread) and the consumer loop (the TLB's).
final class TLBQueue {
    private let pipe = BatchPipe<TLBRequest>(batchCapacity: 4096)
    private var slot: UnsafeMutableBufferPointer<TLBRequest>
    private var count = 0

    init() { slot = pipe.slotToFill() }

    @inline(__always)
    private func append(_ request: TLBRequest) {
        slot[count] = request
        count &+= 1
        if count == slot.count { handOver() }
    }

    private func handOver() {
        pipe.publish(count: count)
        slot = pipe.slotToFill()
        count = 0
    }

    @inline(__always)
    func access(asid: Int32, address: UInt64, pageShift: Int, instruction: Bool) {
        append(TLBRequest(address: address, asid: asid, pageShift: pageShift,
                          operation: instruction ? TLBRequest.instructionFetch : TLBRequest.dataAccess))
    }

    /// An access to the same 4 KiB page, by the same kind of access, as the one before:
    /// folded into that one's request while it is still in the slot. (The TLB model finds
    /// the same entry either way: entries and walks depend on the page, not on the byte.)
    @inline(__always)
    func repeatAccess(asid: Int32, address: UInt64, pageShift: Int, instruction: Bool) {
        let request = TLBRequest(address: address, asid: asid, pageShift: pageShift,
                                 operation: instruction ? TLBRequest.instructionFetch : TLBRequest.dataAccess)
        if count > 0 {
            let last = slot[count - 1]
            if last.asker == request.asker && last.address >> 12 == address >> 12 && last.repeats < TLBRequest.maxRepeats {
                slot[count - 1].info &+= 1 << 48
                return
            }
        }
        append(request)
    }

    /// Drops `asid`'s translations of [start, end): two requests, in one slot.
    func flush(asid: Int32, start: UInt64, end: UInt64) {
        if count + 2 > slot.count { handOver() }
        append(TLBRequest(address: start, asid: asid, pageShift: 0, operation: TLBRequest.flushRange))
        append(TLBRequest(address: end, asid: asid, pageShift: 0, operation: TLBRequest.rangeEnd))
    }

    func flush(asid: Int32) {
        append(TLBRequest(address: 0, asid: asid, pageShift: 0, operation: TLBRequest.flushSpace))
    }

    /// Producer: hands over what is queued and ends the stream.
    func finish() {
        if count > 0 { handOver() }
        pipe.publish(count: 0)
    }

    /// Consumer: plays every request into `tlb` until the stream ends.
    func drain(into tlb: TLBHierarchy) {
        while true {
            let batch = pipe.nextBatch()
            if batch.isEmpty { pipe.release(); return }
            var i = 0
            while i < batch.count {
                let r = batch[i]
                switch r.operation {
                case TLBRequest.flushRange:
                    // Its end is the next request, in the same batch (see flush).
                    i += 1
                    tlb.flush(asid: r.asid, start: r.address, end: batch[i].address)
                case TLBRequest.flushSpace: tlb.flush(asid: r.asid)
                default:
                    var times = r.repeats
                    repeat {
                        tlb.access(asid: r.asid, address: r.address, pageShift: r.pageShift,
                                   instruction: r.operation == TLBRequest.instructionFetch)
                        times &-= 1
                    } while times != .max
                }
                i += 1
            }
            pipe.release()
        }
    }
}
