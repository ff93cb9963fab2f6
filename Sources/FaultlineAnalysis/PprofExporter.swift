// `export --format pprof`: a gzipped perftools.profiles.Profile (proto/profile.proto) that
// pprof, Pyroscope and Grafana read. Value columns: `faults` (every fault), then one per
// fault kind. One sample per (process, stack), labelled with pid and process name.
//
// Hazard: the log keeps frames as (module, file offset), not the addresses each process
// saw (one library sits at a different address in every process). Each module therefore
// gets a synthetic, disjoint address range starting at file offset 0, so that
// `address - memory_start + file_offset` is the real file offset, which is what pprof's
// own symbolizer and Pyroscope's build-id lookups need.

import Foundation
import FaultlineCore
import FaultlineLog
import SwiftProtobuf

public enum PprofExporter {
    /// The value columns after `faults`, in this order.
    public static let kindColumns: [FaultKind] = FaultKind.allCases

    /// Synthetic ranges: above every user address (x86-64 and arm64 stop below 2^48),
    /// 64 GiB apart, far more than any file's text.
    static let syntheticBase: UInt64 = 1 << 48
    static let syntheticStride: UInt64 = 1 << 36

    public static func data(log: LoadedLog, namer: FrameNamer) throws -> [UInt8] {
        let profile = build(log: log, namer: namer)
        let bytes: [UInt8] = try profile.serializedBytes()
        guard let gzipped = Gzip.compress(bytes) else {
            throw PprofError(description: "cannot gzip the profile (zlib failed)")
        }
        return gzipped
    }

    static func build(log: LoadedLog, namer: FrameNamer) -> Perftools_Profiles_Profile {
        var strings = StringTable()
        var profile = Perftools_Profiles_Profile()
        func valueType(_ type: String) -> Perftools_Profiles_ValueType {
            var v = Perftools_Profiles_ValueType()
            v.type = strings[type]
            v.unit = strings["count"]
            return v
        }
        profile.sampleType = [valueType("faults")] + kindColumns.map { valueType($0.name) }
        profile.defaultSampleType = strings["faults"]
        profile.periodType = valueType("faults")
        profile.period = 1
        profile.timeNanos = Int64(clamping: log.header.startWallSeconds) &* 1_000_000_000
        profile.durationNanos = Int64(clamping: log.durationNs)
        profile.comment = ["faultline: \(log.commandLine)",
                           LossWarning.line(lost: log.totalLost, throttled: log.totalThrottled),
                           log.integrityProblem.map { "INCOMPLETE LOG: \($0)" }]
            .compactMap { $0 }.map { strings[$0] }

        let counts = StackCounts(log: log)
        var tables = Tables(log: log, namer: namer)
        let pidKey = strings["pid"], processKey = strings["process"]
        for entry in counts.entries {
            var sample = Perftools_Profiles_Sample()
            sample.locationID = tables.locations(of: entry.stack, strings: &strings)
            sample.value = [Int64(entry.counts.faults)] + kindColumns.map { Int64(entry.counts[$0]) }
            var pid = Perftools_Profiles_Label()
            pid.key = pidKey
            pid.num = Int64(entry.pid)
            var process = Perftools_Profiles_Label()
            process.key = processKey
            process.str = strings[log.processName(entry.pid)]
            sample.label = [pid, process]
            profile.sample.append(sample)
        }
        profile.mapping = tables.mappings(strings: &strings)
        profile.location = tables.locationList
        profile.function = tables.functionList
        profile.stringTable = strings.list
        return profile
    }

    /// Interned strings; index 0 is "" as the format requires.
    struct StringTable {
        var list: [String] = [""]
        var index: [String: Int64] = ["": 0]
        subscript(_ s: String) -> Int64 {
            mutating get {
                if let i = index[s] { return i }
                list.append(s)
                index[s] = Int64(list.count - 1)
                return Int64(list.count - 1)
            }
        }
    }

    /// Locations (one per frame, with a Line per function of its inline chain), functions (one
    /// per name and file), mappings (one per module).
    struct Tables {
        let log: LoadedLog
        let namer: FrameNamer
        var locationList: [Perftools_Profiles_Location] = []
        var functionList: [Perftools_Profiles_Function] = []
        private var locationOfFrame: [FrameID: UInt64] = [:]
        private var noStackLocation: UInt64?
        private struct FunctionKey: Hashable { var name: String; var file: String? }
        private var functionIDs: [FunctionKey: UInt64] = [:]
        /// Per module used: the largest offset seen and whether every frame had a name.
        private var moduleUse: [ModuleID: (maxOffset: UInt64, named: Bool, files: Bool, lines: Bool)] = [:]
        private var locationModule: [(index: Int, module: ModuleID, offset: UInt64)] = []

        init(log: LoadedLog, namer: FrameNamer) { self.log = log; self.namer = namer }

