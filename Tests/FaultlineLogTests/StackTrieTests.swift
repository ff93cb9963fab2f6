// The stack trie: each (parent, frame) edge is written once, shared prefixes share nodes,
// and the loaded log walks a stack back leaf first. A lying file cannot make a walk loop.

import XCTest
import FaultlineCore
import FaultlineLog

final class StackTrieTests: XCTestCase {
    private let done = LogSummary(endTimeNs: 0, faults: 0, lost: 0, throttled: 0, unaccountedEntries: 0, exitCode: 0)

    func testInterningIsIdempotentAndSharesPrefixes() throws {
        let dir = try TempDirectory()
        let path = dir.file("s.flt")
        let w = try LogWriter(path: path, header: LogHeader())
        let f = (0..<6).map { w.frame(Frame(module: nil, offset: UInt64($0) * 0x10)) }
        try w.flush()

        // leaf first: f0 called by f1 called by f2 (main)
        let abc = w.stack(leafFirst: [f[0], f[1], f[2]])
        try w.flush()
        let afterFirst = w.bytesWritten

        XCTAssertEqual(w.stack(leafFirst: [f[0], f[1], f[2]]), abc)
        try w.flush()
        XCTAssertEqual(w.bytesWritten, afterFirst, "interning a known stack wrote something")

        // Same callers, other leaf: one new node.
        let dbc = w.stack(leafFirst: [f[3], f[1], f[2]])
        XCTAssertNotEqual(dbc, abc)
        // A caller-side prefix of a known stack is an existing node: nothing new.
        let bc = w.stack(leafFirst: [f[1], f[2]])
        try w.flush()
        let afterShared = w.bytesWritten
        XCTAssertEqual(w.stack(leafFirst: [f[1], f[2]]), bc)
        // Recursion: the same frame repeated is distinct nodes.
        let rec = w.stack(leafFirst: [f[4], f[4], f[4]])
        let other = w.stack(leafFirst: [f[2], f[1], f[0]]) // reversed: nothing shared with abc
        XCTAssertEqual(w.stack(leafFirst: [FrameID]()), .empty)
        try w.flush()
        XCTAssertGreaterThan(w.bytesWritten, afterShared)
        try w.finish(done)

        let records = try readChunks(path).chunks.flatMap { $0 }
        var nodes: [(StackID, StackID, FrameID)] = []
        for case let .stack(id, parent, frame) in records { nodes.append((id, parent, frame)) }
        // abc: 3, dbc: +1, bc: +0, rec: 3, other: 3.
        XCTAssertEqual(nodes.count, 10)
        XCTAssertEqual(Set(nodes.map { $0.0 }).count, nodes.count, "a stack node was written twice")
        XCTAssertEqual(Set(nodes.map { "\($0.1)-\($0.2)" }).count, nodes.count, "an edge was written twice")
        for (id, parent, _) in nodes { XCTAssertLessThan(parent, id, "a parent must precede its child") }

        let log = try LoadedLog.load(path: path)
        XCTAssertEqual(log.frames(of: abc), [f[0], f[1], f[2]])
        XCTAssertEqual(log.frames(of: dbc), [f[3], f[1], f[2]])
        XCTAssertEqual(log.frames(of: bc), [f[1], f[2]])
        XCTAssertEqual(log.frames(of: rec), [f[4], f[4], f[4]])
        XCTAssertEqual(log.frames(of: other), [f[2], f[1], f[0]])
        XCTAssertEqual(log.frames(of: .empty), [])
        XCTAssertEqual(log.frames(of: StackID(rawValue: 9999)), [], "an unknown stack has no frames")
        // dbc's parent is abc's parent: shared.
        XCTAssertEqual(log.stackParents[dbc.index], log.stackParents[abc.index])
        XCTAssertEqual(log.stackParents[abc.index], bc)
    }

    func testDeepStackRoundTrips() throws {
        let dir = try TempDirectory()
        let path = dir.file("deep.flt")
        let w = try LogWriter(path: path, header: LogHeader())
        let frames = (0..<500).map { w.frame(Frame(module: nil, offset: UInt64($0))) }
        let deep = w.stack(leafFirst: frames)
        XCTAssertEqual(deep, StackID(rawValue: 500))
        try w.finish(done)
        XCTAssertEqual(try LoadedLog.load(path: path).frames(of: deep), frames)
    }

    /// A node that names itself or a later node as parent is refused, so walks stay finite.
    func testCyclicStackRecordsAreRefused() {
        var log = LoadedLog()
        log.apply(.stack(StackID(rawValue: 1), parent: .empty, frame: FrameID(rawValue: 7)))
        log.apply(.stack(StackID(rawValue: 2), parent: StackID(rawValue: 2), frame: FrameID(rawValue: 8)))
        log.apply(.stack(StackID(rawValue: 3), parent: StackID(rawValue: 4), frame: FrameID(rawValue: 8)))
        log.apply(.stack(.empty, parent: .empty, frame: FrameID(rawValue: 8)))
        XCTAssertEqual(log.danglingReferences, 3)
        XCTAssertEqual(log.frames(of: StackID(rawValue: 1)), [FrameID(rawValue: 7)])
        XCTAssertEqual(log.frames(of: StackID(rawValue: 2)), [])
        // A huge id does not make the table grow.
        log.apply(.stack(StackID(rawValue: UInt32.max), parent: .empty, frame: FrameID(rawValue: 1)))
        XCTAssertEqual(log.stackParents.count, 2)
        XCTAssertEqual(log.stackFrames.count, 2)
        log.apply(.string(StringID(rawValue: UInt32.max), "x"))
        XCTAssertEqual(log.strings.count, 0)
        // 3 refused nodes, the huge node counted once per table (parents, frames), the string.
        XCTAssertEqual(log.danglingReferences, 6)
    }
}
