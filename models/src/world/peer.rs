//! The receiving end of our connections: the remote peer's (or the loopback reader's)
//! `tcp_input`, its ACKs and delayed-ACK timer, and what an ACK does on our side.

use sim::{SimDuration, SimTime};

use super::{ConnId, Cont, Event, PacketId, SOFTNET, World};
use crate::machine::Activity;
use crate::net::LinkKind;
use crate::net::tcp::{AckDecision, window_update_due};

impl World {
    pub(super) fn segment_arrive(&mut self, conn: ConnId, seq: u64, len: u64) {
        let ack_every = self.cfg.tcp.ack_every;
        let now = self.now();
        let c = &mut self.conns[conn.0 as usize];
        let before = c.receiving.received;
        let decision = c.receiving.segment(seq, len, ack_every);
        if c.receiving.received > before {
            self.last_delivery = now;
        }
        match decision {
            AckDecision::Now(ack) => self.send_ack(conn, ack),
            AckDecision::Delay => self.arm_delayed_ack(conn),
        }
    }

    /// Arms the receiving end's delayed-ACK timer unless it is armed.
    pub(super) fn arm_delayed_ack(&mut self, conn: ConnId) {
        let c = &mut self.conns[conn.0 as usize];
        if !c.delack_armed {
            c.delack_armed = true;
            let at = self.now() + self.cfg.tcp.delayed_ack;
            self.queue.schedule_at(at, Event::DelayedAck { conn });
        }
    }

    pub(super) fn send_ack(&mut self, conn: ConnId, ack: u64) {
        self.send_ack_as(conn, ack, false);
    }

    /// Sends an ACK to the sender; `window_update` marks one sent only to open the window.
    pub(super) fn send_ack_as(&mut self, conn: ConnId, ack: u64, window_update: bool) {
        self.note_advertised(conn);
        let delay = match self.cfg.link.kind {
            LinkKind::Loopback => SimDuration::ZERO,
            LinkKind::Ethernet { .. } => {
                SimDuration::from_nanos(self.cfg.link.rtt.as_nanos().div_ceil(2))
            }
        };
        self.queue.schedule_at(
            self.now() + delay,
            Event::AckArrive {
                conn,
                ack,
                window_update,
            },
        );
    }

    /// An ACK arrives: receive interrupt and `tcp_input` on the softnet thread; the
    /// acknowledged data leaves the send buffer and its references are dropped.
    pub(super) fn ack_arrive(&mut self, conn: ConnId, ack: u64, window_update: bool) {
        let stack = self.cfg.stack;
        self.net.acks += 1;
        let mut plan = self.new_plan();
        if self.cfg.link.kind != LinkKind::Loopback {
            self.net.interrupts += 1;
            plan.cpu(Activity::Interrupt, stack.interrupt_ns);
        }
        plan.cpu(Activity::Protocol, stack.tcp_ack_ns);
        let now = self.now();
        let mss = self.cfg.link.mss();
        let c = &mut self.conns[conn.0 as usize];
        let out = c.sender.on_ack(ack, mss, window_update, now.as_nanos());
        let n = out.acked;
        if n > 0 {
            self.last_ack = now;
        }
        if let Some(seq) = out.retransmit {
            let len = mss.min(c.sender.nxt() - seq);
            c.rexmit_due.insert(seq, len);
        }
        if out.fast_retransmit {
            self.net.fast_retransmits += 1;
        }
        if out.all_acked {
            self.stop_retransmit_timer(conn);
        } else if n > 0 {
            // New data acknowledged: the timer restarts for what is still outstanding.
            self.stop_retransmit_timer(conn);
            self.arm_retransmit_timer(conn);
        }
        if self.narrating() && (out.fast_retransmit || out.retransmit.is_some()) {
            let c = &self.conns[conn.0 as usize];
            let why = if out.fast_retransmit {
                "third duplicate ACK: fast retransmit"
            } else {
                "partial ACK in recovery (NewReno): the next hole goes again"
            };
            let note = self.narrate(format_args!(
                "conn {}: {why} of the segment at {}; cwnd {} B, ssthresh {} B",
                conn.0,
                out.retransmit.unwrap_or(0),
                c.sender.cwnd(),
                c.sender.ssthresh()
            ));
            self.trace_instant(
                "retransmit",
                format!("retransmit at {}", out.retransmit.unwrap_or(0)).into(),
                note,
            );
        }
        let c = &mut self.conns[conn.0 as usize];
        let mut released = self.spare_exts.take();
        c.snd.drop_front(n, &mut released);
        if self.narrating() {
            let note = self.narrate(format_args!(
                "ACK {ack} on conn {}: {n} bytes acknowledged leave the send buffer; {} the buffer's reference",
                conn.0,
                match released.len() {
                    0 => "no mbuf storage loses".to_owned(),
                    1 => "1 mbuf storage loses".to_owned(),
                    k => format!("{k} mbuf storages lose"),
                }
            ));
            self.trace_instant("ack", format!("ACK {ack}").into(), note);
            self.trace_ack_flow(conn, ack);
        }
        for &ext in &released {
            self.unref_ext(ext, &mut plan);
        }
        self.spare_exts.give(released);
        self.submit(SOFTNET, plan, Cont::AckDone { conn });
    }

