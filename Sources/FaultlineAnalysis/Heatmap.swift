// The model behind `faultline heatmap`: faults binned by time (columns) and address (rows).
// A 47-bit address space drawn linearly would put every library on one pixel, so the
// address axis is compressed: touched pages are cut into segments (a new segment where the
// mapping changes or a gap of more than `gapPages` opens), and each segment gets a band
// whose height grows with the square root of the pages it touched, never less than
// `minBandHeight`: a few pages of libc stay visible beside a 1 GiB heap.
//
// File pages are placed by file offset, not address: every process maps libc somewhere
// else (ASLR), and a shell script's forty processes would otherwise make forty libc bands.
// Anonymous memory keeps its address, which a forked child shares with its parent, so the
// child's copy-on-write faults fall on the rows of the parent's first touches.

import FaultlineCore
import FaultlineLog

public struct HeatmapOptions: Sendable {
    public var columns = 240
    public var plotHeight = 560.0
    public var rowHeight = 2.0
    /// Tall enough for a label: a band without one is a riddle.
    public var minBandHeight = 12.0
    public var gapPages: UInt64 = 256
    /// More bands than this would be too thin to read: the smallest segments then share one.
    public var maxBands = 40
    public var selection = FaultSelection()
    /// What a cell's depth of colour and the rate strip measure: faults or time in faults.
    public var weight = Weight.faults
    public init() {}

    public var filter: FaultKindFilter? {
        get { selection.kind }
        set { selection.kind = newValue }
    }
}

public struct Heatmap: Sendable {
    public struct Segment: Sendable {
        /// The mapping, as reports name it ("/usr/lib/.../libc.so.6", "[heap]", "[anon]").
        public var name: String
        public var firstPage: UInt64
        public var lastPage: UInt64
        public var pagesTouched: Int
        /// Pages are file pages (offset / page size) rather than addresses.
        public var isFileOffset = false
        /// Faults here per process.
        public var faultsByPid: [Int32: UInt64] = [:]
    }

    /// A process event drawn as a vertical line: fork, exec or exit.
    public struct Marker: Sendable {
        public var timeNs: UInt64
        public var label: String
        public var kind: String
    }

    public struct Cell: Hashable, Sendable { public var column: Int; public var band: Int; public var row: Int }

    /// A horizontal band of the picture: one segment, or all the smallest ones together.
    public struct Band: Sendable {
        /// Position in plot coordinates, and how many rows the band is cut into.
        public var label: String
        public var detail: String
        public var y = 0.0
        public var height = 0.0
        public var rows = 1
        public var faults: UInt64 = 0
        public var pagesTouched = 0
        /// For a single segment, its first page and pages per row; nil for the band of
        /// small segments, whose rows are segments rather than page ranges.
        public var firstPage: UInt64?
        public var pagesPerRow: UInt64 = 1
        public var isFileOffset = false
        /// Whose faults these are: "4242 cc1" for one process, "3 processes" for several;
        /// empty for the band of small ranges.
        public var owner = ""
        /// Every process with faults here, busiest first: "4242 cc1 (120), 4250 as (3)".
        public var owners = ""
    }

    public var bands: [Band] = []
    public var pageSize: UInt64
    public var startNs: UInt64
    public var endNs: UInt64
    public var columns: Int
    /// Touched pages cut at mapping changes and gaps, before they are given bands.
    public var segments: [Segment] = []
    public var cells: [Cell: FaultTally] = [:]
    /// Faults and time per column, by kind: the rate strip above the map.
    public var rate: [FaultTally]
    public var markers: [Marker] = []
    public var total = FaultTally()
    public var weight: Weight

    public var nsPerColumn: Double { Double(max(endNs - startNs, 1)) / Double(columns) }

