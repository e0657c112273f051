//! Lending user pages to the kernel: NetBSD page loaning and FreeBSD COW wiring.

use super::*;

impl Vm {
    /// Lends the pages of `[addr, addr + len)` to the kernel: NetBSD `uvm_loan` (kind
    /// [`LendKind::Loan`]) or FreeBSD `socow_setup` ([`LendKind::CowWire`]). One `find_vma`,
    /// then for each page: fault it in if absent, take a kernel reference and a loan or
    /// wiring, and write-protect every mapping of it (in every address space). Cost:
    /// `loan_per_page_ns` per page, `pte_update_ns` per mapping protected, and one TLB flush
    /// (with a shootdown to every other CPU on a multiprocessor) if anything was protected.
    /// Appends each page and its content version to `out`.
    pub fn lend(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        kind: LendKind,
        plan: &mut Plan,
        out: &mut Vec<LentPage>,
    ) -> Result<(), AccessError> {
        if self.find_vma(asid, addr, plan).is_none() {
            return Err(AccessError::Unmapped { addr });
        }
        self.lend_mapped(asid, addr, len, kind, plan, out)
    }

    /// FreeBSD 2002 `socow_setup` for the one page at `addr`: no map lookup (`pmap_extract`
    /// on the user's pmap), an `sf_buf` mapped with `pmap_qenter` (one PTE write), then
    /// `vm_page_cowsetup` (write-protect every mapping, flush) and `vm_page_wire`, as in
    /// [`Vm::lend`] without its `find_vma`.
    pub fn cow_wire_page(
        &mut self,
        asid: AsId,
        addr: u64,
        plan: &mut Plan,
        out: &mut Vec<LentPage>,
    ) -> Result<(), AccessError> {
        plan.cpu(Activity::Loan, self.config.costs.pte_update_ns);
        self.lend_mapped(asid, addr, PAGE_SIZE, LendKind::CowWire, plan, out)
    }

    /// [`Vm::lend`] after its lookup: each page lent and write-protected.
    fn lend_mapped(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        kind: LendKind,
        plan: &mut Plan,
        out: &mut Vec<LentPage>,
    ) -> Result<(), AccessError> {
        let c = self.config.costs;
        let mut protected = 0u64;
        for page in pages_of(addr, len) {
            let (pfn, _) = self.touch(asid, page * PAGE_SIZE, Access::Read, plan)?;
            let f = self.frames.get_mut(pfn);
            let was_lent = f.is_lent();
            f.kernel_refs += 1;
            match kind {
                LendKind::Loan => {
                    f.loans += 1;
                    self.counters.pages_loaned += 1;
                }
                LendKind::CowWire => {
                    f.wired += 1;
                    self.counters.pages_wired += 1;
                }
            }
            let version = f.version;
            let mappings = f.mappings.clone();
            if !was_lent {
                self.counters.lent_pages += 1;
                self.counters.peak_wired_pages =
                    self.counters.peak_wired_pages.max(self.counters.lent_pages);
            }
            for (a, v) in mappings {
                let pte = self.pte_mut(a, v);
                if pte.writable || !pte.lend_protected {
                    protected += u64::from(pte.writable);
                    pte.writable = false;
                    pte.lend_protected = true;
                }
            }
            plan.cpu(Activity::Loan, c.loan_per_page_ns);
            out.push(LentPage { pfn, version });
        }
        plan.cpu(Activity::Loan, protected * c.pte_update_ns);
        if protected > 0 {
            self.tlb_flush(plan);
        }
        Ok(())
    }

    /// Ends one loan or wiring of `pfn` (NetBSD `uvm_unloan`, FreeBSD `socow_iodone` →
    /// `vm_page_unwire`), dropping its kernel reference and freeing the frame if that was the
    /// last reference (the user had broken the loan). Mappings stay write-protected: the next
    /// user write takes the cheap write-enable fault. Cost: `unloan_per_page_ns`.
    pub fn end_lend(&mut self, pfn: Pfn, kind: LendKind, plan: &mut Plan) {
        let f = self.frames.get_mut(pfn);
        match kind {
            LendKind::Loan => {
                assert!(f.loans > 0, "unloan of {pfn:?} that is not loaned");
                f.loans -= 1;
            }
            LendKind::CowWire => {
                assert!(f.wired > 0, "unwire of {pfn:?} that is not wired");
                f.wired -= 1;
            }
        }
        f.kernel_refs -= 1;
        if !f.is_lent() {
            self.counters.lent_pages -= 1;
        }
        plan.cpu(Activity::Loan, self.config.costs.unloan_per_page_ns);
        self.frames.free_if_unreferenced(pfn);
    }
}
