// Unwind rules by (module, file offset), for the recorder's DWARF unwinder: each module's
// CFI is opened once and each address reduced once. Not thread-safe.

public final class CFIRules {
    private var modules: [String: ELFModule?] = [:]
    private var rules: [Key: UnwindRule?] = [:]

    private struct Key: Hashable {
        let module: Int
        let offset: UInt64
    }
    private var moduleIDs: [String: Int] = [:]

    public init() {}

    /// The rule for code at `fileOffset` in the file at `path`, or nil when the file has
    /// no usable CFI there. A build-id that differs from the file's means the file changed
    /// since it was mapped: no rule.
    public func rule(path: String, buildID: [UInt8], fileOffset: UInt64) -> UnwindRule? {
        let id = moduleIDs[path] ?? {
            let next = moduleIDs.count
            moduleIDs[path] = next
            return next
        }()
        let key = Key(module: id, offset: fileOffset)
        if let cached = rules[key] { return cached }
        let module = open(path)
        var rule: UnwindRule?
        if let module, buildID.isEmpty || module.buildID.isEmpty || module.buildID == buildID {
            rule = module.unwindRule(atFileOffset: fileOffset)
        }
        rules[key] = .some(rule)
        return rule
    }

    private func open(_ path: String) -> ELFModule? {
        if let known = modules[path] { return known }
        let module = try? ELFModule(path: path)
        modules[path] = .some(module)
        return module
    }
}
