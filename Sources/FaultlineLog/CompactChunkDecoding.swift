// Decoding a chunk's faults for the model (FaultDetail.compact) one field at a time. From
// format 5 each fault field has its own stream (FaultFieldStreams), so a chunk's faults
// need not be read fault by fault: the record stream is walked once (a fault there is only
// its tag), then each field's stream is read to its end in a loop of its own, straight into
// the columns CompactFaults packs. Read fault by fault, a 2M-fault replay spent a quarter
// of its CPU building FaultEvents whose instruction pointers, stacks and service times the
// model never reads (perf, thread_storm 1024 4).
//
// Hazard: the checks. Every field is still read and checked as LogRecord.decodeFault
// checks it (the same rules, in RecordCoding), and every stream must end with the last
// fault, so a chunk is damaged here exactly when it is damaged there; a damaged chunk is
// then read again fault by fault (LogReader.columns), so its damage is named the same way.

import FaultlineCore

extension LogReader {
    /// Faults decoded at a time: the columns of a window stay in the cache, and a chunk that
    /// announces millions of faults costs no more memory than this before its streams run
    /// dry.
    static let faultColumnWindow = 4096

    /// Reads the `count` faults of a chunk whose record stream has been walked, from the
    /// field streams of `s`, into `out`.
    static func decodeFaultColumns(count n: Int, state s: inout ChunkCodingState, into out: inout CompactFaults) throws {
        guard n > 0 else { return }
        let window = min(n, faultColumnWindow)
        // Column-major, stride `window`, in CompactFaults.Field order: page, inPage, time, pid, flags.
        let columns = UnsafeMutablePointer<UInt64>.allocate(capacity: CompactFaults.fieldCount * window)
        let bits = UnsafeMutablePointer<UInt8>.allocate(capacity: window)
        let tids = UnsafeMutablePointer<Int32>.allocate(capacity: window)
        let order = UnsafeMutablePointer<Int32>.allocate(capacity: window)
        let spare = UnsafeMutablePointer<UInt64>.allocate(capacity: window)
        defer {
            columns.deallocate()
            bits.deallocate()
            tids.deallocate()
            order.deallocate()
            spare.deallocate()
        }
        let page = columns, inPage = columns + window, time = columns + 2 * window, pid = columns + 3 * window,
            flags = columns + 4 * window
        let version = s.version
        // What each stream's deltas and "same" bits refer to, carried from window to window.
        var tid = s.previousTid, process = s.previousPid, lastTime = s.previousTime, stack = s.previousStack
        var lastPages = s.previousPageByThread
        var field = s.previousErrorCode
        var readers: [ByteDecoder] = []
        swap(&readers, &s.fieldReaders)
        defer { swap(&readers, &s.fieldReaders) }
        var shift = try LogRecord.errorCodeField(field, version: version, readers[FaultField.errorCode.rawValue]).pageShift
        try readers.withUnsafeMutableBufferPointer { r in
            var done = 0
            while done < n {
                let m = min(window, n - done)
                // Kind, access, kernel mode; the two "same" bits say which faults have
                // thread ids and an error code of their own.
                try withStream(r, .bits) { d in
                    for i in 0..<m {
                        let b = try d.u8()
                        let (kind, access) = try LogRecord.faultKindAndAccess(b, version: version, d)
                        bits[i] = b
                        flags[i] = CompactFaults.flags(access: access, kind: kind, kernelMode: b & FaultBits.kernelMode != 0, pageShift: 0)
                    }
                }
                try withStream(r, .thread) { d in
                    for i in 0..<m {
                        if bits[i] & FaultBits.sameThread == 0 {
                            (tid, process) = try LogRecord.threadIDs(previousTid: tid, tidDelta: try d.zigzag(), pidDelta: try d.zigzag(), d)
                        }
                        tids[i] = tid
                        pid[i] = UInt64(UInt32(bitPattern: process))
                    }
                }
                try withStream(r, .time) { d in
                    for i in 0..<m {
                        lastTime &+= UInt64(bitPattern: try d.zigzag())
                        time[i] = lastTime
                    }
                }
                try withStream(r, .page) { d in
                    for i in 0..<m {
                        let p = lastPages.advance(tids[i], by: UInt64(bitPattern: try d.zigzag()))
                        // As the address keeps it (page << 12 | offset): its low 52 bits.
                        page[i] = p & (UInt64.max >> addressPageShift)
                    }
                }
                try withStream(r, .inPage) { d in
                    for i in 0..<m {
                        let offset = try d.varint()
                        guard offset < (1 << addressPageShift) else { throw d.fail("fault page offset \(offset) out of range") }
                        inPage[i] = offset
                    }
                }
                // Read and checked only: the model has no use for them.
                try withStream(r, .ip) { d in for _ in 0..<m { _ = try d.zigzag() } }
                try withStream(r, .stack) { d in
                    for _ in 0..<m { stack = try LogRecord.stackID(previous: stack, delta: try d.zigzag(), d) }
                }
                try withStream(r, .errorCode) { d in
                    for i in 0..<m {
                        if bits[i] & FaultBits.sameErrorCode == 0 {
                            field = try d.varint()
                            shift = try LogRecord.errorCodeField(field, version: version, d).pageShift
                        }
                        flags[i] |= UInt64(shift) << 8
                    }
                }
                try withStream(r, .service) { d in for _ in 0..<m { _ = try d.varint() } }
                try withStream(r, .signal) { d in
                    for i in 0..<m where bits[i] & FaultBits.kindMask == FaultKind.segv.rawValue {
                        _ = try d.int32()
                        _ = try d.int32()
                    }
                }
                CompactFaults.sortWindowByTime(columns, stride: window, rows: m, order: order, spare: spare)
                out.appendColumns(columns, stride: window, rows: m)
                done += m
            }
        }
    }

    /// Runs `body` on a copy of the field's reader, put back after: a reader read in place
    /// kept its position in memory, so each varint waited for the last one's store (perf:
    /// a load and a store per value, in one chain).
    @inline(__always)
    private static func withStream(_ readers: UnsafeMutableBufferPointer<ByteDecoder>, _ field: FaultField,
                                   _ body: (inout ByteDecoder) throws -> Void) throws {
        var reader = readers[field.rawValue]
        defer { readers[field.rawValue] = reader }
        try body(&reader)
    }
}
