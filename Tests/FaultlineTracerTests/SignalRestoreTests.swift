// The recorder reads its requests to end (SIGINT, SIGTERM, SIGHUP) through a signalfd while
// they are blocked. When the recording is over it unblocks them; one still pending then must
// not be delivered: it would kill the recorder between its finished log and its summary line.

import XCTest
import Glibc
import CFaultlineLinux
@testable import FaultlineTracer

/// Deliveries of SIGHUP to the handler below.
nonisolated(unsafe) private var hangupsDelivered = 0

final class SignalRestoreTests: XCTestCase {
    func testARequestPendingWhenTheRecordingEndsIsNotDeliveredAfterIt() throws {
        let previous = signal(SIGHUP) { _ in hangupsDelivered += 1 }
        defer { signal(SIGHUP, previous) }
        hangupsDelivered = 0
        let (fd, _, restore) = try Recorder.blockedSignals([SIGHUP])
        raise(SIGHUP)
        XCTAssertEqual(fl_read_signalfd(fd, nil), SIGHUP, "the request the recorder answers")
        // A second one, as timeout(1) sends to the process group just after the first.
        raise(SIGHUP)
        restore()
        XCTAssertEqual(hangupsDelivered, 0, "a pending request was delivered once the signals were unblocked")
        // Unblocked again: a request after the recording reaches the program's own handler.
        raise(SIGHUP)
        XCTAssertEqual(hangupsDelivered, 1)
    }
}