    public init(timeline: Timeline, options: HeatmapOptions = HeatmapOptions()) {
        let log = timeline.log
        pageSize = max(log.header.pageSize, 1)
        columns = max(1, options.columns)
        weight = options.weight
        rate = Array(repeating: FaultTally(), count: columns)
        let selection = options.selection

        // Where each fault falls: a file page or an anonymous page, per mapping name. The
        // faults are visited three times rather than their places kept (that took more
        // memory than the log itself): to collect the pages touched, to find each
        // segment's lowest address, and to draw.
        let mappings = MappingIndex(log: log)
        var places = Places(log: log, mappings: mappings, pageSize: pageSize)
        var first = UInt64.max, last = UInt64.min, any = false
        var pagesByName: [[UInt64]] = []
        log.faults.forEachBlock { start, block in
            for (k, f) in block.enumerated() where selection.matches(f) {
                let (name, page) = places.place(of: f, index: start + k)
                if name >= pagesByName.count { pagesByName += Array(repeating: [], count: name + 1 - pagesByName.count) }
                pagesByName[name].append(page)
                first = min(first, f.timeNs)
                last = max(last, f.timeNs)
                any = true
            }
        }
        if !any { first = log.header.startTimeNs; last = first }
        startNs = first
        // One past the last fault, so that it falls in the last column; a fault at 2^64-1
        // (a log may say so) has no "one past", and the range ends at it.
        endNs = last.addingSaturated(1)

        // Segments per name (names in order), each a run of touched pages without a gap
        // wider than gapPages; `segmentsOfName[n]` are name n's, by page.
        var segmentsOfName = Array(repeating: 0..<0, count: pagesByName.count)
        for name in pagesByName.indices.sorted(by: { places.names[$0] < places.names[$1] }) where !pagesByName[name].isEmpty {
            var pages = pagesByName[name]
            pagesByName[name] = []
            pages.sort()
            let from = segments.count
            var previous: UInt64?
            for page in pages where page != previous {
                if let p = previous, page - p <= options.gapPages {
                    segments[segments.count - 1].lastPage = page
                    segments[segments.count - 1].pagesTouched += 1
                } else {
                    segments.append(Segment(name: places.names[name], firstPage: page, lastPage: page, pagesTouched: 1,
                                            isFileOffset: places.isFile[name]))
                }
                previous = page
            }
            segmentsOfName[name] = from..<segments.count
        }
        // Segments in this order, before they are put in band order below.
        let firstPageOfSegment = segments.map(\.firstPage)
        func segment(_ name: Int, _ page: UInt64) -> Int {
            // The last of the name's segments starting at or before the page.
            var lo = segmentsOfName[name].lowerBound, hi = segmentsOfName[name].upperBound - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if firstPageOfSegment[mid] <= page { lo = mid } else { hi = mid - 1 }
            }
            return lo
        }

        // Bands read like the first process's address space from low to high: segments in
        // the order of the lowest address each was seen at.
        var firstAddress = [UInt64](repeating: .max, count: segments.count)
        log.faults.forEachBlock { start, block in
            for (k, f) in block.enumerated() where selection.matches(f) {
                let (name, page) = places.place(of: f, index: start + k)
                let s = segment(name, page)
                firstAddress[s] = min(firstAddress[s], f.address)
                segments[s].faultsByPid[f.pid, default: 0] += 1
            }
        }
        let order = segments.indices.sorted { firstAddress[$0] != firstAddress[$1] ? firstAddress[$0] < firstAddress[$1] : $0 < $1 }
        var newIndex = [Int](repeating: 0, count: segments.count)
        for (i, old) in order.enumerated() { newIndex[old] = i }
        segments = order.map { segments[$0] }
        let rowOfSegment = layOut(options, log: log)

        let span = Double(max(endNs - startNs, 1))
        log.faults.forEachBlock { start, block in
            for (k, f) in block.enumerated() where selection.matches(f) {
                let (name, page) = places.place(of: f, index: start + k)
                let s = newIndex[segment(name, page)]
                let column = min(columns - 1, Int(Double(f.timeNs - startNs) / span * Double(columns)))
                let (band, row) = rowOfSegment(s, page)
                cells[Cell(column: column, band: band, row: row), default: FaultTally()].add(f)
                rate[column].add(f)
                bands[band].faults += 1
                total.add(f)
            }
        }

