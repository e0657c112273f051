//! Data movement between user memory and the kernel: application writes, `copyin`,
//! `copyout`, page flipping on receive, kernel pages filled by devices.

use super::*;

impl Vm {
    /// The application writes `[addr, addr + len)` itself (filling or rewriting its buffer):
    /// each page is touched for write (faulting as needed) and gets a new content version.
    /// Cost: the faults, plus one bus byte per byte written.
    pub fn user_write(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        self.write_pages(asid, addr, len, plan)?;
        self.touch_lines(asid, addr, len);
        plan.push(Step::AppWrite { bytes: len });
        Ok(())
    }

    /// The application reads `[addr, addr + len)` itself and adds it up (LMbench `bread()`):
    /// each page is touched for read (faulting as needed, with fault-around on a file
    /// mapping). Cost: the faults, plus one bus byte per byte read.
    pub fn user_read(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        for page in pages_of(addr, len) {
            self.touch(asid, page * PAGE_SIZE, Access::Read, plan)?;
        }
        self.touch_lines(asid, addr, len);
        plan.push(Step::AppRead { bytes: len });
        Ok(())
    }

    /// The CPU used `[addr, addr + len)`: its frames become the cache's most recent.
    fn touch_lines(&mut self, asid: AsId, addr: u64, len: u64) {
        // No cache (the 2002 presets): skip building the segments on every touch.
        if !self.cache_on() {
            return;
        }
        for (line, _) in self.user_segs(asid, addr, len) {
            if let Some(line) = line {
                self.llc.touch(line);
            }
        }
    }

    /// Touches every page of `[addr, addr + len)` for write and gives each a new version.
    pub(super) fn write_pages(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        for page in pages_of(addr, len) {
            let (pfn, _) = self.touch(asid, page * PAGE_SIZE, Access::Write, plan)?;
            let v = self.fresh_version();
            self.frames.get_mut(pfn).version = v;
        }
        Ok(())
    }

    /// `copyin` (`copyin(9)`, `copy_from_user`): the kernel reads `[addr, addr + len)` of user
    /// memory into the kernel buffer `dst` (`len` bytes of it), faulting absent pages in.
    /// Cost: the faults and a CPU copy of `len` (fused with the checksum if asked), hot where
    /// the cache holds both sides.
    pub fn copyin(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        dst: &[Seg],
        fused_checksum: bool,
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        for page in pages_of(addr, len) {
            self.touch(asid, page * PAGE_SIZE, Access::Read, plan)?;
        }
        let src = self.user_segs(asid, addr, len);
        self.copy(&src, dst, fused_checksum, plan);
        Ok(())
    }

    /// `copyout` (`copyout(9)`, `copy_to_user`) from memory the cache model does not track
    /// (always a miss): see [`Vm::copyout_from`].
    pub fn copyout(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        self.copyout_from(asid, addr, &[(None, len)], plan)
    }

    /// `copyout` (`copyout(9)`, `copy_to_user`): the kernel writes the bytes of `src` (a
    /// page-cache page, a socket buffer's storage) into user memory at `addr`, faulting pages
    /// in for write; each page gets a new version. Cost: the faults and a CPU copy of the
    /// bytes, hot where the cache holds both sides.
    pub fn copyout_from(
        &mut self,
        asid: AsId,
        addr: u64,
        src: &[Seg],
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        let len = src.iter().map(|s| s.1).sum();
        self.write_pages(asid, addr, len, plan)?;
        let dst = self.user_segs(asid, addr, len);
        self.copy(src, &dst, false, plan);
        Ok(())
    }

    /// The content version of the page holding `addr` as the user sees it now (no cost; an
    /// observer's view for integrity checks). `None` if the page is not present.
    pub fn user_version(&self, asid: AsId, addr: u64) -> Option<Version> {
        let pte = self.spaces[asid.0 as usize].ptes.get(&(addr / PAGE_SIZE))?;
        Some(self.frames.get(pte.pfn).version)
    }