    pub(super) fn wake_writer(&mut self, conn: ConnId) {
        let c = &mut self.conns[conn.0 as usize];
        if c.blocked_writer.is_some()
            && c.snd.space() >= crate::net::mbuf::MCLBYTES.min(c.snd.hiwat())
        {
            let app = c.blocked_writer.take().expect("checked");
            self.app_wake(app);
        }
    }

    /// Loopback: each packet is handed to the local receiving socket (`looutput` →
    /// `ip_input` → `tcp_input`): protocol work on the softnet thread, no copy, no DMA, no
    /// checksum; the packet's references move into the receive buffer.
    pub(super) fn loopback_deliver(&mut self, packets: Vec<PacketId>) {
        let stack = self.cfg.stack;
        for &id in &packets {
            let p = self.packets.remove(&id).expect("packet exists");
            self.net.packets += 1;
            self.last_tx = self.now();
            let mut plan = self.new_plan();
            plan.cpu(Activity::Protocol, stack.tcp_input_per_segment_ns);
            let ack_every = self.cfg.tcp.ack_every;
            let c = &mut self.conns[p.conn.0 as usize];
            // Loopback never loses or reorders, so every segment is in order.
            let decision = c.receiving.segment(p.seq, p.len, ack_every);
            self.submit(
                SOFTNET,
                plan,
                Cont::LoopbackDelivered {
                    conn: p.conn,
                    pieces: p.pieces,
                },
            );
            match decision {
                AckDecision::Now(ack) => self.send_ack(p.conn, ack),
                AckDecision::Delay => self.arm_delayed_ack(p.conn),
            }
        }
        self.spare_ids.give(packets);
    }

    /// Starts the connection's retransmission timer: the RTO from now.
    pub(super) fn arm_retransmit_timer(&mut self, conn: ConnId) {
        let now = self.queue.now();
        let c = &mut self.conns[conn.0 as usize];
        let rto = c.sender.rto_ns(self.cfg.tcp.rto.as_nanos());
        let at = now + SimDuration::from_nanos(rto);
        c.rexmit_timer = Some(at);
        self.queue_retransmit_event(conn, at);
    }

    /// Makes sure a timer event fires no later than `at`.
    fn queue_retransmit_event(&mut self, conn: ConnId, at: SimTime) {
        let c = &mut self.conns[conn.0 as usize];
        if c.rexmit_event.is_some_and(|(t, _)| t <= at) {
            return;
        }
        if let Some((_, token)) = c.rexmit_event.take() {
            self.queue.cancel(token);
        }
        let token = self
            .queue
            .schedule_cancellable_at(at, Event::RetransmitTimer { conn });
        self.conns[conn.0 as usize].rexmit_event = Some((at, token));
    }

