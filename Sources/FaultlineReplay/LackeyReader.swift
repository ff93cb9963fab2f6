// Streams valgrind lackey's `--trace-mem=yes` output ("I  04222cac,3", " L 04222cac,4",
// " S 7ff000ba0,8", " M 0421d8d0,4") in fixed-size blocks: memory stays bounded whatever
// the trace's size. Lines that are not accesses (valgrind's "==pid==" banner) are skipped;
// anything else unparsable is counted, not fatal.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FaultlineCore

public struct TraceAccess: Sendable, Equatable {
    public var address: UInt64
    public var size: UInt32
    public var access: Access
    public init(address: UInt64, size: UInt32, access: Access) {
        self.address = address; self.size = size; self.access = access
    }
}

public struct TraceReadError: Error, CustomStringConvertible {
    public var description: String
}

public final class LackeyReader {
    public let path: String
    private let fd: Int32
    private let block: UnsafeMutablePointer<UInt8>
    private static let blockSize = 1 << 20
    private var start = 0, end = 0
    private var atEOF = false
    public private(set) var lines: UInt64 = 0
    public private(set) var malformedLines: UInt64 = 0
    /// The first malformed line's number, for the warning.
    public private(set) var firstMalformedLine: UInt64?

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw TraceReadError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        block = .allocate(capacity: Self.blockSize)
    }

    deinit {
        close(fd)
        block.deallocate()
    }

    /// Fills `out` with the next accesses; returns how many (0 at the end of the trace).
    public func read(into out: UnsafeMutableBufferPointer<TraceAccess>) throws -> Int {
        var n = 0
        while n < out.count {
            // Find a whole line in the block, refilling when none is left.
            var nl = start
            while nl < end && block[nl] != 10 { nl += 1 }
            if nl == end {
                if atEOF {
                    if start < end { parse(start, end, into: out, &n) ; start = end }
                    return n
                }
                try refill()
                continue
            }
            parse(start, nl, into: out, &n)
            start = nl + 1
        }
        return n
    }

    private func refill() throws {
        // Keep the partial line, then read after it.
        let keep = end - start
        if keep == Self.blockSize {
            // A "line" of a megabyte is not lackey output; drop it.
            malformedLines += 1
            start = 0; end = 0
            return
        }
        if start > 0 { memmove(block, block + start, keep) }
        start = 0; end = keep
        let got = systemRead(fd, block + end, Self.blockSize - end)
        if got < 0 { throw TraceReadError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        if got == 0 { atEOF = true }
        end += got
    }

    @inline(__always)
    private func parse(_ from: Int, _ to: Int, into out: UnsafeMutableBufferPointer<TraceAccess>, _ n: inout Int) {
        lines += 1
        var i = from
        while i < to && block[i] == 32 { i += 1 }
        guard i < to else { return }
        let op = block[i]
        let access: Access
        switch op {
        case 73: access = .exec            // I
        case 76: access = .read            // L
        case 83, 77: access = .write       // S, M (load then store: one translation, a write)
        case 61: return                    // "==pid==" banner lines
        default: malformed(); return
        }
        i += 1
        guard i < to, block[i] == 32 else { malformed(); return }
        while i < to && block[i] == 32 { i += 1 }
        var address: UInt64 = 0
        var digits = 0
        while i < to {
            let c = block[i]
            let v: UInt8
            if c >= 48 && c <= 57 { v = c - 48 } else if c >= 97 && c <= 102 { v = c - 87 } else if c >= 65 && c <= 70 { v = c - 55 } else { break }
            address = address << 4 | UInt64(v)
            digits += 1
            i += 1
        }
        guard digits > 0, digits <= 16, i < to, block[i] == 44 else { malformed(); return }
        i += 1
        var size: UInt32 = 0
        var sizeDigits = 0
        while i < to && block[i] >= 48 && block[i] <= 57 && sizeDigits < 9 {
            size = size * 10 + UInt32(block[i] - 48); sizeDigits += 1; i += 1
        }
        guard sizeDigits > 0 else { malformed(); return }
        out[n] = TraceAccess(address: address, size: size, access: access)
        n += 1
    }

    private func malformed() {
        malformedLines += 1
        if firstMalformedLine == nil { firstMalformedLine = lines }
    }
}

/// read(2), named apart from LackeyReader.read.
@inline(__always)
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
    read(fd, buffer, count)
}
