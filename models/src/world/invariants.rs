//! What must hold after every event, and what a run that stopped short was waiting for.

use std::collections::BTreeMap;

use super::{Cont, FULL_VM_CHECK_EVERY, STALL_LIMIT, World};
use crate::net::mbuf::ExtId;

impl World {
    /// Declares the run stalled when no byte has moved for [`STALL_LIMIT`].
    pub(super) fn watch_progress(&mut self) {
        let moved = self
            .last_tx
            .max(self.last_ack)
            .max(self.last_delivery)
            .max(self.last_recv);
        if self.now().duration_since(moved) > STALL_LIMIT {
            let why = format!("nothing moved for {}", self.now().duration_since(moved));
            self.stalled = Some(self.stall_diagnostic(&why));
        }
    }

    /// What everyone is waiting for, in words.
    pub(super) fn stall_diagnostic(&self, why: &str) -> String {
        let mut waits = Vec::new();
        for (i, c) in self.conns.iter().enumerate() {
            let unacked = c.sender.written() - c.sender.una();
            if let Some(app) = c.blocked_writer {
                waits.push(format!(
                    "app {} waits for send-buffer room on conn {i} ({} of {} bytes free)",
                    app.0,
                    c.snd.space(),
                    c.snd.hiwat()
                ));
            }
            if let Some(app) = c.blocked_reader {
                waits.push(format!("app {} waits for data on conn {i}", app.0));
            }
            if c.ring_stalled {
                waits.push(format!(
                    "tcp_output on conn {i} waits for TX descriptors ({} of {} free)",
                    self.nic.free_slots(),
                    self.cfg.nic.tx_ring_slots
                ));
            }
            if unacked > 0 {
                waits.push(format!("conn {i} has {unacked} bytes unacknowledged"));
            }
        }
        if !self.rx_backlog.is_empty() {
            waits.push(format!(
                "{} received frames wait for RX descriptors ({} of {} in use)",
                self.rx_backlog.len(),
                self.rx_slots_used,
                self.cfg.nic.rx_ring_slots
            ));
        }
        if self.exts.live() > 0 {
            waits.push(format!(
                "{} socket-buffer storages are still held",
                self.exts.live()
            ));
        }
        if waits.is_empty() {
            waits.push("no one is blocked, yet storage is left behind".to_owned());
        }
        format!("stalled at {}: {why}; {}", self.now(), waits.join("; "))
    }

    /// Panics naming the first broken invariant: the machine's and the VM's own; per
    /// connection, bytes conserved (the send buffer holds exactly `written − acked`, and
    /// `sent = acked + in flight`); TCP sequence order; every live external storage referenced
    /// exactly as often as the send buffers, receive buffers and packets hold it; TX
    /// descriptors conserved.
    pub fn check_invariants(&self) {
        self.vm.check_invariants();
        self.check_all_but_vm();
    }

    /// What [`World::check_invariants`] checks, with the VM's part incremental (only what
    /// changed since the last event: [`crate::vm::Vm::check_changed`]), so that it can run
    /// after every event of a long run; the VM's full check still runs every
    /// [`FULL_VM_CHECK_EVERY`] events.
    pub(super) fn check_after_event(&mut self) {
        self.vm.check_changed();
        if self.events.is_multiple_of(FULL_VM_CHECK_EVERY) {
            self.vm.check_invariants();
        }
        self.check_all_but_vm();
    }

    /// Every invariant but the VM's: the rest of the state is bounded by what is in flight.
    fn check_all_but_vm(&self) {
        self.machine.check_invariants();
        self.exts.check_invariants();
        self.zc.check_invariants();
        if let Some((_, area)) = &self.rxq.zcrx {
            area.check_invariants();
        }
        if let Some(umem) = self.xsk.as_ref().and_then(|x| x.umem.as_ref()) {
            umem.check_invariants();
        }
        if let Some((_, binding)) = &self.rxq.devmem {
            binding.check_invariants();
        }
        let mut holders: BTreeMap<ExtId, u32> = BTreeMap::new();
        for (i, c) in self.conns.iter().enumerate() {
            c.sender.check_invariants();
            c.snd.check_invariants();
            assert_eq!(
                c.snd.bytes(),
                c.sender.written() - c.sender.una(),
                "conn {i}: send buffer holds {} bytes, but written − acked = {}",
                c.snd.bytes(),
                c.sender.written() - c.sender.una()
            );
            for e in c.snd.exts() {
                *holders.entry(e).or_default() += 1;
            }
            // `output_done` sends the next-due call at once, so it is never held.
            assert!(
                c.held_outputs
                    .keys()
                    .all(|&k| c.output_released < k && k < c.output_tickets),
                "conn {i}: held tcp_output calls {:?} outside ({}, {})",
                c.held_outputs.keys().collect::<Vec<_>>(),
                c.output_released,
                c.output_tickets
            );
            if let Some(r) = &c.rcv {
                for e in r.exts() {
                    *holders.entry(e).or_default() += 1;
                }
            }
        }
        let mut slots = 0;
        self.packets.check_invariants();
        for p in self.packets.values() {
            slots += p.slots;
            for piece in &p.pieces {
                *holders.entry(piece.ext).or_default() += 1;
            }
        }
        for e in self.rx_exts() {
            *holders.entry(e).or_default() += 1;
        }
        // Pieces in flight inside continuations (loopback delivery, app chunks) hold refs too.
        for tq in &self.threads {
            let conts = tq
                .running
                .iter()
                .chain(tq.pending.iter().map(|(_, c, _)| c));
            for c in conts {
                for e in cont_exts(c) {
                    *holders.entry(e).or_default() += 1;
                }
            }
        }
        for (id, e) in self.exts.iter() {
            assert_eq!(
                holders.get(&id).copied().unwrap_or(0),
                e.refs,
                "{id:?} has {} references but {} holders",
                e.refs,
                holders.get(&id).copied().unwrap_or(0)
            );
        }
        self.nic.check_invariants(slots);
        assert!(
            self.rx_slots_used <= self.cfg.nic.rx_ring_slots || self.rx_frames.len() <= 1,
            "{} RX descriptors in use on a ring of {}",
            self.rx_slots_used,
            self.cfg.nic.rx_ring_slots
        );
    }

    /// Whether the run left nothing behind: no storage, loan, wiring or packet.
    pub fn is_clean(&self) -> bool {
        self.apps_done()
            && self
                .conns
                .iter()
                .all(|c| c.blocked_writer.is_none() && c.blocked_reader.is_none())
            && self.exts.live() == 0
            && self.packets.is_empty()
            && self.rx_frames.is_empty()
            && self.rx_backlog.is_empty()
            && self.rx_dma_queue.is_empty()
            && self.vm.counters().lent_pages == 0
    }
}

fn cont_exts(c: &Cont) -> Vec<ExtId> {
    match c {
        Cont::LoopbackDelivered { pieces, .. } | Cont::RxDelivered { pieces, .. } => {
            pieces.iter().map(|p| p.ext).collect()
        }
        Cont::ChunkReady { exts, .. } => exts.iter().map(|e| e.0).collect(),
        _ => Vec::new(),
    }
}
