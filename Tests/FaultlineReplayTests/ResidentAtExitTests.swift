// The model's mapped memory at a process's exit, counted the way the kernel's RSS counts
// it, and the self-check's note when the kernel had more file memory mapped than any fault
// shows.

import XCTest
import FaultlineAddressSpace
import FaultlineCore
import FaultlineLog
@testable import FaultlineReplay

final class ResidentAtExitTests: XCTestCase {
    let base: UInt64 = 1 * GiB
    let page: UInt64 = 4 * KiB

    func mapping(_ start: UInt64, _ length: UInt64, name: String, shared: Bool) -> VMA {
        VMA(start: start, end: start + length, offset: 0, prot: 3, mapFlags: shared ? MapFlags.shared : MapFlags.private,
            inode: 77, name: name, label: -1, kernel: .newest)
    }

    /// Anonymous memory written (a read's zero page is no RSS), a private file read (its
    /// fault-around's 16 pages) and one of its pages written (a copy: anonymous), shared
    /// memory written; then the process exits. A process the recorder read nothing for is
    /// left out.
    func input(kernel: KernelResident?) -> ReplayInput {
        var input = ReplayInput()
        let file = base + 64 * MiB, shmem = base + 128 * MiB
        input.appendMapping(anonymous(base, 1 * MiB), name: "//anon")
        input.appendMapping(mapping(file, 1 * MiB, name: "/data/f", shared: false), name: "/data/f")
        input.appendMapping(mapping(shmem, 1 * MiB, name: "/dev/zero (deleted)", shared: true), name: "/dev/zero (deleted)")
        for i in 0..<UInt64(10) { input.appendAccess(base + i * page, .write) }
        for i in 10..<UInt64(15) { input.appendAccess(base + i * page, .read) }
        input.appendAccess(file, .read)
        input.appendAccess(file + 100 * page, .write)
        for i in 0..<UInt64(3) { input.appendAccess(shmem + i * page, .write) }
        input.append(.fork(parent: 0), process: 1)
        input.append(.exit, process: 1)
        input.append(.exit, process: 0)
        if let kernel { input.kernelResident[kernel.pid] = kernel }
        return input
    }

    func testTheModelsMemoryAtExitIsCountedAsRSSCountsIt() {
        let kernel = KernelResident(pid: 1, anonBytes: 11 * page, fileBytes: 16 * page, shmemBytes: 3 * page)
        let input = input(kernel: kernel)
        let r = ReplayEngine(config: config(.k4, .never), input: input).run()
        XCTAssertEqual(r.residentAtExit.processes, 1, "the child has no reading")
        XCTAssertEqual(r.residentAtExit.model, ResidentBytes(anon: 11 * page, file: 16 * page, shmem: 3 * page))
        XCTAssertEqual(r.residentAtExit.kernel, ResidentBytes(anon: 11 * page, file: 16 * page, shmem: 3 * page))
        let check = SelfCheck(result: r, input: input)
        XCTAssertFalse(check.notes.contains { $0.contains("file memory mapped at exit") }, "\(check.notes)")
    }

    /// A fork child maps its parent's pages where fork copied the page tables (private
    /// mappings that have anonymous pages), and RSS counts them as its own: the written page
    /// of the private file is a copy, anonymous in the child too; the shared memory's pages
    /// it has not touched.
    func testAForkChildsInheritedPagesAreCountedByWhatTheyAre() {
        var input = input(kernel: KernelResident(pid: 2, anonBytes: 11 * page, fileBytes: 16 * page, shmemBytes: 0))
        input.kernelResident[1] = KernelResident(pid: 1, anonBytes: 11 * page, fileBytes: 16 * page, shmemBytes: 3 * page)
        let r = ReplayEngine(config: config(.k4, .never), input: input).run()
        XCTAssertEqual(r.residentAtExit.processes, 2)
        XCTAssertEqual(r.residentAtExit.model, ResidentBytes(anon: 22 * page, file: 32 * page, shmem: 3 * page))
        let child = ReplayEngine(config: config(.k4, .never), input: input, counted: [2]).run().residentAtExit
        XCTAssertEqual(child.processes, 1, "--pid: the processes it counts")
        XCTAssertEqual(child.model, ResidentBytes(anon: 11 * page, file: 16 * page, shmem: 0))
    }

    /// The kernel had 4 MiB of the file mapped where the faults show 64 KiB: the self-check
    /// says so. A few pages more (under 1 MiB) it does not.
    func testFileMemoryTheKernelMappedWithoutAFaultIsNoted() {
        for (file, noted) in [(4 * MiB, true), (16 * page + 900 * KiB, false)] {
            let input = input(kernel: KernelResident(pid: 1, anonBytes: 11 * page, fileBytes: file, shmemBytes: 3 * page))
            let r = ReplayEngine(config: config(.k4, .never), input: input).run()
            let notes = SelfCheck(result: r, input: input).notes.filter { $0.contains("file memory mapped at exit") }
            XCTAssertEqual(notes.count, noted ? 1 : 0, "kernel \(file): \(notes)")
        }
    }

    /// A log of one process compares its VmHWM with the model's peak too, and notes a
    /// difference of more than 1 MiB and an eighth either way; a log of several does not
    /// (each process's peak and the model's of all are not alike).
    func testTheOneProcessPeakIsComparedWithTheKernelsHighWaterMark() {
        var one = ReplayInput()
        one.appendMapping(anonymous(base, 64 * MiB), name: "//anon")
        for i in 0..<UInt64(2048) { one.appendAccess(base + i * page, .write) }
        one.append(.munmap(address: base, length: 64 * MiB))
        one.append(.exit, process: 0)
        for (peak, noted) in [(8 * MiB, false), (8 * MiB + 512 * KiB, false), (16 * MiB, true), (4 * MiB, true)] {
            var input = one
            input.kernelResident[1] = KernelResident(pid: 1, anonBytes: 0, fileBytes: 0, shmemBytes: 0, peakBytes: peak)
            let r = ReplayEngine(config: config(.k4, .never), input: input).run()
            XCTAssertEqual(r.residentAtExit.kernelPeak, peak)
            XCTAssertEqual(r.residentAtExit.modelPeak, 8 * MiB, "2,048 pages written, then unmapped")
            let notes = SelfCheck(result: r, input: input).notes.filter { $0.contains("peak resident memory") }
            XCTAssertEqual(notes.count, noted ? 1 : 0, "kernel peak \(peak): \(notes)")
        }
        var two = input(kernel: KernelResident(pid: 1, anonBytes: 0, fileBytes: 0, shmemBytes: 0, peakBytes: 1))
        two.kernelResident[2] = KernelResident(pid: 2, anonBytes: 0, fileBytes: 0, shmemBytes: 0, peakBytes: 1)
        let r = ReplayEngine(config: config(.k4, .never), input: two).run()
        XCTAssertNil(r.residentAtExit.kernelPeak)
        XCTAssertNil(r.residentAtExit.modelPeak)
    }

    /// Only the self-check's replay keeps the comparison.
    func testOnlyTheSelfChecksReplayCounts() {
        let engine = ReplayEngine(config: config(.k4, .never),
                                  input: input(kernel: KernelResident(pid: 1, anonBytes: 1, fileBytes: 1, shmemBytes: 1)))
        engine.keepsSelfCheckTally = false
        XCTAssertEqual(engine.run().residentAtExit.processes, 0)
    }
}
