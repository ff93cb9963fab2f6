// Turns C++ (Itanium ABI, `_Z…`) and Swift (`$s…`) linkage names into readable ones.
// Hazard: both demanglers are C entry points declared here with @_silgen_name rather
// than through a C header, so their signatures are not checked by a compiler; they take
// only pointers and integers, which the Swift and C conventions pass identically.

import Glibc

/// From libstdc++ (hence `linkedLibrary("stdc++")` on this target). Declared here so this
/// target needs no C module of its own. Returns a malloc'd string, or nil with *status set.
@_silgen_name("__cxa_demangle")
private func cxaDemangle(_ mangled: UnsafePointer<CChar>,
                         _ outputBuffer: UnsafeMutablePointer<CChar>?,
                         _ length: UnsafeMutablePointer<Int>?,
                         _ status: UnsafeMutablePointer<Int32>?) -> UnsafeMutablePointer<CChar>?

/// From the Swift runtime, which every Swift program links. Returns a malloc'd string
/// when no output buffer is given, or nil if the name is not a Swift mangling.
@_silgen_name("swift_demangle")
private func swiftDemangle(_ mangled: UnsafePointer<CChar>,
                           _ mangledLength: Int,
                           _ outputBuffer: UnsafeMutablePointer<CChar>?,
                           _ outputBufferSize: UnsafeMutablePointer<Int>?,
                           _ flags: UInt32) -> UnsafeMutablePointer<CChar>?

/// Readable form of a symbol name; names that are not mangled, or that a demangler
/// rejects, come back unchanged (a raw name is still better than none).
func demangle(_ name: String) -> String {
    if name.hasPrefix("_Z") {
        return name.withCString { mangled in
            var status: Int32 = 0
            guard let out = cxaDemangle(mangled, nil, nil, &status), status == 0 else { return name }
            defer { free(out) }
            return String(cString: out)
        }
    }
    // $s: Swift 5+; $e: Embedded Swift; _T0/$S: older manglings. ELF symbols carry the
    // same names with a leading underscore on some platforms, so accept both spellings.
    let swiftPrefixes = ["$s", "_$s", "$e", "_$e", "$S", "_$S", "_T0"]
    if swiftPrefixes.contains(where: name.hasPrefix) {
        return name.withCString { mangled in
            guard let out = swiftDemangle(mangled, strlen(mangled), nil, nil, 0) else { return name }
            defer { free(out) }
            return String(cString: out)
        }
    }
    return name
}
