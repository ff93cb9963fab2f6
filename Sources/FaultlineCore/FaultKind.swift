// The classes a recorded page fault falls into, and how an access is described.
// DESIGN.md's fault-class table is the contract; `FaultClassifier` implements it.

/// What happened when a page fault was taken. Raw values are stored in logs: never renumber.
public enum FaultKind: UInt8, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// First write to anonymous memory: a zeroed page was allocated.
    case anon = 0
    /// First read of anonymous memory: the shared zero page was mapped.
    case zero = 1
    /// A file-backed (or shared-memory) page found in the page cache and mapped.
    case file = 2
    /// Copy-on-write: a private page was copied for a write.
    case cow = 3
    /// The fault waited for I/O (file read or swap-in).
    case major = 4
    /// The access was refused: SIGSEGV or SIGBUS was delivered.
    case segv = 5
    /// Accounted minor faults that fit none of the above (write-notify, NUMA hints, ...).
    case other = 6

    public var description: String { name }

    public var name: String {
        switch self {
        case .anon: return "anon"
        case .zero: return "zero"
        case .file: return "file"
        case .cow: return "cow"
        case .major: return "major"
        case .segv: return "segv"
        case .other: return "other"
        }
    }

    public init?(name: String) {
        guard let kind = FaultKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }

    /// Whether the kernel accounted this fault as minor (`/proc/PID/stat` field 10).
    public var isMinor: Bool { self != .major && self != .segv }
}

/// How the faulting instruction touched memory.
public enum Access: UInt8, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case read = 0
    case write = 1
    case exec = 2

    public var description: String {
        switch self {
        case .read: return "read"
        case .write: return "write"
        case .exec: return "exec"
        }
    }
}
