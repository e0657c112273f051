//! The receive path: an ideal remote sender, the NIC's receive DMA into posted buffers, the
//! receive interrupt and `tcp_input`, and the window the receiver advertises.
//!
//! The remote peer sends as fast as the link and our advertised window allow (the window is
//! the receive buffer's free space less what is already in flight toward us). Each frame
//! lands in a posted receive buffer: without header splitting, one contiguous kernel buffer
//! holding the payload; with it, the payload lands page-aligned in fresh kernel pages, one
//! storage per page, which is what makes FreeBSD's page flip possible. The NIC DMAs the payload
//! over the bus (one frame at a time, capped at its DMA rate), then the receive interrupt and
//! `tcp_input` run on the softnet thread, with a checksum pass unless the NIC verified it, and
//! the driver replenishes the ring. A frame holds its descriptors (`rx_ring_slots` of them are
//! posted; one per page with header splitting, else one) until that handler has refilled
//! them; a frame that finds too few waits in the NIC, as 802.3x flow control holds the link,
//! so incoming data is never lost in this model.
//!
//! ## Receive coalescing, page pools and zero-copy areas
//! With `gro` (Linux NAPI and `napi_gro_receive`), a frame that lands while the softnet
//! thread's poll is still running raises no interrupt and is merged into the skb being built,
//! up to [`GRO_MAX_BYTES`]; `tcp_input` runs once per merged skb, charged with its first
//! frame (the frames join the socket as each lands: the total work is right, the order of the
//! later frames slightly early). With `page_pool`, refilling a descriptor is a
//! recycled page (one mbuf operation) rather than a page allocation. A connection bound to
//! an io_uring zero-copy receive area ([`crate::strategy::ZcrxArea`]) takes its payload
//! pages from that area while it has free chunks, and ordinary kernel pages once it runs
//! out (copied later by `io_zcrx_copy_chunk`).
//!
//! ## Device memory (devmem TCP)
//! A connection bound to a devmem TCP dmabuf ([`crate::strategy::DevmemBinding`]) lands each
//! frame's payload in the binding's `net_iov`s, in the peer device's memory, and only its
//! headers in host memory: the NIC's DMA is split ([`crate::machine::Machine::start_split_dma`])
//! and the payload part never crosses the memory bus. A frame that finds too few free
//! `net_iov`s waits in the NIC, like one that finds too few descriptors, counted apart
//! ([`crate::strategy::DevmemBinding::waits`]), until a reader's `SO_DEVMEM_DONTNEED` has
//! returned some ([`World::rx_buffers_returned`]).

use sim::SimDuration;

use super::{ConnId, Cont, Event, SOFTNET, World};
use crate::machine::{Activity, Step};
use crate::net::mbuf::{ExtId, ExtKind, PagePromise};
use crate::net::sockbuf::{Piece, RecvBuffer};
use crate::net::tcp::{AckDecision, ShortSegments, TcpSender};
use crate::net::{ETHER_HEADER, GRO_MAX_BYTES, LinkKind};
use crate::vm::PAGE_SIZE;

/// The remote end of an incoming connection.
#[derive(Debug)]
pub(super) struct Remote {
    pub(super) tcp: TcpSender,
    /// Payload per segment the remote sends (at most the MSS).
    pub(super) segment_bytes: u64,
}

/// The receive queue's state besides its ring: the skb GRO is building and the io_uring
/// zero-copy area bound to it (by flow steering), if any.
#[derive(Debug, Default)]
pub(super) struct RxQueue {
    /// The connection and payload bytes of the skb GRO is building.
    gro_conn: Option<ConnId>,
    gro_bytes: u64,
    /// The connection whose frames the area receives, and the area.
    pub(super) zcrx: Option<(ConnId, crate::strategy::ZcrxArea)>,
    /// The connection whose payload the devmem TCP dmabuf receives, and the binding.
    pub(super) devmem: Option<(ConnId, crate::strategy::DevmemBinding)>,
}

/// A frame in the receive path, before `tcp_input` has seen it.
#[derive(Debug, Clone)]
pub(super) struct RxFrame {
    conn: ConnId,
    seq: u64,
    len: u64,
    pieces: Vec<Piece>,
    /// Its payload is in device memory (devmem TCP), its headers in host memory.
    device: bool,
}