        /// Leaf first, as Sample.location_id wants.
        mutating func locations(of stack: StackID, strings: inout StringTable) -> [UInt64] {
            let frames = log.frames(of: stack)
            if frames.isEmpty {
                if let id = noStackLocation { return [id] }
                let id = addLocation(name: FrameName(function: FrameNamer.noStack), address: 0, strings: &strings)
                noStackLocation = id
                return [id]
            }
            return frames.map { location(of: $0, strings: &strings) }
        }

        private mutating func location(of frame: FrameID, strings: inout StringTable) -> UInt64 {
            if let id = locationOfFrame[frame] { return id }
            // One Location per recorded frame; an inline chain is its Lines, innermost
            // first and the function holding them last, as profile.proto models inlining.
            let names = namer.names(frame)
            let name = names[names.count - 1]
            let raw = log.frame(frame)
            let id = addLocation(names: names, address: raw?.offset ?? 0, strings: &strings)
            if let module = raw?.module, log.module(module) != nil {
                let real = !(name.function.hasPrefix(FrameNamer.shortModuleName(name.module ?? "")) && name.function.contains("+0x"))
                var use = moduleUse[module] ?? (0, true, false, false)
                use.maxOffset = max(use.maxOffset, raw!.offset)
                use.named = use.named && real
                use.files = use.files || names.contains { $0.file != nil }
                use.lines = use.lines || names.contains { $0.line != nil }
                moduleUse[module] = use
                locationModule.append((locationList.count - 1, module, raw!.offset))
            }
            locationOfFrame[frame] = id
            return id
        }

        private mutating func addLocation(name: FrameName, address: UInt64, strings: inout StringTable) -> UInt64 {
            addLocation(names: [name], address: address, strings: &strings)
        }

        private mutating func addLocation(names: [FrameName], address: UInt64, strings: inout StringTable) -> UInt64 {
            var location = Perftools_Profiles_Location()
            location.id = UInt64(locationList.count + 1)
            location.address = address
            location.line = names.map { name in
                var line = Perftools_Profiles_Line()
                line.functionID = functionID(name, strings: &strings)
                line.line = Int64(name.line ?? 0)
                return line
            }
            locationList.append(location)
            return location.id
        }

        private mutating func functionID(_ name: FrameName, strings: inout StringTable) -> UInt64 {
            let key = FunctionKey(name: name.function, file: name.file)
            if let existing = functionIDs[key] { return existing }
            var function = Perftools_Profiles_Function()
            function.id = UInt64(functionList.count + 1)
            function.name = strings[name.function]
            function.systemName = function.name
            if let file = name.file { function.filename = strings[file] }
            functionList.append(function)
            functionIDs[key] = function.id
            return function.id
        }

        /// Builds the mappings (the main binary first, as pprof expects) and moves each
        /// module's locations into its synthetic range.
        mutating func mappings(strings: inout StringTable) -> [Perftools_Profiles_Mapping] {
            let main = mainModule()
            let modules = moduleUse.keys.sorted { a, b in
                if a == main || b == main { return a == main && b != main }
                return a < b
            }
            var result: [Perftools_Profiles_Mapping] = []
            var base: [ModuleID: (id: UInt64, start: UInt64)] = [:]
            for (i, module) in modules.enumerated() {
                let use = moduleUse[module]!
                let start = PprofExporter.syntheticBase &+ UInt64(i) &* PprofExporter.syntheticStride
                var m = Perftools_Profiles_Mapping()
                m.id = UInt64(i + 1)
                m.memoryStart = start
                m.memoryLimit = start &+ min(use.maxOffset.addingSaturated(4096), PprofExporter.syntheticStride)
                m.fileOffset = 0
                m.filename = strings[log.modulePath(module)]
                let buildID = log.module(module)?.buildID ?? []
                if !buildID.isEmpty { m.buildID = strings[buildID.map { String(format: "%02x", $0) }.joined()] }
                m.hasFunctions_p = use.named
                m.hasFilenames_p = use.files
                m.hasLineNumbers_p = use.lines
                result.append(m)
                base[module] = (m.id, start)
            }
            for (index, module, offset) in locationModule {
                guard let b = base[module], offset < PprofExporter.syntheticStride else { continue }
                locationList[index].mappingID = b.id
                locationList[index].address = b.start &+ offset
            }
            return result
        }

        /// The first executable file the first process mapped: its program.
        private func mainModule() -> ModuleID? {
            guard let first = log.processes.values.min(by: { $0.startNs < $1.startNs })?.pid else { return nil }
            return log.mmaps.first { $0.pid == first && $0.prot & 0x4 != 0 && log.modulePath($0.module).hasPrefix("/") }?.module
        }
    }
}

public struct PprofError: Error, CustomStringConvertible {
    public var description: String
}
