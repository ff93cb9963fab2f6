// DESIGN.md's fault-class table, row by row: error code x memory x outcome -> kind. Runs
// without privileges, so a wrong rule fails here on any machine, not only under root.

import XCTest
@testable import FaultlineCore

final class FaultClassifierTableTests: XCTestCase {
    struct Row {
        var code: UInt64?
        var backing: Backing?
        var hugetlb = false
        var major = false
        var signalled = false
        /// The page was populated before and nothing freed it (the recorder's PageHistory).
        var populated = false
        /// A private hugetlbfs mapping whose file holds the page already.
        var fileHolds = false
        var expected: FaultKind
        var why: String
    }

    // x86 error codes seen on 6.18 (DESIGN.md): 0x4 read, 0x6 write, 0x7 write to a present
    // page, 0x2 / 0x0 kernel mode (copy_to_user), 0x14 instruction fetch, 0x5 read of a
    // present page (NUMA hint or pkey), 0x24 protection key.
    let rows: [Row] = [
        Row(code: 0x6, backing: .anonymous, expected: .anon, why: "first write to anonymous memory"),
        Row(code: 0x2, backing: .anonymous, expected: .anon, why: "read() into fresh memory, kernel mode"),
        Row(code: 0x4, backing: .anonymous, expected: .zero, why: "first read: the zero page"),
        Row(code: 0x0, backing: .anonymous, expected: .zero, why: "kernel-mode read of fresh memory"),
        Row(code: 0x14, backing: .anonymous, expected: .zero, why: "instruction fetch is a read to do_anonymous_page"),
        Row(code: 0x7, backing: .anonymous, expected: .cow, why: "write after the zero page, or after fork"),
        Row(code: 0x3, backing: .anonymous, expected: .cow, why: "kernel-mode write to a write-protected page"),
        Row(code: 0x5, backing: .anonymous, expected: .other, why: "read of a present page: NUMA hint"),
        Row(code: 0x4, backing: .filePrivate, expected: .file, why: "read of a cached file page"),
        Row(code: 0x14, backing: .filePrivate, expected: .file, why: "code fetched from a library"),
        Row(code: 0x6, backing: .filePrivate, expected: .cow, why: "first write to a private file page copies it in the same fault"),
        Row(code: 0x7, backing: .filePrivate, expected: .cow, why: "write to a present private file page"),
        Row(code: 0x4, backing: .fileShared, expected: .file, why: "read of a shared file page"),
        Row(code: 0x6, backing: .fileShared, expected: .file, why: "first write to a shared file page maps it writable"),
        Row(code: 0x7, backing: .fileShared, expected: .other, why: "write to a clean present shared page: write-notify, not CoW"),
        Row(code: 0x6, backing: .sharedMemory, expected: .file, why: "shmem page from its page cache"),
        Row(code: 0x7, backing: .sharedMemory, expected: .other, why: "shmem never copies"),
        Row(code: 0x6, backing: .anonymous, hugetlb: true, expected: .anon, why: "first write to private hugetlb memory"),
        Row(code: 0x4, backing: .anonymous, hugetlb: true, expected: .anon, why: "hugetlb has no zero page: a read allocates"),
        Row(code: 0x7, backing: .anonymous, hugetlb: true, expected: .cow, why: "write to a present private hugetlb page"),
        Row(code: 0x6, backing: .sharedMemory, hugetlb: true, expected: .file, why: "shared hugetlb page from hugetlbfs's cache"),
        Row(code: 0x4, backing: .filePrivate, hugetlb: true, expected: .anon, why: "private read of a hugetlbfs file allocates a page of its own"),
        Row(code: 0x6, backing: .filePrivate, hugetlb: true, expected: .anon, why: "private first write to a hugetlbfs file: a new page, no copy"),
        Row(code: 0x6, backing: .anonymous, hugetlb: true, populated: true, expected: .anon, why: "hugetlb is never swapped: a populated page missing again was freed"),
        Row(code: 0x4, backing: .filePrivate, hugetlb: true, fileHolds: true, expected: .file, why: "private read of a page the hugetlbfs file holds maps it"),
        Row(code: 0x6, backing: .filePrivate, hugetlb: true, fileHolds: true, expected: .cow, why: "private write to a page the hugetlbfs file holds copies it"),
        Row(code: 0x4, backing: .kernelPages, expected: .file, why: "ld.so reads the vDSO's ELF header: the kernel's page, no zero page"),
        Row(code: 0x14, backing: .kernelPages, expected: .file, why: "clock_gettime runs the vDSO's code"),
        Row(code: 0x14, backing: .kernelPages, populated: true, expected: .file,
            why: "a fork child runs the vDSO again: fork did not copy its page tables, nothing was swapped"),
        Row(code: 0x4, backing: .filePrivate, major: true, expected: .major, why: "waited for I/O"),
        Row(code: 0x4, backing: .anonymous, populated: true, expected: .swap, why: "read of a page reclaim took: from the swap cache"),
        Row(code: 0x6, backing: .anonymous, populated: true, expected: .swap, why: "write to a page reclaim took"),
        Row(code: 0x0, backing: .anonymous, populated: true, expected: .swap, why: "copy_to_user into a swapped-out page"),
        Row(code: 0x4, backing: .anonymous, major: true, expected: .swap, why: "anonymous memory waits for I/O only on swap"),
        Row(code: 0x4, backing: .anonymous, major: true, populated: true, expected: .swap, why: "swap-in from disk"),
        Row(code: nil, backing: .anonymous, major: true, expected: .swap, why: "major on anonymous memory without an entry"),
        Row(code: 0x4, backing: .sharedMemory, populated: true, expected: .swap, why: "shmem page brought back from the swap cache"),
        Row(code: 0x4, backing: .sharedMemory, major: true, expected: .swap, why: "shmem has no file: a major fault read swap"),
        Row(code: 0x4, backing: .filePrivate, populated: true, expected: .swap, why: "a private file page copied before is anonymous: swapped"),
        Row(code: 0x4, backing: .filePrivate, major: true, populated: true, expected: .swap, why: "a copied private file page read back from swap"),
        Row(code: 0x4, backing: .fileShared, populated: true, expected: .file, why: "shared file pages go back to the file, not swap: a refault"),
        Row(code: 0x4, backing: .fileShared, major: true, populated: true, expected: .major, why: "a shared file page refaulted from disk"),
        Row(code: 0x7, backing: .anonymous, populated: true, expected: .cow, why: "a present page is not a swap-in, whatever its history"),
        Row(code: 0x6, backing: .anonymous, signalled: true, populated: true, expected: .segv, why: "refused: no page came back"),
        Row(code: 0x6, backing: .anonymous, signalled: true, expected: .segv, why: "SIGSEGV delivered"),
        Row(code: 0x6, backing: .anonymous, major: true, signalled: true, expected: .segv, why: "a signal wins over the accounting"),
        Row(code: nil, backing: .anonymous, expected: .other, why: "entry event missed: nothing to go on"),
        Row(code: 0x6, backing: nil, expected: .other, why: "no mapping known at the address"),
        Row(code: nil, backing: nil, major: true, expected: .major, why: "major without an entry is still major"),
    ]

