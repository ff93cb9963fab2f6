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
        let head = fl_ring_load_head(metadata)
        var tail = metadata.pointee.data_tail
        let start = tail
        let data = base + dataOffset
        let mask = UInt64(dataSize - 1)
        var scratch: [UInt8] = []
        while tail < head {
            let offset = Int(tail & mask)
            // The 8-byte header never straddles the end (records are 8-byte aligned).
            let size = Int(data.load(fromByteOffset: offset + 6, as: UInt16.self))
            guard size >= 8, tail + UInt64(size) <= head else { break }
            if offset + size <= dataSize {
                body(UnsafeRawBufferPointer(start: data + offset, count: size))
            } else {
                let first = dataSize - offset
                scratch.removeAll(keepingCapacity: true)
                scratch.append(contentsOf: UnsafeRawBufferPointer(start: data + offset, count: first))
                scratch.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size - first))
                scratch.withUnsafeBytes { body($0) }
            }
            tail += UInt64(size)
        }
        fl_ring_store_tail(metadata, tail)
        return Int(tail - start)
    }

    /// Bytes written but not yet read.
    var pending: Int { Int(fl_ring_load_head(metadata) - metadata.pointee.data_tail) }
}
