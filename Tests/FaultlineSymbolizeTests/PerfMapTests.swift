// PerfMap: perf's /tmp/perf-PID.map format, parsed from text a runtime wrote, and read only
// from files the process's own user (or root) owns.

@testable import FaultlineSymbolize
import Foundation
import Glibc
import XCTest
import FaultlineTestSupport

final class PerfMapTests: XCTestCase {
    func testLinesAreRegionsAndAddressesFindTheirName() {
        let map = PerfMap(text: Array("""
            7f68b7875000 b py::_find_and_load:<frozen importlib._bootstrap>
            0x7f68b787500b 0xB py::f:/tmp/a b.py
            7f68b7876000 10 LazyCompile:~handler server.js:12\r

            """.utf8))
        XCTAssertEqual(map.entries.count, 3)
        XCTAssertEqual(map.name(at: 0x7f68b7875000), "py::_find_and_load:<frozen importlib._bootstrap>")
        XCTAssertEqual(map.name(at: 0x7f68b787500a), "py::_find_and_load:<frozen importlib._bootstrap>")
        // 0x prefixes, upper-case digits and spaces in the name.
        XCTAssertEqual(map.name(at: 0x7f68b787500b), "py::f:/tmp/a b.py")
        XCTAssertEqual(map.name(at: 0x7f68b7875015), "py::f:/tmp/a b.py")
        XCTAssertNil(map.name(at: 0x7f68b7875016), "the end is exclusive")
        XCTAssertEqual(map.name(at: 0x7f68b787600f), "LazyCompile:~handler server.js:12", "a CRLF line ends without its CR")
        XCTAssertNil(map.name(at: 0x7f68b7876010))
        XCTAssertNil(map.name(at: 0x1000))
    }

    func testWhereRegionsOverlapTheLaterLineWins() {
        // Code freed and its memory reused: the runtime writes a new line for the same place.
        let map = PerfMap(text: Array("1000 100 old\n1080 10 inner\n1000 40 new\n".utf8))
        XCTAssertEqual(map.name(at: 0x1000), "new")
        XCTAssertEqual(map.name(at: 0x103f), "new")
        XCTAssertEqual(map.name(at: 0x1040), "old")
        XCTAssertEqual(map.name(at: 0x1085), "inner")
        XCTAssertEqual(map.name(at: 0x10ff), "old")
    }

    func testLinesThatAreNotRegionsAreSkipped() {
        let map = PerfMap(text: Array("""
            garbage
            1000
            1000 20
            1000 0 empty
            xyz 10 bad-start
            2000 1g bad-size
            11112222333344445 10 too-long
            ffffffffffffff00 1000 wraps
            3000 10 \(String(repeating: "n", count: 10_000))
            4000 10 kept

            """.utf8))
        XCTAssertEqual(map.entries.map { $0.name.count }, [4096, 4, 5])
        XCTAssertEqual(map.name(at: 0x4005), "kept")
        XCTAssertEqual(map.name(at: UInt64.max - 1), "wraps", "a size past 2^64 ends at 2^64 - 1")
        XCTAssertNil(map.name(at: 0x1000))
        XCTAssertEqual(PerfMap(text: [UInt8]()).entries, [])
    }

    func testOnlyFilesOfTheProcesssUserOrRootAreRead() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-perfmap-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("perf-1.map").path
        try "1000 10 f\n".write(toFile: path, atomically: false, encoding: .utf8)
        let me = geteuid()
        XCTAssertEqual(PerfMap.read(path: path, owner: me)?.name(at: 0x1000), "f")

        // Never through a symbolic link (one planted in /tmp could point anywhere).
        let link = dir.appendingPathComponent("perf-2.map").path
        XCTAssertEqual(symlink(path, link), 0)
        XCTAssertNil(PerfMap.read(path: link, owner: me))
        // Not a regular file.
        XCTAssertNil(PerfMap.read(path: dir.path, owner: me))
        XCTAssertNil(PerfMap.read(path: dir.appendingPathComponent("none").path, owner: me))

        // Owned by someone who is neither the process's user nor root: refused.
        try Skip.if(me != 0, "changing a file's owner needs root")
        XCTAssertEqual(chown(path, 4242, 4242), 0)
        XCTAssertNil(PerfMap.read(path: path, owner: 1000))
        XCTAssertEqual(PerfMap.read(path: path, owner: 4242)?.name(at: 0x1000), "f")
    }
}
