// What `--kind K` selects: one fault kind, or `minor` for every kind the kernel accounts
// as minor (so a person can ask "where do my minor faults come from" in one go).

import FaultlineCore

public enum FaultKindFilter: Sendable, Equatable, CustomStringConvertible {
    case kind(FaultKind)
    case minor

    /// Names accepted on the command line, in the order a help text lists them.
    public static let names: [String] = FaultKind.allCases.map(\.name) + ["minor"]

    public init?(name: String) {
        if name == "minor" { self = .minor; return }
        guard let kind = FaultKind(name: name) else { return nil }
        self = .kind(kind)
    }

    public func matches(_ fault: FaultEvent) -> Bool {
        switch self {
        case .kind(let k): return k == fault.kind
        case .minor: return fault.isMinor
        }
    }

    public var description: String {
        switch self {
        case .kind(let k): return k.name
        case .minor: return "minor"
        }
    }
}
