// JSON's two byte-level rules, written once for every writer that builds JSON as bytes
// (the JSONL export's lines, replay's report): a number in place, and a string quoted and
// escaped per RFC 8259 (quote, backslash, control characters; everything else as UTF-8:
// every byte of a multi-byte character is 0x80 or above, so none needs escaping).

public enum JSONBytes {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `value` in base `radix` (10 or 16, lowercase), without a sign or prefix. Written
    /// into a stack buffer, back to front, by a constant divisor (a shift for hex), then
    /// appended once: digit by digit into the array, with a division by a variable radix,
    /// this was most of the time of a 100,000-mapping replay's JSON (mapping_churn, perf).
    public static func appendDigits(_ value: UInt64, radix: UInt64, to out: inout [UInt8]) {
        precondition(radix == 10 || radix == 16, "radix \(radix)")
        // 20 digits hold any UInt64 in base 10 (16 in base 16).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var i = 20
            var v = value
            if radix == 16 {
                repeat {
                    i -= 1
                    let digit = UInt8(truncatingIfNeeded: v & 0xF)
                    buffer[i] = digit < 10 ? UInt8(ascii: "0") &+ digit : UInt8(ascii: "a") &+ (digit &- 10)
                    v >>= 4
                } while v > 0
            } else {
                repeat {
                    i -= 1
                    buffer[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                    v /= 10
                } while v > 0
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i..<20]))
        }
    }

    /// Whether `byte` cannot stand in a JSON string as it is.
    @inlinable public static func needsEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// `text` as a JSON string, quotes included.
    public static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            // Most strings (paths, symbols) need no escaping: copy them whole.
            if !utf8.contains(where: needsEscaping) {
                out.append(contentsOf: utf8)
                return
            }
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
                case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
                case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
                case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
                case 0..<0x20:
                    out += Array("\\u00".utf8) + [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
                default: out.append(byte)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
