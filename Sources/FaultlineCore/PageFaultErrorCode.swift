// The x86 page-fault error code delivered by the exceptions:page_fault_* tracepoints.
// Bits per the Intel SDM, vol. 3A §4.7; arch/x86/include/asm/trap_pf.h names them.

public struct PageFaultErrorCode: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The page was present: this was a protection violation, not a missing page.
    public static let present = PageFaultErrorCode(rawValue: 0x1)
    public static let write = PageFaultErrorCode(rawValue: 0x2)
    /// The access came from user mode (clear for copy_to_user inside a system call).
    public static let user = PageFaultErrorCode(rawValue: 0x4)
    public static let reservedBit = PageFaultErrorCode(rawValue: 0x8)
    public static let instructionFetch = PageFaultErrorCode(rawValue: 0x10)
    public static let protectionKey = PageFaultErrorCode(rawValue: 0x20)
    public static let shadowStack = PageFaultErrorCode(rawValue: 0x40)

    public var access: Access {
        if contains(.instructionFetch) { return .exec }
        return contains(.write) ? .write : .read
    }
}
