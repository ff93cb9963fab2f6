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
    /// Stop the tracees (PTRACE_INTERRUPT) while the reader catches up, rather than let the
    /// kernel drop events. On by default; attached processes may prefer not to be paused.
    public var pauseToAvoidLoss = true
    /// Show a live status line on stderr while recording, if stderr is a terminal.
    public var statusLine = true
    /// Run the command with THP disabled (PR_SET_THP_DISABLE), so that every fault is
    /// recorded at base-page granularity and replay can predict any configuration. The log
    /// says so; replay does not hold the program to it.
    public var disableTHP = false
    /// Told of each attempt of the program to trace that the kernel refused, as it is seen
    /// (the program may then wait for ever); the result lists them all too.
    public var announceRefusedTrace: (@Sendable (PtraceRefusal) -> Void)?
    /// Permissions of the log (see OutputFile): 0600 unless the user asked.
    public var outputMode: mode_t = OutputFile.defaultMode
    /// Data pages per CPU ring: 32 MiB each, but past 16 CPUs the rings share 512 MiB (at
    /// least 2 MiB each), which the kernel allocates and zeroes at the start: on a 256-CPU
    /// machine 32 MiB each would take 8 GiB. A CPU's share of a program's faults shrinks as
    /// fast as its ring does, and a filling ring pauses the program (see TraceSession).
    public static func defaultRingPages(cpus: Int, pageSize: Int = 4096) -> Int {
        let most = (32 << 20) / pageSize, least = (2 << 20) / pageSize
        let share = (512 << 20) / pageSize / max(cpus, 1)
        var pages = least
        while pages * 2 <= min(share, most) { pages *= 2 }
        return pages
    }

    /// `ringPages` nil: defaultRingPages for this machine.
    public init(command: [String], output: String, callGraph: CallGraphMode = .fp, ringPages: Int? = nil,
                stackCopySize: Int = 8192) {
        self.command = command; self.output = output; self.callGraph = callGraph
        self.ringPages = ringPages ?? Self.defaultRingPages(cpus: HostInfo.onlineCPUs, pageSize: Int(HostInfo.pageSize))
        self.stackCopySize = stackCopySize
    }
}

public struct RecordResult: Sendable {
    /// The command's status as a shell reports it: exit code, or 128 + signal.
    public var exitStatus: Int32
    public var counts: RecordingCounts
    public var logBytes: UInt64
    /// Faults the log holds: all of them, unless a write failed (a full disk) and the log
    /// keeps only the chunks written before.
    public var faultsKept: UInt64
    public var interrupted: Bool
    public var writeError: String?
    /// How many times the tracees were paused so the reader could catch up.
    public var pauses: Int
    /// Whether the recorder ran at real-time priority, which keeping up with many busy
    /// threads needs (root or CAP_SYS_NICE).
    public var realTimePriority: Bool
    /// Processes whose faults the kernel hid from the recorder (a set-user-ID exec).
    public var unrecorded: [(process: UnrecordedProcess, command: String)]
    /// The program's own attempts to trace (a debugger, strace), which the kernel refused.
    public var refusedTraces: [PtraceRefusal]
}

/// The command could not be started at all (nothing was recorded).
public struct LaunchError: Error, CustomStringConvertible {
    public let command: String
    public let errno: Int32
    public var description: String { "cannot run '\(command)': \(String(cString: strerror(errno)))" }
    /// The status a shell gives: 127 when there is no such command, 126 when it exists but
    /// cannot be run (not executable, a directory, a bad binary).
    public var exitStatus: Int32 { errno == ENOENT ? 127 : 126 }
}

public enum Recorder {
    /// 0.5.0: log format 6 (the memory locks are logged). 0.5.1: the stack grown by a
    /// fault is logged as its new part, not as the whole stack mapped again; a MADV_COLLAPSE
    /// that only `--no-thp` refused is logged. 0.5.2: log format 7 (opens of the THP
    /// settings are logged). 0.6.0: log format 8 (each process's resident memory at exit);
    /// the header keeps the shmem folio modes. 0.7.0: log format 9 (the pages of each new
    /// stack that execve wrote). 0.8.0: log format 10 (a chunk of nothing but faults
    /// begins with their summary).
    public static let version = "0.8.0"

    static let traceOptions: PtraceOptions = [.traceFork, .traceVfork, .traceClone, .traceExec, .traceExit]

