// `replay` as text: the self-check verdict, then one table with a column per configuration
// (the recorded one marked *), then the mappings that fault most.

import FaultlineCore

extension ReplayReport {
    public func renderText(topMappings: Int = 8) -> String {
        var out = "replay of \(source)\n"
        if countedPids != nil {
            out += "counted: the faults of \(selectionName ?? "the selected processes") (faults by kind, the self-check, mappings); "
                + "every process is replayed, as a forked child's pages are its parent's, so resident memory and page tables are the whole recording's\n"
        }
        if let c = selfCheck { out += c.text() + "\n" }
        for w in warnings { out += "warning: \(w)\n" }

        var rows: [(String, [String])] = []
        func row(_ label: String, _ cell: (ConfigResult) -> String) { rows.append((label, configs.map(cell))) }
        let header = configs.enumerated().map { i, r in
            "\(r.config.pageSize) \(r.config.thp.rawValue)" + (i == recordedIndex ? "*" : "") + (r.lowerBound ? " ≥" : "")
        }
        for k in FaultKind.allCases {
            row("faults \(k.name)") { count($0.faults(k)) }
        }
        row("faults total") { count($0.totalFaults) }
        let fills = configs.contains { $0.filledFaults > 0 }
        if fills { row("  of which filling memory") { count($0.filledFaults) } }
        row("no fault (mapped already)") { count($0.noFault) }
        row("peak resident") { bytes($0.peakResidentBytes) }
        // The kernel's RssAnon: base pages and THPs, not hugetlb, so not the explicit pages
        // of a 2m or 1g configuration (the row would otherwise read as memory gone missing).
        row("  anonymous (RssAnon)") { bytes($0.peakAnonBytes) }
        if let baseline {
            row("bloat vs 4k") { r in
                // Against a baseline that is itself a lower bound, a difference means nothing.
                guard !baseline.lowerBound else { return "?" }
                let d = Int64(r.peakResidentBytes) - Int64(baseline.peakResidentBytes)
                return (d >= 0 ? "+" : "-") + bytes(UInt64(abs(d)))
            }
        }
        row("huge-page coverage") { r in
            r.peakResidentBytes == 0 ? "-" : ratioPercent(Double(r.hugeBytesAtPeak) / Double(r.peakResidentBytes))
        }
        if khugepaged != .off || configs.contains(where: { $0.collapses > 0 }) {
            row("  of which collapsed") { bytes($0.collapsedBytesAtPeak) }
            row("THP collapses") { count($0.collapses) }
        }
        let levelNames = configs.first?.pageTableLevels.map(\.name) ?? []
        row("page tables (peak)") { "\(count($0.pageTablePeakPages)) = \(bytes($0.pageTablePeakBytes))" }
        if configs.allSatisfy({ $0.pageTableLevels.map(\.name) == levelNames }) {
            for name in levelNames { row("  \(name)") { count($0.tables(named: name)) } }
        } else {
            row("  per level") { $0.pageTableLevels.map { "\($0.name) \($0.peakPages)" }.joined(separator: " ") }
        }
        row("  THP deposits") { count($0.depositedPeak) }
        if let tlb = configs.first?.tlb {
            for (i, level) in tlb.levels.enumerated() {
                row("TLB \(level.name) misses") { r in
                    r.tlb.map { [count($0.levels[i].misses), missRate($0.levels[i])].filter { !$0.isEmpty }.joined(separator: " ") } ?? "-"
                }
            }
            row("page walks") { count($0.tlb?.walks ?? 0) }
            row("walk cycles") { r in r.tlb.map { "\(count($0.walkCyclesMin))-\(count($0.walkCyclesMax))" } ?? "-" }
            row("TLB reach") { r in r.tlbReachBytes.map(bytes) ?? "-" }
            row("reach / peak resident") { r in
                guard let reach = r.tlbReachBytes, r.peakResidentBytes > 0 else { return "-" }
                return ratioPercent(Double(reach) / Double(r.peakResidentBytes))
            }
        }
        if configs.contains(where: { $0.outsideMappings > 0 }) { row("faults outside mappings") { count($0.outsideMappings) } }
        out += table(header: [(configs.first?.tlb).map { "TLB: \($0.preset)" } ?? ""] + header, rows: rows)
        if recordedIndex != nil { out += "* the configuration the log was recorded with\n" }
        out += source == "recorded faults"
            ? "no fault: a recorded fault whose page this configuration had mapped already (a larger page, or fault-around of a file, mapped it with an earlier fault)\n"
            : "no fault: an access whose page was mapped already (it hit memory an earlier fault mapped)\n"
        if fills {
            out += "filling memory: faults the kernel takes for MAP_POPULATE, MADV_POPULATE_*, mlock and execve's copy of the arguments, which it counts (minflt) but perf does not see\n"
        }
        if configs.contains(where: \.lowerBound) {
            out += "≥ a lower bound: the recording's pages were larger than this configuration's (see the warning above)\n"
        }
        if khugepaged != .off {
            let s = khugepagedSettings
            out += "THP collapses: khugepaged \(khugepaged == .paced ? "at the recording host's pace, \(count(s.pagesToScan)) pages every \(interval(ns: s.scanSleepNs))" : "eagerly: everything it may collapse, every 10 ms (an upper bound)"), max_ptes_none \(s.maxPtesNone), from the first memory it may collapse; and MADV_COLLAPSE (--khugepaged off|paced|eager)\n"
        }
        out += "kernel rules of \(kernel.version?.description ?? "the newest kernel"): " + kernel.summary.joined(separator: "; ") + "\n"


        // Mappings by faults in the first configuration, with each configuration's count.
        if let first = configs.first, !first.mappings.isEmpty {
            out += "\ntop mappings by faults (\(first.config.pageSize) \(first.config.thp.rawValue))\n"
            // The places of the first configuration ranked, the others asked only about the
            // top ones. (Grouping every configuration's and sorting all the first's was a
            // twelfth of a default replay of a shell loop's 16,000 mappings: callgrind.)
            let ranked = MappedPlace.top(topMappings, of: MappedPlace.grouping(first.mappings))
            let others = configs.dropFirst().map { MappedPlace.uses(of: ranked.map(\.place), in: $0.mappings) }
            var mappingRows: [(String, [String])] = []
            for (i, (place, firstUse)) in ranked.enumerated() {
                let name = place.name == "//anon" ? "[anon]" : place.name
                let label = "\(name.split(separator: "/").last.map(String.init) ?? name) \(hex(place.start))"
                    + (firstUse.mappings > 1 ? " (mapped \(count(UInt64(firstUse.mappings))) times)" : "")
                let uses = [firstUse] + others.map { $0[i] }
                mappingRows.append((label, uses.map { "\(count($0.faults)) / \(bytes($0.peakResidentBytes))" }))
            }
            out += table(header: ["faults / peak resident"] + header, rows: mappingRows)
        }
        return out
    }
}

