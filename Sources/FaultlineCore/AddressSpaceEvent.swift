// Changes to a process's address space other than new mappings: the timeline replay and
// the mapping lookups need, so that a fault is tied to the mapping live at its time.

/// madvise(2) advice values (asm-generic/mman-common.h), with the names exports use.
public enum Advice {
    public static let names: [Int32: String] = [
        0: "normal", 1: "random", 2: "sequential", 3: "willneed", 4: "dontneed",
        8: "free", 9: "remove", 10: "dontfork", 11: "dofork", 12: "mergeable", 13: "unmergeable",
        14: "hugepage", 15: "nohugepage", 16: "dontdump", 17: "dodump", 18: "wipeonfork",
        19: "keeponfork", 20: "cold", 21: "pageout", 22: "populate_read", 23: "populate_write",
        24: "dontneed_locked", 25: "collapse", 100: "hwpoison", 101: "soft_offline", 102: "guard_install",
        103: "guard_remove",
    ]

    public static func name(_ advice: Int32) -> String { names[advice] ?? "advice_\(advice)" }
}

public enum AddressSpaceChange: Sendable, Equatable {
    case munmap(address: UInt64, length: UInt64)
    case mremap(address: UInt64, length: UInt64, newAddress: UInt64, newLength: UInt64)
    case mprotect(address: UInt64, length: UInt64, prot: UInt32)
    case madvise(address: UInt64, length: UInt64, advice: Int32)
    /// brk(2): `requested` is the break asked for (0 asks for the current one), `result` the
    /// break the kernel returned.
    case brk(requested: UInt64, result: UInt64)

    /// The name exports use as the record's `type`.
    public var name: String {
        switch self {
        case .munmap: return "munmap"
        case .mremap: return "mremap"
        case .mprotect: return "mprotect"
        case .madvise: return "madvise"
        case .brk: return "brk"
        }
    }
}

/// A completed address-space system call, with its result applied. munmap and mremap carry
/// the time they began (the range they free may be mapped again before they return); the
/// others the time they returned.
public struct AddressSpaceEvent: Sendable, Equatable {
    public var pid: Int32
    public var tid: Int32
    public var timeNs: UInt64
    public var change: AddressSpaceChange
    /// The user stack that made the call (StackID.empty when not recorded).
    public var stack: StackID

    public init(pid: Int32, tid: Int32, timeNs: UInt64, change: AddressSpaceChange, stack: StackID = .empty) {
        self.pid = pid; self.tid = tid; self.timeNs = timeNs; self.change = change; self.stack = stack
    }
}
