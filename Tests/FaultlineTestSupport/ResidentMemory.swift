// What a process really holds, for the tests of issue 9's bytes-a-fault bound: resident
// bytes once the allocator has handed its free memory back, so a per-fault object shows
// however the type under test counts itself.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Resident bytes after malloc_trim (found with dlsym: mallinfo2 is not imported into
/// Swift; malloc_trim takes and returns plain ints).
public func residentBytes() -> Int {
    typealias Trim = @convention(c) (Int) -> Int32
    if let trim = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") { _ = unsafeBitCast(trim, to: Trim.self)(0) }
    let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
    let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
