//! What must hold in the VM after every operation: a full check, and an incremental one
//! that looks only at what changed since it last ran, cheap enough to run after every event.

use std::collections::BTreeSet;

use super::*;

/// What changed since the last incremental check (frames are noted by the [`FrameTable`]).
#[derive(Clone, Debug, Default)]
pub(super) struct Dirty {
    /// PTEs written, inserted or removed.
    ptes: Vec<(AsId, u64)>,
    /// Address spaces whose VMAs changed, or whose PTEs changed wholesale (`fork`).
    pub(super) spaces: Vec<AsId>,
    /// Page-cache entries inserted or removed.
    cache: Vec<(FileId, u64)>,
    /// The frames lent as of the last check, to check `lent_pages` without a scan.
    lent: BTreeSet<Pfn>,
}

impl Vm {
    pub(super) fn note_pte(&mut self, asid: AsId, vpn: u64) {
        if let Some(d) = &mut self.dirty {
            d.ptes.push((asid, vpn));
        }
    }

    pub(super) fn note_space(&mut self, asid: AsId) {
        if let Some(d) = &mut self.dirty {
            d.spaces.push(asid);
        }
    }

    pub(super) fn note_cache(&mut self, key: (FileId, u64)) {
        if let Some(d) = &mut self.dirty {
            d.cache.push(key);
        }
    }

    /// Starts noting what changes, so [`Vm::check_changed`] can check just that. Runs a
    /// full check first, which the incremental ones then extend.
    pub fn set_incremental_checks(&mut self, on: bool) {
        self.frames.set_dirty_tracking(on);
        self.dirty = None;
        if on {
            self.check_invariants();
            let lent = self.frames.iter().filter(|(_, f)| f.is_lent());
            self.dirty = Some(Dirty {
                lent: lent.map(|(pfn, _)| pfn).collect(),
                ..Dirty::default()
            });
        }
    }

    /// The invariants of [`Vm::check_invariants`] for what changed since the last call:
    /// O(changes), not O(frames + PTEs). Together with the full check when tracking began,
    /// this covers every invariant but the free list's (a frame freed is checked Free, but
    /// the list itself is walked only by the full check). Panics like the full check.
    pub fn check_changed(&mut self) {
        let Some(mut d) = self.dirty.take() else {
            return;
        };
        for pfn in self.frames.take_dirty() {
            let f = self.frames.get(pfn);
            self.check_frame(pfn, f);
            if f.is_lent() {
                d.lent.insert(pfn);
            } else {
                d.lent.remove(&pfn);
            }
        }
        assert_eq!(
            d.lent.len() as u64,
            self.counters.lent_pages,
            "lent-page count drifted"
        );
        d.ptes.sort_unstable();
        d.ptes.dedup();
        for (asid, vpn) in d.ptes.drain(..) {
            if let Some(pte) = self.spaces[asid.0 as usize].ptes.get(&vpn) {
                self.check_pte(asid, vpn, pte);
            }
        }
        d.spaces.sort_unstable();
        d.spaces.dedup();
        for asid in d.spaces.drain(..) {
            self.check_space(asid);
        }
        d.cache.sort_unstable();
        d.cache.dedup();
        for key in d.cache.drain(..) {
            if let Some(&pfn) = self.page_cache.get(&key) {
                self.check_cache_entry(key, pfn);
            }
        }
        self.llc.check_counts();
        self.dirty = Some(d);
    }

    /// One frame's invariants (see [`Frame`]).
    fn check_frame(&self, pfn: Pfn, f: &Frame) {
        if f.kind == FrameKind::Free {
            assert!(
                f.mappings.is_empty() && f.kernel_refs == 0 && !f.is_lent(),
                "free {pfn:?} is still referenced: {f:?}"
            );
            return;
        }
        assert!(
            f.refcount() > 0,
            "{pfn:?} leaked: live but unreferenced: {f:?}"
        );
        assert!(
            f.loans + f.wired <= f.kernel_refs,
            "{pfn:?} has more loans/wirings than kernel references: {f:?}"
        );
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

    fn check_cache_entry(&self, (file, index): (FileId, u64), pfn: Pfn) {
        assert_eq!(
            self.frames.get(pfn).kind,
            FrameKind::PageCache { file, index },
            "page cache maps ({file:?}, {index}) to {pfn:?} of another kind"
        );
    }

    /// Panics with a message naming the first broken invariant (see [`Frame`] and
    /// [`AddressSpace`]). O(frames + PTEs); for tests and debug builds.
    pub fn check_invariants(&self) {
        let mut lent = 0;
        for (pfn, f) in self.frames.iter() {
            self.check_frame(pfn, f);
            if f.is_lent() {
                lent += 1;
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
        self.page_cache.check_invariants();
        self.llc.check_invariants();
        for (key, pfn) in self.page_cache.iter() {
            self.check_cache_entry(key, pfn);
        }
        for i in 0..self.spaces.len() {
            self.check_space(AsId(i as u32));
        }
    }

    /// One address space: VMAs disjoint and inside it, mapped bytes summed right, the lookup
    /// cache naming a live VMA, every PTE checked.
    fn check_space(&self, asid: AsId) {
        let s = &self.spaces[asid.0 as usize];
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
            self.check_pte(asid, vpn, pte);
        }
    }

    /// One PTE: inside a VMA, pointing at a live frame whose reverse map lists it.
    fn check_pte(&self, asid: AsId, vpn: u64, pte: &Pte) {
        let s = &self.spaces[asid.0 as usize];
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
        assert!(
            !(f.is_lent() && pte.writable),
            "lent {:?} is mapped writable at ({asid:?}, vpn {vpn:#x})",
            pte.pfn
        );
    }
}
