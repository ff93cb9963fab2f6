// replay's JSON builder: names from the log (mapping paths, process names) may hold any
// character; what it writes must parse back to the same strings, whether a string takes
// the fast path (nothing to escape) or the escaping one.

import Foundation
import XCTest
@testable import FaultlineReplay

final class ReplayJSONTests: XCTestCase {
    func testEveryStringParsesBackToItself() throws {
        let names = ["/usr/lib/libc.so.6", "", "quote \" inside", "back\\slash", "line\nbreak", "tab\tand\r",
                     "bell \u{07} and unit \u{1F}", "naïve 名前 🙂", "/memfd:jit (deleted)"]
        var o = JSONObject()
        for (i, name) in names.enumerated() { o.string("name\(i)", name) }
        o.int("count", UInt64(names.count))
        o.raw("nested", { var n = JSONObject(); n.string("k\"ey", "v"); return n.text }())
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(o.text.utf8)) as? [String: Any])
        for (i, name) in names.enumerated() { XCTAssertEqual(parsed["name\(i)"] as? String, name) }
        XCTAssertEqual(parsed["count"] as? Int, names.count)
        XCTAssertEqual((parsed["nested"] as? [String: Any])?["k\"ey"] as? String, "v")
        XCTAssertEqual(jsonString("a\"b"), #""a\"b""#)
        XCTAssertEqual(jsonString("\u{01}"), #""\u0001""#)
    }

    func testAnEmptyObjectIsBraces() {
        XCTAssertEqual(JSONObject().text, "{}")
        var o = JSONObject()
        o.int("a", 1)
        o.raw("b", "null")
        XCTAssertEqual(o.text, #"{"a":1,"b":null}"#)
    }
}
