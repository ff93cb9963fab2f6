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
        guard vma.backing == .anonymous, !vma.isHugetlb, !vma.flags.contains(.noHugePage) else { return false }
        switch thpDisable {
        case .all: return false
        case .exceptAdvised where !vma.flags.contains(.hugePage): return false
        default: break
        }
        switch mode {
        case .never: return false
        case .madvise: return vma.flags.contains(.hugePage)
        case .always: return true
        }
    }

    /// Whether MADV_COLLAPSE may collapse `vma`'s memory: independent of the system mode,
    /// but not of VM_NOHUGEPAGE or the prctl.
    public func collapseAllowed(_ vma: VMA) -> Bool {
        thpAllowed(vma, mode: .always) || (thpDisable == .exceptAdvised && vma.flags.contains(.hugePage)
            && vma.backing == .anonymous && !vma.isHugetlb && !vma.flags.contains(.noHugePage))
    }
}
