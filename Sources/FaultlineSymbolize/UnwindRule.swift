// How to step from a frame to its caller at one code address, reduced from the DWARF CFI
// to the few shapes x86-64 code uses. Unwinding with these cached rules costs a lookup
// and two stack reads per frame, instead of interpreting CFI for every sample.

/// CFA = base register + offset; the return address is saved at CFA + returnAddressOffset;
/// the caller's frame pointer is unchanged or saved at CFA + an offset.
public struct UnwindRule: Sendable, Equatable {
    public enum Base: UInt8, Sendable { case stackPointer, framePointer }
    public enum SavedFramePointer: Sendable, Equatable {
        /// This frame did not change rbp (or the CFI does not say: keep it).
        case unchanged
        /// Saved in memory at CFA + offset.
        case atCFA(Int64)
    }

    public var base: Base
    public var cfaOffset: Int64
    public var returnAddressOffset: Int64
    public var framePointer: SavedFramePointer
    /// The CFI says the return address is undefined: the outermost frame (_start, a
    /// thread's start routine). Unwinding stops here.
    public var isOutermost = false

    public static let outermost: UnwindRule = {
        var rule = UnwindRule(base: .stackPointer, cfaOffset: 0, returnAddressOffset: 0, framePointer: .unchanged)
        rule.isOutermost = true
        return rule
    }()

    public init(base: Base, cfaOffset: Int64, returnAddressOffset: Int64, framePointer: SavedFramePointer) {
        self.base = base; self.cfaOffset = cfaOffset
        self.returnAddressOffset = returnAddressOffset; self.framePointer = framePointer
    }

    /// What a function with a standard frame-pointer prologue looks like past it: the
    /// fallback where a module has no CFI.
    public static let framePointerChain = UnwindRule(base: .framePointer, cfaOffset: 16,
                                                     returnAddressOffset: -8, framePointer: .atCFA(-16))
}
