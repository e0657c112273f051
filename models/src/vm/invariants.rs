//! What must hold in the VM after every operation.

use super::*;

impl Vm {
    /// Panics with a message naming the first broken invariant (see [`Frame`] and
    /// [`AddressSpace`]). O(frames + PTEs); for tests and debug builds.
    pub fn check_invariants(&self) {
        let mut lent = 0;
        for (pfn, f) in self.frames.iter() {
            if f.kind == FrameKind::Free {
                assert!(
                    f.mappings.is_empty() && f.kernel_refs == 0 && !f.is_lent(),
                    "free {pfn:?} is still referenced: {f:?}"
                );
                continue;
            }
            assert!(
                f.refcount() > 0,
                "{pfn:?} leaked: live but unreferenced: {f:?}"
            );
            assert!(
                f.loans + f.wired <= f.kernel_refs,
                "{pfn:?} has more loans/wirings than kernel references: {f:?}"
            );
            if f.is_lent() {
                lent += 1;
            }
            for &(a, v) in &f.mappings {
                let pte = self.spaces[a.0 as usize].ptes.get(&v);
                assert!(
                    pte.is_some_and(|p| p.pfn == pfn),
                    "{pfn:?} reverse-maps ({a:?}, vpn {v:#x}) but that PTE points elsewhere"
                );
                if f.is_lent() {
                    assert!(
                        !pte.expect("checked").writable,
                        "lent {pfn:?} is mapped writable at ({a:?}, vpn {v:#x})"
                    );
                }
            }
            if let FrameKind::PageCache { file, index } = f.kind {
                assert_eq!(
                    self.page_cache.get(&(file, index)),
                    Some(&pfn),
                    "{pfn:?} claims to cache ({file:?}, {index}) but the cache disagrees"
                );
            }
        }
        for pfn in self.frames.free_list() {
            assert_eq!(
                self.frames.get(*pfn).kind,
                FrameKind::Free,
                "{pfn:?} on the free list is not free"
            );
        }
        assert_eq!(lent, self.counters.lent_pages, "lent-page count drifted");
        for (&(file, index), &pfn) in &self.page_cache {
            assert_eq!(
                self.frames.get(pfn).kind,
                FrameKind::PageCache { file, index },
                "page cache maps ({file:?}, {index}) to {pfn:?} of another kind"
            );
        }
        for (i, s) in self.spaces.iter().enumerate() {
            let asid = AsId(i as u32);
            let mut end = 0;
            let mut mapped = 0;
            for v in s.vmas.values() {
                assert!(v.start >= end, "VMAs overlap at {:#x} in {asid:?}", v.start);
                assert!(
                    v.end <= s.size_bytes,
                    "VMA beyond the address space in {asid:?}"
                );
                end = v.end;
                mapped += v.len_bytes();
            }
            assert_eq!(mapped, s.mapped_bytes, "mapped bytes drifted in {asid:?}");
            if let Some(c) = s.lookup_cache {
                assert!(
                    s.vmas.contains_key(&c),
                    "lookup cache names a gone VMA in {asid:?}"
                );
            }
            for (&vpn, pte) in &s.ptes {
                assert!(
                    s.vma_at(vpn * PAGE_SIZE).is_some(),
                    "PTE for vpn {vpn:#x} outside every VMA in {asid:?}"
                );
                let f = self.frames.get(pte.pfn);
                assert!(
                    f.kind != FrameKind::Free,
                    "PTE for vpn {vpn:#x} in {asid:?} points at free {:?}",
                    pte.pfn
                );
                assert!(
                    f.mappings.contains(&(asid, vpn)),
                    "PTE for vpn {vpn:#x} in {asid:?} missing from {:?}'s reverse map",
                    pte.pfn
                );
            }
        }
    }
}
