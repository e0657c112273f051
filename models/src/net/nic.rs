//! The NIC's transmit side: the TX descriptor ring, the DMA engine's queue, the wire's queue
//! and the completions waiting for their interrupt.
//!
//! A packet takes one descriptor per fragment (one after a bounce copy) when `tcp_output`
//! builds it, waits for the DMA engine, which reads it over the memory bus one packet at a
//! time, then for the wire, which serializes one frame at a time. Sent packets wait for a
//! completion interrupt (coalesced), whose handler frees their descriptors when it ends.
//!
//! ## Invariants
//! - Descriptors are conserved: free + held by packets + being reclaimed = ring size
//!   ([`TxNic::check_invariants`], given the packets' count).
//! - The DMA engine and the wire each work on at most one packet, in FIFO order.

use std::collections::VecDeque;

/// A packet in the transmit path, numbered from a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketId(pub u64);

/// Transmit state of the NIC. See the module docs.
#[derive(Debug)]
pub struct TxNic {
    ring_slots: u32,
    free_slots: u32,
    dma_queue: VecDeque<PacketId>,
    dma_active: Option<PacketId>,
    wire_queue: VecDeque<PacketId>,
    wire_active: Option<PacketId>,
    /// Sent, awaiting a completion interrupt.
    completed: Vec<PacketId>,
    /// A completion interrupt is queued or running.
    irq_pending: bool,
    /// Descriptors that interrupt is reclaiming (free again when it ends).
    reclaiming_slots: u32,
    /// When the wire began its current (super-)packet, ns: under TSO each MSS frame of it
    /// leaves at its own time after that.
    wire_started_ns: u64,
}

impl TxNic {
    pub fn new(ring_slots: u32) -> Self {
        TxNic {
            ring_slots,
            free_slots: ring_slots,
            dma_queue: VecDeque::new(),
            dma_active: None,
            wire_queue: VecDeque::new(),
            wire_active: None,
            completed: Vec::new(),
            irq_pending: false,
            reclaiming_slots: 0,
            wire_started_ns: 0,
        }
    }

    pub fn free_slots(&self) -> u32 {
        self.free_slots
    }

    /// Descriptors not free (held by packets or being reclaimed).
    pub fn slots_in_use(&self) -> u32 {
        self.ring_slots - self.free_slots
    }

    /// Takes `n` descriptors for a packet, or says the ring lacks them.
    pub fn take_slots(&mut self, n: u32) -> bool {
        if n > self.free_slots {
            return false;
        }
        self.free_slots -= n;
        true
    }

    /// Packets whose descriptors are filled wait for the DMA engine.
    pub fn queue_dma(&mut self, packets: impl IntoIterator<Item = PacketId>) {
        self.dma_queue.extend(packets);
    }

    /// The next packet for an idle DMA engine, which is now busy with it.
    pub fn start_dma(&mut self) -> Option<PacketId> {
        if self.dma_active.is_some() {
            return None;
        }
        let id = self.dma_queue.pop_front()?;
        self.dma_active = Some(id);
        Some(id)
    }

    /// The DMA engine finished `id`; it waits for the wire.
    pub fn finish_dma(&mut self, id: PacketId) {
        assert_eq!(self.dma_active, Some(id), "DMA completion out of order");
        self.dma_active = None;
        self.wire_queue.push_back(id);
    }

    /// The next frame for an idle wire, which is now busy with it.
    pub fn start_wire(&mut self) -> Option<PacketId> {
        if self.wire_active.is_some() {
            return None;
        }
        let id = self.wire_queue.pop_front()?;
        self.wire_active = Some(id);
        Some(id)
    }

    /// Records when the wire began the packet [`TxNic::start_wire`] returned.
    pub fn wire_started_at(&mut self, now_ns: u64) {
        self.wire_started_ns = now_ns;
    }

    /// When the wire began its current packet, ns.
    pub fn wire_started_ns(&self) -> u64 {
        self.wire_started_ns
    }

    /// The wire finished its frame; the packet awaits its completion interrupt.
    pub fn finish_wire(&mut self) -> PacketId {
        let id = self.wire_active.take().expect("wire was busy");
        self.completed.push(id);
        id
    }

    /// Whether the wire is serializing a frame.
    pub fn wire_busy(&self) -> bool {
        self.wire_active.is_some() || !self.wire_queue.is_empty()
    }

    /// Whether the DMA engine has a packet in hand or queued.
    pub fn dma_busy(&self) -> bool {
        self.dma_active.is_some() || !self.dma_queue.is_empty()
    }

    /// Whether the completions waiting should raise the interrupt now: `coalesce` of them
    /// wait, or the NIC has gone idle.
    pub fn interrupt_due(&self, coalesce: u32) -> bool {
        let idle = self.wire_active.is_none() && self.dma_active.is_none();
        self.completed.len() >= coalesce.max(1) as usize || idle
    }

    /// Starts a completion interrupt for what is waiting, unless one is running (its next
    /// pass takes these) or nothing is: moves the completed packets into `into` (empty, its
    /// capacity reused) and returns whether it did.
    pub fn begin_reclaim(&mut self, into: &mut Vec<PacketId>) -> bool {
        assert!(into.is_empty(), "reclaiming into a non-empty list");
        if self.irq_pending || self.completed.is_empty() {
            return false;
        }
        self.irq_pending = true;
        std::mem::swap(&mut self.completed, into);
        true
    }

    /// The interrupt begun by [`TxNic::begin_reclaim`] frees `slots` descriptors when it ends.
    pub fn reclaiming(&mut self, slots: u32) {
        self.reclaiming_slots += slots;
    }

    /// The interrupt ended: its descriptors are free. Returns whether completions arrived
    /// meanwhile (another pass is due).
    pub fn reclaimed(&mut self, slots: u32) -> bool {
        self.free_slots += slots;
        self.reclaiming_slots -= slots;
        self.irq_pending = false;
        !self.completed.is_empty()
    }

    /// Tests only: one descriptor appears from nowhere.
    #[doc(hidden)]
    pub fn corrupt(&mut self) {
        self.free_slots += 1;
    }

    /// Panics unless descriptors are conserved, given `held` by live packets.
    pub fn check_invariants(&self, held: u32) {
        assert_eq!(
            held + self.free_slots + self.reclaiming_slots,
            self.ring_slots,
            "TX descriptors not conserved"
        );
    }
}
