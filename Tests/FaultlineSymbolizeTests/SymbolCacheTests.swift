// The per-build-id name cache: a second recording of the same build is named from it
// without asking libdw, with the same names, lines and inline chains; a damaged file is
// ignored, never trusted or crashed on.

import XCTest
import Glibc
import FaultlineCore
import FaultlineTestSupport
@testable import FaultlineSymbolize

/// Answers from a table and counts the questions; `hasBuild`: whether it has the recorded
/// build (so that its "no name" may be kept).
private final class TableSymbolizer: BuildAwareSymbolizer {
    var table: [UInt64: Symbol] = [:]
    var asked = 0
    var hasBuild = true
    func hasModule(path modulePath: String, buildID: [UInt8]) -> Bool { hasBuild }
    func symbolize(modulePath: String, buildID: [UInt8], fileOffset: UInt64) -> Symbol? {
        asked += 1
        return table[fileOffset]
    }
}

final class SymbolCacheTests: XCTestCase {
    let build: [UInt8] = [0xde, 0xad, 0x0b, 0xee, 0xf0, 0x01]
    let names: [UInt64: Symbol] = [
        0x1000: Symbol(function: "main", file: "/src/main.c", line: 12),
        0x2040: Symbol(function: "pool_extend", file: "/src/tab\there.c", line: 7,
                       inlinedInto: [SourceFunction(function: "alloc\\fast", file: "/src/a.c", line: 30),
                                     SourceFunction(function: "new\nkeys", file: nil, line: nil)]),
        0x3000: Symbol(function: nil, file: nil, line: nil),
    ]

    private func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-symcache-\(getpid())-\(name.hashValue)").path
        try? FileManager.default.removeItem(atPath: dir)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir + "/nested/symbols"
    }

    private func ask(_ cache: CachingSymbolizer, _ offsets: [UInt64]) -> [Symbol?] {
        offsets.map { cache.symbolize(modulePath: "/bin/prog", buildID: build, fileOffset: $0) }
    }

    func testASecondRecordingIsNamedFromTheCache() throws {
        let dir = try directory()
        let offsets: [UInt64] = [0x1000, 0x2040, 0x3000, 0x4000, 0x1000]
        let libdw = TableSymbolizer()
        libdw.table = names
        let first = CachingSymbolizer(wrapping: libdw, directory: dir)
        let answers = ask(first, offsets)
        XCTAssertEqual(answers, offsets.map { names[$0] })
        XCTAssertEqual(libdw.asked, 4, "each offset asked once; the repeat answered from memory")
        first.save()

        let later = TableSymbolizer()   // knows nothing: every name must come from the file
        let second = CachingSymbolizer(wrapping: later, directory: dir)
        XCTAssertEqual(ask(second, [0x1000, 0x2040, 0x3000]), [names[0x1000], names[0x2040], names[0x3000]])
        XCTAssertEqual(later.asked, 0)
        XCTAssertEqual(ask(second, [0x4000]), [nil])
        XCTAssertEqual(later.asked, 0, "the recorded build had no name there: kept too")
    }

    func testNoNameIsKeptOnlyFromTheRecordedBuild() throws {
        let dir = try directory()
        let gone = TableSymbolizer()
        gone.hasBuild = false   // the file was rebuilt or deleted since the recording
        let first = CachingSymbolizer(wrapping: gone, directory: dir)
        XCTAssertEqual(ask(first, [0x1000]), [nil])
        first.save()
        let found = TableSymbolizer()
        found.table = names
        let second = CachingSymbolizer(wrapping: found, directory: dir)
        XCTAssertEqual(ask(second, [0x1000]), [names[0x1000]], "asked again, and named now")
        XCTAssertEqual(found.asked, 1)
    }

    func testFramesWithoutABuildIDAreNotCached() throws {
        let dir = try directory()
        let libdw = TableSymbolizer()
        libdw.table = names
        let cache = CachingSymbolizer(wrapping: libdw, directory: dir)
        for _ in 0..<2 { _ = cache.symbolize(modulePath: "/bin/prog", buildID: [], fileOffset: 0x1000) }
        XCTAssertEqual(libdw.asked, 2)
        cache.save()
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/v\(CachingSymbolizer.namingVersion)"))
    }

    func testADamagedFileIsIgnoredAndRewritten() throws {
        let dir = try directory()
        let libdw = TableSymbolizer()
        libdw.table = names
        let first = CachingSymbolizer(wrapping: libdw, directory: dir)
        _ = ask(first, [0x1000, 0x2040])
        first.save()
        let file = dir + "/v\(CachingSymbolizer.namingVersion)/dead0beef001"
        let good = try String(contentsOfFile: file, encoding: .utf8)
        for damaged in [good + "zz\tmain\t\t\n", good + "2000\tf\tx\n", good + "2000\tf\t\t-3\n", good + "2000\tf\\q\t\t\n",
                        String(good.dropLast(5)), "\u{0}\u{1}\u{2}"] {
            try damaged.write(toFile: file, atomically: true, encoding: .utf8)
            let counting = TableSymbolizer()
            counting.table = names
            let cache = CachingSymbolizer(wrapping: counting, directory: dir)
            XCTAssertEqual(ask(cache, [0x1000, 0x2040]), [names[0x1000], names[0x2040]], damaged)
            XCTAssertEqual(counting.asked, 2, "a damaged file is not read at all: \(damaged.debugDescription)")
            cache.save()
            XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), good, "rewritten whole")
        }
    }
}
