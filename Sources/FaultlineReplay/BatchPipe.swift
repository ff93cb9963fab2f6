// Hands batches of plain values from one thread to another, in order: the stages of a
// trace replay (reading the text, the page-table model, the TLB model) each run on a core
// of their own when cores are spare. A batch goes through a ring of a few fixed slots, so
// the stages never allocate, and a hand-off costs one semaphore signal per few thousand
// values.

import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One producer fills slots, one consumer empties them, in the order filled. A batch of
/// count 0 ends the stream. `Element` must be a trivial type (no references): slots are raw
/// memory, reused without deinitialising.
final class BatchPipe<Element> {
    let batchCapacity: Int
    private let slotCount: Int
    private let storage: UnsafeMutablePointer<Element>
    /// Each slot's count, written by the producer before it signals `full`.
    private let counts: UnsafeMutablePointer<Int>
    private let free: DispatchSemaphore
    private let full = DispatchSemaphore(value: 0)
    private var nextToFill = 0, nextToEmpty = 0   // each touched by one side only

    init(slots: Int = 4, batchCapacity: Int) {
        precondition(_isPOD(Element.self), "BatchPipe holds plain values only")
        slotCount = slots
        self.batchCapacity = batchCapacity
        storage = .allocate(capacity: slots * batchCapacity)
        counts = .allocate(capacity: slots)
        counts.initialize(repeating: 0, count: slots)
        free = DispatchSemaphore(value: slots)
    }

    deinit {
        storage.deallocate()
        counts.deallocate()
    }

    /// Producer: the next slot to fill, once the consumer has emptied it.
    func slotToFill() -> UnsafeMutableBufferPointer<Element> {
        free.wait()
        return UnsafeMutableBufferPointer(start: storage + (nextToFill % slotCount) * batchCapacity, count: batchCapacity)
    }

    /// Producer: hands over the slot from `slotToFill` with its first `count` values (0 ends
    /// the stream).
    func publish(count: Int) {
        counts[nextToFill % slotCount] = count
        nextToFill &+= 1
        full.signal()
    }

    /// Consumer: the next filled batch (waits for it); hand it back with `release` when done.
    func nextBatch() -> UnsafeMutableBufferPointer<Element> {
        full.wait()
        let slot = nextToEmpty % slotCount
        return UnsafeMutableBufferPointer(start: storage + slot * batchCapacity, count: counts[slot])
    }

    /// Consumer: the batch from `nextBatch` may be refilled.
    func release() {
        nextToEmpty &+= 1
        free.signal()
    }
}

/// A thread that runs one closure to its end; `join` waits for it. (Not a Dispatch queue:
/// stages block on each other, which could starve Dispatch's fixed pool of workers.)
final class StageThread {
    private var thread = pthread_t()
    private let body: () -> Void

    private init(_ body: @escaping () -> Void) { self.body = body }

    /// Starts `body` on a new thread; nil when the system has no thread to give (the caller
    /// then runs its stages one after another on its own).
    static func start(_ body: @escaping () -> Void) -> StageThread? {
        let stage = StageThread(body)
        let context = Unmanaged.passRetained(stage).toOpaque()
        let created = pthread_create(&stage.thread, nil, { raw in
            let me = Unmanaged<StageThread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<StageThread>.fromOpaque(context).release()
            return nil
        }
        return stage
    }

    func join() {
        pthread_join(thread, nil)
    }

    /// Runs `body` on a new thread that nobody joins (its resources go when it ends);
    /// false when the system has no thread to give.
    static func detached(_ body: @escaping () -> Void) -> Bool {
        guard let stage = start(body) else { return false }
        pthread_detach(stage.thread)
        return true
    }
}
