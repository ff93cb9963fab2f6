// Names the frames of a log once each: a symbol recorded at record time wins (the binary
// may be gone since), then the symbolizer, then "module+0xOFFSET". Symbolizing is the slow
// part of a report, and the same few thousand frames repeat across millions of faults.

import FaultlineCore
import FaultlineLog

/// What a frame is called, with what is known about where it is.
public struct FrameName: Sendable, Equatable {
    /// Never empty: a symbol, "module+0xOFFSET", "0xADDRESS" or "?" for a frame the log
    /// never defined.
    public var function: String
    public var file: String?
    public var line: Int?
    /// The module's full path as recorded; nil for an absolute address.
    public var module: String?

    public init(function: String, file: String? = nil, line: Int? = nil, module: String? = nil) {
        self.function = function; self.file = file; self.line = line; self.module = module
    }
}

/// Not thread-safe (it caches, and so do symbolizers): one per report or export.
public final class FrameNamer {
    public let log: LoadedLog
    private let symbolizer: Symbolizer
    private var names: [FrameID: FrameName] = [:]
    private var stackNames: [StackID: String] = [:]

    /// Shown for a fault with no user stack (the unwinder got nothing).
    public static let noStack = "[no stack]"

    public init(log: LoadedLog, symbolizer: Symbolizer) {
        self.log = log
        self.symbolizer = symbolizer
    }

    public func name(_ id: FrameID) -> FrameName {
        if let cached = names[id] { return cached }
        let resolved = resolve(id)
        names[id] = resolved
        return resolved
    }

    /// The function of a stack's leaf frame: where the fault happened (for a kernel-mode
    /// fault, the user code that made the system call).
    public func leafFunction(of stack: StackID) -> String {
        guard stack != .empty, stack.index < log.stackFrames.count else { return Self.noStack }
        return name(log.stackFrames[stack.index]).function
    }

    /// The whole stack, leaf first: `leaf ← caller ← …`.
    public func stackDescription(_ stack: StackID) -> String {
        if let cached = stackNames[stack] { return cached }
        let frames = log.frames(of: stack)
        let text = frames.isEmpty ? Self.noStack : frames.map { name($0).function }.joined(separator: " ← ")
        stackNames[stack] = text
        return text
    }

    private func resolve(_ id: FrameID) -> FrameName {
        guard let frame = log.frame(id) else { return FrameName(function: "?") }
        let modulePath = frame.module.map { log.modulePath($0) }

        if let recorded = log.symbols[id] {
            return FrameName(function: log.string(recorded.function),
                             file: recorded.file.map { log.string($0) },
                             line: recorded.line > 0 ? Int(recorded.line) : nil,
                             module: modulePath)
        }
        guard let moduleID = frame.module, let path = modulePath else {
            return FrameName(function: Self.hex(frame.offset))
        }
        let buildID = log.module(moduleID)?.buildID ?? []
        let symbol = symbolizer.symbolize(modulePath: path, buildID: buildID, fileOffset: frame.offset)
        // A symbolizer may know the line but not the function (stripped symbol table,
        // DWARF present): keep what it knows and name the function by its place.
        // Pseudo-modules (`[execve]`: the kernel loading a program) name the frame whole.
        let pseudo = path.hasPrefix("[") && frame.offset == 0 ? path : nil
        let function = symbol?.function ?? pseudo ?? "\(Self.shortModuleName(path))+\(Self.hex(frame.offset))"
        return FrameName(function: function, file: symbol?.file, line: symbol?.line, module: path)
    }

    /// A path's last component; names that are not paths (`//anon`, `[vdso]`) stay whole.
    public static func shortModuleName(_ path: String) -> String {
        guard path.hasPrefix("/"), !path.hasPrefix("//"), let slash = path.lastIndex(of: "/") else { return path }
        let base = path[path.index(after: slash)...]
        return base.isEmpty ? path : String(base)
    }

    public static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}
