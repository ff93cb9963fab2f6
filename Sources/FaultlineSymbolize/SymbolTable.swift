// A module's code symbols, read once and sorted by address, so that naming an address is
// a binary search and a short walk. libdwfl's own lookup (dwfl_module_addrinfo) scans the
// whole table for every address: on gcc's cc1, whose .dynsym exports ~40,000 symbols for
// plugins, that was most of the time of naming one compile's frames (BENCHMARKS.md,
// "Naming frames"). Built from dwfl_module_getsym_info, so it sees the tables libdwfl
// does: .symtab, a separate debug file's, .gnu_debugdata (MiniDebugInfo) or .dynsym.
// Hazard: symbol tables come from files on disk and may be hostile (sizes that wrap,
// thousands of nested symbols); ends saturate and the walk per lookup is bounded.

import CLibdw

/// Which symbol names an address, the rules libdwfl's dwfl_module_addrsym follows:
/// - among symbols with a size whose range [start, end) holds the address, the one that
///   starts closest below it; at one start, global before weak before local, then the
///   smaller; so a function nested in another (a local entry point) names its own bytes;
/// - failing that, a symbol without a size (an assembler label) at the closest address
///   below, unless a sized symbol below the address ends after the label (the label
///   then lies inside code that is not its own) or the address is past the end of the
///   section the label is in (`__ehdr_start`, a label on the ELF header, names nothing);
/// - failing that, nothing: an address at a function's end or in the padding after it
///   belongs to no function.
struct SymbolTable {
    struct Entry {
        var start: UInt64
        /// Exclusive; equal to `start` for a symbol without a size (an assembler label).
        var end: UInt64
        /// Higher wins among symbols at one address: global 2, weak 1, local 0.
        var rank: UInt8
        /// As in the table (mangled), without a symbol version; demangled when asked for.
        var name: String
        /// For a label, the last address of the section holding it, which it names nothing
        /// past; nil when no section holds it (it names nothing at all).
        var lastInSection: UInt64? = .max

        var isSized: Bool { end > start }
    }

    /// Sorted by start; at one start, worst first (rank ascending, then larger first), so
    /// that a later index is always the better candidate.
    let entries: [Entry]
    /// For each entry, the sized entry below it in the sweep's stack of open ranges: the
    /// next candidate to try when this one does not hold the address (-1: none).
    private let enclosing: [Int32]
    /// For each index, the largest end of a sized entry at or before it.
    private let sizedEndBefore: [UInt64]
    /// For each index, the last label (sizeless entry) at or before it (-1: none).
    private let labelBefore: [Int32]
    /// How many enclosing candidates a lookup tries: real tables nest a few deep; a hostile
    /// one could nest thousands and make every lookup linear. Beyond it: no name.
    static let maxWalk = 64

    init(entries unsorted: [Entry]) {
        let entries = unsorted.sorted {
            if $0.start != $1.start { return $0.start < $1.start }
            if $0.rank != $1.rank { return $0.rank < $1.rank }
            return $0.end > $1.end
        }
        var enclosing = [Int32](repeating: -1, count: entries.count)
        var sizedEndBefore = [UInt64](repeating: 0, count: entries.count)
        var labelBefore = [Int32](repeating: -1, count: entries.count)
        // Sweep in address order with a stack of sized ranges still open. A range popped
        // here ends at or before this start, so it holds no address from here on; one that
        // has ended but sits under a longer one stays, and lookups step over it.
        var open: [Int32] = []
        var maxEnd: UInt64 = 0
        var lastLabel: Int32 = -1
        for (i, entry) in entries.enumerated() {
            while let top = open.last, entries[Int(top)].end <= entry.start { open.removeLast() }
            enclosing[i] = open.last ?? -1
            if entry.isSized {
                open.append(Int32(i))
                maxEnd = max(maxEnd, entry.end)
            } else {
                lastLabel = Int32(i)
            }
            sizedEndBefore[i] = maxEnd
            labelBefore[i] = lastLabel
        }
        self.entries = entries
        self.enclosing = enclosing
        self.sizedEndBefore = sizedEndBefore
        self.labelBefore = labelBefore
    }

