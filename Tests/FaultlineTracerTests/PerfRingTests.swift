// PerfRing over memory laid out as the kernel lays out a perf ring (a metadata page with
// data_head and data_tail, then a power-of-two data area), holding recorded records placed so
// that they wrap around its end: each comes out whole and in order, a record the kernel has
// not finished writing stays for the next drain, and the tail published is where reading
// stopped. An unlinked temporary file stands in for the perf fd, so no privileges are needed.

import Foundation
import XCTest
import CFaultlineLinux
import FaultlineTestSupport
@testable import FaultlineTracer

final class PerfRingTests: XCTestCase {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let dataPages = 4

    /// A ring of `dataPages` pages, as the kernel would leave it after writing `records`
    /// from byte position `tail` on (positions count up forever; the data area is indexed
    /// by position modulo its size), with data_head = `tail + head`.
    struct FakeRing {
        let fd: Int32
        let memory: UnsafeMutableRawPointer
        let size: Int
        var metadata: UnsafeMutablePointer<perf_event_mmap_page> { memory.assumingMemoryBound(to: perf_event_mmap_page.self) }
    }

    func makeRing(records: [UInt8], tail: UInt64, head: UInt64? = nil) throws -> (FakeRing, PerfRing) {
        var template = Array((NSTemporaryDirectory() + "/faultline-ring-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        XCTAssertGreaterThanOrEqual(fd, 0, "mkstemp")
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        let size = page * (dataPages + 1)
        XCTAssertEqual(ftruncate(fd, off_t(size)), 0)
        let memory = try XCTUnwrap(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))
        XCTAssertNotEqual(memory, MAP_FAILED)
        let fake = FakeRing(fd: fd, memory: memory, size: size)
        let dataSize = page * dataPages
        XCTAssertLessThanOrEqual(records.count, dataSize, "the records fit the ring")
        for (i, byte) in records.enumerated() {
            memory.storeBytes(of: byte, toByteOffset: page + Int((tail + UInt64(i)) % UInt64(dataSize)), as: UInt8.self)
        }
        fake.metadata.pointee.data_tail = tail
        fake.metadata.pointee.data_head = head ?? tail + UInt64(records.count)
        return (fake, try PerfRing(fd: fd, dataPages: dataPages))
    }

    /// Recorded records (from the cow_fork fixture) that fill most of the ring.
    func recordedRecords() throws -> [[UInt8]] {
        let fixture = try PerfFixture.load("cow_fork")
        var records: [[UInt8]] = []
        var bytes = 0
        for span in fixture.recordSpans {
            guard bytes + span.count <= page * dataPages - 64 else { break }
            records.append(Array(fixture.records[span]))
            bytes += span.count
        }
        XCTAssertGreaterThan(records.count, 10)
        XCTAssertGreaterThan(Set(records.map(\.count)).count, 2, "records of several sizes")
        return records
    }

    func drained(_ ring: PerfRing) -> (records: [[UInt8]], consumed: Int) {
        var out: [[UInt8]] = []
        let consumed = ring.drain { out.append(Array($0)) }
        return (out, consumed)
    }

    func testRecordsComeOutWholeAcrossTheEndOfTheRing() throws {
        let records = try recordedRecords()
        let bytes = records.flatMap { $0 }
        let dataSize = UInt64(page * dataPages)
        // Start so that a record straddles the end (records are 8-byte aligned, the header never
        // straddles), and positions are far past the first lap.
        for laps in [UInt64(0), 1, 1 << 40] {
            let straddle = UInt64(records.prefix(3).map(\.count).reduce(0, +)) + 16
            let tail = laps * dataSize + dataSize - straddle
            let (fake, ring) = try makeRing(records: records.flatMap { $0 }, tail: tail)
            defer { munmap(fake.memory, fake.size); close(fake.fd) }
            let out = drained(ring)
            XCTAssertEqual(out.records.count, records.count)
            XCTAssertTrue(out.records == records, "every record whole, in order (from \(tail))")
            XCTAssertEqual(out.consumed, bytes.count)
            XCTAssertEqual(fake.metadata.pointee.data_tail, tail + UInt64(bytes.count), "the tail published")
            XCTAssertEqual(ring.pending, 0)
            XCTAssertEqual(drained(ring).records.count, 0, "nothing twice")
        }
    }

    func testARecordNotYetWholeWaitsForTheNextDrain() throws {
        let records = try recordedRecords()
        let bytes = records.flatMap { $0 }
        let last = try XCTUnwrap(records.last)
        let tail = UInt64(page * dataPages - 24)
        // The kernel has advanced head past all but the last 8 bytes of the last record.
        let (fake, ring) = try makeRing(records: bytes, tail: tail, head: tail + UInt64(bytes.count - 8))
        defer { munmap(fake.memory, fake.size); close(fake.fd) }
        let first = drained(ring)
        XCTAssertTrue(first.records == Array(records.dropLast()))
        XCTAssertEqual(first.consumed, bytes.count - last.count)
        XCTAssertEqual(fake.metadata.pointee.data_tail, tail + UInt64(bytes.count - last.count))
        XCTAssertEqual(ring.pending, last.count - 8)
        // Now it is written.
        fake.metadata.pointee.data_head = tail + UInt64(bytes.count)
        let second = drained(ring)
        XCTAssertTrue(second.records == [last])
        XCTAssertEqual(fake.metadata.pointee.data_tail, tail + UInt64(bytes.count))
    }

    func testAnEmptyRingGivesNothing() throws {
        let (fake, ring) = try makeRing(records: [], tail: 4096 * 3)
        defer { munmap(fake.memory, fake.size); close(fake.fd) }
        XCTAssertEqual(drained(ring).consumed, 0)
        XCTAssertEqual(fake.metadata.pointee.data_tail, 4096 * 3)
    }
}
