//! The raw-frame receive path of an AF_XDP socket (the `af-xdp` room): a remote packet
//! generator, the NIC's receive DMA of each frame, the NAPI poll that runs the XDP program
//! and redirects the frame to the socket, the application's `poll()` loop, and the NIC's
//! reads of frames the application forwards.
//!
//! The remote sends `total_bytes` as frames of `frame_bytes` back to back at the wire's
//! rate (a packet generator: no TCP, no window, nothing slows it down), so the host keeps up
//! or drops. Each frame needs a free hardware descriptor (`rx_ring_slots` frames may wait
//! for the NAPI poll; past that the NIC drops it) and, in zero-copy mode, a chunk from FILL
//! (none: dropped). The NIC DMAs it over the bus through the receive DMA engine it shares
//! with TCP frames; then, on the softnet thread, the poll takes an interrupt unless it is
//! already running (NAPI), processes the descriptor, runs the XDP program and redirects
//! the frame ([`crate::strategy`]'s `af_xdp::redirect`), and refills the descriptor. The RX
//! descriptor becomes visible to the application when that work is done.

use super::{AppId, Cont, Event, SOFTNET, World};
use crate::machine::{Activity, DmaTag, Plan};
use crate::net::{ETHER_FCS, ETHER_GAP, ETHER_MIN_FRAME, ETHER_PREAMBLE, LinkKind};
use crate::strategy::XskStep;
use crate::world::{PathKind, PathNode};

/// The AF_XDP flow and socket of a world, if it has one.
#[derive(Debug)]
pub(super) struct XskFlow {
    /// The receiving application and its UMEM (once set up).
    pub(super) app: AppId,
    pub(super) umem: Option<crate::strategy::Umem>,
    total_frames: u64,
    total_bytes: u64,
    frame_bytes: u64,
    /// Frames the remote has put on the wire.
    sent: u64,
    /// Frames that reached the NIC and wait for (or are in) DMA or the NAPI poll.
    in_nic: u64,
    /// Frames in DMA or waiting for it, by receive id: their length and zero-copy chunk.
    frames: std::collections::BTreeMap<u64, (u64, Option<u64>)>,
    /// Frames in memory waiting for the NAPI poll, in ring order, and whether the poll is
    /// running (it takes one frame at a time, deciding its redirect as it reaches it).
    napi: std::collections::VecDeque<(u64, Option<u64>)>,
    polling: bool,
    /// Payload the application took off RX.
    pub(super) received_bytes: u64,
    /// The application sleeps in `poll()`.
    blocked: bool,
}

impl XskFlow {
    /// Frames every one of which has been received or dropped, with the TX path idle.
    fn finished(&self) -> bool {
        let Some(u) = &self.umem else { return false };
        self.sent == self.total_frames
            && u.counters.rx_descs + u.counters.dropped() == self.total_frames
            && u.tx_idle()
    }

    fn frame_len(&self, seq: u64) -> u64 {
        self.frame_bytes
            .min(self.total_bytes - seq * self.frame_bytes)
    }
}

impl World {
    /// A remote packet generator sends this host `total_bytes` as raw frames of
    /// `frame_bytes` (the last one shorter), to be received by `app`'s AF_XDP socket; it
    /// starts once the socket is bound.
    pub fn open_xsk_flow(&mut self, app: AppId, total_bytes: u64, frame_bytes: u64) {
        assert!(
            matches!(self.cfg.link.kind, LinkKind::Ethernet { .. }),
            "raw frames need a wire"
        );
        assert!(self.xsk.is_none(), "one AF_XDP socket per world");
        assert!(frame_bytes > 0, "empty frames");
        self.xsk = Some(XskFlow {
            app,
            umem: None,
            total_frames: total_bytes.div_ceil(frame_bytes),
            total_bytes,
            frame_bytes,
            sent: 0,
            in_nic: 0,
            frames: std::collections::BTreeMap::new(),
            napi: std::collections::VecDeque::new(),
            polling: false,
            received_bytes: 0,
            blocked: false,
        });
    }

    /// The generator serializes its next frame right after the last one (the first, from
    /// now); it arrives half an RTT after it leaves the wire. Each frame's arrival queues
    /// the next, which left the generator back to back with it, earlier than that arrival.
    fn xsk_send_next(&mut self) {
        let LinkKind::Ethernet { rate } = self.cfg.link.kind else {
            unreachable!("checked at open")
        };
        let x = self.xsk.as_mut().expect("an AF_XDP flow");
        if x.sent == x.total_frames {
            return;
        }
        let seq = x.sent;
        x.sent += 1;
        let len = x.frame_len(seq);
        let wire = (len + ETHER_FCS).max(ETHER_MIN_FRAME) + ETHER_PREAMBLE + ETHER_GAP;
        let start = if seq == 0 {
            self.rx_wire_free.max(self.queue.now())
        } else {
            self.rx_wire_free
        };
        let end = start + rate.time_for(wire);
        self.rx_wire_free = end;
        self.rx_wire_busy_ns += end.duration_since(start).as_nanos();
        let at = end + sim::SimDuration::from_nanos(self.cfg.link.rtt.as_nanos() / 2);
        self.queue.schedule_at(at, Event::XskFrameArrive { seq });
    }

