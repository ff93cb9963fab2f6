// Reads a module's call-frame information (.eh_frame, else .debug_frame) at one address
// and reduces it to an UnwindRule. Anything the reduction does not understand (a CFA
// computed by a DWARF expression, as in PLT stubs) yields nil: the caller stops or falls
// back to frame pointers rather than guess.

import CLibdw
import Glibc

// DWARF register numbers on x86-64 (System V ABI, figure 3.36).
private let dwarfRBP: UInt8 = 6
private let dwarfRSP: UInt8 = 7
private let dwarfReturnAddress: Int32 = 16
// DWARF expression opcodes (DWARF 5, section 7.7.1).
private let DW_OP_breg0: UInt8 = 0x70
private let DW_OP_breg31: UInt8 = 0x8f
private let DW_OP_bregx: UInt8 = 0x92
private let DW_OP_call_frame_cfa: UInt8 = 0x9c
private let DW_OP_plus_uconst: UInt8 = 0x23
private let DW_OP_consts: UInt8 = 0x11
private let DW_OP_constu: UInt8 = 0x10
private let DW_OP_plus: UInt8 = 0x22
private let DW_OP_minus: UInt8 = 0x1c
private let DW_OP_stack_value: UInt8 = 0x9f
private let DW_OP_lit0: UInt8 = 0x30
private let DW_OP_lit31: UInt8 = 0x4f

extension ELFModule {
    /// The rule at `fileOffset` (the address's offset in the file), or nil.
    func unwindRule(atFileOffset fileOffset: UInt64) -> UnwindRule? {
        guard let vaddr = segments.virtualAddress(forFileOffset: fileOffset) else { return nil }
        let address = vaddr &+ bias
        for useEH in [true, false] {
            var cfiBias: Dwarf_Addr = 0
            guard let cfi = useEH ? dwfl_module_eh_cfi(module, &cfiBias) : dwfl_module_dwarf_cfi(module, &cfiBias)
            else { continue }
            var frame: OpaquePointer?
            guard dwarf_cfi_addrframe(cfi, address &- cfiBias, &frame) == 0, let frame else { continue }
            defer { free(UnsafeMutableRawPointer(frame)) }
            return Self.rule(from: frame)
        }
        return nil
    }

    private static func rule(from frame: OpaquePointer) -> UnwindRule? {
        var ops: UnsafeMutablePointer<Dwarf_Op>?
        var count = 0
        guard dwarf_frame_cfa(frame, &ops, &count) == 0, count == 1, let cfaOp = ops?.pointee else { return nil }
        // libdw states "CFA = register + offset" as DW_OP_bregx (register, offset), or as
        // DW_OP_bregN (offset).
        let register: UInt64, cfaOffset: Int64
        switch cfaOp.atom {
        case DW_OP_bregx: (register, cfaOffset) = (cfaOp.number, Int64(bitPattern: cfaOp.number2))
        case DW_OP_breg0...DW_OP_breg31: (register, cfaOffset) = (UInt64(cfaOp.atom - DW_OP_breg0), Int64(bitPattern: cfaOp.number))
        default: return nil
        }
        let base: UnwindRule.Base
        switch register {
        case UInt64(dwarfRSP): base = .stackPointer
        case UInt64(dwarfRBP): base = .framePointer
        default: return nil
        }

        let returnAddress = location(frame, register: dwarfReturnAddress)
        if case .undefined? = returnAddress { return .outermost }
        guard case .memory(let ra)? = returnAddress else { return nil }
        let fp: UnwindRule.SavedFramePointer
        switch location(frame, register: Int32(dwarfRBP)) {
        case .memory(let offset)?: fp = .atCFA(offset)
        default: fp = .unchanged
        }
        return UnwindRule(base: base, cfaOffset: cfaOffset, returnAddressOffset: ra, framePointer: fp)
    }

    private enum Location { case memory(Int64), unchanged, undefined }

    /// Where the caller's `register` is: in memory at CFA + offset, or unchanged. Nil for
    /// anything else (a value expression, another register, undefined).
    private static func location(_ frame: OpaquePointer, register: Int32) -> Location? {
        var memory = [Dwarf_Op](repeating: Dwarf_Op(), count: 3)
        var ops: UnsafeMutablePointer<Dwarf_Op>?
        var count = 0
        let status = memory.withUnsafeMutableBufferPointer { buffer in
            dwarf_frame_register(frame, register, buffer.baseAddress!, &ops, &count)
        }
        guard status == 0 else { return nil }
        // No operations: nil ops means "same value"; ops pointing at our buffer, "undefined".
        if count == 0 { return ops == nil ? .unchanged : .undefined }
        // Evaluate symbolically: every entry is CFA + k or a constant k.
        var stack: [(cfa: Bool, k: Int64)] = []
        for i in 0..<count {
            let op = ops![i]
            switch op.atom {
            case DW_OP_call_frame_cfa: stack.append((true, 0))
            case DW_OP_lit0...DW_OP_lit31: stack.append((false, Int64(op.atom - DW_OP_lit0)))
            case DW_OP_consts, DW_OP_constu: stack.append((false, Int64(bitPattern: op.number)))
            case DW_OP_plus_uconst:
                guard !stack.isEmpty else { return nil }
                stack[stack.count - 1].k &+= Int64(bitPattern: op.number)
            case DW_OP_plus, DW_OP_minus:
                guard stack.count >= 2 else { return nil }
                let b = stack.removeLast(), a = stack.removeLast()
                guard !b.cfa else { return nil }
                stack.append((a.cfa, op.atom == DW_OP_plus ? a.k &+ b.k : a.k &- b.k))
            case DW_OP_stack_value: return nil // a value, not a saved slot
            default: return nil
            }
        }
        guard stack.count == 1, stack[0].cfa else { return nil }
        return .memory(stack[0].k)
    }
}
