// replay's JSON builder: names from the log (mapping paths, process names) may hold any
// character; what it writes must parse back to the same strings, whether a string takes
// the fast path (nothing to escape) or the escaping one.

import Foundation
import XCTest
import FaultlineCore
import FaultlineTestSupport
@testable import FaultlineReplay

final class ReplayJSONTests: XCTestCase {
    func testEveryStringParsesBackToItself() throws {
        let names = ["/usr/lib/libc.so.6", "", "quote \" inside", "back\\slash", "line\nbreak", "tab\tand\r",
                     "bell \u{07} and unit \u{1F}", "naïve 名前 🙂", "/memfd:jit (deleted)"]
        let text = JSONObject.text { o in
            o.string("name", names[2])
            o.strings("names", names)
            o.int("count", UInt64(names.count))
            o.raw("nested", JSONObject.text { $0.int(named: "k\"ey", 1) })
            o.int(named: "made\\at\trun time", 7)
        }
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(parsed["name"] as? String, names[2])
        XCTAssertEqual(parsed["names"] as? [String], names)
        XCTAssertEqual(parsed["made\\at\trun time"] as? Int, 7)
        XCTAssertEqual(parsed["count"] as? Int, names.count)
        XCTAssertEqual((parsed["nested"] as? [String: Any])?["k\"ey"] as? Int, 1)
        XCTAssertEqual(jsonString("a\"b"), #""a\"b""#)
        XCTAssertEqual(jsonString("\u{01}"), #""\u0001""#)
    }

    /// The byte buffer JSON is built in, against JSONBytes writing into an array: numbers
    /// of every length in both bases, strings that need escaping or not, single bytes,
    /// from a small start that must grow many times, and after being emptied.
    func testTheBufferHoldsWhatJSONBytesWrites() {
        var rng = SeededGenerator(seed: 21)
        var buffer = JSONBuffer(capacity: 64)
        var expected: [UInt8] = []
        // Each number at the edges of its length, in both bases: 0, 9, 10, 99, 100, ... the
        // largest; each power of 16 and the number before it.
        var edges: [UInt64] = [0, 1, UInt64.max, UInt64.max - 1]
        var power: UInt64 = 1
        for _ in 0..<20 {
            edges += [power - 1, power, power + 1]
            power = power &* 10
        }
        for shift in stride(from: 4, to: 64, by: 4) { edges += [(1 << UInt64(shift)) - 1, 1 << UInt64(shift)] }
        for value in edges {
            buffer.appendDigits(value)
            JSONBytes.appendDigits(value, radix: 10, to: &expected)
            buffer.append(UInt8(ascii: " "))
            expected.append(UInt8(ascii: " "))
            buffer.appendDigits(value, hex: true)
            JSONBytes.appendDigits(value, radix: 16, to: &expected)
            buffer.append(UInt8(ascii: " "))
            expected.append(UInt8(ascii: " "))
        }
        XCTAssertEqual(String(decoding: buffer.written, as: UTF8.self), String(decoding: expected, as: UTF8.self))
        for step in 0..<6000 {
            let value = rng.next() >> (rng.next() % 64)
            switch rng.next() % 4 {
            case 0:
                buffer.appendDigits(value)
                JSONBytes.appendDigits(value, radix: 10, to: &expected)
            case 1:
                buffer.appendDigits(value, hex: true)
                JSONBytes.appendDigits(value, radix: 16, to: &expected)
            case 2:
                let text = String(repeating: ["a", "\"", "é", "\n", "/usr/lib"][Int(rng.next() % 5)], count: Int(rng.next() % 300))
                buffer.appendQuoted(text)
                JSONBytes.appendQuoted(text, to: &expected)
            default:
                let byte = UInt8(truncatingIfNeeded: value)
                buffer.append(byte)
                expected.append(byte)
            }
            if step % 1500 == 1499 {
                XCTAssertEqual(Array(buffer.written), expected, "step \(step)")
                buffer.removeAll()
                expected.removeAll()
            }
        }
        XCTAssertEqual(Array(buffer.written), expected)
    }

    func testAnEmptyObjectIsBraces() {
        XCTAssertEqual(JSONObject.text { _ in }, "{}")
        XCTAssertEqual(JSONObject.text { o in
            o.int("a", 1)
            o.raw("b", "null")
        }, #"{"a":1,"b":null}"#)
    }

    /// A long array's second half is built on another core: the bytes must be those of the
    /// array built in one go, whatever the count (odd, at the threshold, past a block).
    func testAnArrayBuiltInTwoHalvesIsTheSameBytes() {
        for count in [0, 1, 2, 3, 7, 4_001] {
            let items = Array(0..<count)
            func build(parallel: Bool) -> String {
                JSONObject.text { o in
                    o.int("before", 1)
                    let body = { (e: inout JSONObject, i: Int) in
                        e.int("i", UInt64(i))
                        e.string("name", "mapping \(i) \"quoted\"")
                        e.objects("inner", 0..<(i % 3)) { x, j in x.int("j", UInt64(j)) }
                    }
                    if parallel { o.objects("items", items, inParallelFrom: 2, body) } else { o.objects("items", items, body) }
                    o.int("after", 2)
                }
            }
            XCTAssertEqual(build(parallel: true), build(parallel: false), "\(count) items")
        }
    }

    /// Objects and arrays are written in place, into their parent's buffer: every comma
    /// must fall between two members, never after an opening bracket or before a closing
    /// one, whatever was written last (a nested value, an empty array).
    func testNestedValuesParseBackInPlace() throws {
        let text = JSONObject.text { o in
            o.objects("empty_first", [Int]()) { _, _ in }
            o.object("inner") { i in
                i.int("below_zero", signed: -42)
                i.ints("none", [])
                i.hex("address", 0x7fff_dead_b000)
            }
            o.objects("rows", [1, 2, 3]) { e, n in
                e.int("n", UInt64(n))
                e.strings("names", (0..<n).map { "name\($0)" })
                e.object("deep") { $0.bool("odd", n % 2 == 1) }
            }
            o.ints("numbers", [0, 9, 10, UInt64.max])
            o.int("last", 7)
        }
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual((parsed["empty_first"] as? [Any])?.count, 0)
        let inner = try XCTUnwrap(parsed["inner"] as? [String: Any])
        XCTAssertEqual(inner["below_zero"] as? Int, -42)
        XCTAssertEqual((inner["none"] as? [Any])?.count, 0)
        XCTAssertEqual(inner["address"] as? String, "0x7fffdeadb000")
        let rows = try XCTUnwrap(parsed["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["n"] as? Int }, [1, 2, 3])
        XCTAssertEqual(rows.map { ($0["names"] as? [String])?.count }, [1, 2, 3])
        XCTAssertEqual(rows.map { ($0["deep"] as? [String: Any])?["odd"] as? Bool }, [true, false, true])
        XCTAssertEqual((parsed["numbers"] as? [NSNumber])?.map(\.uint64Value), [0, 9, 10, UInt64.max])
        XCTAssertEqual(parsed["last"] as? Int, 7)
    }

    /// A big report is handed over in blocks as it is built (a 100,000-mapping replay is
    /// 16 MB): the blocks must be several, and together exactly the one object, every number
    /// and address in it whole (a block that ended inside a member and dropped or repeated
    /// bytes would not parse, or would parse to other values).
    func testABigObjectComesInBlocksThatJoinIntoIt() throws {
        let rows = 20_000
        var blocks: [[UInt8]] = []
        var o = JSONObject { blocks.append(Array($0)) }
        o.objects("rows", 0..<rows) { e, n in
            e.int("n", UInt64(n))
            e.hex("start", UInt64(n) << 12)
            e.hex("end", n == rows - 1 ? UInt64.max : 0)
            e.string("name", "row \(n)")
        }
        o.finish()
        XCTAssertGreaterThan(blocks.count, 10, "a 1 MB object must not be held whole")
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(blocks.joined())) as? [String: Any])
        let back = try XCTUnwrap(parsed["rows"] as? [[String: Any]])
        XCTAssertEqual(back.count, rows)
        for (n, row) in back.enumerated() {
            XCTAssertEqual(row["n"] as? Int, n)
            XCTAssertEqual(row["start"] as? String, "0x" + String(UInt64(n) << 12, radix: 16))
            XCTAssertEqual(row["end"] as? String, n == rows - 1 ? "0xffffffffffffffff" : "0x0")
            XCTAssertEqual(row["name"] as? String, "row \(n)")
        }
    }
}
