// The recorder's one loop: poll the rings and the signalfd, reap ptrace stops, drain the
// rings, and hand events to the assembler in time order. Single-threaded on purpose: ptrace
// requests must come from the thread that traces, and one thread needs no locks.
//
// Every task is traced with PTRACE_SEIZE (launched or attached, and their children), so
// the loop can stop them all with PTRACE_INTERRUPT, invisibly to the program: to let the
// reader catch up instead of losing events, and to detach cleanly.

import Glibc
import CFaultlineLinux
import CFaultlineUnwind
import FaultlineAddressSpace
import FaultlineCore
import FaultlineLog

final class TraceSession {
    enum Target {
        /// A command we started; `errorPipe` says why its exec failed, if it did.
        case launched(pid: Int32, errorPipe: Int32)
        /// A running process we seized; we detach at the end and leave it running.
        case attached(pid: Int32)
    }

    let assembler: FaultAssembler
    private let target: Target
    private let initialPID: Int32
    private let events: PerfEventSet
    private let writer: LogWriter
    private let signalFD: Int32
    private var parser: PerfRecordParser
    private var queue = EventQueue()
    /// Pause the tracees when a ring fills faster than we drain it, rather than lose events.
    private let pauseToAvoidLoss: Bool
    /// Stop recording at this CLOCK_MONOTONIC time (attach --duration).
    private let deadline: UInt64?

    /// Tasks (threads) we trace and have not seen exit.
    private var live: Set<Int32> = []
    /// Tasks already reaped: waitpid may report a child's whole life before the parent's
    /// fork event stop, which must not bring it back to life.
    private var ended: Set<Int32> = []
    /// Tasks we stopped with PTRACE_INTERRUPT while the reader catches up.
    private var paused: Set<Int32> = []
    /// Tasks past their PTRACE_EVENT_EXIT stop: they run no more user code, and a leader
    /// that left before its threads stays a zombie that stops no more.
    private var exiting: Set<Int32> = []
    private var pausing = false
    private(set) var pauses = 0
    /// Tasks whose SIGCHLD named them since the last reapStops, and whether a whole sweep
    /// of waitpid(-1) is owed (a SIGCHLD came; others may have been merged into it).
    private var stoppedTasks: Set<Int32> = []
    private var targets: [Int32] = []
    /// Tasks let go from their exit stop, whose end the next pass tries to wait for: their
    /// SIGCHLDs merge when many threads end at once.
    private var endingSoon: [Int32] = []
    private var sweepOwed = true
    private var lastSweep: UInt64 = 0
    /// Tasks let go from a fork or clone event, tried by themselves at every pass: a thread
    /// that starts one often starts the next, and its SIGCHLD merges with its new thread's.
    /// Found only by a sweep, each of a thread's stops cost a walk of every tracee (the
    /// oldest task is the last in the kernel's list); `record -- thread_swarm 8000 50`
    /// found 31,600 of its 31,800 stops that way. A task is tried for `hotPasses` passes
    /// after its last fork or clone; at most `hotLimit` are.
    private var hotTasks: [(tid: Int32, misses: Int)] = []
    static let hotLimit = 8
    static let hotPasses = 64
    /// The recorder's account of CPU time at real-time priority (nil when it runs at an
    /// ordinary priority, which the kernel does not limit), and when it was last consulted.
    private var realTimeBudget: RealTimeBudget?
    private var budgetCheckedAt: UInt64 = 0
    /// The traced tasks' attempts to trace that the kernel refused (the first few).
    private(set) var refusedTraces: [PtraceRefusal] = []
    /// Processes the kernel hid from the recorder, with their command lines.
    private(set) var unrecorded: [(process: UnrecordedProcess, command: String)] = []
    /// Whether the recorder ran at real-time priority (see RecorderPriority).
    private(set) var realTimePriority = false
    private var execSeen = false
    private(set) var execErrno: Int32?
    private(set) var exitStatus: Int32 = 0
    private(set) var interrupted = false
    /// A signal for the command that faultline received and will pass on, unless the
    /// command shows it got it too (it shares our process group) within the window.
    private var pendingForward: (signal: Int32, deadline: UInt64)?
    static let forwardWindowNs: UInt64 = 100_000_000
    private var stopRequested = false
    /// The live status line, when stderr is a terminal and it was not turned off.
    private let statusLine: StatusLine?
    /// Told of each refused attempt to trace as it is seen (see RecordOptions).
    var announceRefusedTrace: (@Sendable (PtraceRefusal) -> Void)?

