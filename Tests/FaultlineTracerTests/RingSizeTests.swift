// The default size of each CPU's ring: 32 MiB on small machines, the rings sharing 512 MiB
// past 16 CPUs (at least 2 MiB each), so that a many-CPU machine does not give a recording
// gigabytes of zeroed ring memory at its start.

import XCTest
@testable import FaultlineTracer

final class RingSizeTests: XCTestCase {
    func testRingsShare512MiBPast16CPUs() {
        let mib = 1 << 20
        func ringBytes(_ cpus: Int, pageSize: Int = 4096) -> Int {
            RecordOptions.defaultRingPages(cpus: cpus, pageSize: pageSize) * pageSize
        }
        XCTAssertEqual(ringBytes(1), 32 * mib)
        XCTAssertEqual(ringBytes(2), 32 * mib)
        XCTAssertEqual(ringBytes(16), 32 * mib)
        XCTAssertEqual(ringBytes(24), 16 * mib, "512 MiB / 24 rounded down to a power of two")
        XCTAssertEqual(ringBytes(64), 8 * mib)
        XCTAssertEqual(ringBytes(256), 2 * mib)
        XCTAssertEqual(ringBytes(4096), 2 * mib, "never below 2 MiB")
        XCTAssertEqual(ringBytes(2, pageSize: 65536), 32 * mib, "64 KiB pages: the same bytes")
        XCTAssertEqual(RecordOptions.defaultRingPages(cpus: 2, pageSize: 65536), 512)
        // A recording's options take the machine's default unless told.
        XCTAssertEqual(RecordOptions(command: ["true"], output: "x").ringPages,
                       RecordOptions.defaultRingPages(cpus: HostInfo.onlineCPUs, pageSize: Int(HostInfo.pageSize)))
        XCTAssertEqual(RecordOptions(command: ["true"], output: "x", ringPages: 64).ringPages, 64)
    }
}