    func testEveryRowOfTheTable() {
        for row in rows {
            let o = FaultObservation(errorCode: row.code.map(PageFaultErrorCode.init(rawValue:)), isMajor: row.major,
                                     signalled: row.signalled,
                                     region: row.backing.map { FaultRegion(backing: $0, isHugetlb: row.hugetlb) },
                                     pageWasPopulated: row.populated, fileHoldsPage: row.fileHolds)
            XCTAssertEqual(FaultClassifier.classify(o), row.expected, row.why)
        }
    }

    func testTheTableCoversEveryBackingAndEveryKindTheClassifierCanGive() {
        XCTAssertEqual(Set(rows.compactMap(\.backing)), Set(Backing.allCases))
        XCTAssertEqual(Set(rows.map(\.expected)), Set(FaultKind.allCases))
    }

    func testBackingFromNames() {
        XCTAssertEqual(Backing.of(name: "//anon", inode: 0, shared: false), .anonymous)
        XCTAssertEqual(Backing.of(name: "[heap]", inode: 0, shared: false), .anonymous)
        XCTAssertEqual(Backing.of(name: "[anon:glibc]", inode: 0, shared: false), .anonymous)
        XCTAssertEqual(Backing.of(name: "", inode: 0, shared: true), .sharedMemory)
        XCTAssertEqual(Backing.of(name: "/dev/zero (deleted)", inode: 5, shared: true), .sharedMemory)
        XCTAssertEqual(Backing.of(name: "/memfd:x (deleted)", inode: 5, shared: true), .sharedMemory)
        XCTAssertEqual(Backing.of(name: "/dev/shm/q", inode: 5, shared: true), .sharedMemory)
        XCTAssertEqual(Backing.of(name: "/usr/lib/libc.so.6", inode: 5, shared: false), .filePrivate)
        XCTAssertEqual(Backing.of(name: "/tmp/data", inode: 5, shared: true), .fileShared)
        XCTAssertEqual(Backing.of(name: "/anon_hugepage (deleted)", inode: 23453, shared: false), .anonymous)
        XCTAssertEqual(Backing.of(name: "/anon_hugepage (deleted)", inode: 23453, shared: true), .sharedMemory)
        XCTAssertEqual(Backing.of(name: "/dev/zero", inode: 5, shared: false), .anonymous, "mmap_zero: anonymous memory")
        XCTAssertEqual(Backing.of(name: "/dev/zero (deleted)", inode: 5, shared: true), .sharedMemory)
        for name in ["[vdso]", "[vvar]", "[vvar_vclock]", "[uprobes]"] {
            XCTAssertEqual(Backing.of(name: name, inode: 0, shared: false), .kernelPages, name)
        }
    }
}
