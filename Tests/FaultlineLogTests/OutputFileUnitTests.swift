// OutputFile without privileges: what was at the path stays until commit, a new file is
// 0600 unless asked, a directory is refused, devices are written as they are, and the
// caller's own symlinks are followed.

import XCTest
import Foundation
@testable import FaultlineLog

final class OutputFileUnitTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-outputfile-\(getpid())-\(name.hashValue)").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    private func write(_ file: OutputFile, _ text: String) {
        XCTAssertEqual(text.withCString { Glibc.write(file.fd, $0, strlen($0)) }, text.utf8.count)
    }

    private func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir).sorted() }

    func testTheOldFileStaysUntilCommit() throws {
        let path = dir + "/out"
        try "old".write(toFile: path, atomically: false, encoding: .utf8)
        let file = try OutputFile(path: path)
        write(file, "new")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old")
        try file.commit()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "new")
        XCTAssertNil(file.close())
        XCTAssertEqual(try entries(), ["out"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
    }

    func testAnAbandonedFileLeavesNothing() throws {
        let path = dir + "/out"
        try "old".write(toFile: path, atomically: false, encoding: .utf8)
        do {
            let file = try OutputFile(path: path, mode: 0o644)
            write(file, "half")
        } // dropped without commit
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old")
        XCTAssertEqual(try entries(), ["out"])
        let fresh = try OutputFile(path: dir + "/fresh", mode: 0o640)
        try fresh.commit()
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: dir + "/fresh")[.posixPermissions] as? Int, 0o640)
    }

    func testDirectoriesAreRefusedAndDevicesWritten() throws {
        XCTAssertThrowsError(try OutputFile(path: dir)) {
            XCTAssertEqual("\($0)", "cannot write \(dir!): Is a directory")
        }
        let null = try OutputFile(path: "/dev/null")
        write(null, "gone")
        try null.commit()
        XCTAssertNil(null.close())
        XCTAssertEqual(try OutputFile.resolve("/dev/stdout"), .descriptor(1))
    }

    func testOwnSymlinksAreFollowedToTheirFile() throws {
        XCTAssertEqual(symlink("real", dir + "/link"), 0) // relative, dangling until written
        let file = try OutputFile(path: dir + "/link")
        write(file, "through")
        try file.commit()
        XCTAssertEqual(try String(contentsOfFile: dir + "/real", encoding: .utf8), "through")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link"), "real")
        XCTAssertEqual(symlink(dir + "/loop", dir + "/loop"), 0)
        XCTAssertThrowsError(try OutputFile(path: dir + "/loop"))
    }
}
