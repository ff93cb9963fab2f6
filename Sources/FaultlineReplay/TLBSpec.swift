// The description of a TLB hierarchy: levels (each a set-associative array holding some
// page sizes), page-walk caches and the cost of a walk. Built from a preset or a JSON file;
// every check a file can fail is made here, with a message that names the field.

import Foundation

public enum Replacement: String, Sendable, CaseIterable {
    case lru, plru, random
}

/// Which accesses a TLB array sees.
public enum TLBServes: String, Sendable {
    case instruction, data, unified
}

public struct TLBLevelSpec: Sendable, Equatable {
    public var name: String
    public var entries: Int
    /// ways == entries is fully associative.
    public var ways: Int
    /// Page sizes in bytes that this array holds.
    public var pageSizes: [UInt64]
    public var replacement: Replacement
    public var serves: TLBServes
    /// 1 for L1, 2 for L2/STLB: an access looks up tier 1, then tier 2, then walks.
    public var tier: Int
    /// Larger pages are held as entries of this size ("smashed", as AMD calls it).
    public var smashTo: UInt64?

    public init(name: String, entries: Int, ways: Int, pageSizes: [UInt64], replacement: Replacement,
                serves: TLBServes? = nil, tier: Int? = nil, smashTo: UInt64? = nil) {
        self.name = name; self.entries = entries; self.ways = ways; self.pageSizes = pageSizes
        self.replacement = replacement
        self.serves = serves ?? Self.defaultServes(name)
        self.tier = tier ?? Self.defaultTier(name)
        self.smashTo = smashTo
    }

    /// "L1I…"/"ITLB…" fetches, "L1D…"/"DTLB…"/"L2D…" data, anything else both.
    static func defaultServes(_ name: String) -> TLBServes {
        let n = name.uppercased()
        if n.hasPrefix("L1I") || n.hasPrefix("L2I") || n.hasPrefix("ITLB") { return .instruction }
        if n.hasPrefix("L1D") || n.hasPrefix("L2D") || n.hasPrefix("DTLB") { return .data }
        return .unified
    }

    static func defaultTier(_ name: String) -> Int {
        let n = name.uppercased()
        if n.hasPrefix("L2") || n.hasPrefix("STLB") { return 2 }
        if n.hasPrefix("L3") { return 3 }
        return 1
    }

    public var sets: Int { entries / ways }
}

/// How the tiers of a hierarchy share translations. In every mode an access looks up its
/// tier-1 array, then tier 2, then tier 3 (each tier's array for the access's kind and page
/// size, where there is one), and walks the page table when all of them miss. Lower-tier
/// arrays do not see upper-tier hits: their replacement state moves only when they are
/// looked up or filled.
///
/// - `nonInclusive` (the default; "NINE"): a walk fills every array that missed; a hit in a
///   lower tier fills the upper arrays that missed. Each array evicts on its own.
/// - `inclusive`: filled as non-inclusive; in addition, when an array evicts a valid entry
///   to make room, every entry of the same address space that overlaps the evicted one's
///   range is invalidated in each upper-tier array serving the same kind of access (so a
///   unified L2 back-invalidates both split L1 arrays; an L2 for data only, the data and
///   unified L1 arrays). Fills go bottom-up, so an upper fill is never undone by the fill
///   below it.
/// - `exclusive` (victim tiers): a walk fills only the first array on the access's lookup
///   path (tier 1's, or the highest tier that holds the page size). An entry evicted from an
///   array moves down to the next lower tier that holds its page size for the kind of access
///   that filled it (dropped when there is none; merged when that array already holds it),
///   and that array's victim moves on down in turn. A hit in a lower tier moves the entry
///   up to the first array on the path and out of the tier it hit in.
///
/// Page sizes a tier does not hold simply skip it: no lookup, no fill, and no inclusion or
/// exclusion with that tier for those sizes. With `smash_to`, each array holds a page as an
/// entry of its own size for it: inclusion invalidates by overlap (an L2 evicting one 2M
/// piece of a 1G page invalidates the L1's 1G entry), an exclusive move down keeps the piece
/// holding the address whose access filled the entry, and a move up becomes an entry of the
/// upper array's size for the page; other pieces of the page stay where they are.
public enum TLBInclusion: String, Sendable, CaseIterable {
    case nonInclusive = "non-inclusive"
    case inclusive
    case exclusive
}

