// Names every frame of a recording before the log is closed, while the binaries it ran
// are surely still there: a report on another machine, or after a rebuild, still names
// functions. Frames stay (module, offset) too, so a symbol path can do better later.
// Frames are named on every core (NamingWorkers); the records are written afterwards in
// frame order, so the log is the same byte for byte however many threads named them.

import FaultlineCore
import FaultlineLog
import FaultlineSymbolize

enum RecordedSymbols {
    /// Appends a symbol record for each frame that has a name, and its inline chain where
    /// the code was inlined. Frames in anonymous memory are named from the JIT's perf maps;
    /// frames of files from `cache` where it knows them, else by libdw on `threads` threads,
    /// and what libdw says is added to `cache`.
    /// `progress` hears (frames named so far, frames in all).
    static func append(to writer: LogWriter, cache: CachingSymbolizer?, jit: JITNames? = nil,
                       threads: Int = HostInfo.usableCPUs, join: NamingJoinPolicy = .whenWorthIt,
                       makeSymbolizer: () -> BuildAwareSymbolizer = { LibdwSymbolizer() },
                       progress: ((Int, Int) -> Void)? = nil) {
        let frames = writer.internedFrames()
        var jitNames = [String?](repeating: nil, count: frames.count)
        var symbols = [Symbol?](repeating: nil, count: frames.count)
        var asked: [FrameAddress] = []
        var askedFrames: [Int] = []
        for (i, frame) in frames.enumerated() {
            if frame.path == nil, let jit, let name = jit.name(of: frame.id, address: frame.offset) {
                jitNames[i] = name
                continue
            }
            guard let path = frame.path, path.hasPrefix("/") else { continue }
            if let known = cache?.cached(buildID: frame.buildID, fileOffset: frame.offset) {
                symbols[i] = known
                continue
            }
            asked.append(FrameAddress(modulePath: path, buildID: frame.buildID, fileOffset: frame.offset))
            askedFrames.append(i)
        }

        let answered = frames.count - asked.count
        progress?(answered, frames.count)
        let named = NamingWorkers.name(asked, threads: threads, join: join, makeSymbolizer: makeSymbolizer,
                                       progress: progress.map { report in { report(answered + $0, frames.count) } })
        for (k, i) in askedFrames.enumerated() {
            symbols[i] = named[k].symbol
            cache?.learn(named[k], buildID: asked[k].buildID, fileOffset: asked[k].fileOffset)
        }

        for (i, frame) in frames.enumerated() {
            if let name = jitNames[i] {
                writer.append(.symbol(FrameSymbol(frame: frame.id, function: writer.intern(name), file: nil, line: 0)))
            } else if let symbol = symbols[i], let function = symbol.function {
                write(symbol, function: function, frame: frame.id, to: writer)
            }
        }
    }

    private static func write(_ symbol: Symbol, function: String, frame: FrameID, to writer: LogWriter) {
        writer.append(.symbol(FrameSymbol(frame: frame, function: writer.intern(function),
                                          file: symbol.file.map { writer.intern($0) },
                                          line: UInt32(clamping: symbol.line ?? 0))))
        guard !symbol.inlinedInto.isEmpty else { return }
        let callers = symbol.inlinedInto.prefix(FrameInlining.maxCallers).map {
            FrameInlining.Caller(function: writer.intern($0.function), file: $0.file.map { writer.intern($0) },
                                 line: UInt32(clamping: $0.line ?? 0))
        }
        writer.append(.inlined(FrameInlining(frame: frame, callers: Array(callers))))
    }
}