    init(target: Target, events: PerfEventSet, writer: LogWriter, signalFD: Int32, callGraph: CallGraphMode,
         pauseToAvoidLoss: Bool, deadline: UInt64?, tasks: Set<Int32>, statusLine: Bool) {
        self.statusLine = statusLine && StatusLine.stderrIsTerminal ? StatusLine() : nil
        self.target = target
        switch target {
        case .launched(let pid, _), .attached(let pid): initialPID = pid
        }
        self.events = events
        self.writer = writer
        self.signalFD = signalFD
        self.pauseToAvoidLoss = pauseToAvoidLoss
        self.deadline = deadline
        assembler = FaultAssembler(writer: writer, pageSize: HostInfo.pageSize, kernel: KernelBehaviour(release: HostInfo.uname().release),
                                   defaultHugePageShift: HugePages.defaultPageShift)
        parser = PerfRecordParser(sources: events.sources, userTracepoint: events.userTracepoint,
                                  kernelTracepoint: events.kernelTracepoint, callGraph: callGraph,
                                  lineage: events.lineage)
        live = tasks
    }

    private var isAttached: Bool {
        if case .attached = target { return true }
        return false
    }

    func run() throws {
        let priority = RecorderPriority.raise()
        realTimePriority = priority.raised
        if priority.raised && pauseToAvoidLoss { realTimeBudget = .ofThisMachine() }
        defer { priority.restore() }
        var pollFDs = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
        pollFDs += events.rings.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        var lastFlush = fl_monotonic_ns()
        var timeout: Int32 = 100
        while !live.isEmpty && !stopRequested {
            // The rings were drained at the end of the last turn: the best moment to rest.
            let rest = restOwed(now: fl_monotonic_ns())
            if rest > 0 { self.rest(rest) }
            _ = poll(&pollFDs, nfds_t(pollFDs.count), pausing || sweepOwed ? 1 : timeout)
            // A ring's fd hangs up when the task it was opened on exits, though its children
            // still write into it: poll would then return at once forever. Stop polling it
            // and drain on a short timer instead.
            if pollFDs.dropFirst().contains(where: { $0.revents & Int16(POLLHUP) != 0 }) {
                pollFDs = pollFDs.filter { $0.fd == signalFD || $0.revents & Int16(POLLHUP) == 0 }
                timeout = 10
            }
            handleSignals()
            applyBackpressure()
            reapStops()
            drain(final: false)
            announceRefusals()
            let now = fl_monotonic_ns()
            if now - lastFlush > 1_000_000_000 {
                try? writer.flush() // a crash now loses at most a second
                lastFlush = now
            }
            if let forward = pendingForward, now > forward.deadline {
                kill(initialPID, forward.signal)
                pendingForward = nil
            }
            if let deadline, now >= deadline { stopRequested = true }
            statusLine?.update(assembler.counts, paused: pausing)
        }
        statusLine?.erase()
        if isAttached { detachAll() }
        drain(final: true)
        announceRefusals()
        assembler.finish()
    }

    /// A program refused a tracer usually fails at once, but some wait for ever on a child
    /// that could not be traced (gdb -p waits for its ptrace check's child, stopped under
    /// us): the reason must reach the user while it waits, not only after a Ctrl-C.
    private func announceRefusals() {
        guard !parser.refusedTraces.isEmpty else { return }
        // Watched on the whole machine, the call may be any process's: only a task we
        // trace (or traced: it may have ended since) counts.
        for refusal in parser.refusedTraces where live.contains(refusal.tid) || ended.contains(refusal.tid) {
            guard refusedTraces.count < PtraceRefusal.kept else { break }
            refusedTraces.append(refusal)
            announceRefusedTrace?(refusal)
        }
        parser.refusedTraces.removeAll()
    }

