// The last page each thread faulted on within one chunk: the base of the next fault's
// address delta. Looked up for every fault written and read, so it is a small
// open-addressing table rather than a Dictionary (whose hashing and copy-on-write checks
// were a fifth of the decoder's time), with the last thread remembered: faults come in
// runs of one thread.

struct ThreadPages {
    /// Slot keys: the thread id's bit pattern plus 2^32, so 0 marks an empty slot.
    private var keys: [UInt64] = []
    private var pages: [UInt64] = []
    private var used = 0
    private var lastKey: UInt64 = 0
    private var lastPage: UInt64 = 0

    @inline(__always)
    private static func key(_ tid: Int32) -> UInt64 { UInt64(UInt32(bitPattern: tid)) | 1 << 32 }

    /// The thread's last page, or 0 before its first fault in the chunk.
    @inline(__always)
    func page(of tid: Int32) -> UInt64 {
        let k = Self.key(tid)
        if k == lastKey { return lastPage }
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
        let k = Self.key(tid)
        if k != lastKey, lastKey != 0 { store(lastPage, lastKey) }
        lastKey = k
        lastPage = page
    }

    /// Writes the remembered thread back into the table (the last one lives outside it).
    private mutating func store(_ page: UInt64, _ k: UInt64) {
        if used * 2 >= keys.count { grow() }
        let mask = keys.count - 1
        var i = Self.home(k, mask)
        while keys[i] != 0 && keys[i] != k { i = (i + 1) & mask }
        if keys[i] == 0 { used += 1 }
        keys[i] = k
        pages[i] = page
    }

    private mutating func grow() {
        let oldKeys = keys, oldPages = pages
        keys = Array(repeating: 0, count: max(16, oldKeys.count * 2))
        pages = Array(repeating: 0, count: keys.count)
        used = 0
        for (k, p) in zip(oldKeys, oldPages) where k != 0 { store(p, k) }
    }

    @inline(__always)
    private static func home(_ k: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
    }
}
