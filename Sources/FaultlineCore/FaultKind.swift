// The classes a recorded page fault falls into, and how an access is described.
// DESIGN.md's fault-class table is the contract; `FaultClassifier` implements it.

/// What happened when a page fault was taken. Raw values are stored in logs: never renumber.
/// Declared in the order people read them (allCases); the raw values are the log's.
public enum FaultKind: UInt8, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// First write to anonymous memory: a zeroed page was allocated.
    case anon = 0
    /// First read of anonymous memory: the shared zero page was mapped.
    case zero = 1
    /// A file-backed (or shared-memory) page found in the page cache and mapped.
    case file = 2
    /// Copy-on-write: a private page was copied for a write.
    case cow = 3
    /// An anonymous or shmem page brought back from swap: from the swap cache (a minor
    /// fault) or from disk (a major one; see FaultEvent.swapFromDisk). Logs of LogFormat.swapKindVersion (4) on.
    case swap = 7
    /// The fault waited for file I/O (a swap-in that read the disk is `swap`).
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
        case .swap: return "swap"
        }
    }

    public init?(name: String) {
        guard let kind = FaultKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }

    /// Whether the kernel accounts every fault of this kind as minor (`/proc/PID/stat`
    /// field 10). A swap-in is minor or major by where the page came from: ask the event
    /// (FaultEvent.isMinor).
    public var isAlwaysMinor: Bool { self != .major && self != .segv && self != .swap }
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