    /// FreeBSD `vm_pgmoveco` (`sys/kern/kern_subr.c`, 2002): gives the kernel page `pfn` to
    /// the user at `addr` in place of the page there. `vm_map_lookup` finds the map entry
    /// (a `find_vma`, charged as one); the user's old page is removed from the pmap
    /// (`pmap_remove`: a PTE write and a TLB flush) and freed (`vm_page_free`, charged as a
    /// page allocation); the kernel page is renamed into the user's object (`vm_page_rename`,
    /// likewise) and mapped (a PTE write: the kernel leaves that to the next touch's soft
    /// fault, charged here). `pfn` must hold exactly one kernel reference; it becomes an
    /// anonymous page mapped writable.
    pub fn flip_page_in(
        &mut self,
        asid: AsId,
        addr: u64,
        pfn: Pfn,
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        let vpn = addr / PAGE_SIZE;
        let vma = self
            .find_vma(asid, addr, plan)
            .ok_or(AccessError::Unmapped { addr })?;
        let c = self.config.costs;
        if !vma.writable {
            return Err(AccessError::ReadOnly { addr });
        }
        if self.spaces[asid.0 as usize].ptes.contains_key(&vpn) {
            let old = self.unmap(asid, vpn);
            plan.cpu(Activity::Fault, c.pte_update_ns);
            if self.frames.free_if_unreferenced(old) {
                plan.cpu(Activity::Fault, c.page_alloc_ns);
            }
        }
        let f = self.frames.get_mut(pfn);
        assert_eq!(f.kernel_refs, 1, "flipping {pfn:?} that others reference");
        f.kernel_refs = 0;
        f.kind = FrameKind::Anon;
        self.map(asid, vpn, pfn, true, false);
        plan.cpu(Activity::Fault, c.page_alloc_ns + c.pte_update_ns);
        self.tlb_flush(plan);
        Ok(())
    }

    /// Linux `vm_insert_pages` (`mm/memory.c`, 6.6) as `tcp_zerocopy_receive` calls it: maps
    /// the kernel pages `pfns` read-only at consecutive pages from `addr`, in a VMA that must
    /// not be writable (`tcp_mmap` refuses `VM_WRITE`). Each page gains a mapping (the
    /// `get_page` the insert takes); the caller's kernel reference is its own to drop. Cost:
    /// one PTE write per page, plus one more for the page-table walk and lock the batch takes
    /// once. Panics if a PTE is present (the caller zaps first) or the VMA is writable.
    pub fn insert_pages(
        &mut self,
        asid: AsId,
        addr: u64,
        pfns: &[Pfn],
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        let c = self.config.costs;
        for (i, &pfn) in pfns.iter().enumerate() {
            let a = addr + i as u64 * PAGE_SIZE;
            let vma = *self.spaces[asid.0 as usize]
                .vma_at(a)
                .ok_or(AccessError::Unmapped { addr: a })?;
            assert!(
                !vma.writable,
                "vm_insert_pages into a writable VMA at {a:#x}"
            );
            assert!(
                self.frames.get(pfn).kernel_refs > 0,
                "inserting {pfn:?} that no kernel reference holds"
            );
            self.map(asid, a / PAGE_SIZE, pfn, false, false);
        }
        plan.cpu(Activity::Fault, c.pte_update_ns * (pfns.len() as u64 + 1));
        Ok(())
    }

    /// Linux `zap_page_range_single` (`mm/memory.c`, 6.6): removes every present PTE of
    /// `[addr, addr + len)`, frees the frames nothing else references, and flushes the TLB
    /// once if anything was unmapped. Returns the pages unmapped. Cost: a PTE write per
    /// present page, a page free per freed frame, and the flush.
    pub fn zap_range(&mut self, asid: AsId, addr: u64, len: u64, plan: &mut Plan) -> u64 {
        let c = self.config.costs;
        let vpns: Vec<u64> = self.spaces[asid.0 as usize]
            .ptes
            .range(pages_of(addr, len))
            .map(|(&v, _)| v)
            .collect();
        for &vpn in &vpns {
            let pfn = self.unmap(asid, vpn);
            plan.cpu(Activity::Fault, c.pte_update_ns);
            if self.frames.free_if_unreferenced(pfn) {
                plan.cpu(Activity::Fault, c.page_alloc_ns);
            }
        }
        if !vpns.is_empty() {
            self.tlb_flush(plan);
        }
        vpns.len() as u64
    }

    /// Allocates a kernel page holding one kernel reference (a receive buffer for a
    /// header-splitting NIC). Cost: a page allocation.
    pub fn alloc_kernel_page(&mut self, plan: &mut Plan) -> Pfn {
        let v = self.fresh_version();
        let pfn = self.alloc(FrameKind::Kernel, v, plan);
        self.frames.get_mut(pfn).kernel_refs = 1;
        pfn
    }

    /// Gives `pfn` a fresh content version: a device wrote into it (receive DMA).
    pub fn device_wrote(&mut self, pfn: Pfn) {
        let v = self.fresh_version();
        self.frames.get_mut(pfn).version = v;
        self.llc.invalidate(Line::Frame(pfn));
    }
}