    /// A frame reaches the NIC: a free descriptor and (zero-copy) a FILL chunk, or a drop.
    pub(super) fn xsk_frame_arrive(&mut self, seq: u64) {
        self.xsk_send_next();
        let ring = u64::from(self.cfg.nic.rx_ring_slots);
        let x = self.xsk.as_mut().expect("an AF_XDP flow");
        let len = x.frame_len(seq);
        let umem = x
            .umem
            .as_mut()
            .expect("the generator starts once the socket is bound");
        if x.in_nic >= ring {
            umem.counters.nic_full_drops += 1;
            self.xsk_maybe_finish();
            return;
        }
        let chunk = match umem.opts.mode {
            crate::strategy::XskMode::ZeroCopy => match umem.take_for_nic() {
                Some(c) => Some(c),
                None => {
                    self.xsk_maybe_finish();
                    return;
                }
            },
            crate::strategy::XskMode::Copy => None,
        };
        x.in_nic += 1;
        let id = self.next_rx;
        self.next_rx += 1;
        x.frames.insert(id, (len, chunk));
        self.rx_dma_queue.push_back(id);
        self.kick_rx_dma();
    }

    /// Bytes the NIC DMAs for receive id `id`, if it is an AF_XDP frame.
    pub(super) fn xsk_dma_bytes(&self, id: u64) -> Option<u64> {
        self.xsk.as_ref()?.frames.get(&id).map(|f| f.0)
    }

    /// The frame is in memory: it waits for the NAPI poll, which an interrupt starts if it
    /// is not running.
    pub(super) fn xsk_dma_done(&mut self, id: u64) {
        assert_eq!(
            self.rx_dma_active,
            Some(id),
            "RX DMA completion out of order"
        );
        self.rx_dma_active = None;
        let x = self.xsk.as_mut().expect("an AF_XDP flow");
        let (len, chunk) = x.frames.remove(&id).expect("frame in the RX path");
        x.napi.push_back((len, chunk));
        let umem = x.umem.as_ref().expect("bound");
        if let Some(c) = chunk {
            let pfn = umem.page(c);
            self.vm.device_wrote(pfn);
            self.path
                .add(PathNode::Nic, PathNode::UserBuffer, PathKind::Dma, len);
        } else {
            self.path
                .add(PathNode::Nic, PathNode::KernelBuffer, PathKind::Dma, len);
        }
        self.path
            .add(PathNode::Wire, PathNode::Nic, PathKind::Dma, len);
        if self.narrating() {
            self.narrate(format_args!(
                "NIC DMA writes a {len}-byte frame {}",
                match chunk {
                    Some(c) => format!("into UMEM chunk {c}"),
                    None => "into a driver buffer".to_owned(),
                }
            ));
        }
        if !self.xsk.as_ref().expect("an AF_XDP flow").polling {
            self.xsk_poll(true);
        }
        self.kick_rx_dma();
    }

    /// The NAPI poll takes the next frame: the descriptor, the XDP program's run and
    /// redirect (decided now, as the poll reaches the frame), and the descriptor's refill (a
    /// chunk from the pool in zero-copy mode, a page-pool page or a fresh page in copy
    /// mode). `interrupt`: the poll was idle, so the frame raised an interrupt (NAPI).
    fn xsk_poll(&mut self, interrupt: bool) {
        let x = self.xsk.as_mut().expect("an AF_XDP flow");
        let Some((len, chunk)) = x.napi.pop_front() else {
            x.polling = false;
            return;
        };
        x.polling = true;
        let app = x.app;
        let stack = self.cfg.stack;
        let mut plan = self.new_plan();
        if interrupt {
            self.net.interrupts += 1;
            plan.cpu(Activity::Interrupt, stack.interrupt_ns);
        }
        let refill = match chunk {
            Some(_) => stack.mbuf_ns,
            None if self.cfg.nic.page_pool => stack.mbuf_ns,
            None => self.cfg.machine.costs.page_alloc_ns,
        };
        plan.cpu(
            Activity::Protocol,
            stack.driver_per_frag_ns + stack.mbuf_ns + refill,
        );
        let mut k = super::kernel::Kernel::for_work(self, Some(app), &mut plan);
        let reserved = crate::strategy::xsk_redirect(&mut k, chunk, len);
        self.submit(
            SOFTNET,
            plan,
            Cont::XskPolled {
                desc: reserved.map(|c| (c, len)),
            },
        );
    }

