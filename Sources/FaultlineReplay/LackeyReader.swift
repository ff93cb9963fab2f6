// Streams valgrind lackey's `--trace-mem=yes` output ("I  04222cac,3", " L 04222cac,4",
// " S 7ff000ba0,8", " M 0421d8d0,4") in 64 KiB blocks: memory stays bounded whatever
// the trace's size. Lines that are not accesses (valgrind's "==pid==" banner, blank lines)
// are skipped; anything else unparsable is counted, not fatal.
//
// Hazards: the input is untrusted. A line is parsed in one pass with no bounds checks,
// which is safe only because every line handed to the parser ends in a newline inside the
// block (the last line of a file gets one appended in the spare byte), and every loop
// stops at a newline. A "line" longer than the block is counted once and skipped to its
// end, never parsed in pieces. Sizes are bounded (`maxAccessSize`) before any arithmetic.
// The parser is the first half of trace replay's time: measured with perf, the two-pass
// version (find the newline, then parse) ran at about 15M lines/s, this one at about 2.5x.

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

    /// The last byte the access touches: at most the top of the address space (an access
    /// that would run past it is cut there, not wrapped to address 0).
    public var lastByte: UInt64 {
        let (last, overflow) = address.addingReportingOverflow(UInt64(max(size, 1)) - 1)
        return overflow ? .max : last
    }
}

public struct TraceReadError: Error, CustomStringConvertible {
    public var description: String
}

