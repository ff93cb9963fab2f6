// Names frames recorded as (module path, build-id, file offset) using elfutils' libdwfl.
// Hazards: not thread-safe (neither are libdwfl handles), and caches grow without bound:
// one entry per distinct module and per distinct address, which a program's code size bounds.

import FaultlineCore

/// A `Symbolizer` backed by libdw/libdwfl, with ELF symbols, DWARF lines and inlines.
///
/// Each module is opened once and kept open; each (module, offset) is resolved once,
/// because the same frames repeat millions of times in a trace. A module that cannot be
/// opened is remembered as unusable, so its frames cost one dictionary lookup each.
///
/// Not thread-safe: use one instance per thread, or serialize calls.
public final class LibdwSymbolizer: Symbolizer {
    /// An open module and what it has answered so far. `Symbol?` values: a cached nil
    /// means "asked already, nothing there".
    private final class OpenModule {
        let elf: ELFModule
        var symbols: [UInt64: Symbol?] = [:]
        init(elf: ELFModule) { self.elf = elf }
    }

    private enum ModuleEntry {
        case open(OpenModule)
        case unusable(ELFModuleError)
    }

    private var modules: [String: ModuleEntry] = [:]

    public init() {}

    public func symbolize(modulePath: String, buildID: [UInt8], fileOffset: UInt64) -> Symbol? {
        guard let module = openModule(modulePath) else { return nil }
        // A different build-id means the file was rebuilt or replaced since recording:
        // its symbols would name the wrong code, and a wrong name is worse than none.
        if !buildID.isEmpty && buildID != module.elf.buildID { return nil }
        if let cached = module.symbols[fileOffset] { return cached }
        let symbol = module.elf.symbol(atFileOffset: fileOffset)
        module.symbols[fileOffset] = .some(symbol)
        return symbol
    }

    /// Whether `modulePath` opens and is the build `buildID` names: then what `symbolize`
    /// answers for it, a name or none, is all its symbols and debug info say.
    public func hasModule(path modulePath: String, buildID: [UInt8]) -> Bool {
        guard !buildID.isEmpty, let module = openModule(modulePath) else { return false }
        return module.elf.buildID == buildID
    }

    private func openModule(_ path: String) -> OpenModule? {
        switch modules[path] {
        case .open(let module)?:
            return module
        case .unusable?:
            return nil
        case nil:
            do {
                let module = OpenModule(elf: try ELFModule(path: path))
                modules[path] = .open(module)
                return module
            } catch {
                // The reason is kept, not just the fact, so a debugger or a later
                // diagnostic can say why a module's frames stayed unnamed.
                modules[path] = .unusable(error)
                return nil
            }
        }
    }
}