    /// Reads every defined code symbol of `module` (module addresses).
    init(module: OpaquePointer) {
        let sections = Self.allocatedSections(module)
        var entries: [Entry] = []
        let count = dwfl_module_getsymtab(module)
        if count > 0 {
            entries.reserveCapacity(Int(count))
            for index in 0..<count {
                var symbol = GElf_Sym()
                var address: GElf_Addr = 0
                var section: GElf_Word = 0
                guard let raw = dwfl_module_getsym_info(module, index, &symbol, &address, &section, nil, nil),
                      raw.pointee != 0,
                      section != GElf_Word(SHN_UNDEF), section != GElf_Word(SHN_ABS) else { continue }
                // Code only: frames are code addresses, and a data object never names one.
                let type = Int32(symbol.st_info & 0xf), binding = Int32(symbol.st_info >> 4)
                guard type == STT_FUNC || type == STT_GNU_IFUNC || type == STT_NOTYPE else { continue }
                let rank: UInt8 = binding == STB_GLOBAL ? 2 : binding == STB_WEAK ? 1 : 0
                let (end, overflow) = address.addingReportingOverflow(symbol.st_size)
                var entry = Entry(start: address, end: overflow ? UInt64.max : end, rank: rank,
                                  name: ELFModule.withoutVersion(raw))
                if !entry.isSized {
                    entry.lastInSection = sections.last { $0.contains(address) }.map { $0.upperBound - 1 }
                }
                entries.append(entry)
            }
        }
        self.init(entries: entries)
    }

    /// The address ranges of the module's allocated sections (elf_nextscn, gelf_getshdr),
    /// from the main file: a separate debug file has the same layout.
    private static func allocatedSections(_ module: OpaquePointer) -> [Range<UInt64>] {
        var bias: GElf_Addr = 0
        guard let elf = dwfl_module_getelf(module, &bias) else { return [] }
        var sections: [Range<UInt64>] = []
        var section = elf_nextscn(elf, nil)
        while let current = section {
            var header = GElf_Shdr()
            if gelf_getshdr(current, &header) != nil, header.sh_flags & UInt64(SHF_ALLOC) != 0,
               header.sh_flags & UInt64(SHF_TLS) == 0, header.sh_size > 0 {
                let (end, overflow) = header.sh_addr.addingReportingOverflow(header.sh_size)
                sections.append(header.sh_addr..<(overflow ? UInt64.max : end))
            }
            section = elf_nextscn(elf, current)
        }
        return sections
    }

    /// The entry that names `address` under the rules above; nil when none does.
    func entry(at address: UInt64) -> Entry? {
        // The last entry starting at or below the address.
        var low = 0, high = entries.count
        while low < high {
            let mid = low + (high - low) / 2
            if entries[mid].start <= address { low = mid + 1 } else { high = mid }
        }
        let last = low - 1
        guard last >= 0 else { return nil }

        // Every sized range holding the address also holds entries[last].start, so it is
        // on the sweep's stack there: walk it from the best candidate down.
        var candidate = entries[last].isSized ? last : Int(enclosing[last])
        var steps = 0
        while candidate >= 0 && steps < Self.maxWalk {
            if address < entries[candidate].end { return entries[candidate] }
            candidate = Int(enclosing[candidate])
            steps += 1
        }
        if candidate >= 0 { return nil } // walk cut short: better no name than a wrong one

        let label = Int(labelBefore[last])
        guard label >= 0, entries[label].start >= sizedEndBefore[last],
              let lastInSection = entries[label].lastInSection, address <= lastInSection else { return nil }
        return entries[label]
    }

    /// The demangled name of the symbol `address` lies in.
    func name(at address: UInt64) -> String? {
        entry(at: address).map { demangle($0.name) }
    }
}
