//! Page faults: minor and major faults, COW faults, loan breaks and the cheap write-enable
//! fault after a loan.

use super::*;

impl Vm {
    /// The MMU's view of one user access to the page holding `addr`: nothing if the PTE
    /// allows it, else the fault handler (`uvm_fault`, `handle_mm_fault`), which does a
    /// `find_vma` and one of:
    /// - **minor**: PTE missing, page in the cache (or anonymous zero-fill, which adds a page
    ///   allocation and zeroing 4 KiB over the bus): `trap + minor_fault + pte_update`;
    /// - **major**: PTE missing, page not cached: `trap + major_fault + page_alloc`, a disk read
    ///   of 4 KiB, `pte_update`;
    /// - **COW** (write to a COW page others use, or to a lent page): `trap + cow_fault +
    ///   page_alloc`, a 4 KiB copy, `pte_update + tlb_flush`; for a loan, NetBSD
    ///   `uvm_loanbreak`: the writer gets the copy, the kernel keeps the original;
    /// - **write-enable**: write to a page whose loan ended: `trap + pte_update + tlb_flush`,
    ///   no copy.
    ///
    /// A write through a private file mapping of an absent page does the read fault first and
    /// then the COW. A read fault on a file mapping also maps the cached neighbours of the
    /// page ([`Vm::fault_around`]). Returns the frame now mapped, and what faulted.
    pub fn touch(
        &mut self,
        asid: AsId,
        addr: u64,
        access: Access,
        plan: &mut Plan,
    ) -> Result<(Pfn, Option<FaultKind>), AccessError> {
        let vpn = addr / PAGE_SIZE;
        let space = &self.spaces[asid.0 as usize];
        if let Some(pte) = space.ptes.get(&vpn)
            && (access == Access::Read || pte.writable)
        {
            return Ok((pte.pfn, None));
        }
        let c = self.config.costs;
        plan.cpu(Activity::Fault, c.trap_ns);
        let Some(vma) = self.find_vma(asid, addr, plan) else {
            return Err(AccessError::Unmapped { addr });
        };
        if access == Access::Write && !vma.writable {
            return Err(AccessError::ReadOnly { addr });
        }
        let present = self.spaces[asid.0 as usize].ptes.get(&vpn).copied();
        let (pfn, kind) = match present {
            None => {
                let (pfn, kind) = self.fault_in(asid, vpn, &vma, plan);
                let pte = *self.pte_mut(asid, vpn);
                if access == Access::Read {
                    self.fault_around(asid, vpn, &vma, plan);
                    (pfn, kind)
                } else if pte.cow || self.frames.get(pfn).is_lent() {
                    // A private file page or a lent page: the write copies it.
                    self.write_fault(asid, vpn, pte, &vma, plan)
                } else {
                    self.pte_mut(asid, vpn).writable = true;
                    (pfn, kind)
                }
            }
            Some(pte) => self.write_fault(asid, vpn, pte, &vma, plan),
        };
        if access == Access::Write {
            self.pte_mut(asid, vpn).dirty = true;
        }
        Ok((pfn, Some(kind)))
    }

    /// Installs a PTE for an absent page: minor (cached or zero-fill) or major.
    pub(super) fn fault_in(
        &mut self,
        asid: AsId,
        vpn: u64,
        vma: &Vma,
        plan: &mut Plan,
    ) -> (Pfn, FaultKind) {
        let c = self.config.costs;
        let addr = vpn * PAGE_SIZE;
        let (pfn, kind) = match vma.file_page(addr) {
            None => {
                plan.cpu(Activity::Fault, c.minor_fault_ns);
                let v = self.fresh_version();
                let pfn = self.alloc(FrameKind::Anon, v, plan);
                plan.push(Step::Zero { bytes: PAGE_SIZE });
                // clear_page's stores leave the page in the cache.
                self.llc.touch(Line::Frame(pfn));
                self.counters.minor_faults += 1;
                (pfn, FaultKind::Minor)
            }
            Some((file, index)) => match self.lookup(file, index) {
                Some(pfn) => {
                    plan.cpu(Activity::Fault, c.minor_fault_ns);
                    self.counters.minor_faults += 1;
                    (pfn, FaultKind::Minor)
                }
                None => {
                    plan.cpu(Activity::Fault, c.major_fault_ns);
                    self.counters.major_faults += 1;
                    (self.read_into_cache(file, index, plan), FaultKind::Major)
                }
            },
        };
        plan.cpu(Activity::Fault, c.pte_update_ns);
        self.map(
            asid,
            vpn,
            pfn,
            false,
            !vma.shared && vma.backing != Backing::Anon,
        );
        (pfn, kind)
    }

    /// Pages one fault-around window holds: `fault_around_bytes` rounded down to a power of
    /// two pages, at least one (Linux `fault_around_bytes_set`).
    pub fn fault_around_pages(&self) -> u64 {
        let pages = (self.config.fault_around_bytes / PAGE_SIZE).max(1);
        1 << pages.ilog2()
    }