    // MARK: signals to faultline itself

    private func handleSignals() {
        while true {
            var sender: Int32 = 0
            let signal = fl_read_signalfd(signalFD, &sender)
            if signal <= 0 { return }
            if signal == SIGCHLD {
                // The task that stopped or ended, to wait for by itself (see reapStops).
                if sender > 0 && stoppedTasks.count < 4096 { stoppedTasks.insert(sender) } else { sweepOwed = true }
                continue
            }
            if signal == SIGWINCH {
                // Re-reserve the status row at once: until then the program may write into it.
                statusLine?.terminalResized(assembler.counts, paused: pausing)
                continue
            }
            if isAttached {
                // Ctrl-C or SIGTERM ends the recording, not the process we attached to.
                interrupted = true
                stopRequested = true
                continue
            }
            // The command gets the signal once, as it would untraced: a terminal's Ctrl-C or
            // a signal to our process group already reached it, which its signal-delivery
            // stop shows; otherwise we pass it on. It may handle it and take its time; a
            // second signal kills everything at once.
            if interrupted {
                for tid in live { kill(tid, SIGKILL) }
            } else {
                pendingForward = (signal, fl_monotonic_ns() + Self.forwardWindowNs)
            }
            interrupted = true
        }
    }

    // MARK: ptrace stops

    /// Waits for the tasks that stopped or ended and handles their stops.
    ///
    /// Each `waitpid(-1)` walks the kernel's list of our tracees up to the first that
    /// stopped, and the last call of a sweep (the one that finds none) walks all of it: with
    /// 8,000 threads, `wait4` was a fifth of all the CPU `record -- thread_swarm 8000 50`
    /// used. Waiting for one task (`waitpid(tid)`) is one step since Linux 5.15. So the tasks
    /// whose SIGCHLD told us they stopped are waited for one by one. A SIGCHLD that comes
    /// while one is pending is lost, so a task may stop without us hearing its name: a
    /// whole sweep still runs soon after any SIGCHLD (`sweepInterval`), and the loop wakes
    /// for it; and at least every `longestWithoutSweep` the loop is awake.
    private func reapStops() {
        var reaped = 0
        // Handling a stop may name more tasks to try (a new thread after its parent's
        // clone event), which are tried in the same pass.
        var next = 0
        targets.removeAll(keepingCapacity: true)
        targets.append(contentsOf: stoppedTasks)
        targets.append(contentsOf: endingSoon)
        // Any SIGCHLD may have had others merged into it.
        if !targets.isEmpty { sweepOwed = true }
        stoppedTasks.removeAll(keepingCapacity: true)
        endingSoon.removeAll(keepingCapacity: true)
        for (tid, _) in hotTasks { targets.append(tid) }
        for k in hotTasks.indices { hotTasks[k].misses += 1 }
        hotTasks.removeAll { $0.misses >= Self.hotPasses }
        while next < targets.count {
            let tid = targets[next]
            next += 1
            var status: Int32 = 0
            var got: Int32
            repeat { got = waitpid(tid, &status, __WALL | WNOHANG) } while got < 0 && errno == EINTR
            if got == tid {
                handle(tid: tid, status: WaitStatus(raw: status))
                reaped += 1
                if reaped % 32 == 0 { applyBackpressure() }
            } else if got < 0 && errno == ECHILD {
                hotTasks.removeAll { $0.tid == tid }   // gone
            }
        }
        let now = fl_monotonic_ns()
        let since = now &- lastSweep
        guard (sweepOwed && since >= sweepInterval) || since >= Self.longestWithoutSweep else { return }
        sweepOwed = false
        lastSweep = now
        // Each task once a sweep: one that stops again meanwhile stopped after the sweep
        // began, so its SIGCHLD (or `hotTasks`) names it, and the sweep ends there. Chasing
        // such a task (a thread starting thread after thread) made every one of its stops a
        // walk of the whole list.
        sweptTasks.removeAll(keepingCapacity: true)
        while true {
            var status: Int32 = 0
            let tid = waitpid(-1, &status, __WALL | WNOHANG)
            if tid < 0 && errno == EINTR { continue }
            if tid < 0 && errno == ECHILD {
                live.removeAll() // nothing is left to trace, whatever we thought
                return
            }
            if tid <= 0 { return }
            handle(tid: tid, status: WaitStatus(raw: status))
            // A thousand stops take a while to handle, and every resumed thread faults.
            reaped += 1
            if reaped % 32 == 0 { applyBackpressure() }
            if !sweptTasks.insert(tid).inserted {
                sweepOwed = true
                return
            }
        }
    }
    private var sweptTasks: Set<Int32> = []

