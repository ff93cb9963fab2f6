// Typed identifiers for interned log tables: a StackID can never be passed where a
// StringID is expected. Raw values are dense, starting at 0, in order of first definition.

public protocol InternedID: Hashable, Comparable, Sendable, CustomStringConvertible {
    var rawValue: UInt32 { get }
    init(rawValue: UInt32)
}

extension InternedID {
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(rawValue)" }
    public var index: Int { Int(rawValue) }
}

public struct StringID: InternedID { public let rawValue: UInt32; public init(rawValue: UInt32) { self.rawValue = rawValue } }
public struct ModuleID: InternedID { public let rawValue: UInt32; public init(rawValue: UInt32) { self.rawValue = rawValue } }
public struct FrameID: InternedID { public let rawValue: UInt32; public init(rawValue: UInt32) { self.rawValue = rawValue } }

/// A node of the stack trie. `StackID.empty` (0) is the root: a fault with no user stack.
public struct StackID: InternedID {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let empty = StackID(rawValue: 0)
}
