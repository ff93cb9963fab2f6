// One ELF file opened offline through libdwfl, placed at bias 0 so module addresses are
// the file's own link-time virtual addresses for both ET_EXEC and ET_DYN.
// Hazards: a Dwfl is not thread-safe: one ELFModule must never be used by two threads at
// once. Distinct ones share no libdw handle (elfutils allows those on distinct threads at
// once), so NamingWorkers gives each thread its own, even of one file; dwfl_begin's write to
// libelf's global version is serialised by `settingUp`. Opening a module may read a
// separate debug file (/usr/lib/debug/.build-id, .gnu_debuglink) and, if DEBUGINFOD_URLS is
// set in the environment, elfutils may fetch one over the network the first time a module
// is used.

import CLibdw
import FaultlineCore
import Glibc

/// Why a module could not be used; kept by the symbolizer so it fails fast next time.
struct ELFModuleError: Error, CustomStringConvertible {
    var path: String
    var reason: String
    var description: String { "cannot read symbols from \(path): \(reason)" }
}

/// The offline callbacks every elfutils tool uses: find the main file by build-id, find
/// debug info in the standard places, and place sections of relocatable files. libdwfl
/// keeps the pointer for the Dwfl's lifetime, so it lives for the process.
private let offlineCallbacks: UnsafeMutablePointer<Dwfl_Callbacks> = {
    let callbacks = UnsafeMutablePointer<Dwfl_Callbacks>.allocate(capacity: 1)
    callbacks.initialize(to: Dwfl_Callbacks(
        find_elf: dwfl_build_id_find_elf,
        find_debuginfo: dwfl_standard_find_debuginfo,
        section_address: dwfl_offline_section_address,
        debuginfo_path: nil))  // nil: elfutils' default search path
    return callbacks
}()

/// Held while a Dwfl is begun and its module reported: dwfl_begin writes libelf's global
/// version state (elf_version) each time. Cheap: the slow parts (symbol table, DWARF) come
/// later, per module, outside it.
private let settingUp = Monitor()

private func dwflErrorMessage() -> String {
    dwfl_errmsg(-1).map { String(cString: $0) } ?? "unknown libdwfl error"
}

/// Owns one Dwfl holding exactly one module. A Dwfl per file, rather than one shared,
/// because every file is reported at address 0 and modules in one Dwfl may not overlap.
final class ELFModule {
    /// The file's GNU build-id, empty if it has none.
    let buildID: [UInt8]
    private let dwfl: OpaquePointer
    let module: OpaquePointer
    let segments: LoadSegments
    /// Module address minus ELF vaddr; 0 by construction, kept so a surprise is harmless.
    let bias: UInt64

    /// Opens `path` with dwfl_report_elf (base 0, add_p_vaddr) and reads its build-id and
    /// program headers. Throws if the file is missing, not a regular file, or not ELF.
    init(path: String) throws(ELFModuleError) {
        // Mapped paths can name devices (/dev/dri/…, /dev/zero): opening those can block or
        // have side effects, so only regular files are handed to libelf.
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw ELFModuleError(path: path, reason: String(cString: strerror(errno)))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw ELFModuleError(path: path, reason: "not a regular file")
        }

        settingUp.lock()
        guard let dwfl = dwfl_begin(offlineCallbacks) else {
            let reason = dwflErrorMessage()
            settingUp.unlock()
            throw ELFModuleError(path: path, reason: reason)
        }
        dwfl_report_begin(dwfl)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        // fd -1: libdwfl opens the file itself and owns the descriptor.
        guard let module = dwfl_report_elf(dwfl, name, path, -1, 0, true) else {
            let reason = dwflErrorMessage()
            dwfl_end(dwfl)
            settingUp.unlock()
            throw ELFModuleError(path: path, reason: reason)
        }
        dwfl_report_end(dwfl, nil, nil)
        settingUp.unlock()

