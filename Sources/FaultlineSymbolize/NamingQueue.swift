// How naming threads share a recording's frames. A thread opens a module for itself (a
// Dwfl is not thread-safe), so frames of one module go to one thread, and the modules with
// the most frames are handed out first. A thread left with no module of its own joins one
// still being named only when what is left of it would take longer than opening it again:
// measured on this machine (BENCHMARKS.md, "Naming frames"), Python's libpython costs
// 1-1.6 ms a frame (DWARF scopes) against 8-50 ms to open, worth sharing; libc costs 0.1 ms
// a frame against 45-90 ms to load its separate debug file, and cc1 1 µs a frame against
// 15 ms to read its symbol table, not worth it.
// Hazard: the queue decides only who names what, never the answers: a frame's name is a
// function of its file and offset, so any split gives the same names, in frame order.

/// Which frame each thread names next. Not thread-safe: `NamingWorkers` holds it under a lock.
struct NamingQueue {
    /// A module's frames and what naming them has cost so far.
    struct Module {
        /// Indices of the frames to name (into the caller's list), in the caller's order.
        let frames: [Int]
        /// frames[..<next] have been handed out.
        var next = 0
        /// Threads that have opened the module.
        var threads = 0
        /// The longest first frame a thread named here: opening the module, reading its
        /// symbol table and the first DWARF it needed, with that frame.
        var openNs: UInt64?
        /// The frames named after each thread's first, and their time.
        var laterFrames = 0
        var laterNs: UInt64 = 0

        var remaining: Int { frames.count - next }
    }

    /// A frame handed to a thread: `frame` indexes the caller's list; `opening` when the
    /// thread has not named a frame of this module before (the timing of it is the opening's).
    struct Claim: Equatable {
        var module: Int
        var frame: Int
        var opening: Bool
    }

    enum Next: Equatable {
        case name(Claim)
        /// Nothing to take now, but a module's cost is not known yet: ask again once a
        /// frame is named.
        case wait
        /// Nothing left this thread could usefully take.
        case done
    }

    private(set) var modules: [Module]
    /// modules[..<taken] have been given to a thread.
    private var taken = 0
    let policy: NamingJoinPolicy
    /// Frames named so far.
    private(set) var finished = 0
    let total: Int

    /// `keys[i]`: the module of frame i (any Hashable: a path). Modules are handed out by
    /// most frames first, then by first appearance, so the order is the same every run.
    init<Key: Hashable>(moduleOf keys: [Key], policy: NamingJoinPolicy = .whenWorthIt) {
        var index: [Key: Int] = [:]
        var groups: [[Int]] = []
        for (frame, key) in keys.enumerated() {
            if let m = index[key] {
                groups[m].append(frame)
            } else {
                index[key] = groups.count
                groups.append([frame])
            }
        }
        let order = groups.indices.sorted { groups[$0].count != groups[$1].count ? groups[$0].count > groups[$1].count : $0 < $1 }
        modules = order.map { Module(frames: groups[$0]) }
        self.policy = policy
        total = keys.count
    }

    /// The next frame for a thread that last named a frame of `current` (nil: none yet).
    mutating func next(after current: Int?) -> Next {
        if let current, modules[current].remaining > 0 { return .name(hand(current, opening: false)) }
        if taken < modules.count {
            taken += 1
            return .name(hand(taken - 1, opening: true))
        }
        // Every module has a thread: join the one with the most time left, if worth it.
        var best: (module: Int, ns: Double)?
        var unknown = false
        for (m, module) in modules.enumerated() where module.remaining > 0 {
            switch policy {
            case .always:
                if best.map({ module.remaining > modules[$0.module].remaining }) ?? true { best = (m, Double(module.remaining)) }
            case .whenWorthIt:
                guard let openNs = module.openNs, module.laterFrames > 0 else { unknown = true; continue }
                let perFrame = Double(module.laterNs) / Double(module.laterFrames)
                let left = perFrame * Double(module.remaining)
                if Self.worthJoining(leftNs: left, threads: module.threads, openNs: Double(openNs)),
                   best.map({ left > $0.ns }) ?? true {
                    best = (m, left)
                }
            }
        }
        if let best { return .name(hand(best.module, opening: true)) }
        return unknown ? .wait : .done
    }

    /// Whether one more thread on a module shortens it: its `threads` share `leftNs` of work;
    /// one more saves leftNs/k - leftNs/(k+1) and costs `openNs` (that thread opening it).
    static func worthJoining(leftNs: Double, threads: Int, openNs: Double) -> Bool {
        let k = Double(max(1, threads))
        return leftNs / k - leftNs / (k + 1) > openNs
    }

    /// Records that a thread named `claim`'s frame in `ns`.
    mutating func named(_ claim: Claim, ns: UInt64) {
        finished += 1
        if claim.opening {
            modules[claim.module].openNs = max(modules[claim.module].openNs ?? 0, ns)
        } else {
            modules[claim.module].laterFrames += 1
            modules[claim.module].laterNs &+= ns
        }
    }

    private mutating func hand(_ m: Int, opening: Bool) -> Claim {
        if opening { modules[m].threads += 1 }
        let frame = modules[m].frames[modules[m].next]
        modules[m].next += 1
        return Claim(module: m, frame: frame, opening: opening)
    }
}
