//! The receiving end of our connections: the remote peer's (or the loopback reader's)
//! `tcp_input`, its ACKs and delayed-ACK timer, and what an ACK does on our side.

use sim::SimDuration;

use super::{ConnId, Cont, Event, PacketId, SOFTNET, World};
use crate::machine::{Activity, Plan};
use crate::net::LinkKind;
use crate::net::tcp::AckDecision;

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
        let delay = match self.cfg.link.kind {
            LinkKind::Loopback => SimDuration::ZERO,
            LinkKind::Ethernet { .. } => {
                SimDuration::from_nanos(self.cfg.link.rtt.as_nanos().div_ceil(2))
            }
        };
        self.queue
            .schedule_at(self.now() + delay, Event::AckArrive { conn, ack });
    }

    /// An ACK arrives: receive interrupt and `tcp_input` on the softnet thread; the
    /// acknowledged data leaves the send buffer and its references are dropped.
    pub(super) fn ack_arrive(&mut self, conn: ConnId, ack: u64) {
        let stack = self.cfg.stack;
        self.net.acks += 1;
        let mut plan = Plan::new();
        if self.cfg.link.kind != LinkKind::Loopback {
            self.net.interrupts += 1;
            plan.cpu(Activity::Interrupt, stack.interrupt_ns);
        }
        plan.cpu(Activity::Protocol, stack.tcp_ack_ns);
        let now = self.now();
        let c = &mut self.conns[conn.0 as usize];
        let n = c.sender.ack(ack);
        if n > 0 {
            self.last_ack = now;
        }
        let mut released = Vec::new();
        c.snd.drop_front(n, &mut released);
        if self.narrating() {
            let note = self.narrate(format_args!(
                "ACK {ack} on conn {}: {n} bytes acknowledged leave the send buffer; {} storages lose the buffer's reference",
                conn.0,
                released.len()
            ));
            self.trace_instant("ack", format!("ACK {ack}").into(), note);
        }
        for ext in released {
            self.unref_ext(ext, &mut plan);
        }
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
        for id in packets {
            let p = self.packets.remove(&id).expect("packet exists");
            self.net.packets += 1;
            self.last_tx = self.now();
            let mut plan = Plan::new();
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
    }
}
