// The one way a test skips. Outside CI a skip names its reason (on stderr, once per reason,
// and in XCTest's own line for the test); with FAULTLINE_REQUIRE_ALL=1 (.ci/run sets it: CI
// runs as root with every tool installed) a skip is a failure instead, so nothing there is
// passed over in silence.

import Foundation
import XCTest

public enum Skip {
    /// The variable that turns every skip into a failure.
    public static let requireAllVariable = "FAULTLINE_REQUIRE_ALL"

    public static var requireAll: Bool { ProcessInfo.processInfo.environment[requireAllVariable] == "1" }

    /// What a test throws when it cannot run here: an XCTSkip naming `reason`, or, where
    /// everything must run, an error that fails the test with the same reason.
    public static func because(_ reason: String, file: StaticString = #filePath, line: UInt = #line) -> Error {
        if requireAll { return RequiredTestCannotRun(reason: reason) }
        announce(reason)
        return XCTSkip(reason, file: file, line: line)
    }

    /// Skips (see `because`) when `condition` holds.
    public static func `if`(_ condition: Bool, _ reason: @autoclosure () -> String,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        if condition { throw because(reason(), file: file, line: line) }
    }

    /// Skips (see `because`) unless `condition` holds.
    public static func unless(_ condition: Bool, _ reason: @autoclosure () -> String,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        if !condition { throw because(reason(), file: file, line: line) }
    }

    private static let announced = NSLock()
    nonisolated(unsafe) private static var reasons: Set<String> = []

    private static func announce(_ reason: String) {
        announced.lock()
        let first = reasons.insert(reason).inserted
        announced.unlock()
        if first {
            let line = "faultline tests: SKIPPING what needs this: \(reason) (\(requireAllVariable)=1 makes it a failure)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}

/// A test that must run (FAULTLINE_REQUIRE_ALL=1) could not: thrown, it fails the test.
public struct RequiredTestCannotRun: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "\(Skip.requireAllVariable)=1, and this test cannot run here: \(reason)" }
}
