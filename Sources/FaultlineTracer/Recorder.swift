// Records a launched command: starts it stopped under ptrace, opens the perf events before
// it execs, then runs one loop that waits on the rings, on SIGCHLD (ptrace stops) and on
// SIGINT/SIGTERM through a signalfd, until every traced task is gone.

import Glibc
import CFaultlineLinux
import FaultlineCore
import FaultlineLog
import FaultlineSymbolize

/// How user stacks are obtained for each fault (and each mmap/brk).
public enum CallGraphMode: String, Sendable, CaseIterable {
    /// The kernel walks frame pointers: cheap; loses callers of code built without them.
    case fp
    /// Registers and a copy of the stack's top, unwound at record time with the modules'
    /// CFI: whole stacks without frame pointers, at the cost of copying the stack.
    case dwarf
    case none
}

public struct RecordOptions: Sendable {
    public var command: [String]
    public var output: String
    public var callGraph: CallGraphMode
    /// Data pages per CPU ring buffer (a power of two).
    public var ringPages: Int
    /// Bytes of user stack copied per sample in dwarf mode (a multiple of 8, at most 65528).
    public var stackCopySize: Int
    /// Name every frame before closing the log (the log then reads anywhere).
    public var symbolizeAtEnd = true
    public init(command: [String], output: String, callGraph: CallGraphMode = .fp, ringPages: Int = 8192,
                stackCopySize: Int = 8192) {
        self.command = command; self.output = output; self.callGraph = callGraph; self.ringPages = ringPages
        self.stackCopySize = stackCopySize
    }
}

public struct RecordResult: Sendable {
    /// The command's status as a shell reports it: exit code, or 128 + signal.
    public var exitStatus: Int32
    public var counts: RecordingCounts
    public var logBytes: UInt64
    public var interrupted: Bool
    public var writeError: String?
}

/// The command could not be started at all (nothing was recorded).
public struct LaunchError: Error, CustomStringConvertible {
    public let command: String
    public let errno: Int32
    public var description: String { "cannot run '\(command)': \(String(cString: strerror(errno)))" }
}

public enum Recorder {
    public static let version = "0.1.0"

    public static func record(_ options: RecordOptions) throws -> RecordResult {
        guard let program = options.command.first else { throw TracerError("no command to record") }
        let signalFD = try blockedSignals([SIGCHLD, SIGINT, SIGTERM, SIGHUP])
        defer { close(signalFD) }

        // Launch: the child stops itself before exec, so the events exist before its first fault.
        var errorPipe: Int32 = -1
        let pid = withCStringArray(options.command) { argv in fl_launch_traced(program, argv, &errorPipe) }
        guard pid > 0 else { throw SystemError("cannot fork") }
        defer { close(errorPipe) }
        var status: Int32 = 0
        _ = try retryingEINTR("waitpid", { waitpid(pid, &status, __WALL) })
        guard case .signalStop(SIGSTOP) = WaitStatus(raw: status).kind else {
            throw TracerError("the launched process did not stop before exec (status \(status))")
        }
        do {
            try Ptrace.setOptions(pid, [.traceFork, .traceVfork, .traceClone, .traceExec, .traceExit, .exitKill])
        } catch {
            kill(pid, SIGKILL)
            throw error
        }

        let events: PerfEventSet
        let writer: LogWriter
        do {
            events = try openEvents(pid: pid, options: options)
            writer = try LogWriter(path: options.output, header: makeHeader(options))
        } catch {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, __WALL)
            throw error
        }
        defer { events.close() }

        let session = TraceSession(initialPID: pid, events: events, writer: writer, signalFD: signalFD,
                                   errorPipe: errorPipe, callGraph: options.callGraph)
        session.assembler.begin(pid: pid, ppid: getpid(), command: options.command.joined(separator: " "),
                                time: fl_monotonic_ns(), awaitingExec: true)
        Ptrace.resume(pid)
        try session.run()

        if let execErrno = session.execErrno {
            unlink(options.output)
            throw LaunchError(command: program, errno: execErrno)
        }
        if options.symbolizeAtEnd {
            let named = RecordedSymbols.append(to: writer, using: LibdwSymbolizer())
            session.assembler.noteSymbols(named: named.named, frames: named.frames)
        }
        var writeError = writer.firstError?.description
        do {
            try writer.finish(LogSummary(endTimeNs: fl_monotonic_ns(), faults: session.assembler.counts.faults,
                                         lost: session.assembler.counts.lost,
                                         throttled: session.assembler.counts.throttled,
                                         unaccountedEntries: session.assembler.counts.unaccountedEntries,
                                         exitCode: session.exitStatus))
        } catch {
            writeError = writeError ?? "\(error)"
        }
        return RecordResult(exitStatus: session.exitStatus, counts: session.assembler.counts,
                            logBytes: writer.bytesWritten, interrupted: session.interrupted, writeError: writeError)
    }

    private static func openEvents(pid: Int32, options: RecordOptions) throws -> PerfEventSet {
        var pages = options.ringPages
        while true {
            do {
                return try PerfEventSet(pid: pid, callGraph: options.callGraph, stackCopySize: options.stackCopySize,
                                        ringPages: pages, enableOnExec: true)
            } catch let e as SystemError where (e.errno == ENOMEM || e.errno == EPERM) && pages > 64 {
                pages /= 4 // a smaller ring beats no recording; the summary reports any loss
            }
        }
    }

    private static func makeHeader(_ options: RecordOptions) -> LogHeader {
        let host = HostInfo.uname()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return LogHeader(kernelRelease: host.release, machine: host.machine, hostname: host.hostname,
                         pageSize: HostInfo.pageSize, thpMode: HostInfo.thpMode, command: options.command,
                         startTimeNs: fl_monotonic_ns(), startWallSeconds: UInt64(now.tv_sec),
                         callGraph: options.callGraph.rawValue, recorderVersion: version)
    }

    private static func blockedSignals(_ signals: [Int32]) throws -> Int32 {
        let fd = signals.withUnsafeBufferPointer { fl_block_and_signalfd($0.baseAddress, Int32($0.count)) }
        guard fd >= 0 else { throw SystemError("cannot create a signalfd") }
        return fd
    }
}

/// Calls `body` with a NULL-terminated C argv built from `strings`.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
