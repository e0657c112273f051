//! The transmit path: `tcp_output`, packets built from the send buffer's storage, the driver
//! (bounce copies without scatter-gather), the NIC's TX DMA engine, the wire and the TX
//! completion interrupt. The NIC's own state lives in [`crate::net::nic`].

use sim::{ByteRate, SimDuration};

use super::{ConnId, Cont, Event, IRQ, Output, Packet, PacketId, World};
use crate::machine::{Activity, DmaTag, Plan, Step, ThreadId};
use crate::net::mbuf::ExtKind;
use crate::net::sockbuf::Piece;
use crate::net::tcp::{ShortSegments, TcpSender};
use crate::net::{ETHER_HEADER, GSO_MAX_BYTES, LinkKind, SKB_FRAG_PAGE_BYTES, frames_of};

impl World {
    /// Decides `tcp_output` for `conn` now and runs its work on `thread`; its packets reach
    /// the NIC when that work completes.
    pub(super) fn schedule_output(&mut self, conn: ConnId, thread: ThreadId) {
        let mut plan = self.new_plan();
        let out = self.tcp_output(conn, &mut plan);
        if out.packets.is_empty() && plan.is_empty() {
            self.recycle_plan(plan);
            return;
        }
        self.submit(thread, plan, Cont::Output { out });
    }

    /// The peer's window as the sender sees it.
    pub(super) fn send_window(&self, conn: ConnId) -> u64 {
        let c = &self.conns[conn.0 as usize];
        match &c.rcv {
            // Loopback: the local receiver advertises its free space, less what is in flight
            // toward it (which it will have to hold).
            Some(rcv) => self.cfg.tcp.window_bytes.min(rcv.space()),
            None => self.cfg.tcp.window_bytes,
        }
    }

    /// `tcp_output`: builds as many segments as the window, the data and the TX ring allow,
    /// retransmissions first. Charges their CPU work to `plan` and returns the packets.
    pub(super) fn tcp_output(&mut self, conn: ConnId, plan: &mut Plan) -> Output {
        let mss = self.cfg.link.mss();
        let goal = self.tso_goal();
        let window = self.send_window(conn);
        let nodelay = self.cfg.tcp.nodelay;
        let mut packets = self.spare_ids.take();
        loop {
            let c = &mut self.conns[conn.0 as usize];
            let (seq, len, rexmit) = if let Some((s, l)) = c.rexmit_due.pop_first() {
                // What an ACK covered since the retransmission was decided no longer goes.
                let (una, nxt) = (c.sender.una(), c.sender.nxt());
                let end = (s + l).min(nxt);
                if end <= una {
                    continue;
                }
                c.rexmit_due.insert(s.max(una), end - s.max(una));
                (s.max(una), end - s.max(una), true)
            } else if let Some(l) = tso_segment(&c.sender, window, mss, goal, c.short_rule(nodelay))
            {
                let nxt = c.sender.nxt();
                (nxt, self.fit_frags(conn, nxt, l, mss), false)
            } else {
                break;
            };
            match self.build_packet(conn, seq, len, plan) {
                Some(p) => packets.push(p),
                None => {
                    self.net.ring_full_stalls += 1;
                    self.conns[conn.0 as usize].ring_stalled = true;
                    break;
                }
            }
            if self.narrating() {
                let kind = if rexmit { "retransmits" } else { "sends" };
                let short = if len < mss {
                    " (short)".to_owned()
                } else if len > mss {
                    format!(
                        " (a TSO super-packet the NIC cuts into {} frames)",
                        len.div_ceil(mss)
                    )
                } else {
                    String::new()
                };
                self.narrate(format_args!(
                    "tcp_output: conn {} {kind} segment {seq}..{} of {len} bytes{short}",
                    conn.0,
                    seq + len
                ));
            }
            let now = self.queue.now().as_nanos();
            let c = &mut self.conns[conn.0 as usize];
            if rexmit {
                c.rexmit_due.remove(&seq);
                c.sender.retransmitting();
                self.net.retransmits += 1;
            } else {
                c.sender.sent(len, mss, now);
                if c.sender.nxt() == c.sender.written() {
                    c.push = false;
                }
            }
            self.net.segments += 1;
            if self.conns[conn.0 as usize].rexmit_timer.is_none() {
                self.arm_retransmit_timer(conn);
            }
        }
        let c = &mut self.conns[conn.0 as usize];
        let ticket = c.output_tickets;
        if !packets.is_empty() {
            c.output_tickets += 1;
        }
        Output {
            conn,
            ticket,
            packets,
        }
    }

