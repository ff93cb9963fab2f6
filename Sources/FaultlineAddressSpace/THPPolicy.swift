// Which anonymous memory may get a transparent huge page (PMD size), by the kernel's rules:
// the system mode, the VMA's madvise flags, MAP_STACK, and the process's prctl.

import FaultlineCore

/// /sys/kernel/mm/transparent_hugepage/enabled.
public enum THPMode: String, CaseIterable, Sendable {
    case never, madvise, always
}

extension AddressSpace {
    /// Whether an anonymous fault in `vma` may be served by a THP under `mode`, leaving
    /// aside alignment and page tables (the fault handler checks those). Hugetlb memory is
    /// never THP; VM_NOHUGEPAGE (MADV_NOHUGEPAGE, MAP_STACK) never; PR_SET_THP_DISABLE
    /// never (with PR_THP_DISABLE_EXCEPT_ADVISED: only MADV_HUGEPAGE memory).
    public func thpAllowed(_ vma: VMA, mode: THPMode) -> Bool {
        Self.thpAllowed(vma, mode: mode, thpDisable: thpDisable)
    }

    /// The same rule given the process's prctl setting alone, for a caller whose space is
    /// kept in a class (the replay model's ProcessState), where the instance method copies
    /// the whole space at every call.
    @inlinable
    public static func thpAllowed(_ vma: VMA, mode: THPMode, thpDisable: THPDisable) -> Bool {
        guard vma.backing == .anonymous, !vma.isHugetlb, !thpDisabled(vma, thpDisable: thpDisable) else { return false }
        switch mode {
        case .never: return false
        case .madvise: return vma.flags.contains(.hugePage)
        case .always: return true
        }
    }

    /// Whether MADV_NOHUGEPAGE (or MAP_STACK) or the process's prctl rules out every huge
    /// page and folio in `vma`, whatever the modes (vma_thp_disabled).
    @inlinable
    public static func thpDisabled(_ vma: VMA, thpDisable: THPDisable) -> Bool {
        if vma.flags.contains(.noHugePage) { return true }
        switch thpDisable {
        case .all: return true
        case .exceptAdvised: return !vma.flags.contains(.hugePage)
        default: return false
        }
    }

    /// Whether MADV_COLLAPSE may collapse `vma`'s memory: independent of the system mode,
    /// but not of VM_NOHUGEPAGE or the prctl (`thpDisabled`, which lets MADV_HUGEPAGE
    /// memory through under PR_THP_DISABLE_EXCEPT_ADVISED).
    public func collapseAllowed(_ vma: VMA) -> Bool {
        thpAllowed(vma, mode: .always)
    }
}

/// Multi-size THP of anonymous memory (Linux 6.8): each size below the PMD's has a mode of
/// its own (/sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled), `inherit`
/// meaning the top-level one. A first write to anonymous memory gets a folio of the largest
/// size its mode allows whose aligned range lies in the VMA and has no page mapped yet
/// (alloc_anon_folio), mapped by a PTE for each base page; a read still maps the zero page.
/// perf says only that a PTE mapped it, so a log recorded under such a mode cannot show
/// which base pages of each folio the program touched. The model has no such folios.
public struct AnonFolioModes: Sendable, Equatable {
    /// Masks of log2 folio sizes (bit 16: 64 KiB) by mode.
    public var always: UInt64 = 0
    public var madvise: UInt64 = 0
    public var inherit: UInt64 = 0

    public init(always: UInt64 = 0, madvise: UInt64 = 0, inherit: UInt64 = 0) {
        self.always = always
        self.madvise = madvise
        self.inherit = inherit
    }

    /// Whether some size below `pmdShift` may be given to some VMA under top-level `system`.
    public func anyBelow(_ pmdShift: Int, system: THPMode?) -> Bool {
        let below = pmdShift > 0 && pmdShift < 64 ? (UInt64(1) << UInt64(pmdShift)) - 1 : 0
        let inherited = system == nil || system == .never ? 0 : inherit
        return (always | madvise | inherited) & below != 0
    }

