// Naming code addresses is kept apart from getting them: the log stores frames as
// (module, file offset); a Symbolizer turns those into function, file and line, and, where
// the compiler inlined code, into the chain of functions it was inlined into.

/// What a frame resolved to. `function` is nil when the module has no symbol there.
public struct Symbol: Sendable, Equatable {
    public var function: String?
    public var file: String?
    public var line: Int?
    /// Where the code at the address was inlined, innermost first: each entry is the
    /// function holding the previous one's inlined body (the first holds `function`'s),
    /// with the file and line of that inlined call. The last entry is the function whose
    /// machine code this is. Empty for code that was not inlined.
    public var inlinedInto: [SourceFunction]

    public init(function: String?, file: String? = nil, line: Int? = nil, inlinedInto: [SourceFunction] = []) {
        self.function = function; self.file = file; self.line = line; self.inlinedInto = inlinedInto
    }
}

/// A function and a place in its source.
public struct SourceFunction: Sendable, Equatable, Hashable {
    public var function: String
    public var file: String?
    public var line: Int?
    public init(function: String, file: String? = nil, line: Int? = nil) {
        self.function = function; self.file = file; self.line = line
    }
}

/// Resolves a code address inside a mapped file. Implementations cache per module.
public protocol Symbolizer: AnyObject {
    /// - Parameters:
    ///   - modulePath: the file as it was mapped (may no longer exist).
    ///   - buildID: its GNU build-id, empty if unknown; a file whose build-id differs must
    ///     not be used to name the frame.
    ///   - fileOffset: the address's offset in the file (ip - mapping start + mapping offset).
    func symbolize(modulePath: String, buildID: [UInt8], fileOffset: UInt64) -> Symbol?
}

/// A symbolizer that knows nothing: frames are shown as module+offset.
public final class NullSymbolizer: Symbolizer {
    public init() {}
    public func symbolize(modulePath: String, buildID: [UInt8], fileOffset: UInt64) -> Symbol? { nil }
}
