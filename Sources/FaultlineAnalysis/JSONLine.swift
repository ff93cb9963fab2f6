// Builds JSON objects as bytes, field by field, in the order written. Exports write
// millions of these, so this skips Foundation's dictionary round trip, reuses one buffer,
// and formats numbers in place; keys are literals and need no escaping. Strings are
// escaped per RFC 8259 (quote, backslash, control characters; everything else as UTF-8).

struct JSONLine {
    private(set) var bytes: [UInt8] = []
    private var needsComma = false

    init() { begin() }

    /// Starts a new object in the same buffer.
    mutating func begin() {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    /// Closes the object; `newline` ends a JSON Lines record.
    mutating func end(newline: Bool = true) {
        bytes.append(UInt8(ascii: "}"))
        if newline { bytes.append(UInt8(ascii: "\n")) }
    }

    mutating func string(_ key: StaticString, _ value: String) {
        self.key(key)
        Self.appendQuoted(value, to: &bytes)
    }

    mutating func int<I: BinaryInteger>(_ key: StaticString, _ value: I) {
        self.key(key)
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        Self.appendDigits(UInt64(value.magnitude), radix: 10, to: &bytes)
    }

    mutating func optionalInt<I: BinaryInteger>(_ key: StaticString, _ value: I?) {
        if let value { int(key, value) } else { raw(key, "null") }
    }

    mutating func bool(_ key: StaticString, _ value: Bool) { raw(key, value ? "true" : "false") }

    /// A hex string, "0x…": addresses are easier to read and compare in hex.
    mutating func hex(_ key: StaticString, _ value: UInt64) {
        self.key(key)
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "0"), UInt8(ascii: "x")])
        Self.appendDigits(value, radix: 16, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// A value that is already JSON (a literal, a cached array).
    mutating func raw(_ key: StaticString, _ json: StaticString) {
        self.key(key)
        json.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ key: StaticString, _ json: [UInt8]) {
        self.key(key)
        bytes.append(contentsOf: json)
    }

    private mutating func key(_ key: StaticString) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func appendDigits(_ value: UInt64, radix: UInt64, to out: inout [UInt8]) {
        var count = 1
        var rest = value / radix
        while rest > 0 { count += 1; rest /= radix }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: count))
        var v = value
        for i in stride(from: start + count - 1, through: start, by: -1) {
            out[i] = hexDigits[Int(v % radix)]
            v /= radix
        }
    }

    static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            // Most strings (paths, symbols) need no escaping: copy them whole.
            if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
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