    /// Stops the timer. Its queued event stays and finds nothing to do (cancelling it here
    /// and queueing a new one at the next send, thousands of times a run, filled the queue
    /// with cancelled entries and halved the engine's speed).
    pub(super) fn stop_retransmit_timer(&mut self, conn: ConnId) {
        self.conns[conn.0 as usize].rexmit_timer = None;
    }

    /// The retransmission timer expired: the oldest unacknowledged segment goes again,
    /// from a one-segment window, and the timer backs off.
    pub(super) fn retransmit_timeout(&mut self, conn: ConnId) {
        let mss = self.cfg.link.mss();
        let now = self.queue.now();
        let c = &mut self.conns[conn.0 as usize];
        c.rexmit_event = None;
        match c.rexmit_timer {
            None => return,
            Some(deadline) if deadline > now => {
                // Restarted since this event was queued: wait for the deadline.
                self.queue_retransmit_event(conn, deadline);
                return;
            }
            Some(_) => c.rexmit_timer = None,
        }
        let c = &mut self.conns[conn.0 as usize];
        if c.sender.in_flight() == 0 {
            return;
        }
        let seq = c.sender.on_timeout(mss);
        let len = mss.min(c.sender.nxt() - seq);
        c.rexmit_due.clear();
        c.rexmit_due.insert(seq, len);
        self.net.rto_timeouts += 1;
        if self.narrating() {
            let c = &self.conns[conn.0 as usize];
            let note = self.narrate(format_args!(
                "conn {}: retransmission timeout; the segment at {seq} goes again, cwnd {} B, the next timeout in {}",
                conn.0,
                c.sender.cwnd(),
                SimDuration::from_nanos(c.sender.rto_ns(self.cfg.tcp.rto.as_nanos()))
            ));
            self.trace_instant("rto", format!("RTO at {seq}").into(), note);
        }
        self.schedule_output(conn, SOFTNET);
    }

    /// A reader took bytes out of `conn`'s receive buffer. The receiving end answers
    /// as a kernel does after `PRU_RCVD` / `tcp_cleanup_rbuf`: a delayed ACK that is pending
    /// goes now if the read emptied the buffer or opened the window enough
    /// ([`window_update_due`]), counted as a window update; and the sender may go on.
    pub(super) fn after_read(&mut self, conn: ConnId) {
        let mss = self.cfg.link.mss();
        let c = &mut self.conns[conn.0 as usize];
        let rcv = c
            .rcv
            .as_ref()
            .expect("a reader's connection has a receive buffer");
        let (after, emptied) = (rcv.space(), rcv.bytes() == 0);
        // BSD compares the window now with the one last advertised, not with this read's.
        let due = window_update_due(c.rcv_advertised, after, rcv.hiwat(), mss);
        let ack = if emptied || due {
            c.receiving.delayed_ack()
        } else {
            None
        };
        if let Some(ack) = ack {
            self.net.window_updates += 1;
            if self.conns[conn.0 as usize].remote.is_some() {
                self.ack_remote(conn, ack);
            } else {
                self.send_ack_as(conn, ack, true);
            }
        }
        if self.conns[conn.0 as usize].remote.is_some() {
            // The remote learns the opened window from our next segment or update.
            self.window_update(conn);
        } else {
            self.schedule_output(conn, SOFTNET);
        }
    }

    /// The receiving end sends an ACK: the window it advertises is its free space now.
    pub(super) fn note_advertised(&mut self, conn: ConnId) {
        let c = &mut self.conns[conn.0 as usize];
        if let Some(rcv) = &c.rcv {
            c.rcv_advertised = rcv.space();
        }
    }
}
