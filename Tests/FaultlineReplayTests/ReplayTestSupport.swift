// Builds small timelines by hand and replays them, so tests state inputs and hand-computed
// answers side by side.

import XCTest
import FaultlineAddressSpace
import FaultlineCore
@testable import FaultlineReplay

let KiB: UInt64 = 1 << 10, MiB: UInt64 = 1 << 20, GiB: UInt64 = 1 << 30

func anonymous(_ start: UInt64, _ length: UInt64, prot: UInt32 = 3) -> VMA {
    VMA(start: start, end: start + length, prot: prot, backing: .anonymous)
}

func config(_ size: PageSizeChoice, _ thp: THPMode, layout: PageTableLayout? = nil) -> ReplayConfig {
    ReplayConfig(pageSize: size, thp: thp, layout: layout)
}

func replay(_ config: ReplayConfig, tlb: TLBSpec? = nil, _ build: (inout ReplayInput) -> Void) -> ConfigResult {
    var input = ReplayInput()
    build(&input)
    return ReplayEngine(config: config, input: input, tlb: tlb).run()
}

extension ConfigResult {
    func tables(_ name: String) -> UInt64? { pageTableLevels.first { $0.name == name }?.peakPages }
}

/// One fully associative or set-associative data TLB level.
func oneLevelTLB(entries: Int, ways: Int, replacement: Replacement) -> TLBSpec {
    TLBSpec(name: "test", levels: [TLBLevelSpec(name: "L1D", entries: entries, ways: ways, pageSizes: [4096],
                                                replacement: replacement)],
            walkCacheEntries: [], walkAccessCycles: (min: 1, max: 100))
}