    /// One segment as a packet, or `None` if the TX ring lacks descriptors for it.
    pub(super) fn build_packet(
        &mut self,
        conn: ConnId,
        seq: u64,
        len: u64,
        plan: &mut Plan,
    ) -> Option<PacketId> {
        let stack = self.cfg.stack;
        let loopback = self.cfg.link.kind == LinkKind::Loopback;
        let mut pieces = self.spare_pieces.take();
        let c = &self.conns[conn.0 as usize];
        c.snd.pieces(seq - c.sender.una(), len, &mut pieces);
        let data_frags = self.data_frags(&pieces);
        let frags = 1 + data_frags;
        let nic = self.cfg.nic;
        // A chain with more fragments than the driver takes, or than the whole ring holds,
        // is first copied into one buffer (m_defrag): a ring smaller than a chain must not
        // stop the sender for good.
        let frag_limit = nic.max_frags.min(nic.tx_ring_slots);
        // Linux's tcp_sendmsg builds linear skbs when the device lacks NETIF_F_SG: data it
        // copied in is already one buffer per segment, so the driver sends it as it is.
        let linear = !nic.scatter_gather
            && self.linux_stack()
            && pieces
                .iter()
                .all(|p| matches!(self.exts.get(p.ext).kind, ExtKind::Cluster { .. }));
        let coalesce =
            !loopback && !linear && (!nic.scatter_gather || frags > u64::from(frag_limit));
        let slots = if loopback {
            0
        } else if coalesce || linear {
            1
        } else {
            frags as u32
        };
        if !self.nic.take_slots(slots) {
            self.spare_pieces.give(pieces);
            return None;
        }
        if self.tracing() {
            let used = self.nic.slots_in_use();
            self.trace_counter("TX ring slots in use", f64::from(used));
        }
        // tcp_output's own work, the header mbuf, and an m_copy reference per piece.
        plan.cpu(
            Activity::Protocol,
            stack.tcp_output_per_segment_ns + stack.mbuf_ns * (1 + pieces.len() as u64),
        );
        self.exts.m_copy_internal(0); // the header mbuf
        for p in &pieces {
            self.exts.m_copy_ref(p.ext);
        }
        let fused = pieces.iter().all(|p| {
            matches!(
                self.exts.get(p.ext).kind,
                ExtKind::Cluster { checksummed: true }
            )
        });
        if !loopback && !nic.checksum_offload && !fused {
            plan.push(Step::Checksum { bytes: len });
        }
        let mut checked = false;
        if coalesce {
            // The driver copies the chain into one contiguous buffer (m_defrag): the CPU reads
            // the pages now, so their content is judged now.
            self.check_content(&pieces);
            checked = true;
            plan.copy(len);
            self.net.coalesced_packets += 1;
            self.net.coalesce_copy_bytes += len;
            let bounce = self.exts.attach(ExtKind::Bounce, len, 0);
            for p in &pieces {
                self.unref_ext(p.ext, plan);
            }
            pieces.clear();
            pieces.push(Piece {
                ext: bounce,
                off: 0,
                len,
            });
        }
        if !loopback {
            plan.cpu(
                Activity::Protocol,
                stack.driver_per_frag_ns * u64::from(slots),
            );
        }
        let id = PacketId(self.next_packet);
        self.next_packet += 1;
        self.packets.insert(
            id,
            Packet {
                conn,
                seq,
                len,
                pieces,
                slots,
                checked,
            },
        );
        Some(id)
    }