    /// Runs `options.command` under the recorder until it and all its children are gone.
    public static func record(_ options: RecordOptions) throws -> RecordResult {
        guard let program = options.command.first else { throw TracerError("no command to record") }
        // Set on ourselves around the fork: the child inherits it and keeps it across exec;
        // we get our own setting back at once.
        let previousTHPDisable = fl_get_thp_disable()
        if options.disableTHP && fl_set_thp_disable(1) != 0 {
            throw SystemError("cannot disable THP for the command (prctl PR_SET_THP_DISABLE)")
        }
        let (signalFD, originalMask, restoreSignals) = try blockedSignals(handledSignals)
        defer { restoreSignals() }

        // The child waits on a pipe before exec while we seize it and open its events,
        // so they exist before its first fault.
        var errorPipe: Int32 = -1, goPipe: Int32 = -1
        var mask = originalMask
        let pid = withCStringArray(options.command) { argv in fl_launch_waiting(program, argv, &mask, &goPipe, &errorPipe) }
        if options.disableTHP && previousTHPDisable == 0 { _ = fl_set_thp_disable(0) }
        guard pid > 0 else { throw SystemError("cannot fork") }
        defer { close(errorPipe) }
        func abandon() {
            close(goPipe) // the child exits without exec
            var status: Int32 = 0
            _ = waitpid(pid, &status, __WALL)
        }

        let events: PerfEventSet
        let writer: LogWriter
        do {
            try Ptrace.seize(pid, traceOptions.union(.exitKill))
            events = try openEvents(pid: pid, options: options, enableOnExec: true)
            // The log replaces what was at its path once the command's exec succeeded
            // (TraceSession): a command that cannot be started leaves an older log alone.
            writer = try LogWriter(path: options.output, header: makeHeader(options.command, options), mode: options.outputMode,
                                   replaceNow: false)
        } catch {
            abandon()
            throw error
        }
        defer { events.close() }

        let session = TraceSession(target: .launched(pid: pid, errorPipe: errorPipe), events: events, writer: writer,
                                   signalFD: signalFD, callGraph: options.callGraph,
                                   pauseToAvoidLoss: options.pauseToAvoidLoss, deadline: nil, tasks: [pid],
                                   statusLine: options.statusLine)
        session.announceRefusedTrace = options.announceRefusedTrace
        session.assembler.thpDisabledByRecorder = options.disableTHP
        session.assembler.begin(pid: pid, ppid: getpid(), command: LoggedCommand.text(options.command.joined(separator: " ")),
                                time: fl_monotonic_ns(), awaitingExec: true)
        var go: UInt8 = 1
        _ = write(goPipe, &go, 1)
        close(goPipe)
        do { try session.run() } catch { writer.abandon(); throw error } // no-op once the log replaced the path

        if let execErrno = session.execErrno {
            writer.abandon()
            throw LaunchError(command: program, errno: execErrno)
        }
        return finish(session, writer, options)
    }