impl World {
    /// Opens a connection on which a remote peer sends `total_bytes` to this host, in
    /// segments of `segment_bytes` (capped at the MSS). Read it with a receiver application.
    pub fn open_incoming(&mut self, total_bytes: u64, segment_bytes: u64) -> ConnId {
        assert!(
            matches!(self.cfg.link.kind, LinkKind::Ethernet { .. }),
            "incoming connections need a wire"
        );
        let conn = self.open_conn();
        let mss = self.cfg.link.mss();
        let c = &mut self.conns[conn.0 as usize];
        c.rcv = Some(RecvBuffer::new(self.cfg.tcp.recv_buffer_bytes));
        c.remote = Some(Remote {
            // The ideal remote: its link never loses, so no congestion control.
            tcp: {
                let mut t = TcpSender::new(u64::MAX, false);
                t.wrote(total_bytes);
                t
            },
            segment_bytes: segment_bytes.clamp(1, mss),
        });
        self.queue
            .schedule_at(self.now(), Event::RemoteOutput { conn });
        conn
    }

    fn half_rtt(&self) -> SimDuration {
        SimDuration::from_nanos(self.cfg.link.rtt.as_nanos() / 2)
    }

    /// The remote sends what our window allows, back to back on its side of the wire.
    pub(super) fn remote_output(&mut self, conn: ConnId) {
        let LinkKind::Ethernet { rate } = self.cfg.link.kind else {
            unreachable!("checked at open")
        };
        let half_rtt = self.half_rtt();
        let c = &mut self.conns[conn.0 as usize];
        let rcv_space = c.rcv.as_ref().expect("incoming").space();
        let remote = c.remote.as_mut().expect("incoming");
        let window = self
            .cfg
            .tcp
            .window_bytes
            .min(rcv_space + remote.tcp.in_flight());
        while let Some(len) =
            remote
                .tcp
                .next_segment(window, remote.segment_bytes, ShortSegments::Nagle)
        {
            let seq = remote.tcp.nxt();
            remote.tcp.sent(len, remote.segment_bytes, 0);
            let start = self.rx_wire_free.max(self.queue.now());
            let end = start + rate.time_for(self.cfg.link.wire_bytes(len));
            self.rx_wire_free = end;
            self.rx_wire_busy_ns += end.duration_since(start).as_nanos();
            self.queue
                .schedule_at(end + half_rtt, Event::RxFrameArrive { conn, seq, len });
        }
    }

    /// Descriptors a frame of `len` bytes takes.
    fn rx_slots_for(&self, len: u64) -> u32 {
        if self.cfg.nic.header_split {
            len.div_ceil(PAGE_SIZE) as u32
        } else {
            1
        }
    }

    /// A frame reaches the NIC: it lands in posted buffers by DMA, or waits for them.
    pub(super) fn rx_frame_arrive(&mut self, conn: ConnId, seq: u64, len: u64) {
        let device = self.device_fits(conn, len);
        if device && self.ring_fits(len) && self.rx_backlog.is_empty() {
            self.land_frame(conn, seq, len);
            return;
        }
        // It waits behind the others: for device buffers if there are too few, else for
        // descriptors (or behind a frame that does).
        match &mut self.rxq.devmem {
            Some((_, b)) if !device => b.waits += 1,
            _ => self.net.rx_ring_full += 1,
        }
        self.rx_backlog.push_back((conn, seq, len));
    }

    /// Whether the ring has descriptors for a frame of `len` bytes. A frame needing more than
    /// the whole ring is taken once the ring is empty (a driver chains what it has), so it
    /// can never wait for good.
    fn ring_fits(&self, len: u64) -> bool {
        let (slots, ring) = (self.rx_slots_for(len), self.cfg.nic.rx_ring_slots);
        self.rx_slots_used + slots <= ring || self.rx_slots_used == 0
    }

    /// Whether a frame of `conn` of `len` bytes finds the device buffers its payload needs
    /// (always, for a connection not bound to a dmabuf).
    fn device_fits(&self, conn: ConnId, len: u64) -> bool {
        match &self.rxq.devmem {
            Some((c, b)) if *c == conn => b.has_free(len.div_ceil(PAGE_SIZE)),
            _ => true,
        }
    }

    /// Lands the frames waiting in the NIC, in order, while they find descriptors and device
    /// buffers.
    fn land_backlog(&mut self) {
        while let Some(&(c, s, l)) = self.rx_backlog.front() {
            if !self.ring_fits(l) || !self.device_fits(c, l) {
                break;
            }
            self.rx_backlog.pop_front();
            self.land_frame(c, s, l);
        }
    }

    /// A reader's `SO_DEVMEM_DONTNEED` has ended: the `net_iov`s it returned are free, and
    /// frames waiting for them land.
    pub(super) fn rx_buffers_returned(&mut self) {
        if let Some((_, b)) = &mut self.rxq.devmem {
            b.settle_returns();
            self.land_backlog();
        }
    }

