// Builds JSON objects as bytes, field by field, in the order written. Exports write
// millions of these, so this skips Foundation's dictionary round trip, reuses one buffer,
// and formats numbers in place; keys are literals and need no escaping. Numbers and strings
// follow JSONBytes.

import FaultlineCore

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
        JSONBytes.appendQuoted(value, to: &bytes)
    }

    mutating func int<I: BinaryInteger>(_ key: StaticString, _ value: I) {
        self.key(key)
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        JSONBytes.appendDigits(UInt64(value.magnitude), radix: 10, to: &bytes)
    }

    mutating func optionalInt<I: BinaryInteger>(_ key: StaticString, _ value: I?) {
        if let value { int(key, value) } else { raw(key, "null") }
    }

    mutating func bool(_ key: StaticString, _ value: Bool) { raw(key, value ? "true" : "false") }

    /// A hex string, "0x…": addresses are easier to read and compare in hex.
    mutating func hex(_ key: StaticString, _ value: UInt64) {
        self.key(key)
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "0"), UInt8(ascii: "x")])
        JSONBytes.appendDigits(value, radix: 16, to: &bytes)
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
}
