// Names every frame of a recording before the log is closed, while the binaries it ran
// are surely still there: a report on another machine, or after a rebuild, still names
// functions. Frames stay (module, offset) too, so a symbol path can do better later.

import FaultlineCore
import FaultlineLog
import FaultlineSymbolize

enum RecordedSymbols {
    /// Appends a symbol record for each frame the symbolizer names, and its inline chain
    /// where the code was inlined.
    /// Frames in anonymous memory are named from the JIT's perf maps.
    /// `progress` hears (frames named so far, frames in all) after each frame.
    static func append(to writer: LogWriter, using symbolizer: Symbolizer, jit: JITNames? = nil,
                       progress: ((Int, Int) -> Void)? = nil) {
        let frames = writer.internedFrames()
        for (done, frame) in frames.enumerated() {
            progress?(done, frames.count)
            if frame.path == nil, let jit, let name = jit.name(of: frame.id, address: frame.offset) {
                writer.append(.symbol(FrameSymbol(frame: frame.id, function: writer.intern(name), file: nil, line: 0)))
                continue
            }
            guard let path = frame.path, path.hasPrefix("/"),
                  let symbol = symbolizer.symbolize(modulePath: path, buildID: frame.buildID, fileOffset: frame.offset),
                  let function = symbol.function else { continue }
            write(symbol, function: function, frame: frame.id, to: writer)
        }
    }

    static func write(_ symbol: Symbol, function: String, frame: FrameID, to writer: LogWriter) {
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