/// Upper bounds on every size a spec may give: far above any real core, low enough that a
/// hostile file cannot make the model allocate gigabytes or scan a huge set per access.
public enum TLBLimits {
    /// Levels in one hierarchy.
    public static let levels = 16
    /// Entries of one level (real L2 TLBs hold up to a few thousand).
    public static let entries = 1 << 18
    /// Ways of one level: a set is searched way by way on every lookup and fill.
    public static let ways = 1024
    /// Levels of walk cache, and entries in each (fully associative, searched linearly).
    public static let walkCacheLevels = 8
    public static let walkCacheEntries = 1024
    /// Cycles of one page-table memory access.
    public static let cycles = 100_000
    /// Page and smash sizes: 4 KiB to 1 GiB, the sizes the model can map.
    public static let pageShifts = 12...30
    /// Bytes of a TLB hierarchy file.
    public static let fileBytes = 1 << 20
}

/// A TLB hierarchy: arrays in tiers (an access looks up its tier-1 array, then tier 2, then
/// tier 3, then walks), walk caches, walk cost, and how the tiers share entries
/// (`inclusion`, defined exactly on TLBInclusion: fills, lower-tier hits, evictions, page
/// sizes a tier lacks, split L1 under a unified L2, smashing). Every size is bounded by
/// TLBLimits; `problems()` names what a spec breaks.
public struct TLBSpec: Sendable, Equatable {
    public var name: String
    public var levels: [TLBLevelSpec]
    /// Entries of the page-walk caches, from the level just above the leaf upwards
    /// (x86: PDE cache, PDPTE cache, PML4E cache). A level without a cache has 0.
    public var walkCacheEntries: [Int]
    /// Cycles one page-table memory access costs: best case (the entry is in L1D) and worst
    /// case (it comes from DRAM). Walk cost is reported as this range.
    public var walkAccessCycles: (min: Int, max: Int)
    /// For `random` replacement: each array's xorshift starts here.
    public var seed: UInt64
    /// Non-inclusive unless a file says otherwise (no preset's vendor documents one).
    public var inclusion: TLBInclusion

    public init(name: String, levels: [TLBLevelSpec], walkCacheEntries: [Int], walkAccessCycles: (min: Int, max: Int),
                seed: UInt64 = 1, inclusion: TLBInclusion = .nonInclusive) {
        self.name = name; self.levels = levels; self.walkCacheEntries = walkCacheEntries
        self.walkAccessCycles = walkAccessCycles; self.seed = seed; self.inclusion = inclusion
    }

    public static func == (a: TLBSpec, b: TLBSpec) -> Bool {
        a.name == b.name && a.levels == b.levels && a.walkCacheEntries == b.walkCacheEntries
            && a.walkAccessCycles == b.walkAccessCycles && a.seed == b.seed && a.inclusion == b.inclusion
    }