    /// The poll's work on a frame is done: its descriptor is visible, its hardware
    /// descriptor free; the poll goes on to the next frame, if any.
    pub(super) fn xsk_polled(&mut self, desc: Option<(u64, u64)>) {
        let x = self.xsk.as_mut().expect("an AF_XDP flow");
        x.in_nic -= 1;
        if let Some((c, len)) = desc {
            x.umem.as_mut().expect("bound").publish(c, len);
        }
        self.xsk_poll(false);
        self.xsk_maybe_finish();
        self.xsk_wake();
    }

    /// Wakes the application if it sleeps and has something to do or to finish.
    fn xsk_wake(&mut self) {
        let x = self.xsk.as_mut().expect("an AF_XDP flow");
        let due = x.umem.as_ref().is_some_and(|u| u.ready()) || x.finished();
        if x.blocked && due {
            x.blocked = false;
            let app = x.app;
            self.app_wake(app);
        }
    }

    /// A frame was dropped: the last one may have been.
    fn xsk_maybe_finish(&mut self) {
        if self.xsk.as_ref().is_some_and(XskFlow::finished) {
            self.xsk_wake();
        }
    }

    /// Registration, on the application's thread: the UMEM, the rings, the first FILL.
    pub(super) fn xsk_start(&mut self, id: AppId, o: crate::strategy::XskOptions) {
        let mut plan = self.new_plan();
        let mut k = super::kernel::Kernel::for_work(self, Some(id), &mut plan);
        match crate::strategy::xsk_setup(&mut k, o) {
            Some(umem) => {
                self.xsk.as_mut().expect("an AF_XDP flow").umem = Some(umem);
                self.app_submit(id, plan, Cont::XskBound { app: id });
            }
            None => {
                self.failed_setups += 1;
                self.apps[id.0 as usize].done = true;
            }
        }
    }

    /// The socket is bound and FILL stocked: the XDP program now redirects the queue, and
    /// the generator starts (a benchmark's sender starts once its receiver runs).
    pub(super) fn xsk_bound(&mut self, id: AppId) {
        self.xsk_send_next();
        self.app_next(id);
    }

    /// One `poll()` iteration of the application, or its end.
    pub(super) fn xsk_next(&mut self, id: AppId) {
        if self.xsk.as_ref().is_some_and(XskFlow::finished) {
            self.apps[id.0 as usize].done = true;
            return;
        }
        let mut plan = self.new_plan();
        let mut k = super::kernel::Kernel::for_work(self, Some(id), &mut plan);
        match crate::strategy::xsk_call(&mut k) {
            XskStep::Wait => {
                self.xsk.as_mut().expect("an AF_XDP flow").blocked = true;
            }
            XskStep::Received { bytes, .. } => {
                self.xsk_kick_tx(&mut plan);
                self.app_submit(id, plan, Cont::XskReceived { app: id, bytes });
            }
        }
    }

    /// `sendto()`: the NIC reads what the application put on TX, while COMPLETION has room.
    fn xsk_kick_tx(&mut self, plan: &mut Plan) {
        let driver = self.cfg.stack.driver_per_frag_ns;
        let umem = self
            .xsk
            .as_mut()
            .and_then(|x| x.umem.as_mut())
            .expect("bound");
        let mut started = Vec::new();
        while let Some(d) = umem.start_tx() {
            started.push(d);
        }
        if started.is_empty() {
            return;
        }
        self.syscalls += 1;
        plan.cpu(Activity::Syscall, self.cfg.machine.costs.syscall_ns);
        for (c, len) in started {
            plan.cpu(Activity::Protocol, driver);
            self.machine.start_dma(
                &mut self.queue,
                len,
                self.cfg.nic.dma_rate,
                DmaTag::XskTx(c),
            );
            self.path
                .add(PathNode::UserBuffer, PathNode::Nic, PathKind::Dma, len);
        }
    }

    /// The NIC has read a forwarded frame: its chunk goes on COMPLETION.
    pub(super) fn xsk_tx_done(&mut self, chunk: u64) {
        let x = self.xsk.as_mut().expect("an AF_XDP flow");
        x.umem.as_mut().expect("bound").tx_done(chunk);
        self.xsk_wake();
    }

    /// The application took `bytes` off RX.
    pub(super) fn xsk_received(&mut self, id: AppId, bytes: u64) {
        self.xsk.as_mut().expect("an AF_XDP flow").received_bytes += bytes;
        if bytes > 0 {
            self.last_recv = self.now();
        }
        self.app_next(id);
    }

    /// The socket's counters (drops, corruption), if the world has an AF_XDP socket.
    pub fn xsk_counters(&self) -> Option<crate::strategy::XskCounters> {
        self.xsk.as_ref()?.umem.as_ref().map(|u| u.counters)
    }
}
