// Reads of data under test that fail one test instead of trapping the whole XCTest process:
// an output with a missing line, field or element is a failed assertion, not a crash that
// hides every other result.

import Foundation
import XCTest

extension Collection {
    /// The element at `position`, or nil when the collection is too short.
    public subscript(checked position: Index) -> Element? {
        indices.contains(position) ? self[position] : nil
    }
}

/// `text` parsed as a JSON object; a failure (not a trap) when it is not one.
public func jsonObject(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    return try XCTUnwrap(parsed as? [String: Any], "not a JSON object: \(text.prefix(200))", file: file, line: line)
}

/// Each line of `text` parsed as a JSON object.
public func jsonLines(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { try jsonObject(String($0), file: file, line: line) }
}