    /// Problems that make the spec unusable, as one line each naming the field.
    public func problems() -> [String] {
        var p: [String] = []
        if levels.isEmpty { p.append("no levels") }
        if levels.count > TLBLimits.levels { p.append("levels: \(levels.count) levels is above the limit of \(TLBLimits.levels)") }
        func sizeProblem(_ size: UInt64) -> Bool {
            size.nonzeroBitCount != 1 || !TLBLimits.pageShifts.contains(size.trailingZeroBitCount)
        }
        for l in levels {
            if l.entries <= 0 { p.append("level \(l.name): entries must be positive, not \(l.entries)") }
            else if l.entries > TLBLimits.entries { p.append("level \(l.name): entries \(l.entries) is above the limit of \(TLBLimits.entries)") }
            if l.ways <= 0 || l.ways > max(l.entries, 1) { p.append("level \(l.name): ways must be 1…entries, not \(l.ways)") }
            else if l.ways > TLBLimits.ways {
                p.append("level \(l.name): ways \(l.ways) is above the limit of \(TLBLimits.ways) (give \"ways\" for a large array)")
            } else if l.entries % l.ways != 0 { p.append("level \(l.name): \(l.entries) entries do not divide into \(l.ways) ways") }
            if l.pageSizes.isEmpty { p.append("level \(l.name): page_sizes is empty") }
            if let bad = l.pageSizes.first(where: sizeProblem) { p.append("level \(l.name): page size \(formatSize(bad)) is not a power of two from 4k to 1g") }
            if let s = l.smashTo, sizeProblem(s) { p.append("level \(l.name): smash_to \(formatSize(s)) is not a power of two from 4k to 1g") }
            if l.tier < 1 || l.tier > 3 { p.append("level \(l.name): tier must be 1, 2 or 3") }
        }
        if walkCacheEntries.count > TLBLimits.walkCacheLevels {
            p.append("walk_cache: \(walkCacheEntries.count) levels is above the limit of \(TLBLimits.walkCacheLevels)")
        }
        if walkCacheEntries.contains(where: { $0 < 0 }) { p.append("walk_cache entries must not be negative") }
        if let big = walkCacheEntries.first(where: { $0 > TLBLimits.walkCacheEntries }) {
            p.append("walk_cache: \(big) entries is above the limit of \(TLBLimits.walkCacheEntries)")
        }
        if walkAccessCycles.min < 0 || walkAccessCycles.max < walkAccessCycles.min {
            p.append("walk_cycles_per_access needs 0 <= min <= max")
        } else if walkAccessCycles.max > TLBLimits.cycles {
            p.append("walk_cycles_per_access: max \(walkAccessCycles.max) is above the limit of \(TLBLimits.cycles)")
        }
        return p
    }
}

public struct TLBSpecError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

