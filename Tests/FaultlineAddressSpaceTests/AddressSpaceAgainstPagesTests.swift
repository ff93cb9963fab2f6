// mmap, munmap and mprotect at random against the plainest model of them: what each page is
// (which mapping, what protection, which file offset), kept page by page. The VMA table
// splits, joins and edits pieces in place by several paths (a whole VMA, a range inside one
// VMA, a range across many); each must leave every page as the page model says, and the
// table sorted, disjoint and joined wherever one piece carries on the next.

import XCTest
import FaultlineCore
import FaultlineTestSupport
@testable import FaultlineAddressSpace

final class AddressSpaceAgainstPagesTests: XCTestCase {
    /// What one page is: the mapping it belongs to (its serial), its protection and where
    /// in its file it reads (the page's own offset; 0 for anonymous memory).
    struct PageIs: Equatable {
        var serial: UInt32
        var prot: UInt32
        var inode: UInt64
        var offset: UInt64
    }

    let base: UInt64 = 0x7f00_0000_0000

    func testRandomCallsLeaveEveryPageAsThePageModelSays() {
        // 4,096 pages and mostly small calls: up to a thousand VMAs, so that the store holds
        // several chunks and edits land at their edges too.
        var most = 0
        for seed: UInt64 in 1...3 {
            var random = SeededGenerator(seed: seed)
            var space = AddressSpace()
            var pages = [PageIs?](repeating: nil, count: 4096)
            for step in 0..<4_000 {
                let first = Int.random(in: 0..<pages.count, using: &random)
                let count = min(Int.random(in: 1...(step % 7 == 0 ? 64 : 4), using: &random), pages.count - first)
                let start = base + UInt64(first) * page, length = UInt64(count) * page
                let prot = [Protection.read, rw, Protection.read | Protection.exec][Int.random(in: 0..<3, using: &random)]
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<5:
                    // Anonymous, or a file (two files, offsets that may or may not follow on).
                    let inode = UInt64.random(in: 0...2, using: &random)
                    let offset = inode == 0 ? 0 : UInt64.random(in: 0..<8, using: &random) * page
                    let vma = VMA(start: start, end: start + length, offset: offset, prot: prot,
                                  backing: inode == 0 ? .anonymous : .filePrivate, inode: inode, label: 1)
                    space.map(vma)
                    let serial = space.vmas[space.index(containing: start)!].serial
                    for k in 0..<count {
                        pages[first + k] = PageIs(serial: serial, prot: prot, inode: inode,
                                                  offset: inode == 0 ? 0 : offset + UInt64(k) * page)
                    }
                case 5..<7:
                    space.unmap(start, length)
                    for k in 0..<count { pages[first + k] = nil }
                default:
                    space.protect(start, length, prot: prot)
                    for k in 0..<count { pages[first + k]?.prot = prot }
                }
                most = max(most, space.count)
                // The call's pages and a few on either side at every step, all of them now
                // and then.
                let around = step % 100 == 99 ? 0..<pages.count : max(first - 4, 0)..<min(first + count + 4, pages.count)
                guard checkTable(space, around, seed: seed, step: step) else { return }
                let said = pagesOf(space, around)
                XCTAssertEqual(said, Array(pages[around]), "seed \(seed), step \(step)")
                guard said == Array(pages[around]) else { return }
            }
        }
        XCTAssertGreaterThan(most, 2 * VMAStore.chunkSize, "the table never grew past one chunk")
    }

    /// The pages of `range` as the table says, in the page model's terms.
    private func pagesOf(_ space: AddressSpace, _ range: Range<Int>) -> [PageIs?] {
        var pages = [PageIs?](repeating: nil, count: range.count)
        for v in space.pieces(base + UInt64(range.lowerBound) * page, base + UInt64(range.upperBound) * page) {
            let first = Int((v.start - base) / page) - range.lowerBound
            for k in 0..<Int(v.length / page) {
                pages[first + k] = PageIs(serial: v.serial, prot: v.prot, inode: v.inode,
                                          offset: v.backing == .anonymous ? 0 : v.offset + UInt64(k) * page)
            }
        }
        return pages
    }

    /// Sorted, disjoint, none empty, and no piece that carries on the one before it left
    /// apart: the VMAs over the pages of `range`, and one on either side.
    private func checkTable(_ space: AddressSpace, _ range: Range<Int>, seed: UInt64, step: Int) -> Bool {
        let vmas = space.vmas
        let from = max(vmas.firstEnding(after: base + UInt64(range.lowerBound) * page) - 1, 0)
        let to = min(vmas.firstStarting(atOrAfter: base + UInt64(range.upperBound) * page) + 1, vmas.count)
        for i in from..<to {
            let v = vmas[i]
            guard v.start < v.end else { XCTFail("seed \(seed), step \(step): empty VMA at \(i)"); return false }
            guard i > 0 else { continue }
            guard vmas[i - 1].end <= v.start else { XCTFail("seed \(seed), step \(step): VMAs \(i - 1) and \(i) overlap or are out of order"); return false }
            guard !vmas[i - 1].continues(into: v) else { XCTFail("seed \(seed), step \(step): VMAs \(i - 1) and \(i) are one mapping left in two pieces"); return false }
        }
        return true
    }
}