public final class LackeyReader {
    public let path: String
    /// The largest access a line may describe: lackey reports loads and stores of at most
    /// a few kilobytes (XSAVE areas); a larger size is a malformed line.
    public static let maxAccessSize: UInt32 = 1 << 20
    private let fd: Int32
    /// blockSize bytes of input, one spare for the newline a last line may lack, and 8 so
    /// that a word read at any position stays inside.
    private let block: UnsafeMutablePointer<UInt8>
    /// 64 KiB: lackey's lines are under 40 bytes, and a block that stays in the L2 leaves
    /// the model's tables there (a 1 MiB block streamed them out: measured with perf).
    static let blockSize = 1 << 16
    /// block[start..<end] is read and not yet parsed; block[start..<complete] is whole lines.
    private var start = 0, complete = 0, end = 0
    private var atEOF = false
    /// Dropping the rest of a line longer than the block.
    private var skipping = false
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
        block = .allocate(capacity: Self.blockSize + 1 + 8)
        block.initialize(repeating: 0, count: Self.blockSize + 1 + 8)
    }

    deinit {
        close(fd)
        block.deallocate()
    }

    /// Fills `out` with the next accesses; returns how many (0 at the end of the trace).
    public func read(into out: UnsafeMutableBufferPointer<TraceAccess>) throws -> Int {
        guard let base = out.baseAddress else { return 0 }
        var n = 0
        while n < out.count {
            if start < complete {
                n = parse(into: base, n, out.count)
                continue
            }
            if atEOF {
                guard start < end else { return n }
                // The last line has no newline: give it one in the spare byte.
                block[end] = 10
                end += 1
                complete = end
                continue
            }
            try refill()
        }
        return n
    }

    private func refill() throws {
        let keep = end - start
        if keep >= Self.blockSize {
            // A whole block without a newline is not lackey output: count it as one line
            // and drop everything up to its newline.
            if !skipping { lines &+= 1; malformed() }
            skipping = true
            start = 0; end = 0
        } else if start > 0 {
            memmove(block, block + start, keep)
            start = 0; end = keep
        }
        var got: Int
        repeat { got = systemRead(fd, block + end, Self.blockSize - end) } while got < 0 && errno == EINTR
        if got < 0 { throw TraceReadError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        let fresh = end
        end += got
        if got == 0 {
            atEOF = true
            if skipping { start = end; skipping = false }
        } else if skipping {
            if let nl = memchr(block + fresh, 10, got) {
                start = UnsafeMutablePointer<UInt8>(nl.assumingMemoryBound(to: UInt8.self)) - block + 1
                skipping = false
            } else {
                start = end
            }
        }
        // Whole lines end at the last newline read.
        var last = end
        while last > start && block[last - 1] != 10 { last -= 1 }
        complete = last
    }

    /// Parses whole lines from `start` until `out` holds `capacity` accesses or the whole
    /// lines run out; returns the new count.
    @inline(__always)
    private func parse(into out: UnsafeMutablePointer<TraceAccess>, _ count: Int, _ capacity: Int) -> Int {
        var n = count
        var p = block + start
        let stop = block + complete
        var lineCount: UInt64 = 0
        while p < stop && n < capacity {
            lineCount &+= 1
            if let (access, next) = Self.canonical(p) {
                out[n] = access
                n += 1
                p = next
                continue
            }
            var q = p
            while q.pointee == 32 { q += 1 }
            let access: Access
            switch q.pointee {
            case 73: access = .exec            // I
            case 76: access = .read            // L
            case 83, 77: access = .write       // S, M (load then store: one translation, a write)
            case 10:                           // a blank line
                p = q + 1
                continue
            case 61:                           // "==pid==" banner lines
                while q.pointee != 10 { q += 1 }
                p = q + 1
                continue
            default:
                p = skipMalformed(q, lineCount)
                continue
            }
            q += 1
            guard q.pointee == 32 else { p = skipMalformed(q, lineCount); continue }
            repeat { q += 1 } while q.pointee == 32
            // Eight digits at a time; a longer run is counted on, and refused past 16.
            var (address, digits) = Self.hexWord(q)
            if digits == 8 {
                var n = 8
                repeat {
                    n = Self.hexWord(q + digits).digits
                    digits += n
                } while n == 8
                if digits > 8 && digits <= 16 { address = Self.join(q, digits) }
            }
            q += digits
            guard digits > 0, digits <= 16, q.pointee == 44 else { p = skipMalformed(q, lineCount); continue }
            q += 1
            // At most 7 digits: the bound is checked before the value can overflow.
            var size: UInt32 = 0
            let sizeStart = q
            while q.pointee &- 48 < 10 && q - sizeStart < 8 {
                size = size &* 10 &+ UInt32(q.pointee &- 48)
                q += 1
            }
            guard q > sizeStart, q - sizeStart < 8, size <= Self.maxAccessSize else {
                p = skipMalformed(q, lineCount); continue
            }
            while q.pointee == 32 || q.pointee == 13 || q.pointee == 9 { q += 1 }
            guard q.pointee == 10 else { p = skipMalformed(q, lineCount); continue }
            out[n] = TraceAccess(address: address, size: size, access: access)
            n += 1
            p = q + 1
        }
        lines &+= lineCount
        start = p - block
        return n
    }

    /// A line exactly as lackey writes it (" L addr,size", " S", " M", "I  addr,size", up to
    /// 15 address digits and a 1- or 2-digit size), parsed with a few word loads; nil for
    /// anything else, which the general parser then takes. (Measured: the byte-by-byte
    /// prefix, size and trailing-blank loops were a third of the parser's time.) Reads at
    /// most 16 bytes past `p`, inside the block and its spare bytes.
    @inline(__always)
    static func canonical(_ p: UnsafeMutablePointer<UInt8>) -> (TraceAccess, UnsafeMutablePointer<UInt8>)? {
        let access: Access
        switch UInt32(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt32.self)) & 0xFF_FFFF {
        case 0x20_4C20: access = .read
        case 0x20_5320, 0x20_4D20: access = .write
        case 0x20_2049: access = .exec
        default: return nil
        }
        let first = p + 3
        var (address, digits) = hexWord(first)
        guard digits > 0 else { return nil }
        if digits == 8 {
            let (low, more) = hexWord(first + 8)
            guard more < 8 else { return nil }
            address = more == 0 ? address : address &<< UInt64(4 * more) | low
            digits += more
        }
        let comma = first + digits
        let tail = UInt32(littleEndian: UnsafeRawPointer(comma).loadUnaligned(as: UInt32.self))
        guard tail & 0xFF == 44 else { return nil }
        let d1 = (tail >> 8) & 0xFF &- 48, b2 = (tail >> 16) & 0xFF
        guard d1 < 10 else { return nil }
        if b2 == 10 { return (TraceAccess(address: address, size: d1, access: access), comma + 3) }
        let d2 = b2 &- 48
        guard d2 < 10 && tail >> 24 == 10 else { return nil }
        return (TraceAccess(address: address, size: d1 &* 10 &+ d2, access: access), comma + 4)
    }

    /// The hex digits at `at` (up to 8) and their value, read as one 8-byte word: each
    /// byte classified and converted in parallel (SWAR), then the nibbles packed. Measured
    /// with perf: the byte-at-a-time loop was over half of the parser's time. The block
    /// has 8 spare bytes, so reading a word at any parse position stays inside it; bytes
    /// after the line's newline are never counted, as the newline is not a digit.
    @inline(__always)
    static func hexWord(_ at: UnsafeMutablePointer<UInt8>) -> (value: UInt64, digits: Int) {
        let w = UInt64(littleEndian: UnsafeRawPointer(at).loadUnaligned(as: UInt64.self))
        let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
        let x = w & ~high                                   // bytes ≥ 0x80 are excluded below
        @inline(__always) func within(_ v: UInt64, _ lo: UInt64, _ hi: UInt64) -> UInt64 {
            (v &+ (0x80 &- lo) &* ones) & ~(v &+ (0x7F &- hi) &* ones) & high
        }
        let isHex = (within(x, 0x30, 0x39) | within(x | 0x20 &* ones, 0x61, 0x66)) & ~w
        let digits = (~isHex & high).trailingZeroBitCount / 8
        guard digits > 0 else { return (0, 0) }
        // Nibble values: the low four bits, plus 9 for letters (bit 6 set).
        var v = (w & 0x0F0F_0F0F_0F0F_0F0F) &+ ((w >> 6) & ones) &* 9
        // First digit most significant: swap bytes, then drop the non-digits.
        v = v.byteSwapped &>> UInt64(64 - 8 * digits)
        v = (v | v >> 4) & 0x00FF_00FF_00FF_00FF
        v = (v | v >> 8) & 0x0000_FFFF_0000_FFFF
        v = (v | v >> 16) & 0x0000_0000_FFFF_FFFF
        return (v, digits)
    }

    /// The value of the 9 to 16 hex digits at `first`.
    static func join(_ first: UnsafeMutablePointer<UInt8>, _ digits: Int) -> UInt64 {
        hexWord(first).value &<< UInt64(4 * (digits - 8)) | hexWord(first + 8).value
    }

    /// Counts the line being parsed (the `lineCount`th of this batch) as malformed and
    /// returns the start of the next one.
    private func skipMalformed(_ at: UnsafeMutablePointer<UInt8>, _ lineCount: UInt64) -> UnsafeMutablePointer<UInt8> {
        malformedLines &+= 1
        if firstMalformedLine == nil { firstMalformedLine = lines &+ lineCount }
        var q = at
        while q.pointee != 10 { q += 1 }
        return q + 1
    }

    private func malformed() {
        malformedLines &+= 1
        if firstMalformedLine == nil { firstMalformedLine = lines }
    }
}

/// read(2), named apart from LackeyReader.read.
@inline(__always)
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
    read(fd, buffer, count)
}