    /// Linux `do_read_fault` → `do_fault_around` → `filemap_map_pages` (mm/memory.c and
    /// mm/filemap.c, Linux 6.6), after the faulting page `vpn` of the file mapping `vma` is
    /// in: the window of `n` = [`Vm::fault_around_pages`] pages starts at `vpn`'s page-table
    /// index rounded down to `n` (but not before the VMA), and ends `n` pages on, at the
    /// VMA's end or at the end of the page table (512 entries), whichever is first. Every page
    /// of it that is cached and not mapped yet gets a PTE (`pte_update_ns` each); uncached
    /// pages are left to their own fault. No more fault is counted: the whole window is one
    /// fault. Nothing for anonymous memory or `n` = 1.
    fn fault_around(&mut self, asid: AsId, vpn: u64, vma: &Vma, plan: &mut Plan) {
        const PTRS_PER_PTE: u64 = 512;
        let n = self.fault_around_pages();
        if n <= 1 || vma.backing == Backing::Anon {
            return;
        }
        let pte_off = vpn % PTRS_PER_PTE;
        let vma_off = vpn - vma.start / PAGE_SIZE;
        let vma_pages = vma.len_bytes() / PAGE_SIZE;
        let from = (pte_off / n * n).max(pte_off - pte_off.min(vma_off));
        let to = (from + n)
            .min(PTRS_PER_PTE)
            .min(pte_off + vma_pages - vma_off);
        let base = vpn - pte_off;
        let cow = !vma.shared;
        let mut mapped = 0;
        for v in base + from..base + to {
            if self.spaces[asid.0 as usize].ptes.contains_key(&v) {
                continue;
            }
            let (file, index) = vma.file_page(v * PAGE_SIZE).expect("a file mapping");
            // filemap_map_pages maps only pages already up to date in the cache.
            let Some(pfn) = self.lookup(file, index) else {
                continue;
            };
            self.map(asid, v, pfn, false, cow);
            mapped += 1;
        }
        self.counters.fault_around_pages += mapped;
        plan.cpu(Activity::Fault, mapped * self.config.costs.pte_update_ns);
    }

    /// A write to a present, write-protected PTE.
    pub(super) fn write_fault(
        &mut self,
        asid: AsId,
        vpn: u64,
        pte: Pte,
        vma: &Vma,
        plan: &mut Plan,
    ) -> (Pfn, FaultKind) {
        let c = self.config.costs;
        let f = self.frames.get(pte.pfn);
        if f.is_lent() {
            let loaned = f.loans > 0;
            let new = self.cow_copy(asid, vpn, pte.pfn, vma.shared, plan);
            if loaned {
                self.counters.loan_breaks += 1;
                return (new, FaultKind::LoanBreak);
            }
            self.counters.cow_faults += 1;
            return (new, FaultKind::Cow);
        }
        let sole_anon_user = f.refcount() == 1 && f.kind == FrameKind::Anon;
        if pte.cow && !sole_anon_user {
            let new = self.cow_copy(asid, vpn, pte.pfn, false, plan);
            self.counters.cow_faults += 1;
            return (new, FaultKind::Cow);
        }
        // The loan or wiring ended, or a COW page nobody else uses: just allow the write.
        plan.cpu(Activity::Fault, c.pte_update_ns);
        let p = self.pte_mut(asid, vpn);
        p.writable = true;
        p.cow = false;
        p.lend_protected = false;
        self.tlb_flush_local(plan);
        if pte.cow {
            self.counters.minor_faults += 1;
            (pte.pfn, FaultKind::Minor)
        } else {
            self.counters.write_enable_faults += 1;
            (pte.pfn, FaultKind::WriteEnable)
        }
    }

    /// Gives the writer (and, for a shared mapping, the object and every other shared mapping)
    /// a copy of `old`; the kernel and any private sharers keep `old`.
    pub(super) fn cow_copy(
        &mut self,
        asid: AsId,
        vpn: u64,
        old: Pfn,
        shared: bool,
        plan: &mut Plan,
    ) -> Pfn {
        let c = self.config.costs;
        plan.cpu(Activity::Fault, c.cow_fault_ns);
        let old_frame = self.frames.get(old).clone();
        // A shared mapping of a cache page moves the object itself to the copy.
        let moves_object = shared && matches!(old_frame.kind, FrameKind::PageCache { .. });
        let kind = if moves_object {
            old_frame.kind
        } else {
            FrameKind::Anon
        };
        let new = self.alloc(kind, old_frame.version, plan);
        self.copy_page(old, new, plan);
        plan.cpu(Activity::Fault, c.pte_update_ns);
        let movers: Vec<(AsId, u64)> = if moves_object {
            let FrameKind::PageCache { file, index } = old_frame.kind else {
                unreachable!()
            };
            self.note_cache((file, index));
            self.page_cache.insert((file, index), new);
            let o = self.frames.get_mut(old);
            o.kind = FrameKind::Kernel;
            o.kernel_refs -= 1;
            self.frames.get_mut(new).kernel_refs = 1;
            // Every mapping of the object through a shared VMA follows it.
            old_frame
                .mappings
                .iter()
                .copied()
                .filter(|&(a, v)| {
                    self.spaces[a.0 as usize]
                        .vma_at(v * PAGE_SIZE)
                        .is_some_and(|m| m.shared)
                })
                .collect()
        } else {
            vec![(asid, vpn)]
        };
        for (a, v) in movers {
            let writer = (a, v) == (asid, vpn);
            self.unmap(a, v);
            self.map(a, v, new, writer, false);
            if !writer {
                self.pte_mut(a, v).lend_protected = true;
            }
        }
        self.frames.free_if_unreferenced(old);
        self.tlb_flush_local(plan);
        new
    }
}
