// The recorder's one loop: poll the rings and the signalfd, reap ptrace stops, drain the
// rings, and hand events to the assembler in time order. Single-threaded on purpose: ptrace
// requests must come from the thread that traces, and one thread needs no locks.

import Glibc
import CFaultlineLinux
import FaultlineCore
import FaultlineLog

final class TraceSession {
    let assembler: FaultAssembler
    private let events: PerfEventSet
    private let writer: LogWriter
    private let signalFD: Int32
    private let errorPipe: Int32
    private let initialPID: Int32
    private var parser: PerfRecordParser
    private var queue = EventQueue()

    /// Tasks (threads) we trace and have not seen exit.
    private var live: Set<Int32> = []
    /// Tasks announced by a fork/clone event whose first stop (SIGSTOP) is still to come.
    private var announced: Set<Int32> = []
    /// Tasks already reaped: waitpid may report a child's whole life before the parent's
    /// fork event stop, which must not bring it back to life.
    private var ended: Set<Int32> = []
    private var execSeen = false
    private(set) var execErrno: Int32?
    private(set) var exitStatus: Int32 = 0
    private(set) var interrupted = false
    private var killDeadline: UInt64?

    init(initialPID: Int32, events: PerfEventSet, writer: LogWriter, signalFD: Int32, errorPipe: Int32, callGraph: CallGraphMode) {
        self.initialPID = initialPID
        self.events = events
        self.writer = writer
        self.signalFD = signalFD
        self.errorPipe = errorPipe
        assembler = FaultAssembler(writer: writer, pageSize: HostInfo.pageSize)
        parser = PerfRecordParser(sources: events.sources, userTracepoint: events.userTracepoint,
                                  kernelTracepoint: events.kernelTracepoint, callGraph: callGraph)
        live.insert(initialPID)
    }

    func run() throws {
        var pollFDs = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
        pollFDs += events.rings.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        var lastFlush = fl_monotonic_ns()
        var timeout: Int32 = 100
        while !live.isEmpty {
            _ = poll(&pollFDs, nfds_t(pollFDs.count), timeout)
            // A ring's fd hangs up when the task it was opened on exits, though its children
            // still write into it: poll would then return at once forever. Stop polling it
            // and drain on a short timer instead.
            if pollFDs.dropFirst().contains(where: { $0.revents & Int16(POLLHUP) != 0 }) {
                pollFDs = pollFDs.filter { $0.fd == signalFD || $0.revents & Int16(POLLHUP) == 0 }
                timeout = 10
            }
            handleSignals()
            reapStops()
            drain(final: false)
            let now = fl_monotonic_ns()
            if now - lastFlush > 1_000_000_000 {
                try? writer.flush() // a crash now loses at most a second
                lastFlush = now
            }
            if let deadline = killDeadline, now > deadline {
                for tid in live { kill(tid, SIGKILL) }
                killDeadline = nil
            }
        }
        drain(final: true)
        assembler.finish()
    }

    // MARK: signals to faultline itself

    private func handleSignals() {
        while true {
            var sender: Int32 = 0
            let signal = fl_read_signalfd(signalFD, &sender)
            if signal <= 0 { return }
            if signal == SIGCHLD { continue }
            // Ctrl-C or SIGTERM: the command goes too, and the log is finished. A terminal's
            // Ctrl-C already reached the command if it shares our process group.
            let sameGroup = getpgid(initialPID) == getpgrp()
            if interrupted {
                for tid in live { kill(tid, SIGKILL) }
            } else if !(signal == SIGINT && sender == 0 && sameGroup) {
                kill(initialPID, signal)
            }
            interrupted = true
            killDeadline = fl_monotonic_ns() + 3_000_000_000
        }
    }

    // MARK: ptrace stops

    private func reapStops() {
        while true {
            var status: Int32 = 0
            let tid = waitpid(-1, &status, __WALL | WNOHANG)
            if tid < 0 && errno == ECHILD {
                live.removeAll() // nothing is left to trace, whatever we thought
                return
            }
            if tid <= 0 { return }
            handle(tid: tid, status: WaitStatus(raw: status))
        }
    }