    /// Compares every page a packet reads with what the send semantics promised.
    pub(super) fn check_content(&mut self, pieces: &[Piece]) {
        let mut splats = Vec::new();
        for p in pieces {
            let ext = self.exts.get(p.ext);
            for (page, bytes) in ext.page_ranges(p.off, p.len) {
                let now = self.vm.frame(page.pfn).version;
                self.zc.nic_read(p.ext, page.pfn, now);
                if now != page.expected {
                    self.net.splats += 1;
                    self.net.corrupt_bytes += bytes;
                    splats.push((page, now, bytes));
                }
            }
        }
        if self.narrating() {
            for (page, now, bytes) in splats {
                let note = self.narrate(format_args!(
                    "SPLAT: {} holds content v{} but the send promised v{}: {bytes} wrong bytes go on the wire",
                    page.pfn, now.0, page.expected.0
                ));
                self.trace_instant("splat", format!("splat on {}", page.pfn).into(), note);
            }
        }
    }

    /// Packets built by a finished `tcp_output` enter the NIC (or reach the loopback peer)
    /// in the order the calls were made: the socket lock serializes `tcp_output`, which hands
    /// each packet to the driver as it builds it, so a later call whose work finished first
    /// (the softnet thread preempting the sender) must not overtake an earlier one.
    pub(super) fn output_done(&mut self, out: Output) {
        if out.packets.is_empty() {
            self.spare_ids.give(out.packets);
            return;
        }
        let c = &mut self.conns[out.conn.0 as usize];
        if out.ticket != c.output_released {
            c.held_outputs.insert(out.ticket, out.packets);
            return;
        }
        // This call is the next due (the usual case): it goes now, then any later ones
        // that finished before it.
        let mut packets = out.packets;
        loop {
            self.conns[out.conn.0 as usize].output_released += 1;
            if self.cfg.link.kind == LinkKind::Loopback {
                self.loopback_deliver(packets);
            } else {
                self.nic.queue_dma(packets.iter().copied());
                self.spare_ids.give(packets);
                self.kick_dma();
            }
            let c = &mut self.conns[out.conn.0 as usize];
            match c.held_outputs.remove(&c.output_released) {
                Some(next) => packets = next,
                None => break,
            }
        }
    }

    pub(super) fn kick_dma(&mut self) {
        let Some(id) = self.nic.start_dma() else {
            return;
        };
        self.tx_dma_started = self.now();
        let p = &self.packets[&id];
        let bytes = ETHER_HEADER + self.cfg.link.header_bytes() + p.len;
        self.machine.start_dma(
            &mut self.queue,
            bytes,
            self.cfg.nic.dma_rate,
            DmaTag::Tx(id.0),
        );
    }

    pub(super) fn dma_done(&mut self, id: PacketId) {
        self.nic.finish_dma(id);
        self.tx_dma_busy_ns += self.now().duration_since(self.tx_dma_started).as_nanos();
        if !self.packets[&id].checked {
            // Borrow the pieces out while checking them against the VM.
            let p = self.packets.get_mut(&id).expect("DMAed packet exists");
            let pieces = std::mem::take(&mut p.pieces);
            self.check_content(&pieces);
            self.packets.get_mut(&id).expect("still there").pieces = pieces;
        }
        self.net.tx_dma_bytes += self.packets[&id].len;
        if self.tracing() {
            let (seq, len, conn) = {
                let p = &self.packets[&id];
                (p.seq, p.len, p.conn)
            };
            let label = format!("segment {seq}..{}", seq + len);
            let note = self.narrate(format_args!(
                "NIC DMA reads {label} of conn {} ({len} B of payload) from memory over the bus",
                conn.0
            ));
            let start = self.tx_dma_started;
            self.trace_span(|l| l.nic_tx, start, "dma", label.into(), note);
            self.trace_dma_flow(conn, seq, len, start);
        }
        self.kick_wire();
        self.kick_dma();
    }

    pub(super) fn link_rate(&self) -> ByteRate {
        match self.cfg.link.kind {
            LinkKind::Ethernet { rate } => rate,
            LinkKind::Loopback => unreachable!("no wire on loopback"),
        }
    }