    /// The log2 sizes below `pmdShift` that a first write in `vma` may have been given, as a
    /// mask (bit s: 2^s bytes), with `system` the top-level mode and `thpDisable` the
    /// process's prctl (the same rules as a THP's: MAP_STACK, MADV_NOHUGEPAGE and the prctl
    /// rule all out).
    public func sizes(for vma: VMA, system: THPMode?, thpDisable: THPDisable, below pmdShift: Int) -> UInt64 {
        guard anyBelow(pmdShift, system: system) else { return 0 }
        func allowed(_ mode: THPMode?) -> Bool {
            mode.map { AddressSpace.thpAllowed(vma, mode: $0, thpDisable: thpDisable) } ?? false
        }
        var sizes: UInt64 = 0
        if allowed(.always) { sizes |= always }
        if allowed(.madvise) { sizes |= madvise }
        if allowed(system) { sizes |= inherit }
        return sizes & ((UInt64(1) << UInt64(pmdShift)) - 1)
    }
}

/// The top-level mode of shmem THP (/sys/kernel/mm/transparent_hugepage/shmem_enabled), for
/// the kernel's internal mount: shared anonymous memory, memfd, SysV shm.
public enum ShmemHugeMode: String, CaseIterable, Sendable {
    case never, always, withinSize = "within_size", advise, deny, force
}

/// Multi-size THP of shmem (Linux 6.11), by the modes of each size
/// (`hugepages-<size>kB/shmem_enabled`: always, within_size, advise, inherit, never) and the
/// top-level one. As with anonymous folios (AnonFolioModes), a fault maps the whole folio,
/// and perf calls it a base page. Unlike anonymous memory, a read allocates a folio too
/// (shmem has no zero page), and a process that maps pages another one faulted in (a fork
/// child of shared memory) maps a whole folio with one fault.
///
/// The rules, as this kernel (6.18) showed them with 64 MiB touched every 4 KiB
/// (BENCHMARKS.md): shared anonymous memory takes each size by its own mode, `inherit`
/// following the top-level mode; memfd and SysV shm take folios only when the top-level
/// mode allows them, and then of the sizes the per-size modes give. `deny` turns every
/// size off; `force` (which the kernel accepts only while no size below the PMD's
/// inherits) gives the inheriting sizes alone. `within_size` counts as `always`: a
/// mapping's folios lie within its object's size (for shared anonymous memory the size is
/// the mapping's). tmpfs mounts (/dev/shm) follow their own `huge=` option, which sysfs does
/// not show: not modelled.
public struct ShmemFolioModes: Sendable, Equatable {
    /// Masks of log2 folio sizes (bit 16: 64 KiB) by each size's mode.
    public var always: UInt64 = 0
    public var withinSize: UInt64 = 0
    public var advise: UInt64 = 0
    public var inherit: UInt64 = 0
    public var topLevel: ShmemHugeMode = .never

    public init(always: UInt64 = 0, withinSize: UInt64 = 0, advise: UInt64 = 0, inherit: UInt64 = 0, topLevel: ShmemHugeMode = .never) {
        self.always = always
        self.withinSize = withinSize
        self.advise = advise
        self.inherit = inherit
        self.topLevel = topLevel
    }

    /// Whether some size below `pmdShift` may be given to some shmem VMA.
    public func anyBelow(_ pmdShift: Int) -> Bool {
        sizes(anonymous: true, advised: true, below: pmdShift) | sizes(anonymous: false, advised: true, below: pmdShift) != 0
    }

    /// The log2 sizes below `pmdShift` that a fault in `vma` may have been given, as a mask
    /// (bit s: 2^s bytes); 0 for memory that is not shmem of the internal mount, and where
    /// MADV_NOHUGEPAGE or the process's prctl rule THP out.
    public func sizes(for vma: VMA, thpDisable: THPDisable, below pmdShift: Int) -> UInt64 {
        let anonymous = vma.flags.contains(.anonymousShmem)
        guard anonymous || vma.flags.contains(.internalShmem), !vma.isHugetlb,
              !AddressSpace.thpDisabled(vma, thpDisable: thpDisable) else { return 0 }
        return sizes(anonymous: anonymous, advised: vma.flags.contains(.hugePage), below: pmdShift)
    }

    private func sizes(anonymous: Bool, advised: Bool, below pmdShift: Int) -> UInt64 {
        let below = pmdShift > 0 && pmdShift < 64 ? (UInt64(1) << UInt64(pmdShift)) - 1 : 0
        let topAllows: Bool
        switch topLevel {
        case .deny: return 0
        case .force: return inherit & below
        case .never: topAllows = false
        case .always, .withinSize: topAllows = true
        case .advise: topAllows = advised
        }
        let own = always | withinSize | (advised ? advise : 0)
        let sizes = anonymous ? own | (topAllows ? inherit : 0) : topAllows ? own | inherit : 0
        return sizes & below
    }
}