    /// `tid` was let go from a fork or clone event: it is tried first from now on.
    private func noteHot(_ tid: Int32) {
        hotTasks.removeAll { $0.tid == tid }
        if hotTasks.count >= Self.hotLimit { hotTasks.removeFirst() }
        hotTasks.append((tid, 0))
    }

    /// SIGCHLD is sent to the whole process: where another thread does not block it (a
    /// recorder inside a larger program, such as the tests), that thread may take it and
    /// drop it. So sweeps never depend on it alone.
    static let longestWithoutSweep: UInt64 = 10_000_000

    /// How long a stop whose SIGCHLD was lost may wait for the sweep that finds it: about
    /// ten times what a sweep costs (a few dozen nanoseconds a tracee), so that sweeps take
    /// at most a tenth of the time; at once for a few hundred tasks, 2 ms for 8,000.
    private var sweepInterval: UInt64 { UInt64(min(live.count, 8_000)) * 250 }

    private func handle(tid: Int32, status: WaitStatus) {
        if taskEnded(tid, status) { return }
        live.insert(tid) // a new task's first stop may come before its parent's event
        switch status.kind {
        case .exited, .signaled:
            break // taskEnded above
        case .ptraceEvent(let event):
            ptraceEvent(event, tid: tid)
            if event == PTRACE_EVENT_EXIT_ && processID(of: tid) != tid {
                letGo(exitingThread: tid)
                return
            }
            resume(tid, signal: 0)
            if event == PTRACE_EVENT_CLONE_ || event == PTRACE_EVENT_FORK_ || event == PTRACE_EVENT_VFORK_ { noteHot(tid) }
        case .signalStop(let signal):
            if tid == initialPID, signal == pendingForward?.signal { pendingForward = nil }
            if signal == SIGSEGV || signal == SIGBUS {
                var info = fl_fault_siginfo()
                if fl_get_fault_siginfo(tid, &info) == 0 && info.code > 0 {
                    let chain = crashStack(tid) // push() below drains the fault's entry first
                    push(pid: processID(of: tid), tid: tid,
                         .faultSignal(signal: info.signo, code: info.code, address: info.address, chain: chain))
                }
            }
            resume(tid, signal: signal)
        case .groupStop(let signal) where signal == SIGTRAP:
            // PTRACE_INTERRUPT's stop, or a new child's first stop (under PTRACE_SEIZE).
            if pausing { paused.insert(tid) } else { resume(tid, signal: 0) }
        case .groupStop:
            // A real group-stop (SIGSTOP, SIGTSTP, ...): stay stopped, as untraced, but let
            // ptrace tell us when it is continued.
            _ = fl_ptrace(PtraceRequest.listen.rawValue, tid, 0, 0)
        case .syscallStop:
            resume(tid, signal: 0)
        }
    }