    pub(super) fn kick_wire(&mut self) {
        let Some(id) = self.nic.start_wire() else {
            return;
        };
        // Under TSO the NIC cuts the super-packet into MSS frames, each with its own headers,
        // preamble and gap: the wire carries exactly what separate segments would.
        let mss = self.cfg.link.mss();
        let bytes: u64 = frames_of(self.packets[&id].len, mss)
            .map(|f| self.cfg.link.wire_bytes(f))
            .sum();
        let serialize = self.link_rate().time_for(bytes);
        self.wire_busy_ns += serialize.as_nanos();
        let now = self.now();
        self.nic.wire_started_at(now.as_nanos());
        if let Some(t) = &mut self.tracer {
            t.wire_started = now;
        }
        let at = self.now() + serialize;
        self.queue.schedule_at(at, Event::WireDone);
    }

    pub(super) fn wire_done(&mut self) {
        let id = self.nic.finish_wire();
        self.last_tx = self.now();
        let (conn, seq, len) = {
            let p = &self.packets[&id];
            (p.conn, p.seq, p.len)
        };
        let half_rtt = SimDuration::from_nanos(self.cfg.link.rtt.as_nanos() / 2);
        let mss = self.cfg.link.mss();
        let rate = self.link_rate();
        let started = self.nic.wire_started_ns();
        // One frame per MSS of the packet (one frame without TSO): each may be lost on its
        // own, and each reaches the peer half an RTT after it left the wire.
        let mut frame_seq = seq;
        let mut wire_so_far = 0;
        let mut lost_any = false;
        for f in frames_of(len, mss) {
            wire_so_far += self.cfg.link.wire_bytes(f);
            self.net.packets += 1;
            let lost = self.cfg.link.loss > 0.0
                && sim::rng::chance(&mut self.loss_rng, self.cfg.link.loss);
            if lost {
                lost_any = true;
                self.net.lost += 1;
                let c = &mut self.conns[conn.0 as usize];
                c.lost_end = c.lost_end.max(frame_seq + f);
            } else {
                let left = sim::SimTime::from_nanos(started) + rate.time_for(wire_so_far);
                self.queue.schedule_at(
                    left.max(self.now()) + half_rtt,
                    Event::SegmentArrive {
                        conn,
                        seq: frame_seq,
                        len: f,
                    },
                );
            }
            frame_seq += f;
        }
        let mut wire_note = 0;
        if self.narrating() {
            let fate = if lost_any {
                "is lost (in part); the sender learns it from duplicate ACKs or its retransmission timer"
                    .to_owned()
            } else {
                "is on its way to the peer".to_owned()
            };
            let frames = len.div_ceil(mss);
            let cut = if frames > 1 {
                format!(", cut by the NIC into {frames} frames (TSO)")
            } else {
                String::new()
            };
            wire_note = self.narrate(format_args!(
                "wire: conn {} segment {seq}..{} ({len} B payload{cut}, {wire_so_far} B of wire time with headers, preamble and gap) {fate}",
                conn.0,
                seq + len
            ));
        }
        if let Some(t) = &self.tracer {
            let start = t.wire_started;
            let kind = if lost_any { "lost" } else { "frame" };
            let label = format!("segment {seq}..{}", seq + len);
            self.trace_span(|l| l.wire, start, kind, label.clone().into(), wire_note);
            if lost_any {
                self.trace_instant("loss", format!("{label} lost").into(), wire_note);
            }
        }
        self.kick_wire();
        if self.nic.interrupt_due(self.cfg.nic.tx_coalesce) {
            self.tx_interrupt();
        }
    }

    /// The TX completion interrupt: reclaims descriptors and frees the packets' mbufs.
    pub(super) fn tx_interrupt(&mut self) {
        // A running handler takes new completions on its next pass.
        let mut done = self.spare_ids.take();
        if !self.nic.begin_reclaim(&mut done) {
            self.spare_ids.give(done);
            return;
        }
        self.net.interrupts += 1;
        let stack = self.cfg.stack;
        let mut plan = self.new_plan();
        plan.cpu(
            Activity::Interrupt,
            stack.interrupt_ns + stack.tx_complete_per_packet_ns * done.len() as u64,
        );
        let mut slots = 0;
        for &id in &done {
            let p = self.packets.remove(&id).expect("completed packet exists");
            slots += p.slots;
            for piece in &p.pieces {
                self.unref_ext(piece.ext, &mut plan);
            }
            self.spare_pieces.give(p.pieces);
        }
        self.spare_ids.give(done);
        self.nic.reclaiming(slots);
        self.submit(IRQ, plan, Cont::TxReclaimed { slots });
    }
}