    /// The frame takes its descriptors and the NIC DMAs it into their buffers.
    fn land_frame(&mut self, conn: ConnId, seq: u64, len: u64) {
        self.rx_slots_used += self.rx_slots_for(len);
        let mut pieces = Vec::new();
        let device = matches!(&self.rxq.devmem, Some((c, _)) if *c == conn);
        if device {
            // Payload in the dmabuf's next free net_iovs, a page each; headers in host memory.
            let b = &mut self.rxq.devmem.as_mut().expect("checked").1;
            let mut left = len;
            while left > 0 {
                let n = left.min(PAGE_SIZE);
                let niov = b.take();
                let ext = self.exts.attach(ExtKind::DeviceMem { niov }, n, 0);
                pieces.push(Piece {
                    ext,
                    off: 0,
                    len: n,
                });
                left -= n;
            }
        } else if self.cfg.nic.header_split {
            // Payload at the start of fresh kernel pages, one storage per page.
            let mut left = len;
            let mut plan = self.new_plan(); // allocation is charged at replenish, in tcp_input
            while left > 0 {
                let n = left.min(PAGE_SIZE);
                // A flow steered to a zero-copy area lands in the area's next free chunk
                // (a kernel reference for the skb's frag), else in a fresh kernel page.
                let chunk = match &mut self.rxq.zcrx {
                    Some((c, area)) if *c == conn => area.take_chunk(),
                    _ => None,
                };
                let pfn = match chunk {
                    Some(pfn) => {
                        self.vm.kernel_ref(pfn);
                        pfn
                    }
                    None => self.vm.alloc_kernel_page(&mut plan),
                };
                let expected = self.vm.frame(pfn).version;
                let ext = self.exts.attach(
                    ExtKind::Pages {
                        pages: vec![PagePromise { pfn, expected }],
                    },
                    n,
                    0,
                );
                pieces.push(Piece {
                    ext,
                    off: 0,
                    len: n,
                });
                left -= n;
            }
        } else {
            let ext = self.exts.attach(ExtKind::Bounce, len, 0);
            pieces.push(Piece { ext, off: 0, len });
        }
        let id = self.next_rx;
        self.next_rx += 1;
        self.rx_frames.insert(
            id,
            RxFrame {
                conn,
                seq,
                len,
                pieces,
                device,
            },
        );
        self.rx_dma_queue.push_back(id);
        self.kick_rx_dma();
    }

    /// Starts the receive DMA engine on the next frame waiting for it (TCP or AF_XDP).
    pub(super) fn kick_rx_dma(&mut self) {
        if self.rx_dma_active.is_some() {
            return;
        }
        let Some(id) = self.rx_dma_queue.pop_front() else {
            return;
        };
        self.rx_dma_active = Some(id);
        self.rx_dma_started = self.now();
        let headers = ETHER_HEADER + self.cfg.link.header_bytes();
        let tag = crate::machine::DmaTag::Rx(id);
        if let Some(raw) = self.xsk_dma_bytes(id) {
            // An AF_XDP raw frame: the whole frame as it came off the wire.
            self.machine
                .start_dma(&mut self.queue, raw, self.cfg.nic.dma_rate, tag);
        } else if self.rx_frames[&id].device {
            let payload = self.rx_frames[&id].len;
            self.machine.start_split_dma(
                &mut self.queue,
                headers,
                payload,
                self.cfg.nic.dma_rate,
                tag,
            );
        } else {
            let bytes = headers + self.rx_frames[&id].len;
            self.machine
                .start_dma(&mut self.queue, bytes, self.cfg.nic.dma_rate, tag);
        }
    }