/// One range of one process as mappings took it: a buffer that malloc maps and unmaps for
/// each use is mapped at one address again and again (100,000 times in mapping_churn), and
/// as one row the report shows where those faults come from; as many rows of one fault
/// count, it showed only the address, repeated.
struct MappedPlace: Hashable {
    var pid: Int32
    var start: UInt64
    var end: UInt64
    var name: String

    struct Uses {
        var mappings = 0
        var faults: UInt64 = 0
        /// The largest of their peaks: mappings of one range of one process never overlap
        /// in time.
        var peakResidentBytes: UInt64 = 0
    }

    static func grouping(_ mappings: [MappingResult]) -> [MappedPlace: Uses] {
        var places: [MappedPlace: Uses] = [:]
        places.reserveCapacity(mappings.count)
        for m in mappings { places[MappedPlace(m), default: Uses()].add(m) }
        return places
    }

    /// Whether `a` ranks above `b`: more faults, then the lower address, pid and name (every
    /// field breaks ties: a dictionary's order differs from run to run).
    static func ranksAbove(_ a: (place: MappedPlace, uses: Uses), _ b: (place: MappedPlace, uses: Uses)) -> Bool {
        (a.uses.faults, b.place.start, b.place.end, b.place.pid) > (b.uses.faults, a.place.start, a.place.end, a.place.pid)
            || (a.uses.faults, a.place.start, a.place.end, a.place.pid) == (b.uses.faults, b.place.start, b.place.end, b.place.pid)
            && a.place.name < b.place.name
    }

