// Names the function whose code an address really is, when the compiler inlined it into
// another: the ELF symbol table only knows the outer function, DWARF scopes know both.
// Hazard: dwarf_getscopes returns a malloc'd array the caller must free.

import CLibdw
import Glibc

/// The innermost function scope at `address` in `module` (module address space).
/// `inlined` tells whether that scope is a DW_TAG_inlined_subroutine; when it is, its
/// name should replace the ELF symbol's, because the line table at the same address
/// already points into the inlined body. Nil without debug info.
func innermostFunction(module: OpaquePointer, address: UInt64) -> (name: String, inlined: Bool)? {
    var bias: Dwarf_Addr = 0
    // dwfl_module_addrdie loads the DWARF (possibly from a separate debug file) and
    // finds the compile unit covering the address.
    guard let compileUnit = dwfl_module_addrdie(module, address, &bias) else { return nil }
    var scopes: UnsafeMutablePointer<Dwarf_Die>?
    let count = dwarf_getscopes(compileUnit, address &- bias, &scopes)
    defer { free(scopes) }
    guard count > 0, let scopes else { return nil }
    for index in 0..<Int(count) {
        let die = scopes + index
        let tag = Int(dwarf_tag(die))
        guard tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram else { continue }
        guard let name = functionName(of: die) else { return nil }
        return (name, tag == DW_TAG_inlined_subroutine)
    }
    return nil
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