    /// The payload is in memory: the receive interrupt and `tcp_input` run on softnet.
    pub(super) fn rx_dma_done(&mut self, id: u64) {
        assert_eq!(
            self.rx_dma_active,
            Some(id),
            "RX DMA completion out of order"
        );
        self.rx_dma_active = None;
        let frame = self.rx_frames.remove(&id).expect("frame in the RX path");
        if self.tracing() {
            let label = format!("segment {}..{}", frame.seq, frame.seq + frame.len);
            let note = self.narrate(format_args!(
                "NIC DMA writes received {label} of conn {} into {} posted buffers",
                frame.conn.0,
                frame.pieces.len()
            ));
            let start = self.rx_dma_started;
            self.trace_span(|l| l.nic_rx, start, "dma", label.into(), note);
        }
        for p in &frame.pieces {
            if let ExtKind::Pages { pages } = &self.exts.get(p.ext).kind {
                let pfn = pages[0].pfn;
                self.vm.device_wrote(pfn);
            }
        }
        let stack = self.cfg.stack;
        let costs = self.cfg.machine.costs;
        self.net.rx_dma_bytes += frame.len;
        // Linux NAPI with GRO: while the softnet thread still has receive work queued (its
        // poll is running), a new frame raises no interrupt and is merged into the skb being
        // built, up to GRO_MAX_BYTES; tcp_input runs once per merged skb. Without GRO every
        // frame takes its interrupt and its tcp_input.
        let mut plan = self.new_plan();
        let polling = self.cfg.nic.gro && self.machine.is_busy(SOFTNET);
        if !polling {
            self.net.interrupts += 1;
            plan.cpu(Activity::Interrupt, stack.interrupt_ns);
        }
        let merges = polling
            && self.rxq.gro_conn == Some(frame.conn)
            && self.rxq.gro_bytes + frame.len <= GRO_MAX_BYTES;
        let tcp_input = if merges {
            self.rxq.gro_bytes += frame.len;
            0
        } else {
            self.rxq.gro_conn = Some(frame.conn);
            self.rxq.gro_bytes = frame.len;
            stack.tcp_input_per_segment_ns
        };
        // Replenishing the ring with as many buffers as the frame used: a page allocation
        // each, or a recycled page from the page pool (or the zero-copy area's free list).
        let refill = if !self.cfg.nic.header_split {
            0
        } else if self.cfg.nic.page_pool || self.rxq.zcrx.is_some() || frame.device {
            stack.mbuf_ns * frame.pieces.len() as u64
        } else {
            costs.page_alloc_ns * frame.pieces.len() as u64
        };
        plan.cpu(
            Activity::Protocol,
            tcp_input + stack.mbuf_ns * (1 + frame.pieces.len() as u64) + refill,
        );
        if !self.cfg.nic.checksum_offload {
            plan.push(Step::Checksum { bytes: frame.len });
        }
        self.submit(
            SOFTNET,
            plan,
            Cont::RxDelivered {
                conn: frame.conn,
                seq: frame.seq,
                len: frame.len,
                pieces: frame.pieces,
            },
        );
        self.kick_rx_dma();
    }

    /// `tcp_input` is done: the driver has refilled the frame's descriptors, the data joins
    /// the receive buffer and the reader wakes.
    pub(super) fn rx_delivered(&mut self, conn: ConnId, seq: u64, len: u64, pieces: Vec<Piece>) {
        self.rx_slots_used -= self.rx_slots_for(len);
        self.land_backlog();
        let ack_every = self.cfg.tcp.ack_every;
        let c = &mut self.conns[conn.0 as usize];
        // The wire neither loses nor reorders incoming frames, so each is in order.
        let decision = c.receiving.segment(seq, len, ack_every);
        let rcv = c.rcv.as_mut().expect("incoming");
        for p in pieces {
            rcv.append(p);
        }
        // The reader wakes once its low-water mark is met (SO_RCVLOWAT; one byte by default).
        if let Some(app) = c.blocked_reader
            && self.reader_ready(app)
        {
            self.conns[conn.0 as usize].blocked_reader = None;
            self.app_wake(app);
        }
        match decision {
            AckDecision::Now(ack) => self.ack_remote(conn, ack),
            AckDecision::Delay => self.arm_delayed_ack(conn),
        }
    }

    /// Our ACK (or window update) reaches the remote half an RTT later.
    pub(super) fn ack_remote(&mut self, conn: ConnId, ack: u64) {
        self.note_advertised(conn);
        let at = self.now() + self.half_rtt();
        self.queue.schedule_at(at, Event::RemoteAck { conn, ack });
    }

    pub(super) fn remote_ack(&mut self, conn: ConnId, ack: u64) {
        let remote = self.conns[conn.0 as usize]
            .remote
            .as_mut()
            .expect("incoming");
        remote.tcp.on_ack(ack, u64::MAX, true, 0);
        self.remote_output(conn);
    }

    /// The reader made room: tell the remote (a window update, half an RTT away).
    pub(super) fn window_update(&mut self, conn: ConnId) {
        let at = self.now() + self.half_rtt();
        self.queue.schedule_at(at, Event::RemoteOutput { conn });
    }

    /// Received pages that found the io_uring zero-copy area with no free chunk.
    pub fn rx_area_exhausted_pages(&self) -> u64 {
        self.rxq.zcrx.as_ref().map_or(0, |(_, a)| a.exhausted_pages)
    }

    /// Received frames that waited in the NIC for free devmem TCP device buffers.
    pub fn rx_device_buffer_waits(&self) -> u64 {
        self.rxq.devmem.as_ref().map_or(0, |(_, b)| b.waits)
    }

    pub(super) fn rx_exts(&self) -> impl Iterator<Item = ExtId> + '_ {
        self.rx_frames
            .values()
            .flat_map(|f| f.pieces.iter().map(|p| p.ext))
    }
}