    private func ptraceEvent(_ event: Int32, tid: Int32) {
        switch event {
        case PTRACE_EVENT_FORK_, PTRACE_EVENT_VFORK_, PTRACE_EVENT_CLONE_:
            if let child = Ptrace.eventMessage(tid) {
                let newTask = Int32(truncatingIfNeeded: child)
                // Already reaped: its whole life came before this event. The mark is used
                // up here, so the id can be traced again when the kernel reuses it.
                if ended.remove(newTask) == nil {
                    live.insert(newTask)
                    // Whose it is, for its exit stop: learned here by a path lookup, it
                    // costs no read of /proc/TID/status there (25 µs a thread).
                    if threadGroups[newTask] == nil {
                        let parent = processID(of: tid)
                        threadGroups[newTask] = event == PTRACE_EVENT_CLONE_ && ProcFS.isThread(newTask, of: parent) ? parent : newTask
                    }
                    // Its first stop is due, and its SIGCHLD may merge into another's.
                    if targets.count < 1 << 16 { targets.append(newTask) }
                }
            }
        case PTRACE_EVENT_EXEC_:
            // After exec the task's id is the process id, even if another thread exec'd:
            // that thread's own id is gone, without an exit of its own to report.
            if let former = Ptrace.eventMessage(tid).map({ Int32(truncatingIfNeeded: $0) }), former != tid {
                live.remove(former)
                exiting.remove(former)
            }
            exiting.remove(tid)
            if tid == initialPID && !execSeen {
                execSeen = true
                writer.replace() // the command started: its log takes the path now
            }
            let command = ProcFS.commandLine(pid: tid) ?? "?"
            let mappings = ProcFS.mappings(pid: tid)
            let startStack = ProcFS.startStack(pid: tid) ?? 0
            // What execve wrote of the new stack: its strings came with no fault event, so
            // only the page table says which pages hold them (a random gap between them and
            // its tables may leave a page unwritten).
            let stack = mappings.first { $0.start <= startStack && startStack < $0.end }
            let stackPages = stack.flatMap {
                ProcFS.presentPages(pid: tid, from: startStack & ~(HostInfo.pageSize - 1), to: $0.end, pageSize: HostInfo.pageSize)
            }
            push(pid: tid, tid: tid, .execSnapshot(command: command, mappings: mappings, startStack: startStack,
                                                   stackPages: stackPages))
            if ProcFS.execRemovedPerfEvents(pid: tid) {
                // Nothing more of this process (or of what it starts) reaches the rings.
                let unrecorded = UnrecordedProcess(pid: tid, timeNs: fl_monotonic_ns(), reason: .nonDumpableExec)
                writer.append(.unrecorded(unrecorded))
                self.unrecorded.append((unrecorded, command))
            }
        case PTRACE_EVENT_EXIT_:
            exiting.insert(tid)
            // (A thread is let go instead: see `letGo(exitingThread:)`.)
            if processID(of: tid) == tid && endingSoon.count < 1 << 16 { endingSoon.append(tid) }
            let pid = processID(of: tid)
            // What is read of a process as it ends, at its last thread's exit (the last
            // reading wins). The leader may leave first (pthread_exit in main) while other
            // threads go on faulting, so each thread reads once the leader is leaving;
            // before that, the leader's own exit comes later and reads. Why not at every
            // exit: the kernel sums every thread of the process for each read of its
            // counters, and a program that starts and ends 8,000 threads spent 15% of the
            // machine's CPU there (perf record -a).
            let leaderStaysOn = tid != pid && live.contains(pid) && !exiting.contains(pid)
            guard !leaderStaysOn else { break }
            // A JIT's perf map, read while the process is still there (a wrapper may delete
            // the map once it has exited).
            assembler.jitNames.capture(pid: pid)
            if let counts = ProcFS.faultCounts(pid: pid) {
                push(pid: pid, tid: tid, .kernelCounts(minor: counts.minor, major: counts.major))
            }
            if let rss = ProcFS.resident(tid: tid) {
                push(pid: pid, tid: tid, .kernelResident(anon: rss.anon, file: rss.file, shmem: rss.shmem, peak: rss.peak))
            }
        default:
            break
        }
    }

    /// A thread (not a process's leader) at its exit stop runs no more user code, and what
    /// is read as a process ends has been read: it is detached rather than resumed, and
    /// the kernel reaps it by itself. Resumed, its end was one more stop to wait for, and
    /// when thousands of threads end at once their SIGCHLDs merge, so each was found by a
    /// walk of every tracee (4,500 of `record -- thread_swarm 8000 50`'s 8,000).
    private func letGo(exitingThread tid: Int32) {
        _ = fl_ptrace(PtraceRequest.detach.rawValue, tid, 0, 0)
        taskEnded(tid, code: 0, signal: 0)
    }

