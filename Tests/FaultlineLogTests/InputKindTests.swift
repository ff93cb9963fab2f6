// Logs read from what a person may give as a file: a pipe (`report <(cat x.flt)`,
// `/dev/stdin`), a directory, a device. A pipe has no size and is read to its end; a
// directory or /dev/zero is refused with one clear reason, without reading forever.

import Foundation
import XCTest
import FaultlineCore
import FaultlineLog
#if canImport(Glibc)
import Glibc
#endif

final class InputKindTests: XCTestCase {
    /// A pipe whose other end a thread fills with `bytes` and closes; the path of its read end.
    private func pipePath(feeding bytes: [UInt8]) throws -> (path: String, close: () -> Void) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        Thread.detachNewThread {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { write(writeEnd, $0.baseAddress! + offset, bytes.count - offset) }
                if n <= 0 { break }
                offset += n
            }
            close(writeEnd)
        }
        return ("/proc/self/fd/\(readEnd)", { close(readEnd) })
    }

    func testALogReadFromAPipeIsTheLogReadFromItsFile() throws {
        let dir = try TempDirectory()
        let path = dir.file("log.flt")
        // Many chunks, so that reads from the pipe come back short and must be resumed.
        let faults = awkwardFaults(count: 30_000, seed: 5)
        try writeLog(path, faults: faults)
        let bytes = try readBytes(path)
        XCTAssertGreaterThan(chunkSpans(bytes).count, 3)
        let (pipe, close) = try pipePath(feeding: bytes)
        defer { close() }

        let log = try LoadedLog.load(path: pipe)
        XCTAssertNil(log.damage)
        XCTAssertTrue(log.faults == faults)
        XCTAssertNotNil(log.summary)
        XCTAssertEqual(log.fileSize, UInt64(bytes.count), "the size of a pipe is what was read from it")
    }

    func testAPipeCutInsideAChunkReadsUpToIt() throws {
        let dir = try TempDirectory()
        let path = dir.file("log.flt")
        try writeLog(path, faults: awkwardFaults(count: 20_000, seed: 6))
        let bytes = try readBytes(path)
        let spans = chunkSpans(bytes)
        let cut = spans[2].payloadStart + spans[2].length / 2
        let (pipe, close) = try pipePath(feeding: Array(bytes[..<cut]))
        defer { close() }

        let log = try LoadedLog.load(path: pipe)
        XCTAssertEqual(log.damage?.kind, .truncated)
        XCTAssertEqual(log.damage?.offset, UInt64(spans[2].start))
        XCTAssertEqual(log.chunks, 2)
    }

    func testAnEmptyPipeIsEmpty() throws {
        let (pipe, close) = try pipePath(feeding: [])
        defer { close() }
        XCTAssertThrowsError(try LoadedLog.load(path: pipe)) { XCTAssertEqual($0 as? LogReadError, .empty(path: pipe)) }
    }

    func testADirectoryIsADirectory() throws {
        let dir = try TempDirectory()
        XCTAssertThrowsError(try LoadedLog.load(path: dir.path)) { error in
            XCTAssertEqual(error as? LogReadError, .isDirectory(path: dir.path))
            XCTAssertEqual("\(error)", "\(dir.path) is a directory, not a faultline log")
        }
    }

    func testDevZeroIsNotALogAndDevNullIsEmpty() throws {
        // /dev/zero never ends: the reader must decide from the first bytes.
        XCTAssertThrowsError(try LoadedLog.load(path: "/dev/zero")) {
            XCTAssertEqual($0 as? LogReadError, .notALog(path: "/dev/zero"))
        }
        XCTAssertThrowsError(try LoadedLog.load(path: "/dev/null")) {
            XCTAssertEqual($0 as? LogReadError, .empty(path: "/dev/null"))
        }
    }
}