extension TLBSpec {
    /// A preset name or a path to a JSON file.
    public static func named(_ nameOrPath: String) throws -> TLBSpec {
        if let preset = TLBPresets.all.first(where: { $0.name == nameOrPath.lowercased() }) { return preset }
        guard nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") else {
            throw TLBSpecError("unknown TLB preset '\(nameOrPath)': use one of \(TLBPresets.all.map(\.name).joined(separator: ", ")) or a .json file")
        }
        // Read at most one byte past the limit: a huge file (or /dev/zero) is refused, not loaded.
        guard let handle = FileHandle(forReadingAtPath: nameOrPath) else {
            throw TLBSpecError("cannot read TLB file \(nameOrPath)")
        }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: TLBLimits.fileBytes + 1) ?? Data() } catch {
            throw TLBSpecError("cannot read TLB file \(nameOrPath): \(error.localizedDescription)")
        }
        guard data.count <= TLBLimits.fileBytes else {
            throw TLBSpecError("\(nameOrPath): larger than \(TLBLimits.fileBytes) bytes, the limit for a TLB file")
        }
        return try fromJSON(data, source: nameOrPath)
    }

    /// The schema (README "TLB hierarchy files"):
    /// {"name": "tiny", "levels": [{"name": "L1D", "entries": 64, "ways": 64, "page_sizes": ["4k"],
    ///   "replacement": "lru", "serves": "data", "tier": 1, "smash_to": "2m"}],
    ///  "walk_cache": [32, 4, 2], "walk_cycles_per_access": {"min": 4, "max": 200}, "seed": 1,
    ///  "inclusion": "non-inclusive"}
    /// Only `levels` with name, entries, ways and page_sizes is required.
    public static func fromJSON(_ data: Data, source: String = "TLB file") throws -> TLBSpec {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw TLBSpecError("\(source) is not valid JSON")
        }
        guard let root = object as? [String: Any] else { throw TLBSpecError("\(source): expected a JSON object") }
        guard let rawLevels = root["levels"] as? [Any] else { throw TLBSpecError("\(source): missing \"levels\" array") }
        // Integers beyond Int's range saturate, so the limit checks name them.
        func int(_ v: Any?) -> Int? {
            switch v {
            case let i as Int: return i
            case let d as Double:
                guard d.isFinite, d == d.rounded() else { return nil }
                return d >= 9.2e18 ? .max : d <= -9.2e18 ? .min : Int(d)
            default: return nil
            }
        }
        var levels: [TLBLevelSpec] = []
        for (i, raw) in rawLevels.enumerated() {
            guard let l = raw as? [String: Any] else { throw TLBSpecError("\(source): levels[\(i)] is not an object") }
            let name = l["name"] as? String ?? "level\(i)"
            guard let entries = int(l["entries"]) else { throw TLBSpecError("\(source): level \(name): \"entries\" must be an integer") }
            guard let ways = int(l["ways"] ?? l["entries"]) else { throw TLBSpecError("\(source): level \(name): \"ways\" must be an integer") }
            guard let words = l["page_sizes"] as? [Any], !words.isEmpty else {
                throw TLBSpecError("\(source): level \(name): \"page_sizes\" must be a non-empty array like [\"4k\", \"2m\"]")
            }
            var sizes: [UInt64] = []
            for w in words {
                guard let s = w as? String, let size = parseSize(s) else {
                    throw TLBSpecError("\(source): level \(name): bad page size \(w) (use 4k, 16k, 64k, 2m, 32m, 512m, 1g)")
                }
                sizes.append(size)
            }
            var replacement = Replacement.lru
            if let r = l["replacement"] {
                guard let s = r as? String, let parsed = Replacement(rawValue: s.lowercased()) else {
                    throw TLBSpecError("\(source): level \(name): replacement must be lru, plru or random")
                }
                replacement = parsed
            }
            var serves: TLBServes?
            if let s = l["serves"] {
                guard let str = s as? String, let parsed = TLBServes(rawValue: str) else {
                    throw TLBSpecError("\(source): level \(name): serves must be instruction, data or unified")
                }
                serves = parsed
            }
            var tier: Int?
            if let t = l["tier"] {
                guard let parsed = int(t) else { throw TLBSpecError("\(source): level \(name): tier must be an integer") }
                tier = parsed
            }
            var smash: UInt64?
            if let s = l["smash_to"] {
                guard let str = s as? String, let size = parseSize(str) else {
                    throw TLBSpecError("\(source): level \(name): bad smash_to size")
                }
                smash = size
            }
            levels.append(TLBLevelSpec(name: name, entries: entries, ways: ways, pageSizes: sizes,
                                       replacement: replacement, serves: serves, tier: tier, smashTo: smash))
        }
        var walkCache = [32, 4, 2]
        if let w = root["walk_cache"] {
            guard let arr = w as? [Any] else { throw TLBSpecError("\(source): walk_cache must be an array of entry counts") }
            walkCache = try arr.map { v in
                guard let n = int(v) else { throw TLBSpecError("\(source): walk_cache entries must be integers") }
                return n
            }
        }
        var cycles = (min: 4, max: 200)
        if let c = root["walk_cycles_per_access"] {
            guard let o = c as? [String: Any], let lo = int(o["min"]), let hi = int(o["max"]) else {
                throw TLBSpecError("\(source): walk_cycles_per_access must be {\"min\": N, \"max\": M}")
            }
            cycles = (lo, hi)
        }
        var inclusion = TLBInclusion.nonInclusive
        if let i = root["inclusion"] {
            guard let str = i as? String, let parsed = TLBInclusion(rawValue: str.lowercased()) else {
                throw TLBSpecError("\(source): inclusion must be inclusive, exclusive or non-inclusive")
            }
            inclusion = parsed
        }
        var seed: UInt64 = 1
        if let s = root["seed"] {
            guard let n = int(s), n >= 0 else { throw TLBSpecError("\(source): seed must be a non-negative integer") }
            seed = UInt64(n)
        }
        let spec = TLBSpec(name: root["name"] as? String ?? source, levels: levels,
                           walkCacheEntries: walkCache, walkAccessCycles: cycles, seed: seed, inclusion: inclusion)
        if let first = spec.problems().first { throw TLBSpecError("\(source): \(first)") }
        return spec
    }

    /// "4k" → 4096, "2m", "1g"; also plain byte counts. Any power of two that fits in 64 bits
    /// parses (problems() then bounds it); anything larger is nil, never a wrapped product.
    public static func parseSize(_ word: String) -> UInt64? {
        let w = word.lowercased()
        let units: [(String, UInt64)] = [("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30)]
        for (suffix, unit) in units where w.hasSuffix(suffix) {
            guard let n = UInt64(w.dropLast()), n > 0, n.nonzeroBitCount == 1 else { return nil }
            let (bytes, overflow) = n.multipliedReportingOverflow(by: unit)
            return overflow ? nil : bytes
        }
        guard let n = UInt64(w), n >= 4096, n.nonzeroBitCount == 1 else { return nil }
        return n
    }
}