    /// The `n` places that rank highest, in rank order: a short list kept sorted, not a
    /// sort of them all.
    static func top(_ n: Int, of places: [MappedPlace: Uses]) -> [(place: MappedPlace, uses: Uses)] {
        var best: [(place: MappedPlace, uses: Uses)] = []
        guard n > 0 else { return best }
        best.reserveCapacity(n + 1)
        for (place, uses) in places {
            let entry = (place: place, uses: uses)
            if best.count == n, let worst = best.last, !ranksAbove(entry, worst) { continue }
            let at = best.firstIndex { ranksAbove(entry, $0) } ?? best.count
            best.insert(entry, at: at)
            if best.count > n { best.removeLast() }
        }
        return best
    }

    /// What `mappings` hold at each of `places` (none: zero).
    static func uses(of places: [MappedPlace], in mappings: [MappingResult]) -> [Uses] {
        var uses = [Uses](repeating: Uses(), count: places.count)
        for m in mappings {
            // The address first: it tells the places apart with no string compared.
            for (i, p) in places.enumerated() where p.start == m.start && p.end == m.end && p.pid == m.pid && p.name == m.name {
                uses[i].add(m)
            }
        }
        return uses
    }
}

extension MappedPlace {
    init(_ m: MappingResult) {
        self.init(pid: m.pid, start: m.start, end: m.end, name: m.name)
    }
}

extension MappedPlace.Uses {
    mutating func add(_ m: MappingResult) {
        mappings += 1
        faults = faults.addingSaturated(m.faults)
        peakResidentBytes = max(peakResidentBytes, m.peakResidentBytes)
    }
}