    /// Whether waitpid reported the task's end (rather than a stop); if so, it is noted.
    private func taskEnded(_ tid: Int32, _ status: WaitStatus) -> Bool {
        switch status.kind {
        case .exited(let code): taskEnded(tid, code: code, signal: 0)
        case .signaled(let signal): taskEnded(tid, code: 128 + signal, signal: signal)
        default: return false
        }
        return true
    }

    private func taskEnded(_ tid: Int32, code: Int32, signal: Int32) {
        live.remove(tid)
        paused.remove(tid)
        exiting.remove(tid)
        ended.insert(tid)
        if tid == initialPID {
            exitStatus = code
            if case .launched(_, let errorPipe) = target, !execSeen, signal == 0, code == 127 {
                var err: Int32 = 0
                if read(errorPipe, &err, MemoryLayout<Int32>.size) == MemoryLayout<Int32>.size { execErrno = err }
            }
        }
        // Only a thread-group leader's end is the process's end.
        if processID(of: tid) == tid || !threadGroups.keys.contains(tid) {
            push(pid: tid, tid: tid, .processExit(code: signal == 0 ? code : 128 + signal, signal: signal))
        }
        threadGroups[tid] = nil // the id may be reused by another process
    }

    /// The stopped thread's stack, unwound from outside by libunwind (CFI, and frame
    /// pointers where there is none): whole even in frame-pointer mode.
    private func crashStack(_ tid: Int32) -> Range<Int> {
        var ips = [UInt64](repeating: 0, count: DwarfUnwinder.maxFrames)
        let n = Int(ips.withUnsafeMutableBufferPointer { fl_unwind_stopped_thread(tid, $0.baseAddress, Int32($0.count)) })
        let start = parser.chainStore.count
        parser.chainStore.append(contentsOf: ips.prefix(n))
        return start..<parser.chainStore.count
    }

    private func resume(_ tid: Int32, signal: Int32) {
        Ptrace.resume(tid, signal: signal)
    }

    // MARK: losing nothing

    /// When a ring is more than half full, stop every task (PTRACE_INTERRUPT: the program
    /// cannot tell) until the reader has emptied the rings below an eighth, then resume them.
    private func applyBackpressure() {
        guard pauseToAvoidLoss else { return }
        let fullest = fullestRing()
        if !pausing && fullest > 0.5 {
            pauseEveryTask()
        } else if pausing && fullest < 0.125 {
            pausing = false
            for tid in paused { resume(tid, signal: 0) }
            paused.removeAll()
        }
        restIfOverdrawn()
    }

    /// How full the fullest ring is, from 0 to 1.
    private func fullestRing() -> Double {
        var fullest = 0.0
        for ring in events.rings { fullest = max(fullest, Double(ring.pending) / Double(ring.dataSize)) }
        return fullest
    }

    private func pauseEveryTask() {
        pausing = true
        pauses += 1
        for tid in live { _ = fl_ptrace(PtraceRequest.interrupt.rawValue, tid, 0, 0) }
    }

    /// Consults the recorder's account of real-time CPU (see RealTimeBudget), at most
    /// once a millisecond: the thread's CPU clock is a system call. Returns the rest owed.
    private func restOwed(now: UInt64) -> UInt64 {
        guard var budget = realTimeBudget, now &- budgetCheckedAt >= 1_000_000 else { return 0 }
        budgetCheckedAt = now
        let rest = budget.restNeeded(wallNs: now, cpuNs: RealTimeBudget.threadCPUTimeNs())
        realTimeBudget = budget
        return rest
    }

    /// Mid-drain: a recorder that overdrew its account so far that the loop's rest cannot
    /// wait (the rings keep it reading) rests here.
    private func restIfOverdrawn() {
        let rest = restOwed(now: fl_monotonic_ns())
        if rest > 0 && realTimeBudget?.isOverdrawn == true { self.rest(rest) }
    }

