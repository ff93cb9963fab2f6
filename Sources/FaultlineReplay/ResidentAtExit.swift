// The kernel as the self-check's oracle for memory, not only for faults: the recorder reads
// each process's resident memory as it exits (/proc/PID/status RssAnon, RssFile,
// RssShmem), and the self-check's replay counts what the model has mapped for the process
// at that moment, the way RSS counts it. The faults cannot show a page the kernel mapped
// without one: on Linux 6.18 a read fault on a file cached in large folios maps the whole
// folio (one fault mapped 1 MiB of a 64 MiB file, where the model's fault-around maps
// 64 KiB), so the model's file memory came out a tenth of the kernel's, with every fault
// reproduced.

import FaultlineAddressSpace
import FaultlineCore
import FaultlineLog

/// Resident bytes by the kinds RSS tells apart.
public struct ResidentBytes: Sendable, Equatable {
    public var anon: UInt64 = 0
    public var file: UInt64 = 0
    public var shmem: UInt64 = 0

    public init(anon: UInt64 = 0, file: UInt64 = 0, shmem: UInt64 = 0) {
        self.anon = anon; self.file = file; self.shmem = shmem
    }

    mutating func add(_ other: ResidentBytes) {
        anon = anon.addingSaturated(other.anon)
        file = file.addingSaturated(other.file)
        shmem = shmem.addingSaturated(other.shmem)
    }
}

/// The kernel's resident memory at exit against the model's, summed over the processes the
/// recorder read it for; and for a log of one process, its peak (VmHWM) against the model's.
public struct ResidentAtExit: Sendable, Equatable {
    public var processes = 0
    public var kernel = ResidentBytes()
    public var model = ResidentBytes()
    /// The process's VmHWM and the model's peak resident memory, when the log holds one
    /// process the recorder read, and no hugetlb mapping (VmHWM leaves hugetlb pages out).
    /// Of several processes, the peaks of each and the model's of all are not alike.
    public var kernelPeak: UInt64?
    public var modelPeak: UInt64?

    /// Whether the model's memory is far enough from the kernel's (`missing` apart, of the
    /// kernel's `kernel`) for the self-check to say so: a few pages a process differ for
    /// reasons of no interest (VmHWM raised only now and then, a page the kernel's
    /// readahead mapped around a fault the model counts alone).
    static func noticeable(_ missing: UInt64, of kernel: UInt64) -> Bool {
        missing > 1 << 20 && missing > kernel / 8
    }

    /// What the self-check says of it: nothing where the model's memory is the kernel's
    /// (within `noticeable`).
    var notes: [String] {
        var notes: [String] = []
        let kernelFile = kernel.file.addingSaturated(kernel.shmem), modelFile = model.file.addingSaturated(model.shmem)
        if processes > 0, modelFile < kernelFile, Self.noticeable(kernelFile - modelFile, of: kernelFile) {
            notes.append("file memory mapped at exit: the kernel had \(bytes(kernelFile)), the model \(bytes(modelFile)) "
                + "(\(processes) process\(processes == 1 ? "" : "es")): the kernel mapped file pages no fault shows, most likely "
                + "whole page-cache folios around a fault (Linux 6.18 maps a large folio whole, the model 64 KiB of fault-around); "
                + "file-backed resident memory is a lower bound in every configuration")
        }
        if let kernelPeak, let modelPeak, Self.noticeable(max(kernelPeak, modelPeak) - min(kernelPeak, modelPeak), of: kernelPeak) {
            notes.append("peak resident memory: the kernel's high-water mark (VmHWM) was \(bytes(kernelPeak)), the model's peak "
                + "\(bytes(modelPeak)): " + (modelPeak < kernelPeak
                    ? "the kernel mapped pages no fault shows (a page-cache folio mapped whole, most likely)"
                    : "the model mapped pages the kernel did not (file pages it takes as cached that were not)"))
        }
        return notes
    }
}

extension ReplayEngine {
    /// What `p` has mapped now, as RSS counts it: no zero page, no PFN map, no hugetlb
    /// (counted apart by the kernel). A private file mapping's page is anonymous once a
    /// write copied it: the process owns it or may write it, or a fork child inherited the
    /// copy (PageState.inheritedAnon).
    func mappedBytes(_ p: ProcessState) -> ResidentBytes {
        var bytes = ResidentBytes()
        var last = VMA(start: 0, end: 0, prot: 0, backing: .anonymous)
        p.forEachLayer { layer in
            guard layer.layer != .huge, layer.map.count > 0 else { return }
            let size = UInt64(1) << UInt64(layer.shift)
            layer.map.forEachGroup { first, keys, s in
                guard s & PageState.present != 0, s & PageState.zero == 0 else { return }
                Self.forEachVMARun(of: keys, from: first, shift: layer.shift, in: p.space, last: &last) { run, v in
                    let n = UInt64(run.nonzeroBitCount) &* size
                    guard let v else { return }
                    if v.flags.contains(.pfnMap) { return }
                    switch v.backing {
                    case .anonymous: bytes.anon &+= n
                    case .sharedMemory: bytes.shmem &+= n
                    case .filePrivate:
                        if s & (PageState.ownsAnon | PageState.inheritedAnon | PageState.writable) != 0 {
                            bytes.anon &+= n
                        } else {
                            bytes.file &+= n
                        }
                    case .fileShared, .kernelPages: bytes.file &+= n
                    }
                }
            }
        }
        return bytes
    }

    /// At `p`'s exit, for the self-check: its mapped memory beside the kernel's reading
    /// (of the processes `--pid`/`--comm` counts, as the rest of the self-check).
    func noteResidentAtExit(_ p: ProcessState, index: Int32) {
        guard keepsSelfCheckTally, Int(index) < input.pids.count,
              countedProcesses.map({ Int(index) < $0.count && $0[Int(index)] }) ?? true,
              let kernel = input.kernelResident[input.pids[Int(index)]] else { return }
        residentAtExit.processes += 1
        residentAtExit.kernel.add(ResidentBytes(anon: kernel.anonBytes, file: kernel.fileBytes, shmem: kernel.shmemBytes))
        residentAtExit.model.add(mappedBytes(p))
    }
}