    /// Records the running process `pid` (all its threads, and children it starts) until
    /// `duration` seconds pass, SIGINT/SIGTERM arrives, or it exits; then detaches, leaving
    /// it running as before.
    public static func attach(pid requested: Int32, duration: Double?, options: RecordOptions) throws -> RecordResult {
        guard requested > 0, access("/proc/\(requested)", F_OK) == 0 else { throw TracerError("no process \(requested)") }
        // Events are opened on every thread (about 19 a thread per CPU): the usual soft limit
        // of 1024 descriptors ran out at 30 threads on 2 CPUs. Only attaching raises it; a
        // launched command inherits our limits and must get the ones it would have had.
        _ = fl_raise_open_file_limit()
        // A thread's id stands for its whole process: faults are per address space, and a
        // lone thread's faults would land in a process the log never describes.
        let pid = process(ofThread: requested) ?? requested
        // A leader that left before its threads has no command line of its own any more.
        let command = ProcFS.commandLine(pid: pid)
            ?? ProcFS.threads(pid: pid).lazy.compactMap { ProcFS.commandLine(pid: $0) }.first ?? "pid \(pid)"
        let (signalFD, _, restoreSignals) = try blockedSignals(handledSignals)
        defer { restoreSignals() }

        var seized: Set<Int32> = []
        var zombies: Set<Int32> = []
        func release() {
            for tid in seized { _ = fl_ptrace(PtraceRequest.detach.rawValue, tid, 0, 0) }
        }
        // Threads may appear while we seize: repeat until a pass finds none new.
        do {
            while true {
                let fresh = ProcFS.threads(pid: pid).filter { !seized.contains($0) && !zombies.contains($0) }
                if fresh.isEmpty { break }
                for tid in fresh {
                    do {
                        try Ptrace.seize(tid, traceOptions)
                        seized.insert(tid)
                    } catch let e as SystemError where e.errno == ESRCH {
                        continue // the thread ended meanwhile
                    } catch let e as SystemError where e.errno == EPERM && ProcFS.tracer(of: tid) == getpid() {
                        seized.insert(tid) // created by a thread we had seized: already ours
                    } catch let e as SystemError where e.errno == EPERM && ProcFS.isZombie(pid: pid, tid: tid) {
                        zombies.insert(tid) // a leader gone before its threads: runs no more
                    } catch let e as SystemError where e.errno == EPERM && ProcFS.hasEnded(tid, of: pid) {
                        // A thread whose exit has begun: ptrace_attach refuses it with EPERM,
                        // not ESRCH, and it is gone (or dead) by the time we look. Attaching
                        // while a swarm's threads came and went failed so, blaming our own
                        // seize of the leader (CI, 1 run in many).
                        continue
                    }
                }
            }
        } catch let e as SystemError {
            release()
            throw TracerError(AttachDiagnosis.explain(pid: pid, command: command, errno: e.errno))
        }
        guard !seized.isEmpty else {
            if !zombies.isEmpty || ProcFS.isZombie(pid: pid, tid: pid) {
                let parent = ProcFS.parent(pid: pid).map { " (pid \($0)\(ProcFS.name(pid: $0).map { ", \($0)" } ?? ""))" } ?? ""
                throw TracerError("cannot attach to \(pid) (\(ProcFS.name(pid: pid) ?? command)): it has exited and waits for its parent\(parent) "
                    + "to reap it; a zombie runs no more and takes no faults")
            }
            throw TracerError("no process \(pid)")
        }
        // A thread we could seize stands for the process: the leader may be a zombie, whose
        // own /proc entry shows no mappings.
        let leader = seized.contains(pid) ? pid : seized.min()!

        var events: PerfEventSet
        let writer: LogWriter
        do {
            events = try openEvents(pid: leader, options: options, enableOnExec: false)
            var covered: Set<Int32> = [leader]
            // Events follow only threads created after they were opened on the creator.
            while true {
                let fresh = ProcFS.threads(pid: pid).filter { !covered.contains($0) }
                if fresh.isEmpty { break }
                for tid in fresh {
                    do { try events.addThread(tid) } catch let e as SystemError where e.errno == ESRCH {}
                    covered.insert(tid)
                }
            }
            writer = try LogWriter(path: options.output, header: makeHeader([command], options, attachedTo: pid),
                                   mode: options.outputMode)
        } catch {
            release()
            throw error
        }
        defer { events.close() }

        let deadline = duration.map { fl_monotonic_ns() + UInt64(max(0, $0) * 1e9) }
        let session = TraceSession(target: .attached(pid: pid), events: events, writer: writer, signalFD: signalFD,
                                   callGraph: options.callGraph, pauseToAvoidLoss: options.pauseToAvoidLoss,
                                   deadline: deadline, tasks: seized, statusLine: options.statusLine)
        session.announceRefusedTrace = options.announceRefusedTrace
        session.whileEveryTaskIsStopped {
            session.assembler.begin(pid: pid, ppid: ProcFS.parent(pid: pid) ?? 0, command: command,
                                    time: fl_monotonic_ns(), awaitingExec: false)
            session.inject(pid: pid, .mappingsSnapshot(ProcFS.mappings(pid: leader)))
            events.enable()
        }
        try session.run()
        return finish(session, writer, options)
    }

    /// The process (thread group) thread `tid` belongs to: itself for a process's first
    /// thread; nil if there is no such thread.
    public static func process(ofThread tid: Int32) -> Int32? {
        ProcFS.threadGroup(of: tid)
    }