    /// Sleeps, so that the kernel does not stop the recorder at a moment of its choosing
    /// while the program runs on. The program runs while the recorder rests, unless a ring
    /// fills to a quarter: then it is paused, and let go as usual once the rings are nearly
    /// empty. Signals and ptrace stops wait (a stopped thread is paused anyway).
    private func rest(_ ns: UInt64) {
        let until = fl_monotonic_ns() &+ ns
        while true {
            if !pausing && fullestRing() > 0.25 { pauseEveryTask() }
            let now = fl_monotonic_ns()
            guard now < until else { return }
            let slice = min(until - now, 5_000_000)
            var asked = timespec(tv_sec: 0, tv_nsec: Int(slice)), left = timespec()
            while nanosleep(&asked, &left) != 0 && errno == EINTR { asked = left }
        }
    }

    // MARK: holding every task still

    /// How a task held by `holdEveryTask` is let go: a stop that delivers nothing (our
    /// interrupt, a ptrace event already handled), or a stop to handle as usual (a signal it
    /// was about to receive, a group-stop).
    private enum HeldStop {
        case interrupted
        case stop(WaitStatus)
    }

    /// Stops every task (PTRACE_INTERRUPT: the program cannot tell) and waits until each has
    /// stopped or ended; tasks created meanwhile are stopped too. Until they are let go no
    /// fault can happen, so the kernel's fault counters and the recorded faults describe the
    /// same instant. Tasks already exiting are not waited for: they fault no more, and a
    /// zombie leader would never stop. Gives up after 5 s (a task stuck in the kernel).
    private func holdEveryTask() -> [Int32: HeldStop] {
        var held: [Int32: HeldStop] = [:]
        // Tasks paused by backpressure are stopped already and report no further stop.
        for tid in paused { held[tid] = .interrupted }
        paused.removeAll()
        pausing = false
        var interrupted: Set<Int32> = []
        let giveUp = fl_monotonic_ns() + 5_000_000_000
        while fl_monotonic_ns() < giveUp {
            for tid in live where held[tid] == nil && !interrupted.contains(tid) && !exiting.contains(tid) {
                if fl_ptrace(PtraceRequest.interrupt.rawValue, tid, 0, 0) != 0 && errno == ESRCH {
                    // Not ours to stop any more: gone without a report (or about to report its end).
                    exiting.insert(tid)
                }
                interrupted.insert(tid)
            }
            if live.allSatisfy({ held[$0] != nil || exiting.contains($0) }) { break }
            var status: Int32 = 0
            let tid = waitpid(-1, &status, __WALL | WNOHANG)
            if tid < 0 && errno == EINTR { continue }
            if tid < 0 { break }
            if tid == 0 { usleep(1000); continue }
            let stop = WaitStatus(raw: status)
            if taskEnded(tid, stop) { continue }
            switch stop.kind {
            case .ptraceEvent(let event):
                live.insert(tid)
                ptraceEvent(event, tid: tid) // a new task joins `live` and is stopped next pass
                held[tid] = .interrupted
            default:
                live.insert(tid)
                held[tid] = .stop(stop)
            }
        }
        return held
    }

    /// Runs `body` while every task is stopped, then lets them go on as before. Attaching
    /// takes the kernel's baseline counts, the mappings snapshot and enables the events
    /// here, so all three describe one instant of the program's life.
    func whileEveryTaskIsStopped(_ body: () -> Void) {
        let held = holdEveryTask()
        body()
        for (tid, stop) in held where live.contains(tid) {
            switch stop {
            case .interrupted: resume(tid, signal: 0)
            case .stop(let status): handle(tid: tid, status: status)
            }
        }
    }

    // MARK: detaching