extension SelfCheck {
    func text() -> String {
        let checked = Self.checkedKinds.map(\.name).joined(separator: ", ")
        var out = "self-check at \(config.pageSize) thp=\(config.thp.rawValue) (the recorded configuration): "
        if matches && Self.checkedKinds.allSatisfy({ comparedRecorded[Int($0.rawValue)] == 0 }) {
            out += "nothing to compare (the log holds no \(checked) faults)\n"
        } else if matches {
            out += "\(checked) reproduced exactly ("
                + Self.checkedKinds.map { "\($0.name) \(count(comparedRecorded[Int($0.rawValue)]))" }.joined(separator: ", ") + ")\n"
        } else {
            out += "DIFFERS\n"
        }
        for k in FaultKind.allCases where k != .major && k != .swap && (difference(k) != 0 || (!matches && Self.checkedKinds.contains(k))) {
            let d = difference(k)
            out += "  \(k.name): recorded \(count(comparedRecorded[Int(k.rawValue)])), replayed \(count(comparedReplayed[Int(k.rawValue)])) (\(d >= 0 ? "+" : "")\(d))"
                + (Self.checkedKinds.contains(k) ? "" : " [not checked]") + "\n"
        }
        if excludedMajor > 0 {
            let as_ = FaultKind.allCases.compactMap { k -> String? in
                let n = outcome(recorded: .major, replayed: k)
                return n > 0 ? "\(k.name) \(count(n))" : nil
            } + (outcome(recorded: .major, replayed: nil) > 0 ? ["no fault \(count(outcome(recorded: .major, replayed: nil)))"] : [])
            out += "  not compared: \(count(excludedMajor)) major faults (I/O is invisible to the model), replayed as \(as_.joined(separator: ", "))\n"
        }
        if excludedSwap > 0 {
            out += "  not compared: \(count(excludedSwap)) swap-ins (the model has no memory pressure: the page is still "
                + "there, \(count(outcome(recorded: .swap, replayed: nil))) replayed as no fault)\n"
        }
        let repeats = excludedRepeats.reduce(0, +)
        if repeats > 0 {
            out += "  not compared: \(count(repeats)) repeated faults (a fault on a page another fault had just mapped: "
                + FaultKind.allCases.filter { excludedRepeats[Int($0.rawValue)] > 0 }.map { "\($0.name) \(count(excludedRepeats[Int($0.rawValue)]))" }.joined(separator: ", ") + ")\n"
        }
        if !examples.isEmpty && !matches {
            out += "  first differences:\n"
            for m in examples.prefix(8) {
                out += "    pid \(m.pid) \(hex(m.address)) \(m.access): recorded \(m.recorded.name), replayed \(m.replayed?.name ?? "no fault")\n"
            }
        }
        let r = residentAtExit
        if r.processes > 0 {
            func kinds(_ b: ResidentBytes) -> String { "anon \(bytes(b.anon)), file \(bytes(b.file)), shmem \(bytes(b.shmem))" }
            out += "  resident at exit (\(count(UInt64(r.processes))) process\(r.processes == 1 ? "" : "es")): kernel \(kinds(r.kernel)); "
                + "model \(kinds(r.model))"
                + (r.kernelPeak.flatMap { k in r.modelPeak.map { "; peak: kernel (VmHWM) \(bytes(k)), model \(bytes($0))" } } ?? "") + "\n"
        }
        for n in notes { out += "  note: \(n)\n" }
        return out
    }
}

extension ConfigResult {
    func tables(named name: String) -> UInt64 { pageTableLevels.first { $0.name == name }?.peakPages ?? 0 }
}

private func table(header: [String], rows: [(String, [String])]) -> String {
    let labelWidth = max(header[0].count, rows.map(\.0.count).max() ?? 0)
    var widths = header.dropFirst().map(\.count)
    for (_, cells) in rows { for (i, c) in cells.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    func line(_ label: String, _ cells: [String]) -> String {
        var s = label.padding(toLength: labelWidth, withPad: " ", startingAt: 0)
        for (i, c) in cells.enumerated() { s += "  " + String(repeating: " ", count: max(widths[i] - c.count, 0)) + c }
        return s + "\n"
    }
    return line(header[0], Array(header.dropFirst())) + rows.map { line($0.0, $0.1) }.joined()
}

private func count(_ n: UInt64) -> String { n.grouped }

func bytes(_ n: UInt64) -> String {
    let units: [(UInt64, String)] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
    for (size, name) in units where n >= size {
        let v = Double(n) / Double(size)
        return (v >= 100 || v == v.rounded() ? String(Int(v.rounded())) : String(format1(v))) + " " + name
    }
    return "\(n) B"
}

private func format1(_ v: Double) -> String {
    let tenths = Int((v * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

/// Always a percentage, so a row never mixes "10x" with "779.8%": whole percent from
/// 1,000% up, one decimal below.
func ratioPercent(_ f: Double) -> String {
    guard f.isFinite else { return "-" }
    let p = f * 100
    return p >= 1000 ? (p < 9.2e18 ? Int64(p.rounded()).grouped : "huge") + "%" : format1(p) + "%"
}

private func missRate(_ l: TLBLevelResult) -> String {
    let total = l.hits + l.misses
    return total == 0 ? "" : "(" + format1(Double(l.misses) / Double(total) * 100) + "%)"
}

/// khugepaged's sleep between scans as people write it: "10 s", "1,500 ms".
func interval(ns: UInt64) -> String {
    let ms = ns / 1_000_000
    return ms >= 1_000 && ms % 1_000 == 0 ? "\((ms / 1_000).grouped) s" : "\(ms.grouped) ms"
}