    private static func finish(_ session: TraceSession, _ writer: LogWriter, _ options: RecordOptions) -> RecordResult {
        let recordingEnded = fl_monotonic_ns() // naming frames below is not part of the run
        if options.symbolizeAtEnd {
            let jit = session.assembler.jitNames
            for pid in jit.processesWithAnonymousFrames { jit.capture(pid: pid) } // those still running
            let status = options.statusLine && StatusLine.stderrIsTerminal ? StatusLine() : nil
            let cache = CachingSymbolizer.defaultDirectory.map { CachingSymbolizer(wrapping: LibdwSymbolizer(), directory: $0) }
            RecordedSymbols.append(to: writer, cache: cache, jit: jit,
                                   progress: status.map { line in { line.updateNaming(done: $0, of: $1) } })
            cache?.save()
            status?.erase()
        }
        var writeError = writer.firstError?.description
        do {
            try writer.finish(LogSummary(endTimeNs: recordingEnded, faults: session.assembler.counts.faults,
                                         lost: session.assembler.counts.lost,
                                         throttled: session.assembler.counts.throttled,
                                         unaccountedEntries: session.assembler.counts.unaccountedEntries,
                                         exitCode: session.exitStatus))
        } catch {
            writeError = writeError ?? "\(error)"
        }
        return RecordResult(exitStatus: session.exitStatus, counts: session.assembler.counts,
                            logBytes: writer.bytesWritten, faultsKept: writer.faultsWritten, interrupted: session.interrupted, writeError: writeError,
                            pauses: session.pauses, realTimePriority: session.realTimePriority,
                            unrecorded: session.unrecorded, refusedTraces: session.refusedTraces)
    }

    private static func openEvents(pid: Int32, options: RecordOptions, enableOnExec: Bool) throws -> PerfEventSet {
        var pages = options.ringPages
        while true {
            do {
                return try PerfEventSet(pid: pid, callGraph: options.callGraph, stackCopySize: options.stackCopySize,
                                        ringPages: pages, enableOnExec: enableOnExec)
            } catch let e as SystemError where (e.errno == ENOMEM || e.errno == EPERM) && pages > 64 {
                pages /= 4 // a smaller ring beats no recording; the summary reports any loss
            }
        }
    }

    private static func makeHeader(_ command: [String], _ options: RecordOptions, attachedTo pid: Int32? = nil) -> LogHeader {
        let host = HostInfo.uname()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var extra: [String: String] = [:]
        if let pid { extra["attached_pid"] = String(pid) }
        var header = LogHeader(kernelRelease: host.release, machine: host.machine, hostname: host.hostname,
                               pageSize: HostInfo.pageSize, thpMode: HostInfo.thpMode, command: LoggedCommand.arguments(command),
                               startTimeNs: fl_monotonic_ns(), startWallSeconds: UInt64(now.tv_sec),
                               callGraph: options.callGraph.rawValue, recorderVersion: version, extra: extra)
        header.thpDisabledByRecorder = options.disableTHP
        for (name, value) in HostInfo.memorySettings { header.setSetting(name, value) }
        for (name, value) in HostInfo.memoryModes { header.setModeSetting(name, value) }
        return header
    }

    /// What the recorder reads through its signalfd: children's stops, the requests to end
    /// (Ctrl-C, SIGTERM, a hang-up), and the terminal's resizes (for the status line).
    private static let handledSignals = [SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGWINCH]

    /// Blocks `signals` (read through the returned signalfd instead) until `restore`; also
    /// returns the mask as it was, for the launched command.
    ///
    /// `restore` first takes the signals still pending. Requests to end that came after the
    /// one the recorder answered are answered too: timeout(1) sends SIGINT to the recorder
    /// and then to its process group, and a second Ctrl-C may come while frames are being
    /// named. Unblocked, such a signal killed the recorder after its log was finished and
    /// before it said what it had recorded (`timeout -s INT 2 faultline record --pid` of
    /// node: no summary line in 2 runs of 3, and in 4 of 5 counting earlier tries).
    static func blockedSignals(_ signals: [Int32]) throws -> (fd: Int32, previous: sigset_t, restore: () -> Void) {
        var previous = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &previous)
        let fd = signals.withUnsafeBufferPointer { fl_block_and_signalfd($0.baseAddress, Int32($0.count)) }
        guard fd >= 0 else { throw SystemError("cannot create a signalfd") }
        return (fd, previous, {
            while fl_read_signalfd(fd, nil) > 0 {}
            close(fd)
            var mask = previous
            pthread_sigmask(SIG_SETMASK, &mask, nil)
        })
    }
}

/// Calls `body` with a NULL-terminated C argv built from `strings`.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
