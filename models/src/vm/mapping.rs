//! Address spaces: `mmap`, `munmap`, `find_vma` (with its lookup cache and tree depth) and
//! `fork`.

use super::*;

impl Vm {
    /// A new, empty address space of the configured size.
    pub fn new_address_space(&mut self) -> AsId {
        let id = AsId(u32::try_from(self.spaces.len()).expect("over 2^32 address spaces"));
        self.spaces
            .push(AddressSpace::new(self.config.user_space_bytes));
        id
    }

    /// Maps `len` bytes (rounded up to pages) at the lowest hole, or at `at` if given
    /// (`MAP_FIXED` without replacement). Pages are not populated: the first touch faults.
    /// Models `mmap(2)` (`uvm_mmap`, `do_mmap_pgoff`): a VMA is allocated and inserted.
    /// Cost: `mmap_ns + pages × mmap_per_page_ns`, whether or not it succeeds in placing it;
    /// a failure is an outcome, counted in `mmap_failures`, and leaves nothing behind.
    pub fn mmap(
        &mut self,
        asid: AsId,
        req: MmapRequest,
        plan: &mut Plan,
    ) -> Result<u64, MmapError> {
        let MmapRequest {
            len_bytes,
            backing,
            writable,
            shared,
            at,
        } = req;
        let len = len_bytes.div_ceil(PAGE_SIZE).max(1) * PAGE_SIZE;
        let c = &self.config.costs;
        plan.cpu(
            Activity::MapUnmap,
            c.mmap_ns + (len / PAGE_SIZE) * c.mmap_per_page_ns,
        );
        let space = &mut self.spaces[asid.0 as usize];
        let start = match at {
            Some(addr) if addr % PAGE_SIZE == 0 && space.is_free(addr, len) => addr,
            Some(addr) => {
                self.counters.mmap_failures += 1;
                return Err(MmapError::Overlap { addr });
            }
            None => match space.find_hole(len) {
                Some(a) => a,
                None => {
                    self.counters.mmap_failures += 1;
                    return Err(MmapError::NoSpace {
                        len_bytes: len,
                        mapped_bytes: space.mapped_bytes,
                    });
                }
            },
        };
        let id = VmaId(self.next_vma);
        self.next_vma += 1;
        space.vmas.insert(
            start,
            Vma {
                id,
                start,
                end: start + len,
                backing,
                writable,
                shared,
            },
        );
        space.mapped_bytes += len;
        self.counters.mmaps += 1;
        self.note_space(asid);
        Ok(start)
    }

    /// Unmaps the VMA that starts at `addr` (whole VMAs only). Models `munmap(2)`
    /// (`uvm_unmap`, `do_munmap`): every present PTE is torn down, anonymous frames no one
    /// else uses are freed, page-cache frames stay cached, and the TLB is flushed (shot down
    /// on every other CPU of a multiprocessor). Cost: `munmap_ns + present × munmap_per_page_ns`
    /// plus the flush. Panics if no VMA starts at `addr` (a model bug).
    pub fn munmap(&mut self, asid: AsId, addr: u64, plan: &mut Plan) {
        let space = &mut self.spaces[asid.0 as usize];
        let vma = space
            .vmas
            .remove(&addr)
            .unwrap_or_else(|| panic!("munmap: no VMA starts at {addr:#x} in {asid:?}"));
        space.mapped_bytes -= vma.len_bytes();
        if let Some(d) = &mut self.dirty {
            d.spaces.push(asid);
        }
        if space.lookup_cache == Some(addr) {
            space.lookup_cache = None;
        }
        let vpns: Vec<u64> = space
            .ptes
            .range(vma.start / PAGE_SIZE..vma.end / PAGE_SIZE)
            .map(|(&v, _)| v)
            .collect();
        for &vpn in &vpns {
            let pte = space.ptes.remove(&vpn).expect("listed above");
            let f = self.frames.get_mut(pte.pfn);
            f.mappings.retain(|&m| m != (asid, vpn));
            self.frames.free_if_unreferenced(pte.pfn);
        }
        let c = &self.config.costs;
        plan.cpu(
            Activity::MapUnmap,
            c.munmap_ns + vpns.len() as u64 * c.munmap_per_page_ns,
        );
        self.counters.munmaps += 1;
        self.tlb_flush(plan);
    }

    /// `find_vma` (NetBSD `uvm_map_lookup_entry`, Linux `find_vma`): the VMA containing
    /// `addr`. Counted. Cost: `vma_cache_hit_ns` if the one-entry cache holds it, else
    /// `vma_per_level_ns × depth`, with depth = ⌊log₂ n⌋ + 1 for n VMAs (a balanced tree);
    /// the result is then cached.
    pub fn find_vma(&mut self, asid: AsId, addr: u64, plan: &mut Plan) -> Option<Vma> {
        self.counters.vma_lookups += 1;
        let c = &self.config.costs;
        let space = &mut self.spaces[asid.0 as usize];
        if let Some(cached) = space.lookup_cache.and_then(|s| space.vmas.get(&s))
            && cached.contains(addr)
        {
            self.counters.vma_cache_hits += 1;
            plan.cpu(Activity::VmaLookup, c.vma_cache_hit_ns);
            return Some(*cached);
        }
        plan.cpu(
            Activity::VmaLookup,
            c.vma_per_level_ns * tree_depth(space.vmas.len()),
        );
        let found = space.vma_at(addr).copied();
        if let Some(v) = found {
            space.lookup_cache = Some(v.start);
        }
        found
    }

    /// `fork(2)`'s memory half: a new address space with the same VMAs. Shared VMAs map the
    /// same frames; private ones map them too, but write-protected and copy-on-write in both
    /// parent and child (`uvm_fork`, `copy_page_range`). Cost: one PTE update per present
    /// page and a TLB flush of the parent. Returns the child.
    pub fn fork(&mut self, parent: AsId, plan: &mut Plan) -> AsId {
        let child = self.new_address_space();
        let p = &self.spaces[parent.0 as usize];
        let vmas = p.vmas.clone();
        let mapped = p.mapped_bytes;
        let mut ptes: Vec<(u64, Pte)> = p.ptes.iter().map(|(&v, &e)| (v, e)).collect();
        for (vpn, pte) in &mut ptes {
            let vma = *p.vma_at(*vpn * PAGE_SIZE).expect("PTE inside a VMA");
            if !vma.shared {
                pte.cow = true;
                pte.writable = false;
            }
            self.frames.get_mut(pte.pfn).mappings.push((child, *vpn));
        }
        plan.cpu(
            Activity::Fault,
            ptes.len() as u64 * self.config.costs.pte_update_ns,
        );
        let parent_space = &mut self.spaces[parent.0 as usize];
        for (vpn, pte) in &ptes {
            parent_space.ptes.insert(*vpn, *pte);
        }
        let c = &mut self.spaces[child.0 as usize];
        c.vmas = vmas;
        c.mapped_bytes = mapped;
        c.ptes = ptes.into_iter().collect();
        self.note_space(parent);
        self.note_space(child);
        self.tlb_flush(plan);
        child
    }
}