    private func handle(tid: Int32, status: WaitStatus) {
        switch status.kind {
        case .exited(let code):
            taskEnded(tid, code: code, signal: 0)
        case .signaled(let signal):
            taskEnded(tid, code: 128 + signal, signal: signal)
        case .ptraceEvent(let event):
            ptraceEvent(event, tid: tid)
            resume(tid, signal: 0)
        case .signalStop(let signal):
            if signal == SIGSTOP && (announced.remove(tid) != nil || !live.contains(tid)) {
                // A new task's initial stop: not a signal for the program.
                live.insert(tid)
                resume(tid, signal: 0)
                return
            }
            live.insert(tid)
            if signal == SIGSEGV || signal == SIGBUS {
                var info = fl_fault_siginfo()
                if fl_get_fault_siginfo(tid, &info) == 0 && info.code > 0 {
                    push(pid: processID(of: tid), tid: tid,
                         .faultSignal(signal: info.signo, code: info.code, address: info.address))
                }
            }
            resume(tid, signal: signal)
        case .syscallStop, .groupStop:
            resume(tid, signal: 0)
        }
    }

    private func ptraceEvent(_ event: Int32, tid: Int32) {
        switch event {
        case PTRACE_EVENT_FORK_, PTRACE_EVENT_VFORK_, PTRACE_EVENT_CLONE_:
            if let child = Ptrace.eventMessage(tid) {
                let newTask = Int32(truncatingIfNeeded: child)
                if !ended.contains(newTask) {
                    if !live.contains(newTask) { announced.insert(newTask) }
                    live.insert(newTask)
                }
            }
        case PTRACE_EVENT_EXEC_:
            // After exec the task's id is the process id, even if another thread exec'd.
            if tid == initialPID && !execSeen { execSeen = true }
            let command = ProcFS.commandLine(pid: tid) ?? "?"
            push(pid: tid, tid: tid, .execSnapshot(command: command, mappings: ProcFS.mappings(pid: tid)))
        case PTRACE_EVENT_EXIT_:
            if processID(of: tid) == tid, let counts = ProcFS.faultCounts(pid: tid) {
                push(pid: tid, tid: tid, .kernelCounts(minor: counts.minor, major: counts.major))
            }
        default:
            break
        }
    }

    private func taskEnded(_ tid: Int32, code: Int32, signal: Int32) {
        live.remove(tid)
        announced.remove(tid)
        ended.insert(tid)
        if tid == initialPID {
            exitStatus = code
            if !execSeen && signal == 0 && code == 127 {
                var err: Int32 = 0
                if read(errorPipe, &err, MemoryLayout<Int32>.size) == MemoryLayout<Int32>.size { execErrno = err }
            }
        }
        // Only a thread-group leader's end is the process's end.
        if processID(of: tid) == tid || !threadGroups.keys.contains(tid) {
            push(pid: tid, tid: tid, .processExit(code: signal == 0 ? code : 128 + signal, signal: signal))
        }
    }

    private func resume(_ tid: Int32, signal: Int32) {
        Ptrace.resume(tid, signal: signal)
    }

    /// Thread → process, learned from the samples (pid/tid pairs) as they are parsed.
    private var threadGroups: [Int32: Int32] = [:]
    private func processID(of tid: Int32) -> Int32 {
        if let pid = threadGroups[tid] { return pid }
        guard let text = readTextFile("/proc/\(tid)/status") else { return tid }
        for line in text.split(separator: "\n") where line.hasPrefix("Tgid:") {
            if let pid = Int32(line.dropFirst(5).trimmingWhitespace()) {
                threadGroups[tid] = pid
                return pid
            }
        }
        return tid
    }

    private func push(pid: Int32, tid: Int32, _ body: TraceEvent.Body) {
        // Drain first: the kernel-side events that led here (a fault's entry before its
        // signal) are already in the rings and must be queued before this.
        drain(final: false, processing: false)
        queue.events.append(TraceEvent(time: fl_monotonic_ns(), pid: pid, tid: tid, sequence: parser.nextSequence(), body: body))
    }

    // MARK: rings

    private func drain(final: Bool, processing: Bool = true) {
        let started = fl_monotonic_ns()
        for ring in events.rings {
            ring.drain { record in parser.parse(record, into: &queue.events) }
        }
        guard processing else { return }
        let horizon: UInt64? = final ? nil : started &- EventQueue.slackNs
        queue.release(upTo: horizon, parser: &parser) { event, chains in
            if event.pid != 0 && event.tid != 0 && threadGroups[event.tid] == nil { threadGroups[event.tid] = event.pid }
            assembler.process(event, chains: chains)
        }
    }
}
