// TLB hierarchies of real cores, from their vendors' documentation. Where a vendor does not
// publish a number (Intel's paging-structure cache sizes, every vendor's walk latency), the
// value is an assumption and says so; walk cost is reported as a range for that reason.
// Inclusion: none of the three vendors documents whether its second-level TLB includes,
// excludes or ignores the first level's entries (checked in the documents cited below), so
// every preset is `non-inclusive`, the policy that assumes least, and each says so.

public enum TLBPresets {
    private static let k4: UInt64 = 4 << 10, k16: UInt64 = 16 << 10, k64: UInt64 = 64 << 10
    private static let m2: UInt64 = 2 << 20, m32: UInt64 = 32 << 20, m512: UInt64 = 512 << 20
    private static let g1: UInt64 = 1 << 30

    /// Intel Skylake (client and server cores). Source: Intel 64 and IA-32 Architectures
    /// Optimization Reference Manual (order no. 248966), §2.2 "The Skylake
    /// microarchitecture", table "TLB Parameters of the Skylake Microarchitecture":
    /// ITLB 4K 128 entries 8-way, 2M/4M 8 entries (per thread) fully associative;
    /// DTLB 4K 64 entries 4-way, 2M/4M 32 entries 4-way, 1G 4 entries 4-way;
    /// STLB 4K+2M/4M 1536 entries 12-way, 1G 16 entries 4-way.
    /// Intel documents paging-structure caches (SDM vol. 3A §4.10.3) but not their sizes:
    /// the 32/4/2 here are assumptions. Walk access cost: 4 cycles (an L1D hit, the manual's
    /// load-to-use latency) to 200 (DRAM, assumed). Inclusion: neither the optimization
    /// manual's TLB table nor the SDM (vol. 3A §4.10, "Caching Translation Information")
    /// says whether the STLB holds what the DTLB and ITLB hold: non-inclusive, assumed.
    public static let skylake = TLBSpec(name: "skylake", levels: [
        TLBLevelSpec(name: "L1I 4k", entries: 128, ways: 8, pageSizes: [k4], replacement: .plru, serves: .instruction, tier: 1),
        TLBLevelSpec(name: "L1I 2m", entries: 8, ways: 8, pageSizes: [m2], replacement: .plru, serves: .instruction, tier: 1),
        TLBLevelSpec(name: "L1D 4k", entries: 64, ways: 4, pageSizes: [k4], replacement: .plru, serves: .data, tier: 1),
        TLBLevelSpec(name: "L1D 2m", entries: 32, ways: 4, pageSizes: [m2], replacement: .plru, serves: .data, tier: 1),
        TLBLevelSpec(name: "L1D 1g", entries: 4, ways: 4, pageSizes: [g1], replacement: .plru, serves: .data, tier: 1),
        TLBLevelSpec(name: "STLB 4k/2m", entries: 1536, ways: 12, pageSizes: [k4, m2], replacement: .plru, serves: .unified, tier: 2),
        TLBLevelSpec(name: "STLB 1g", entries: 16, ways: 4, pageSizes: [g1], replacement: .plru, serves: .unified, tier: 2),
    ], walkCacheEntries: [32, 4, 2], walkAccessCycles: (4, 200), inclusion: .nonInclusive)

    /// AMD Zen 2. Source: Software Optimization Guide for AMD Family 17h Models 30h and
    /// Greater Processors (pub. 56305), §2.10 "Translation-Lookaside Buffer": L1 ITLB and
    /// L1 DTLB 64 entries each, fully associative, all page sizes; L2 ITLB 512 entries
    /// 8-way and L2 DTLB 2048 entries 16-way, holding 4K and 2M pages, 1G pages smashed
    /// into 2M entries. The page-directory cache sizes are assumptions (64/4/2). Walk access
    /// cost: 4 cycles (L1D load-to-use, §2.6) to 200 (DRAM, assumed). Inclusion: the guide
    /// gives sizes, page sizes and smashing for both levels and nothing on inclusion:
    /// non-inclusive, assumed.
    public static let zen2 = TLBSpec(name: "zen2", levels: [
        TLBLevelSpec(name: "L1I", entries: 64, ways: 64, pageSizes: [k4, m2, g1], replacement: .plru, serves: .instruction, tier: 1),
        TLBLevelSpec(name: "L1D", entries: 64, ways: 64, pageSizes: [k4, m2, g1], replacement: .plru, serves: .data, tier: 1),
        TLBLevelSpec(name: "L2I", entries: 512, ways: 8, pageSizes: [k4, m2, g1], replacement: .plru, serves: .instruction, tier: 2, smashTo: m2),
        TLBLevelSpec(name: "L2D", entries: 2048, ways: 16, pageSizes: [k4, m2, g1], replacement: .plru, serves: .data, tier: 2, smashTo: m2),
    ], walkCacheEntries: [64, 4, 2], walkAccessCycles: (4, 200), inclusion: .nonInclusive)

    /// Arm Neoverse N1. Source: Arm Neoverse N1 Core Technical Reference Manual (100616),
    /// chapters "L1 instruction memory system" and "L1 data memory system" (48-entry fully
    /// associative L1 ITLB and L1 DTLB) and "L2 memory system"/MMU (1280-entry 5-way
    /// unified L2 TLB; 4K, 16K and 64K granules with their block sizes). The TRM describes
    /// walk caching of intermediate entries without sizes here: 64/8/4 are assumptions.
    /// Walk access cost: 4 cycles (L1D hit) to 200 (DRAM, assumed). Inclusion: the TRM says only
    /// that the unified L2 TLB handles the misses of both L1 TLBs: non-inclusive, assumed.
    public static let neoverseN1 = TLBSpec(name: "neoverse-n1", levels: [
        TLBLevelSpec(name: "L1I", entries: 48, ways: 48, pageSizes: [k4, k16, k64, m2, m32, m512, g1], replacement: .lru, serves: .instruction, tier: 1),
        TLBLevelSpec(name: "L1D", entries: 48, ways: 48, pageSizes: [k4, k16, k64, m2, m32, m512, g1], replacement: .lru, serves: .data, tier: 1),
        TLBLevelSpec(name: "L2", entries: 1280, ways: 5, pageSizes: [k4, k16, k64, m2, m32, m512, g1], replacement: .lru, serves: .unified, tier: 2),
    ], walkCacheEntries: [64, 8, 4], walkAccessCycles: (4, 200), inclusion: .nonInclusive)

    /// Not any one core: round numbers in the range of recent x86 and arm64 parts, for a
    /// first look when the target CPU is unknown. Holds every page size at every level.
    /// Non-inclusive, the policy that assumes least.
    public static let generic = TLBSpec(name: "generic", levels: [
        TLBLevelSpec(name: "L1I", entries: 64, ways: 4, pageSizes: [k4, k16, k64, m2, m32, m512, g1], replacement: .lru, serves: .instruction, tier: 1),
        TLBLevelSpec(name: "L1D", entries: 64, ways: 4, pageSizes: [k4, k16, k64, m2, m32, m512, g1], replacement: .lru, serves: .data, tier: 1),
        TLBLevelSpec(name: "L2", entries: 1024, ways: 8, pageSizes: [k4, k16, k64, m2, m32, m512, g1], replacement: .lru, serves: .unified, tier: 2),
    ], walkCacheEntries: [32, 4, 2], walkAccessCycles: (4, 200), inclusion: .nonInclusive)

    public static let all = [skylake, zen2, neoverseN1, generic]
}
