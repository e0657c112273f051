//! Page-table plumbing: PTE changes and TLB flushes.

use super::*;

impl Vm {
    pub(super) fn pte_mut(&mut self, asid: AsId, vpn: u64) -> &mut Pte {
        self.note_pte(asid, vpn);
        self.spaces[asid.0 as usize]
            .ptes
            .get_mut(&vpn)
            .unwrap_or_else(|| panic!("no PTE for vpn {vpn:#x} in {asid:?}"))
    }

    pub(super) fn map(&mut self, asid: AsId, vpn: u64, pfn: Pfn, writable: bool, cow: bool) {
        self.note_pte(asid, vpn);
        let f = self.frames.get_mut(pfn);
        f.mappings.push((asid, vpn));
        let lent = f.is_lent();
        let old = self.spaces[asid.0 as usize].ptes.insert(
            vpn,
            Pte {
                pfn,
                writable: writable && !lent,
                cow,
                dirty: false,
                lend_protected: lent,
            },
        );
        assert!(old.is_none(), "mapping over a present PTE at vpn {vpn:#x}");
    }

    pub(super) fn unmap(&mut self, asid: AsId, vpn: u64) -> Pfn {
        self.note_pte(asid, vpn);
        let pte = self.spaces[asid.0 as usize]
            .ptes
            .remove(&vpn)
            .expect("unmapping an absent PTE");
        self.frames
            .get_mut(pte.pfn)
            .mappings
            .retain(|&m| m != (asid, vpn));
        pte.pfn
    }

    pub(super) fn tlb_flush_local(&mut self, plan: &mut Plan) {
        self.counters.tlb_flushes += 1;
        plan.cpu(Activity::Tlb, self.config.costs.tlb_flush_ns);
    }

    /// A local flush, and on a multiprocessor a shootdown IPI to every other CPU.
    pub(super) fn tlb_flush(&mut self, plan: &mut Plan) {
        self.tlb_flush_local(plan);
        let remote = u64::from(self.config.cpus.saturating_sub(1));
        if remote > 0 {
            self.counters.tlb_shootdowns += 1;
            plan.cpu(
                Activity::Tlb,
                remote * self.config.costs.tlb_shootdown_per_cpu_ns,
            );
        }
    }
}
