//! Kernel and application threads: each runs one plan at a time on the machine; work for a
//! busy thread waits in its FIFO. When a plan completes, its continuation ([`Cont`]) makes
//! its effects visible.

use super::narrate::{describe_plan, thread_name};
use super::{ConnId, Cont, IRQ, SOFTNET, ThreadQueue, World};
use crate::machine::{Notice, Plan, Priority, ThreadId};

impl World {
    /// An empty plan, reusing a finished one's storage.
    pub(super) fn new_plan(&mut self) -> Plan {
        self.machine.spare_plan()
    }

    /// Keeps the storage of a plan that was not submitted, for [`World::new_plan`].
    pub(super) fn recycle_plan(&mut self, plan: Plan) {
        self.machine.recycle_plan(plan);
    }

    pub(super) fn priority_of(&self, thread: ThreadId) -> Priority {
        match thread {
            SOFTNET => Priority::Kernel,
            IRQ => Priority::Interrupt,
            _ => Priority::User,
        }
    }

    /// Runs `plan` on `thread` now, or after the thread's earlier work.
    pub(super) fn submit(&mut self, thread: ThreadId, plan: Plan, cont: Cont) {
        let mut note = 0;
        if self.narrating() && !plan.is_empty() {
            let who = thread_name(thread);
            let line = format!(
                "{who} {}: {}",
                cont.describe(),
                describe_plan(&plan, &self.cfg)
            );
            note = self.narrate(format_args!("{line}"));
        }
        self.start_or_queue(thread, plan, cont, note);
    }

    /// Hands `plan` to the machine, or queues it behind the thread's earlier work. `note` is
    /// its narration line, which the trace attaches to its steps once it runs.
    pub(super) fn start_or_queue(&mut self, thread: ThreadId, plan: Plan, cont: Cont, note: u64) {
        let i = thread.0 as usize;
        if self.threads.len() <= i {
            self.threads.resize_with(i + 1, ThreadQueue::default);
        }
        let tq = &mut self.threads[i];
        if tq.running.is_some() {
            tq.pending.push_back((plan, cont, note));
            return;
        }
        tq.running = Some(cont);
        self.trace_plan_started(thread, note);
        let prio = self.priority_of(thread);
        let mut notices = std::mem::take(&mut self.notices);
        self.machine
            .submit(&mut self.queue, thread, prio, plan, &mut notices);
        self.notices = notices;
        // An empty plan completes at once, on the CPU doing the current work.
        while let Some(Notice::PlanDone(t)) = self.notices.pop() {
            self.finish_plan(t);
        }
    }

    /// `thread`'s plan ended on the machine: what its completion wakes is woken from the CPU
    /// it ran on (an IPI if that wakes another, idle CPU).
    pub(super) fn plan_done(&mut self, thread: ThreadId) {
        let cpu = self.machine.last_cpu(thread);
        let before = self.machine.set_waker(cpu);
        self.finish_plan(thread);
        self.machine.set_waker(before);
    }

    fn finish_plan(&mut self, thread: ThreadId) {
        let tq = self
            .threads
            .get_mut(thread.0 as usize)
            .expect("thread ran a plan");
        let cont = tq.running.take().expect("a plan was running");
        if let Some((plan, next, note)) = tq.pending.pop_front() {
            self.start_or_queue(thread, plan, next, note);
        }
        match cont {
            Cont::AppStarted { app } | Cont::AppWorked { app } => self.app_next(app),
            Cont::ChunkReady { app, conn, exts } => self.chunk_ready(app, conn, exts),
            Cont::AppOutput { app, out } => {
                self.output_done(out);
                self.app_next(app);
            }
            Cont::Received { app, len } => self.received(app, len),
            Cont::Consumed { app, len } => self.consumed(app, len),
            Cont::Output { out } => self.output_done(out),
            Cont::AckDone { conn } => {
                // Loans this ACK returned free kernel address space a writer on another
                // connection may be asleep on (sokvafree wakes every waiter).
                if std::mem::take(&mut self.lend_returned) {
                    for i in (0..self.conns.len() as u32).filter(|&i| i != conn.0) {
                        self.wake_writer(ConnId(i));
                    }
                }
                self.wake_writer(conn);
                self.schedule_output(conn, SOFTNET);
            }
            Cont::TxReclaimed { slots } => {
                let more = self.nic.reclaimed(slots);
                if self.tracing() {
                    let used = self.nic.slots_in_use();
                    self.trace_counter("TX ring slots in use", f64::from(used));
                }
                if more {
                    self.tx_interrupt();
                }
                // Loans returned here (the ACK came first) free kernel address space: a
                // writer asleep on it wakes, as NetBSD's sokvafree wakes sokvawaiters.
                let lends_back = std::mem::take(&mut self.lend_returned);
                for i in 0..self.conns.len() {
                    if std::mem::take(&mut self.conns[i].ring_stalled) {
                        self.schedule_output(ConnId(i as u32), SOFTNET);
                    }
                    if lends_back {
                        self.wake_writer(ConnId(i as u32));
                    }
                }
            }
            Cont::RxDelivered {
                conn,
                seq,
                len,
                pieces,
            } => self.rx_delivered(conn, seq, len, pieces),
            Cont::XskPolled { desc } => self.xsk_polled(desc),
            Cont::XskBound { app } => self.xsk_bound(app),
            Cont::XskReceived { app, bytes } => self.xsk_received(app, bytes),
            Cont::LoopbackDelivered { conn, pieces } => {
                let c = &mut self.conns[conn.0 as usize];
                let rcv = c.rcv.as_mut().expect("loopback connection");
                for &p in &pieces {
                    rcv.append(p);
                }
                self.spare_pieces.give(pieces);
                if let Some(app) = c.blocked_reader.take() {
                    self.app_wake(app);
                }
            }
        }
    }
}
