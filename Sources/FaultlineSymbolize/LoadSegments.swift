// Maps a file offset to the ELF virtual address it is loaded at, using the PT_LOAD
// program headers. Hazard: only [p_offset, p_offset+p_filesz) is backed by the file;
// offsets in the gap between segments, or in .bss (memsz > filesz), have no address.

import CLibdw

/// The file-backed part of each PT_LOAD segment of one ELF file.
struct LoadSegments: Equatable {
    struct Segment: Equatable {
        var fileOffset: UInt64
        var fileSize: UInt64
        var virtualAddress: UInt64
    }

    var segments: [Segment]

    init(_ segments: [Segment]) { self.segments = segments }

    /// Reads the program headers of `elf` (elf_getphdrnum, gelf_getphdr).
    /// Returns nil when the file has no program headers (e.g. a relocatable .o),
    /// because such a file is never mapped as code and offsets in it mean nothing.
    init?(elf: OpaquePointer) {
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0, count > 0 else { return nil }
        var found: [Segment] = []
        for index in 0..<Int32(clamping: count) {
            var header = GElf_Phdr()
            guard gelf_getphdr(elf, index, &header) != nil else { continue }
            guard header.p_type == UInt32(PT_LOAD), header.p_filesz > 0 else { continue }
            found.append(Segment(fileOffset: header.p_offset, fileSize: header.p_filesz,
                                 virtualAddress: header.p_vaddr))
        }
        self.segments = found
    }

    /// vaddr = offset - p_offset + p_vaddr for the segment whose file range holds `offset`.
    /// Segments may share a page in the file (the linker packs them), but their file
    /// ranges do not overlap, so the first match is the only one.
    func virtualAddress(forFileOffset offset: UInt64) -> UInt64? {
        for segment in segments
        where offset >= segment.fileOffset && offset - segment.fileOffset < segment.fileSize {
            return offset - segment.fileOffset &+ segment.virtualAddress
        }
        return nil
    }
}
