// The last page each thread faulted on within one chunk: the base of the next fault's
// address delta. Looked up for every fault written and read, so it is a small
// open-addressing table rather than a Dictionary (whose hashing and copy-on-write checks
// were a fifth of the decoder's time), with the last thread's slot remembered: faults come
// in runs of one thread. Reading a chunk, one lookup both gives a thread's last page and
// takes its next (`advance`): with a thousand threads interleaved, a lookup and a second
// one to store were 40 instructions a fault (callgrind, thread_swarm 500 2000).

struct ThreadPages {
    /// Slot keys: the thread id's bit pattern plus 2^32, so 0 marks an empty slot.
    private var keys: [UInt64] = []
    private var pages: [UInt64] = []
    private var used = 0
    /// The last thread looked up and its slot (lastKey 0: none).
    private var lastKey: UInt64 = 0
    private var lastSlot = 0

    @inline(__always)
    private static func key(_ tid: Int32) -> UInt64 { UInt64(UInt32(bitPattern: tid)) | 1 << 32 }

    /// The thread's last page, or 0 before its first fault in the chunk.
    @inline(__always)
    func page(of tid: Int32) -> UInt64 {
        let k = Self.key(tid)
        if k == lastKey { return pages[lastSlot] }
        guard !keys.isEmpty else { return 0 }
        let mask = keys.count - 1
        var i = Self.home(k, mask)
        while keys[i] != 0 {
            if keys[i] == k { return pages[i] }
            i = (i + 1) & mask
        }
        return 0
    }

    @inline(__always)
    mutating func set(_ page: UInt64, for tid: Int32) {
        pages[slot(of: tid)] = page
    }

    /// The thread's next page, `delta` past its last (wrapping), which it becomes.
    @inline(__always)
    mutating func advance(_ tid: Int32, by delta: UInt64) -> UInt64 {
        let i = slot(of: tid)
        let page = pages[i] &+ delta
        pages[i] = page
        return page
    }

    /// The thread's slot, added (its page 0) when it has none. (Only here does the table
    /// grow, and the slot remembered is set after.)
    @inline(__always)
    private mutating func slot(of tid: Int32) -> Int {
        let k = Self.key(tid)
        if k == lastKey { return lastSlot }
        if used * 2 >= keys.count { grow() }
        let mask = keys.count - 1
        var i = Self.home(k, mask)
        while keys[i] != 0 && keys[i] != k { i = (i + 1) & mask }
        if keys[i] == 0 {
            keys[i] = k
            used += 1
        }
        lastKey = k
        lastSlot = i
        return i
    }

    private mutating func grow() {
        let oldKeys = keys, oldPages = pages
        keys = Array(repeating: 0, count: max(16, oldKeys.count * 2))
        pages = Array(repeating: 0, count: keys.count)
        let mask = keys.count - 1
        for (k, p) in zip(oldKeys, oldPages) where k != 0 {
            var i = Self.home(k, mask)
            while keys[i] != 0 { i = (i + 1) & mask }
            keys[i] = k
            pages[i] = p
        }
    }

    @inline(__always)
    private static func home(_ k: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
    }
}