impl World {
    /// The most payload one segment `tcp_output` builds may carry: a whole super-packet under
    /// TSO on a wire, one MSS otherwise.
    fn tso_goal(&self) -> u64 {
        let mss = self.cfg.link.mss();
        if self.cfg.nic.tso && self.cfg.link.kind != LinkKind::Loopback {
            (GSO_MAX_BYTES / mss).max(1) * mss
        } else {
            mss
        }
    }

    /// A super-packet shortened, whole MSS at a time, until its fragments fit the driver's
    /// limit (Linux never builds a TSO skb past `MAX_SKB_FRAGS`); a one-MSS segment is left
    /// as it is (the driver coalesces it if it must).
    fn fit_frags(&mut self, conn: ConnId, seq: u64, len: u64, mss: u64) -> u64 {
        let limit = u64::from(self.cfg.nic.max_frags.min(self.cfg.nic.tx_ring_slots));
        let mut pieces = self.spare_pieces.take();
        let c = &self.conns[conn.0 as usize];
        let mut len = len;
        while len > mss {
            pieces.clear();
            c.snd.pieces(seq - c.sender.una(), len, &mut pieces);
            // One descriptor for the headers, one per payload fragment.
            if self.data_frags(&pieces) < limit {
                break;
            }
            len = (len - 1) / mss * mss;
        }
        self.spare_pieces.give(pieces);
        len
    }

    /// DMA descriptors the payload `pieces` need: one per physically contiguous piece.
    /// Under TSO (a modern Linux stack), data `tcp_sendmsg` copied sits in 32 KiB page
    /// frags, not 2 KiB clusters: a run of copied pieces takes one descriptor per frag page.
    fn data_frags(&self, pieces: &[Piece]) -> u64 {
        if !self.cfg.nic.tso {
            return pieces
                .iter()
                .map(|p| self.exts.get(p.ext).pieces(p.off, p.len))
                .sum();
        }
        let mut frags = 0;
        let mut run = 0;
        for p in pieces {
            let e = self.exts.get(p.ext);
            if matches!(e.kind, ExtKind::Cluster { .. }) {
                run += p.len;
            } else {
                frags += run.div_ceil(SKB_FRAG_PAGE_BYTES) + e.pieces(p.off, p.len);
                run = 0;
            }
        }
        frags + run.div_ceil(SKB_FRAG_PAGE_BYTES)
    }
}

/// The next new segment's length: what [`TcpSender::next_segment`] allows, grown under TSO
/// (`goal` > `mss`) to as many whole MSS as the data and the window allow, up to `goal`
/// (Linux `tcp_write_xmit` with `tcp_tso_autosize` at its 64 KiB cap and
/// `tcp_mss_split_point`). A short tail rides along only when the short-segment rule would
/// let it leave now (Nagle: [`TcpSender::nagle_allows_short`] before this super-packet). Simplified: no
/// `tcp_tso_should_defer`, so an ACK-clocked sender sends what each ACK opened at once.
fn tso_segment(
    sender: &TcpSender,
    window: u64,
    mss: u64,
    goal: u64,
    rule: ShortSegments,
) -> Option<u64> {
    let first = sender.next_segment(window, mss, rule)?;
    if goal <= mss || first < mss {
        return Some(first);
    }
    let usable = sender
        .usable_window(window)
        .saturating_sub(sender.in_flight());
    let pending = sender.written() - sender.nxt();
    let len = pending.min(usable).min(goal);
    let tail_ok = len == pending
        && match rule {
            ShortSegments::Always => true,
            ShortSegments::Nagle => sender.nagle_allows_short(),
            ShortSegments::Never => false,
        };
    Some(if tail_ok { len } else { len / mss * mss })
}
