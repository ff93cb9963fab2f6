// Names the frames of a log once each: a symbol recorded at record time wins (the binary
// may be gone since), then the symbolizer, then "module+0xOFFSET". Symbolizing is the slow
// part of a report, and the same few thousand frames repeat across millions of faults.
// A frame whose code the compiler inlined names every function of the inline chain,
// innermost first, then the function that holds them, as perf does: one recorded frame,
// several named ones.

import FaultlineCore
import FaultlineLog

/// What a frame is called, with what is known about where it is.
public struct FrameName: Sendable, Hashable {
    /// Never empty: a symbol, "module+0xOFFSET", "0xADDRESS" or "?" for a frame the log
    /// never defined.
    public var function: String
    public var file: String?
    public var line: Int?
    /// The module's full path as recorded; nil for an absolute address.
    public var module: String?
    /// This function's code was inlined into the next frame's function (its caller): the
    /// two are one machine frame.
    public var inlined: Bool

    public init(function: String, file: String? = nil, line: Int? = nil, module: String? = nil, inlined: Bool = false) {
        self.function = function; self.file = file; self.line = line; self.module = module; self.inlined = inlined
    }

    /// `file.c:42` (the file's last component), `file.c` without a line, nil without a file.
    public var location: String? {
        guard let file else { return nil }
        // DWARF paths may be relative to the compile directory ("Objects/obmalloc.c").
        let base = file.split(separator: "/").last.map(String.init) ?? file
        return line.map { "\(base):\($0)" } ?? base
    }

    /// How text shows a frame: `touch_page (inlined) sample.c:25`.
    public var label: String {
        var text = function
        if inlined { text += " (inlined)" }
        if let location { text += " " + location }
        return text
    }
}

/// Not thread-safe (it caches, and so do symbolizers): one per report or export.
public final class FrameNamer {
    public let log: LoadedLog
    private let symbolizer: Symbolizer
    private var names: [FrameID: [FrameName]] = [:]
    private var stacks: [StackID: [FrameName]] = [:]
    private var stackNames: [StackID: String] = [:]
    /// Frames that neither the log nor the symbolizer could name (shown as module+offset).
    private var unnamed: Set<FrameID> = []

    /// Shown for a fault with no user stack (the unwinder got nothing).
    public static let noStack = "[no stack]"

    public init(log: LoadedLog, symbolizer: Symbolizer) {
        self.log = log
        self.symbolizer = symbolizer
    }

    /// The innermost function at the frame's address (the inlined one, where code was inlined).
    public func name(_ id: FrameID) -> FrameName {
        names(id)[0]
    }

    /// The frame's functions, innermost first: each inlined function (`inlined` set), then
    /// the function whose machine code it is. Never empty.
    public func names(_ id: FrameID) -> [FrameName] {
        if let cached = names[id] { return cached }
        let resolved = resolve(id)
        names[id] = resolved
        return resolved
    }

    /// Whether the log or the symbolizer knows the frame's function; false for a frame
    /// shown as `module+0xOFFSET`, a bare address or a pseudo-module.
    public func isNamed(_ id: FrameID) -> Bool {
        _ = names(id)
        return !unnamed.contains(id)
    }

    /// Every named frame of a stack, leaf first, inline chains expanded, at most
    /// `maxStackNames`; empty for no stack.
    public func stackNames(_ stack: StackID) -> [FrameName] {
        if let cached = stacks[stack] { return cached }
        var result: [FrameName] = []
        for frame in log.frames(of: stack) {
            result += names(frame).prefix(Self.maxStackNames - result.count)
            if result.count == Self.maxStackNames { break }
        }
        stacks[stack] = result
        return result
    }

    /// The most names a stack shows: four times a recorded stack's frames (128, with a few
    /// inlined calls each). A file may give each of 1,024 frames an inline chain of 256, and
    /// every distinct stack kept its 262,144 names.
    public static let maxStackNames = 4096

    /// The innermost function of a stack's leaf frame: where the fault happened (for a
    /// kernel-mode fault, the user code that made the system call).
    public func leafFunction(of stack: StackID) -> String {
        leafName(of: stack)?.function ?? Self.noStack
    }

    /// The leaf frame's innermost name, nil for no stack.
    public func leafName(of stack: StackID) -> FrameName? {
        guard stack != .empty, stack.index < log.stackFrames.count else { return nil }
        return name(log.stackFrames[stack.index])
    }

    /// The whole stack, leaf first: `leaf (inlined) file.c:12 ← caller file.c:40 ← …`.
    public func stackDescription(_ stack: StackID) -> String {
        if let cached = stackNames[stack] { return cached }
        let frames = stackNames(stack)
        let text = frames.isEmpty ? Self.noStack : frames.map(\.label).joined(separator: " ← ")
        stackNames[stack] = text
        return text
    }

    private func resolve(_ id: FrameID) -> [FrameName] {
        guard let frame = log.frame(id) else {
            unnamed.insert(id)
            return [FrameName(function: "?")]
        }
        let modulePath = frame.module.map { log.modulePath($0) }

        if let recorded = log.symbols[id] {
            let innermost = FrameName(function: log.string(recorded.function),
                                      file: recorded.file.map { log.string($0) },
                                      line: recorded.line > 0 ? Int(recorded.line) : nil, module: modulePath)
            let callers = (log.inlining[id] ?? []).map {
                SourceFunction(function: log.string($0.function), file: $0.file.map { log.string($0) },
                               line: $0.line > 0 ? Int($0.line) : nil)
            }
            return Self.chain(innermost, callers, module: modulePath)
        }
        guard let moduleID = frame.module, let path = modulePath else {
            unnamed.insert(id)
            return [FrameName(function: Self.hex(frame.offset))]
        }
        let buildID = log.module(moduleID)?.buildID ?? []
        let symbol = symbolizer.symbolize(modulePath: path, buildID: buildID, fileOffset: frame.offset)
        // A symbolizer may know the line but not the function (stripped symbol table,
        // DWARF present): keep what it knows and name the function by its place.
        // Pseudo-modules (`[execve]`: the kernel loading a program) name the frame whole.
        let pseudo = path.hasPrefix("[") && frame.offset == 0 ? path : nil
        let function = symbol?.function ?? pseudo ?? "\(Self.shortModuleName(path))+\(Self.hex(frame.offset))"
        if symbol?.function == nil { unnamed.insert(id) }
        let innermost = FrameName(function: function, file: symbol?.file, line: symbol?.line, module: path)
        return Self.chain(innermost, symbol?.inlinedInto ?? [], module: path)
    }

    /// The innermost function, then each function it was inlined into; all but the last
    /// are inlined into the next.
    private static func chain(_ innermost: FrameName, _ callers: [SourceFunction], module: String?) -> [FrameName] {
        guard !callers.isEmpty else { return [innermost] }
        var result = [innermost]
        result[0].inlined = true
        for (i, caller) in callers.enumerated() {
            result.append(FrameName(function: caller.function.isEmpty ? "??" : caller.function, file: caller.file,
                                    line: caller.line, module: module, inlined: i < callers.count - 1))
        }
        return result
    }

    /// A path's last component; names that are not paths (`//anon`, `[vdso]`) stay whole.
    public static func shortModuleName(_ path: String) -> String {
        guard path.hasPrefix("/"), !path.hasPrefix("//"), let slash = path.lastIndex(of: "/") else { return path }
        let base = path[path.index(after: slash)...]
        return base.isEmpty ? path : String(base)
    }

    public static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}