        for event in timeline.lifecycle where options.selection.matches(pid: event.pid) {
            switch event {
            case .fork(let p) where p.ppid != 0 && log.processes[p.ppid] != nil:
                markers.append(Marker(timeNs: p.timeNs, label: "fork \(p.pid)", kind: "fork"))
            case .exec(let pid, let time, let command):
                let name = log.string(command).split(separator: " ").first.map { String($0.split(separator: "/").last ?? $0) } ?? "?"
                markers.append(Marker(timeNs: time, label: "exec \(name) (\(pid))", kind: "exec"))
            case .exit(let x):
                markers.append(Marker(timeNs: x.timeNs, label: "exit \(x.pid)", kind: "exit"))
            default:
                break
            }
        }
        markers.removeAll { $0.timeNs < startNs || $0.timeNs > endNs }
    }

    /// Where faults fall: a mapping name (by number) and a page in it.
    struct Places {
        /// Mapping names by number, and whether each is a real file (placed by file offset).
        var names: [String] = []
        var isFile: [Bool] = []
        private var numbers: [String: Int] = [:]
        /// The name number of each row of `mappings.mmaps`, -1 until first needed.
        private var nameOfRow: [Int]
        let mappings: MappingIndex
        let log: LoadedLog
        let pageSize: UInt64

        init(log: LoadedLog, mappings: MappingIndex, pageSize: UInt64) {
            self.log = log
            self.mappings = mappings
            self.pageSize = pageSize
            nameOfRow = Array(repeating: -1, count: mappings.mmaps.count)
        }

        private mutating func number(_ name: String) -> Int {
            if let n = numbers[name] { return n }
            names.append(name)
            // Real files only: "[anon]", "[heap]", "[stack]" and "[vdso]" keep their address.
            isFile.append(MappingName.isFile(name))
            numbers[name] = names.count - 1
            return names.count - 1
        }

        /// File pages are placed by file offset, everything else by address.
        mutating func place(of f: FaultEvent, index: Int) -> (name: Int, page: UInt64) {
            guard let i = mappings.mapping(ofFault: index) else { return (number(unmappedName), f.address / pageSize) }
            if nameOfRow[i] < 0 { nameOfRow[i] = number(MappingName.display(log.modulePath(mappings.mmaps[i].module))) }
            let name = nameOfRow[i]
            guard isFile[name] else { return (name, f.address / pageSize) }
            // Saturated: a log may place a mapping at any offset, up to 2^64-1.
            let m = mappings.mmaps[i]
            let offset = f.address.subtractingSaturated(m.start).addingSaturated(m.pageOffset)
            return (name, offset / pageSize)
        }
    }

    /// Who faulted in a band: "4242 cc1" or "3 processes", and every one with its faults.
    static func owners(_ faultsByPid: [Int32: UInt64], log: LoadedLog) -> (owner: String, owners: String) {
        let ranked = faultsByPid.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        func name(_ pid: Int32) -> String { "\(pid) \(log.processName(pid))" }
        let owner = ranked.count == 1 ? name(ranked[0].key) : "\(ranked.count) processes"
        let listed = ranked.prefix(8).map { "\(name($0.key)) (\(TextFormat.count($0.value)))" }
        return (owner, listed.joined(separator: ", ") + (ranked.count > 8 ? ", …" : ""))
    }

    /// Bands: the `maxBands - 1` segments with the most pages each get their own, the rest
    /// share the last one (a row each). Heights: the minimum each, the rest shared by the
    /// square root of pages touched. Returns the band and row of a page of a segment.
    private mutating func layOut(_ options: HeatmapOptions, log: LoadedLog) -> (Int, UInt64) -> (Int, Int) {
        guard !segments.isEmpty else { return { _, _ in (0, 0) } }
        let manyProcesses = Set(segments.flatMap { $0.faultsByPid.keys }).count > 1
        var own = Set(segments.indices)
        if segments.count > options.maxBands {
            let ranked = segments.indices.sorted { segments[$0].pagesTouched != segments[$1].pagesTouched
                ? segments[$0].pagesTouched > segments[$1].pagesTouched : $0 < $1 }
            own = Set(ranked.prefix(options.maxBands - 1))
        }
        var bandOfSegment = [Int](repeating: -1, count: segments.count)
        var rest: [Int] = []
        for (i, s) in segments.enumerated() {
            guard own.contains(i) else { rest.append(i); continue }
            let range = "\(FrameNamer.hex(s.firstPage.multipliedSaturated(by: pageSize)))–"
                + FrameNamer.hex(s.lastPage.addingSaturated(1).multipliedSaturated(by: pageSize))
            var band = Band(label: FrameNamer.shortModuleName(s.name),
                            detail: (s.isFileOffset ? "file offset " : "") + range,
                            pagesTouched: s.pagesTouched, firstPage: s.firstPage, isFileOffset: s.isFileOffset)
            (band.owner, band.owners) = Self.owners(s.faultsByPid, log: log)
            // With one process, every band is its own: a label would only repeat it.
            if !manyProcesses { band.owner = "" }
            bands.append(band)
            bandOfSegment[i] = bands.count - 1
        }
        if !rest.isEmpty {
            let names = Set(rest.map { FrameNamer.shortModuleName(segments[$0].name) })
            bands.append(Band(label: "\(rest.count) smaller ranges",
                              detail: names.sorted().prefix(12).joined(separator: ", ") + (names.count > 12 ? ", …" : ""),
                              pagesTouched: rest.reduce(0) { $0 + segments[$1].pagesTouched }))
        }

        let minimum = options.minBandHeight
        let spare = max(options.plotHeight - minimum * Double(bands.count), options.plotHeight / 3)
        let weights = bands.map { Double($0.pagesTouched).squareRoot() }
        let weightSum = weights.reduce(0, +)
        var y = 0.0
        for i in bands.indices {
            let height = (minimum + spare * weights[i] / weightSum).rounded()
            let rows = max(1, Int(height / options.rowHeight))
            bands[i].y = y
            bands[i].height = height
            // The shared band has one row per small segment at most.
            bands[i].rows = bands[i].firstPage == nil ? min(rows, rest.count) : rows
            y += height
        }
        // A segment's band is cut into rows of whole pages; a short one gets fewer rows.
        for (i, s) in segments.enumerated() where bandOfSegment[i] >= 0 {
            let b = bandOfSegment[i]
            // Divisions rounded up without adding first: a segment can span 2^64 pages.
            let span = (s.lastPage - s.firstPage).addingSaturated(1)
            bands[b].pagesPerRow = max(1, Self.dividedRoundingUp(span, UInt64(bands[b].rows)))
            bands[b].rows = Int(Self.dividedRoundingUp(span, bands[b].pagesPerRow))
        }
        var restRow = [Int](repeating: 0, count: segments.count)
        for (row, s) in rest.enumerated() { restRow[s] = row }
        let restBand = bands.count - 1
        let firstPages = segments.map(\.firstPage)
        let pagesPerRow = bands.map(\.pagesPerRow)
        let restRows = bands[restBand].rows, restCount = rest.count
        return { s, page in
            let b = bandOfSegment[s]
            if b >= 0 { return (b, Int((page - firstPages[s]) / pagesPerRow[b])) }
            return (restBand, restRow[s] * restRows / restCount)
        }
    }

    public var plotHeight: Double { bands.last.map { $0.y + $0.height } ?? 0 }

    static func dividedRoundingUp(_ a: UInt64, _ b: UInt64) -> UInt64 { a / b + (a % b == 0 ? 0 : 1) }

    /// Nanoseconds as a whole number, for times computed in floating point: at most
    /// 2^64-1 (Double(UInt64.max) is 2^64, which UInt64 cannot hold).
    static func wholeNs(_ value: Double) -> UInt64 {
        guard value > 0 else { return 0 }
        return value >= 18_446_744_073_709_551_615.0 ? .max : UInt64(value)
    }
}
