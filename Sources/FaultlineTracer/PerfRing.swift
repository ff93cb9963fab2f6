// One perf ring buffer (per CPU): the kernel writes records at data_head, we read from
// data_tail and publish how far we got. Records that wrap around the end are copied out.

import Glibc
import CFaultlineLinux

final class PerfRing {
    let fd: Int32
    private let base: UnsafeMutableRawPointer
    private let mappedSize: Int
    private let dataOffset: Int
    let dataSize: Int
    private var metadata: UnsafeMutablePointer<perf_event_mmap_page> {
        base.assumingMemoryBound(to: perf_event_mmap_page.self)
    }

    /// Maps 1 + `dataPages` pages of `fd` (dataPages must be a power of two).
    init(fd: Int32, dataPages: Int) throws {
        let page = Int(HostInfo.pageSize)
        mappedSize = page * (dataPages + 1)
        guard let p = mmap(nil, mappedSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw SystemError("cannot map a \(mappedSize >> 20) MiB perf ring buffer",
                              hint: "raise /proc/sys/kernel/perf_event_mlock_kb or run as root")
        }
        self.fd = fd
        base = p
        dataOffset = page
        dataSize = page * dataPages
    }

    deinit { munmap(base, mappedSize) }

    /// Calls `body` with each complete record (header included) between tail and head, then
    /// releases the space. The pointer is only valid during the call. Returns bytes consumed.
    @discardableResult
    func drain(_ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        let reader = Reader(self)
        let start = reader.tail
        while let record = reader.current {
            body(record)
            reader.advance()
        }
        return Int(reader.tail - start)
    }

    /// Reads the records written so far one at a time, releasing each once the next is asked
    /// for, so that several rings can be read interleaved (in time order: TraceSession).
    final class Reader {
        private let ring: PerfRing
        private let head: UInt64
        private(set) var tail: UInt64
        /// The record at `tail`, nil at the end; valid until `advance`.
        private(set) var current: UnsafeRawBufferPointer?
        /// A record that wraps around the ring's end, copied out whole.
        private var wrapped: UnsafeMutableRawBufferPointer?

        init(_ ring: PerfRing) {
            self.ring = ring
            head = fl_ring_load_head(ring.metadata)
            tail = ring.metadata.pointee.data_tail
            load()
        }

        /// Releases the current record (the kernel may write over it) and loads the next.
        func advance() {
            guard let record = current else { return }
            tail += UInt64(record.count)
            fl_ring_store_tail(ring.metadata, tail)
            load()
        }

        private func load() {
            current = nil
            guard tail < head else { return }
            let data = ring.base + ring.dataOffset
            let offset = Int(tail & UInt64(ring.dataSize - 1))
            // The 8-byte header never straddles the end (records are 8-byte aligned).
            let size = Int(data.load(fromByteOffset: offset + 6, as: UInt16.self))
            guard size >= 8, tail + UInt64(size) <= head else { return }
            if offset + size <= ring.dataSize {
                current = UnsafeRawBufferPointer(start: data + offset, count: size)
                return
            }
            if wrapped == nil { wrapped = .allocate(byteCount: Int(UInt16.max), alignment: 8) }
            let copy = wrapped!
            let first = ring.dataSize - offset
            copy.baseAddress!.copyMemory(from: data + offset, byteCount: first)
            (copy.baseAddress! + first).copyMemory(from: data, byteCount: size - first)
            current = UnsafeRawBufferPointer(start: copy.baseAddress, count: size)
        }

        deinit { wrapped?.deallocate() }
    }

    /// Bytes written but not yet read.
    var pending: Int { Int(fl_ring_load_head(metadata) - metadata.pointee.data_tail) }
}