    /// Leaves every attached task running exactly as before. All are stopped first, so the
    /// kernel's counters can be read for each process at the instant recording ends; the
    /// events are disabled before any task runs again, and each task is detached with the
    /// signal it was about to receive, so no signal is lost and no stop is left behind.
    private func detachAll() {
        let held = holdEveryTask()
        for pid in Set(live.map { processID(of: $0) }) {
            if let counts = ProcFS.faultCounts(pid: pid) {
                push(pid: pid, tid: pid, .kernelCounts(minor: counts.minor, major: counts.major))
            }
        }
        events.disable()
        for (tid, stop) in held where live.contains(tid) {
            if case .stop(let status) = stop, case .signalStop(let signal) = status.kind {
                detach(tid, signal: signal)
            } else {
                detach(tid, signal: 0)
            }
        }
        // A task we could not stop within the time limit: let it go as it is.
        for tid in live { detach(tid, signal: 0) }
    }

    private func detach(_ tid: Int32, signal: Int32) {
        _ = fl_ptrace(PtraceRequest.detach.rawValue, tid, 0, UInt(signal))
        live.remove(tid)
    }

    /// Thread → process, learned from the samples (pid/tid pairs) as they are parsed.
    private var threadGroups: [Int32: Int32] = [:]
    private func processID(of tid: Int32) -> Int32 {
        if let pid = threadGroups[tid] { return pid }
        guard let pid = ProcFS.threadGroup(of: tid) else { return tid }
        threadGroups[tid] = pid
        return pid
    }

    private func push(pid: Int32, tid: Int32, _ body: TraceEvent.Body) {
        // Drain first: the kernel-side events that led here (a fault's entry before its
        // signal) are already in the rings and must be queued before this.
        drain(final: false, processing: false)
        // Code mapped before recording began reaches the DWARF unwinder only this way.
        switch body {
        case .mappingsSnapshot(let mappings), .execSnapshot(_, let mappings, _, _):
            for m in mappings { parser.unwinder?.noteMapping(pid: pid, m) }
        default:
            break
        }
        queue.events.append(TraceEvent(time: fl_monotonic_ns(), pid: pid, tid: tid, sequence: parser.nextSequence(), body: body))
    }

    /// Queues an event observed outside the rings (the attach snapshot).
    func inject(pid: Int32, _ body: TraceEvent.Body) { push(pid: pid, tid: pid, body) }

    // MARK: rings

    private func drain(final: Bool, processing: Bool = true) {
        let started = fl_monotonic_ns()
        var parsed = 0
        // The rings are read together, oldest record first: the parser unwinds stacks as it
        // goes, with the code mappings it has seen so far, and a library's MMAP2 in one CPU's
        // ring must reach it before the samples that ran in that library on another CPU.
        // (Read ring after ring, a program that moved CPU had its stacks unwound without
        // libc for a while: a syscall wrapper's caller went missing from mmap stacks.)
        // Backpressure every few dozen records (a DWARF sample is 8 KiB, and unwinding it
        // takes a while), and while processing: the rings fill meanwhile, and pausing late
        // is losing. (In a debug build, processing 4096 events took up to 100 ms, in which
        // 1000 threads filled a ring.)
        applyBackpressure()
        var readers = events.rings.map(PerfRing.Reader.init).filter { $0.current != nil }
        var times = readers.map { PerfRecordParser.time(of: $0.current!) }   // of each current record
        while !readers.isEmpty {
            let oldest = times.indices.min { times[$0] < times[$1] }!
            let reader = readers[oldest]
            parser.parse(reader.current!, into: &queue.events)
            reader.advance()
            if let next = reader.current {
                times[oldest] = PerfRecordParser.time(of: next)
            } else {
                readers.remove(at: oldest)
                times.remove(at: oldest)
            }
            parsed += 1
            if parsed % 64 == 0 { applyBackpressure() }
        }
        guard processing else { return }
        let horizon: UInt64? = final ? nil : started &- EventQueue.slackNs
        var processed = 0
        queue.release(upTo: horizon, parser: &parser) { event, chains in
            if event.pid != 0 && event.tid != 0 && threadGroups[event.tid] == nil && !event.isMachineWide {
                threadGroups[event.tid] = event.pid
            }
            assembler.process(event, chains: chains)
            processed += 1
            if processed % 256 == 0 { applyBackpressure() } // can outrun a whole loop iteration
        }
    }
}
