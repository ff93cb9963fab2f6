// Unwinds a sampled user stack (registers + a copy of the stack's top) at record time with
// the modules' call-frame information, so code built without frame pointers still gets
// whole stacks. Runs as samples are parsed: it keeps its own view of each process's code
// mappings, updated from the same records in ring order, so a library mapped a moment ago
// is known to it before the scheduler's time-ordering catches up.

import FaultlineAddressSpace
import FaultlineSymbolize

final class DwarfUnwinder {
    /// A file that holds code, named by the labels of the code VMAs below.
    private struct CodeFile: Hashable {
        var path: String
        var buildID: [UInt8]
    }

    /// Each process's code mappings (only those: data never has CFI); a VMA's label is the
    /// index of its file in `files`.
    private var spaces: [Int32: AddressSpace] = [:]
    private var files: [CodeFile] = []
    private var fileIndex: [CodeFile: Int32] = [:]
    private let rules = CFIRules()
    /// Rules by process and code address: a fault storm asks for the same few addresses
    /// again and again, and this skips the mapping search and the module lookup. Emptied
    /// whenever code is mapped or replaced.
    private var ruleCache: [CodeAddress: UnwindRule?] = [:]
    private struct CodeAddress: Hashable { var pid: Int32; var ip: UInt64 }
    static let maxFrames = 128

    func noteMapping(pid: Int32, _ m: MappingRecord) {
        // Only executable file mappings hold code with CFI; [vdso] has no file here.
        guard m.prot & 0x4 != 0, m.name.hasPrefix("/") else { return }
        let file = CodeFile(path: m.name, buildID: m.buildID)
        let label = fileIndex[file] ?? {
            files.append(file)
            fileIndex[file] = Int32(files.count - 1)
            return Int32(files.count - 1)
        }()
        var space = spaces[pid] ?? AddressSpace()
        // Code mapped over other code replaces it, as mmap(MAP_FIXED) does.
        space.map(VMA(start: m.start, end: m.end, offset: m.pageOffset, prot: m.prot, backing: .filePrivate,
                      inode: m.inode, label: label))
        spaces[pid] = space
        ruleCache.removeAll(keepingCapacity: true)
    }

    func noteExec(pid: Int32) {
        spaces[pid] = AddressSpace()
        ruleCache.removeAll(keepingCapacity: true)
    }

    /// The CFI rule for code at `ip` in `pid`, or nil where there is none.
    private func rule(pid: Int32, ip: UInt64) -> UnwindRule? {
        let key = CodeAddress(pid: pid, ip: ip)
        if let cached = ruleCache[key] { return cached }
        // A process whose mappings are not known yet (a child's first samples can be parsed
        // before its FORK record): no answer, and none to remember.
        guard spaces[pid] != nil else { return nil }
        var rule: UnwindRule?
        if let vma = spaces[pid]?.lookup(ip), files.indices.contains(Int(vma.label)) {
            let file = files[Int(vma.label)]
            rule = rules.rule(path: file.path, buildID: file.buildID, fileOffset: ip - vma.start &+ vma.offset)
        }
        ruleCache[key] = .some(rule)
        return rule
    }
    func noteFork(child: Int32, parent: Int32) {
        spaces[child] = spaces[parent]?.forked()
        // A reused pid's answers were about another program.
        ruleCache.removeAll(keepingCapacity: true)
    }

    /// The caller of a leaf function that has no frame of its own at `ip` (a frameless
    /// function such as libc's memset or a system-call wrapper, or one still in its
    /// prologue): the frame-pointer register then still holds the caller's frame, so a
    /// frame-pointer walk goes from the leaf straight to the caller's caller. The leaf's CFI
    /// finds the return address on the stack. nil when the leaf's CFA is frame-pointer
    /// based (the walk finds its caller), or its CFI or the stack bytes are missing.
    /// `stack` holds the bytes from the leaf's sp on; sp's value is not needed, as the
    /// rule is an offset from it.
    func leafCaller(pid: Int32, ip: UInt64, stack: UnsafeRawBufferPointer) -> UInt64? {
        guard let rule = rule(pid: pid, ip: ip), !rule.isOutermost, rule.base == .stackPointer,
              rule.cfaOffset > 0 else { return nil }
        return Self.read(UInt64(rule.cfaOffset) &+ UInt64(bitPattern: rule.returnAddressOffset), sp: 0, stack: stack)
    }

    /// The 8 bytes at `address`, if the stack copy (the bytes at [sp, sp + stack.count)) has them.
    private static func read(_ address: UInt64, sp: UInt64, stack: UnsafeRawBufferPointer) -> UInt64? {
        guard address >= sp, stack.count >= 8, address &- sp <= UInt64(stack.count) &- 8 else { return nil }
        return stack.loadUnaligned(fromByteOffset: Int(address - sp), as: UInt64.self)
    }

    /// Appends the user frames (leaf first) to `frames`. `stack` holds the bytes at
    /// [sp, sp + stack.count).
    func unwind(pid: Int32, ip: UInt64, sp: UInt64, bp: UInt64, stack: UnsafeRawBufferPointer,
                into frames: inout [UInt64]) {
        let stackBase = sp
        func read(_ address: UInt64) -> UInt64? { Self.read(address, sp: stackBase, stack: stack) }
        var ip = ip, sp = sp, bp = bp
        for depth in 0..<Self.maxFrames {
            guard ip != 0 else { return }
            frames.append(ip)
            // A caller's ip is a return address: its rule is the call's (ip - 1), which
            // also stays inside the function when the call was its last instruction.
            let lookup = depth == 0 ? ip : ip &- 1
            let rule = rule(pid: pid, ip: lookup)
            if rule?.isOutermost == true { return }
            let step = rule ?? .framePointerChain
            let cfa = (step.base == .stackPointer ? sp : bp) &+ UInt64(bitPattern: step.cfaOffset)
            guard let returnAddress = read(cfa &+ UInt64(bitPattern: step.returnAddressOffset)) else { return }
            if case .atCFA(let offset) = step.framePointer {
                guard let saved = read(cfa &+ UInt64(bitPattern: offset)) else { return }
                bp = saved
            }
            // The stack only grows towards lower addresses as we go inwards: a CFA at or
            // below the current sp means the rule or the data is wrong.
            guard cfa > sp, cfa >= stackBase else { return }
            sp = cfa
            ip = returnAddress
        }
    }
}
