// The model's memory accounting: resident anonymous, file and hugetlb memory, in total, at
// its peak and over time, and per mapping row (faults, resident bytes, huge bytes).
// Anonymous memory is counted once across fork (the child's inherited pages are its
// parent's); mapped file pages per process, like RSS.

final class ResidentMemory {
    private(set) var anonBytes: Int64 = 0
    private(set) var fileBytes: Int64 = 0
    /// Of `anonBytes`: in THPs, and of those, in THPs khugepaged or MADV_COLLAPSE made.
    private(set) var thpBytes: Int64 = 0
    private(set) var collapsedBytes: Int64 = 0
    /// hugetlb pages (real hugetlb mappings, and the explicit 2m/1g configurations).
    private(set) var hugetlbBytes: Int64 = 0
    private(set) var peakResident: Int64 = 0
    private(set) var peakAnon: Int64 = 0
    /// THP + hugetlb bytes at the resident peak, and of those, collapsed THPs.
    private(set) var hugeAtPeak: Int64 = 0
    private(set) var collapsedAtPeak: Int64 = 0
    private(set) var samples: [UInt64] = []
    private var nextSample: UInt64
    private let sampleStep: UInt64
    static let sampleCount = 64

    let mapFaults: Counters<UInt64>
    let mapResident: Counters<Int64>, mapPeak: Counters<Int64>, mapHuge: Counters<Int64>, mapHugePeak: Counters<Int64>

    init(mappings: Int, firstTime: UInt64, lastTime: UInt64) {
        mapFaults = Counters(mappings)
        mapResident = Counters(mappings)
        mapPeak = Counters(mappings)
        mapHuge = Counters(mappings)
        mapHugePeak = Counters(mappings)
        sampleStep = max((lastTime &- firstTime) / UInt64(Self.sampleCount), 1)
        nextSample = firstTime
    }

    deinit {
        mapFaults.free()
        for c in [mapResident, mapPeak, mapHuge, mapHugePeak] { c.free() }
    }

    var resident: Int64 { anonBytes &+ fileBytes &+ hugetlbBytes }

    /// What kind of memory a charge is.
    enum Kind { case anon, file, thp, collapsedTHP, hugetlb }

    /// Adds `bytes` (negative: frees them) of `kind` to `mapping`'s row (-1: none).
    @inline(__always)
    func charge(_ mapping: Int32, _ kind: Kind, _ bytes: Int64) {
        switch kind {
        case .anon: anonBytes &+= bytes
        case .file: fileBytes &+= bytes
        case .thp: anonBytes &+= bytes; thpBytes &+= bytes
        case .collapsedTHP: anonBytes &+= bytes; thpBytes &+= bytes; collapsedBytes &+= bytes
        case .hugetlb: hugetlbBytes &+= bytes
        }
        if mapping >= 0 && Int(mapping) < mapResident.count {
            let m = Int(mapping)
            mapResident[m] &+= bytes
            if mapResident[m] > mapPeak[m] { mapPeak[m] = mapResident[m] }
            if kind != .anon && kind != .file {
                mapHuge[m] &+= bytes
                if mapHuge[m] > mapHugePeak[m] { mapHugePeak[m] = mapHuge[m] }
            }
        }
        let total = resident
        if total > peakResident {
            peakResident = total
            hugeAtPeak = thpBytes &+ hugetlbBytes
            collapsedAtPeak = collapsedBytes
        }
        if anonBytes > peakAnon { peakAnon = anonBytes }
    }

    @inline(__always)
    func countFault(_ mapping: Int32) {
        if mapping >= 0 && Int(mapping) < mapFaults.count { mapFaults[Int(mapping)] &+= 1 }
    }

    /// Takes the samples due by `time`.
    @inline(__always)
    func advance(to time: UInt64) {
        guard time >= nextSample else { return }
        while time >= nextSample && samples.count < Self.sampleCount {
            samples.append(UInt64(max(resident, 0)))
            nextSample &+= sampleStep
        }
        if samples.count >= Self.sampleCount { nextSample = .max }
    }

    func finish() { advance(to: .max - 1) }
}
