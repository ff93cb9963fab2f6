// The function scopes at an address, when the compiler inlined code: the ELF symbol table
// only knows the function holding the machine code, DWARF scopes know every function of
// the inline chain and the line each inlined call was made from.
// Hazard: dwarf_getscopes returns a malloc'd array the caller must free.

import CLibdw
import Glibc

/// One function scope at an address.
struct FunctionScope: Equatable {
    /// Nil when the DIE has no name (seen in hand-written or stripped DWARF).
    var name: String?
    /// A DW_TAG_inlined_subroutine: an inlined body inside the next scope out.
    var inlined: Bool
    /// Where an inlined scope was called from: a line of the next scope out.
    var callFile: String?
    var callLine: Int?
}

/// The function scopes at `address` in `module` (module address space), innermost first:
/// each inlined call the address lies in, then the function holding them. Empty without
/// debug info.
func functionScopes(module: OpaquePointer, address: UInt64) -> [FunctionScope] {
    var bias: Dwarf_Addr = 0
    // dwfl_module_addrdie loads the DWARF (possibly from a separate debug file) and
    // finds the compile unit covering the address.
    guard let compileUnit = dwfl_module_addrdie(module, address, &bias) else { return [] }
    // dwarf_getscopes finds the innermost scope, but past an inlined instance it goes on
    // with the scopes of the inlined function's own (abstract) definition; the chain of
    // concrete instances, each inlined into the next, is the innermost DIE's path in the
    // tree, which dwarf_getscopes_die gives.
    var found: UnsafeMutablePointer<Dwarf_Die>?
    let foundCount = dwarf_getscopes(compileUnit, address &- bias, &found)
    guard foundCount > 0, let found else { free(found); return [] }
    var innermost = found.pointee
    free(found)
    var scopes: UnsafeMutablePointer<Dwarf_Die>?
    let count = dwarf_getscopes_die(&innermost, &scopes)
    defer { free(scopes) }
    guard count > 0, let scopes else { return [] }
    var files: OpaquePointer?
    var fileCount = 0
    if dwarf_getsrcfiles(compileUnit, &files, &fileCount) != 0 { files = nil }

    var result: [FunctionScope] = []
    for index in 0..<Int(count) {
        let die = scopes + index
        let tag = Int(dwarf_tag(die))
        guard tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram else { continue }
        var scope = FunctionScope(name: functionName(of: die), inlined: tag == DW_TAG_inlined_subroutine)
        if scope.inlined {
            if let index = unsignedAttribute(die, DW_AT_call_file), let files, index < fileCount,
               let path = dwarf_filesrc(files, Int(index), nil, nil) {
                scope.callFile = String(cString: path)
            }
            // Line 0 means "no line" in DWARF.
            scope.callLine = unsignedAttribute(die, DW_AT_call_line).flatMap { $0 > 0 ? Int(clamping: $0) : nil }
        }
        result.append(scope)
        if !scope.inlined { break } // the function holding the code: nothing further out is a caller
    }
    return result
}

private func unsignedAttribute(_ die: UnsafeMutablePointer<Dwarf_Die>, _ name: Int) -> UInt64? {
    var storage = Dwarf_Attribute()
    var value: Dwarf_Word = 0
    guard let attribute = dwarf_attr(die, UInt32(name), &storage), dwarf_formudata(attribute, &value) == 0 else { return nil }
    return value
}

/// Prefers the linkage name, demangled, because DW_AT_name of a C++ method or Swift
/// function lacks its class, namespace and signature. "Integrate" follows
/// DW_AT_abstract_origin, where an inlined instance keeps its names.
private func functionName(of die: UnsafeMutablePointer<Dwarf_Die>) -> String? {
    for attribute in [DW_AT_linkage_name, DW_AT_MIPS_linkage_name] {
        var storage = Dwarf_Attribute()
        if let found = dwarf_attr_integrate(die, UInt32(attribute), &storage),
           let raw = dwarf_formstring(found) {
            return demangle(String(cString: raw))
        }
    }
    return dwarf_diename(die).map { String(cString: $0) }
}
