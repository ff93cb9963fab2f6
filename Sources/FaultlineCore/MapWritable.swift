// Asking the kernel to map a fresh buffer's pages writable in one call, before the buffer's
// first use, instead of one page fault each.

#if canImport(Glibc)
import Glibc
#endif

/// MADV_POPULATE_WRITE (Linux 5.14), which older C headers do not declare.
private let madvPopulateWrite: Int32 = 23

/// Maps the whole pages inside `bytes` at `start` writable, as a write to each would. Where
/// the kernel cannot (before 5.14, or not Linux), nothing happens and the pages fault in on
/// first use as they would have: this only saves time.
public func mapWritable(_ start: UnsafeMutableRawPointer, bytes: Int) {
    #if os(Linux)
    // 4 KiB: where pages are larger, an unaligned start is refused (EINVAL), which is harmless.
    let page = 4096
    let first = (UInt(bitPattern: start) &+ UInt(page - 1)) & ~UInt(page - 1)
    let end = (UInt(bitPattern: start) &+ UInt(max(bytes, 0))) & ~UInt(page - 1)
    guard end > first, let p = UnsafeMutableRawPointer(bitPattern: first) else { return }
    _ = madvise(p, Int(end - first), madvPopulateWrite)
    #endif
}