        var bias: GElf_Addr = 0
        guard let elf = dwfl_module_getelf(module, &bias) else {
            let reason = dwflErrorMessage()
            dwfl_end(dwfl)
            throw ELFModuleError(path: path, reason: reason)
        }
        guard let segments = LoadSegments(elf: elf) else {
            dwfl_end(dwfl)
            throw ELFModuleError(path: path, reason: "no program headers (not a loadable ELF file)")
        }

        // Read after dwfl_module_getelf: before it, the build-id may not be known yet.
        var bits: UnsafePointer<UInt8>?
        var bitsAddress: GElf_Addr = 0
        let length = dwfl_module_build_id(module, &bits, &bitsAddress)
        if length > 0, let bits {
            self.buildID = Array(UnsafeBufferPointer(start: bits, count: Int(length)))
        } else {
            self.buildID = []
        }

        self.dwfl = dwfl
        self.module = module
        self.segments = segments
        self.bias = bias
    }

    deinit { dwfl_end(dwfl) }

    /// Read on first use: a module whose frames all have recorded names is never indexed.
    private(set) lazy var symbolTable = SymbolTable(module: module)

    /// Names the byte at `fileOffset`. The offset is taken literally: for a return address
    /// the caller should pass the offset of the call (ip - 1), or the line may be the next one.
    /// Returns nil when the offset is outside the loaded segments or nothing is known there.
    func symbol(atFileOffset fileOffset: UInt64) -> Symbol? {
        guard let vaddr = segments.virtualAddress(forFileOffset: fileOffset) else { return nil }
        let address = vaddr &+ bias

        let elfName = symbolTable.name(at: address)
        let scopes = functionScopes(module: module, address: address)

        var file: String?
        var line: Int?
        if let row = dwfl_module_getsrc(module, address) {
            var lineNumber: Int32 = 0
            if let source = dwfl_lineinfo(row, nil, &lineNumber, nil, nil, nil) {
                file = String(cString: source)
                // Line 0 means "no line" in DWARF (compiler-generated code).
                line = lineNumber > 0 ? Int(lineNumber) : nil
            }
        }

        let (function, inlinedInto) = Self.inlineChain(scopes, elfName: elfName)
        if function == nil && file == nil { return nil }
        return Symbol(function: function, file: file, line: line, inlinedInto: inlinedInto)
    }

    /// glibc's symbol table spells versioned definitions `__libc_start_main@@GLIBC_2.34`:
    /// in a stack the version is noise, and the same function would read two ways.
    /// Works on the C string: a module's table is read whole (node's has 110,000 symbols),
    /// and searching a Swift String by Character was most of the time of reading it.
    static func withoutVersion(_ name: UnsafePointer<CChar>) -> String {
        guard let at = strchr(name, 0x40 /* @ */), at != name else { return String(cString: name) }
        return String(decoding: UnsafeRawBufferPointer(start: name, count: UnsafePointer(at) - name), as: UTF8.self)
    }

    /// The innermost function at an address and the functions it was inlined into. The
    /// function holding the machine code is named by its ELF symbol where there is one (as
    /// perf does; it may be a `.cold` part or an alias DWARF does not know), else by DWARF.
    static func inlineChain(_ scopes: [FunctionScope], elfName: String?) -> (String?, [SourceFunction]) {
        guard let innermost = scopes.first else { return (elfName, []) }
        func name(_ scope: FunctionScope) -> String? { scope.inlined ? scope.name : (elfName ?? scope.name) }
        var callers: [SourceFunction] = []
        for (i, scope) in scopes.enumerated() where scope.inlined {
            // An inlined scope's call site is a line of the next scope out; with no scope
            // further out (DWARF cut short), of the function the symbol table names.
            let caller = i + 1 < scopes.count ? name(scopes[i + 1]) : elfName
            callers.append(SourceFunction(function: caller ?? "??", file: scope.callFile, line: scope.callLine))
        }
        return (name(innermost) ?? (innermost.inlined ? "??" : nil), callers)
    }
}
