//! Why a run is slow: the critical application's time, by what it was doing or waiting for.
//!
//! The critical application is the first one a workload adds (the sender, or the reader of a
//! receive workload). After every event the world classifies it ([`World::cause_now`]) and
//! the account adds the time since the last event to the cause that held over it. Time after
//! the payload's last byte moved is not counted, so the account covers exactly the report's
//! measurement window.
//!
//! Classification, first match wins:
//! - its plan is on a CPU: `cpu` (the report splits out `bus`, the share the machine spent
//!   stalled on the bus inside copies); waiting for a CPU: `cpu_wait`; blocked on a disk
//!   read: `disk`; sleeping on a timer: `idle`;
//! - blocked in `write()`/`read()`, waiting for a connection to go idle, or done while its
//!   data drains: a segment the wire lost is not yet repaired: `rto`; the NIC's DMA engine or
//!   the wire is busy: `nic` or `wire`; a local reader has data to take or is taking it:
//!   `cpu_wait`; the
//!   receiving end holds an ACK on its delayed-ACK
//!   timer: `delayed_ack`; Nagle holds a short segment: `nagle`; the peer's window is full:
//!   `zero_window`; data is in flight with the NIC idle (the round trip): `send_buffer` for a
//!   blocked writer, else `wire`.
//!
//! Simplified: one application's path, not a true critical-path analysis across threads.

use sim::{SimDuration, SimTime};

use super::app::Role;
use super::path::human_bytes;
use super::{AppId, ConnId, World};
use crate::machine::ThreadState;
use crate::net::LinkKind;
use crate::net::tcp::{NagleRule, ShortSegments};

/// What the critical application was doing or waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    Cpu,
    CpuWait,
    Disk,
    Wire,
    Nic,
    SendBuffer,
    ZeroWindow,
    Nagle,
    DelayedAck,
    Rto,
    Idle,
}

impl Cause {
    pub const ALL: [Cause; 11] = [
        Cause::Cpu,
        Cause::CpuWait,
        Cause::Disk,
        Cause::Wire,
        Cause::Nic,
        Cause::SendBuffer,
        Cause::ZeroWindow,
        Cause::Nagle,
        Cause::DelayedAck,
        Cause::Rto,
        Cause::Idle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cause::Cpu => "cpu",
            Cause::CpuWait => "cpu_wait",
            Cause::Disk => "disk",
            Cause::Wire => "wire",
            Cause::Nic => "nic",
            Cause::SendBuffer => "send_buffer",
            Cause::ZeroWindow => "zero_window",
            Cause::Nagle => "nagle",
            Cause::DelayedAck => "delayed_ack",
            Cause::Rto => "rto",
            Cause::Idle => "idle",
        }
    }

    /// The verdict naming this cause when no resource limits the run.
    pub fn stall_name(self) -> &'static str {
        match self {
            Cause::Cpu => "stall:cpu",
            Cause::CpuWait => "stall:cpu_wait",
            Cause::Disk => "stall:disk",
            Cause::Wire => "stall:wire",
            Cause::Nic => "stall:nic",
            Cause::SendBuffer => "stall:send_buffer",
            Cause::ZeroWindow => "stall:zero_window",
            Cause::Nagle => "stall:nagle",
            Cause::DelayedAck => "stall:delayed_ack",
            Cause::Rto => "stall:rto",
            Cause::Idle => "stall:idle",
        }
    }
}

/// Stalls shorter than this are not narrated (a round trip on a fast link is not news).
const NARRATED_STALL: SimDuration = SimDuration::from_micros(10);

impl Cause {
    /// Whether this cause is a stall worth narrating: waiting on something other than the
    /// application's own CPU work, a CPU, or its own pace.
    fn is_stall(self) -> bool {
        !matches!(self, Cause::Cpu | Cause::CpuWait | Cause::Idle)
    }

    /// What the application waits for, in words.
    fn waiting_for(self) -> &'static str {
        match self {
            Cause::Cpu => "its own CPU work",
            Cause::CpuWait => "a CPU",
            Cause::Disk => "the disk",
            Cause::Wire => "the wire",
            Cause::Nic => "the NIC's DMA engine",
            Cause::SendBuffer => "room in the send buffer",
            Cause::ZeroWindow => "the receiver's window to open",
            Cause::Nagle => "Nagle's algorithm to release a short segment",
            Cause::DelayedAck => "a delayed ACK",
            Cause::Rto => "a lost segment's retransmission",
            Cause::Idle => "nothing",
        }
    }
}

/// Time by cause; see the module docs.
#[derive(Clone, Debug)]
pub(super) struct Account {
    ns: [u64; Cause::ALL.len()],
    current: Cause,
    since: SimTime,
    /// When the current cause began.
    cause_since: SimTime,
    /// While narrating: why the current stall began, in words.
    stall_why: Option<String>,
    /// The account as of the last time payload moved.
    at_progress: [u64; Cause::ALL.len()],
}

impl Default for Account {
    fn default() -> Self {
        Account {
            ns: [0; Cause::ALL.len()],
            current: Cause::Idle,
            since: SimTime::ZERO,
            cause_since: SimTime::ZERO,
            stall_why: None,
            at_progress: [0; Cause::ALL.len()],
        }
    }
}

impl Account {
    /// The cause from `now` on is `cause`; `progress` says payload moved at `now`.
    pub(super) fn step(&mut self, now: SimTime, cause: Cause, progress: bool) {
        self.ns[self.current as usize] += now.duration_since(self.since).as_nanos();
        self.since = now;
        if cause != self.current {
            self.cause_since = now;
        }
        self.current = cause;
        if progress {
            self.at_progress = self.ns;
        }
    }

    /// Nanoseconds by cause up to the payload's last movement (or, if none ever moved, up
    /// to the last event: all of it was waiting).
    pub(super) fn totals(&self) -> impl Iterator<Item = (Cause, u64)> + '_ {
        let moved = self.at_progress.iter().any(|&ns| ns > 0);
        let from = if moved { &self.at_progress } else { &self.ns };
        Cause::ALL.iter().map(move |&c| (c, from[c as usize]))
    }
}

impl World {
    /// Classifies the critical application now; see the module docs.
    pub(super) fn cause_now(&self) -> Cause {
        let Some(app) = self.apps.first() else {
            return Cause::Idle;
        };
        let id = AppId(0);
        match self.machine.thread_state(app.thread) {
            ThreadState::Running => return Cause::Cpu,
            ThreadState::Ready => return Cause::CpuWait,
            ThreadState::Disk => return Cause::Disk,
            ThreadState::Idle => {}
        }
        if self
            .threads
            .get(app.thread.0 as usize)
            .is_some_and(|t| t.running.is_some())
        {
            return Cause::CpuWait;
        }
        let conn = match &app.role {
            Role::Sender(s) => s.conn(),
            Role::Receiver(r) => Some(r.conn()),
            _ => None,
        };
        // An application that only reads a file waits for nothing but its CPU.
        let Some(conn) = conn else {
            return Cause::Idle;
        };
        let blocked_writer = self.conns[conn.0 as usize].blocked_writer == Some(id);
        let waiting =
            blocked_writer || self.conns[conn.0 as usize].blocked_reader == Some(id) || app.done;
        if !waiting {
            return Cause::Idle;
        }
        self.wait_cause(conn, blocked_writer)
    }

    /// What a connection's data is waiting for.
    fn wait_cause(&self, conn: ConnId, blocked_writer: bool) -> Cause {
        let c = &self.conns[conn.0 as usize];
        if c.remote.is_some() {
            return if c.delack_armed && c.receiving.unacked_segments > 0 {
                Cause::DelayedAck
            } else {
                Cause::Wire
            };
        }
        if c.sender.una() < c.lost_end {
            return Cause::Rto;
        }
        if self.nic.wire_busy() {
            return Cause::Wire;
        }
        if self.nic.dma_busy() {
            return Cause::Nic;
        }
        if c.rcv.as_ref().is_some_and(|r| r.bytes() > 0)
            || (c.rcv.is_some() && c.blocked_reader.is_none())
        {
            // Loopback: the data (or the ACK the reader sends after its read) waits for the
            // local reader, which has data to take or is taking it.
            return Cause::CpuWait;
        }
        if c.delack_armed && c.receiving.unacked_segments > 0 {
            return Cause::DelayedAck;
        }
        let unsent = c.sender.written() - c.sender.nxt();
        let in_flight = c.sender.in_flight();
        let nagle = c.short_rule(self.cfg.tcp.nodelay) == ShortSegments::Nagle;
        if nagle && unsent > 0 && unsent < self.cfg.link.mss() && !c.sender.nagle_allows_short() {
            return Cause::Nagle;
        }
        if unsent > 0 && self.send_window(conn) <= in_flight {
            return Cause::ZeroWindow;
        }
        if blocked_writer {
            Cause::SendBuffer
        } else {
            Cause::Wire
        }
    }

    /// After an event: close the interval of the cause that held over it. While narrating,
    /// a stall that ends is told with its length and the reason it had when it began.
    pub(super) fn account_event(&mut self) {
        let now = self.now();
        let cause = self.cause_now();
        let progress = self.payload_done_at() == now;
        let (before, since) = (self.account.current, self.account.cause_since);
        if cause != before && self.narrating() {
            self.narrate_stall(before, since, cause);
        }
        self.account.step(now, cause, progress);
    }

    /// Tells the stall `before` (since `since`) that ends now, and notes why `next` began.
    fn narrate_stall(&mut self, before: Cause, since: SimTime, next: Cause) {
        let waited = self.now().duration_since(since);
        if let Some(why) = self.account.stall_why.take()
            && waited >= NARRATED_STALL
        {
            let line = format!("app 0 waited {waited} for {}: {why}", before.waiting_for());
            let note = self.narrate(format_args!("{line}"));
            self.trace_span(|l| l.stalls, since, "stall", before.name().into(), note);
        }
        if next.is_stall() {
            self.account.stall_why = Some(self.stall_reason(next));
        }
    }

    /// Why the critical application's connection waits on `cause` now, from its state.
    fn stall_reason(&self, cause: Cause) -> String {
        let conn = match self.apps.first().map(|a| &a.role) {
            Some(Role::Sender(s)) => s.conn(),
            Some(Role::Receiver(r)) => Some(r.conn()),
            _ => None,
        };
        let Some(conn) = conn else {
            return "no connection".to_owned();
        };
        let c = &self.conns[conn.0 as usize];
        let tcp = &self.cfg.tcp;
        let unsent = c.sender.written() - c.sender.nxt();
        let in_flight = c.sender.in_flight();
        let nagle_holds = c.short_rule(tcp.nodelay) == ShortSegments::Nagle
            && unsent > 0
            && unsent < self.cfg.link.mss()
            && !c.sender.nagle_allows_short();
        match cause {
            Cause::DelayedAck => {
                let mut why = format!(
                    "the receiver holds its ACK of {} on its {} delayed-ACK timer",
                    super::narrate::count(
                        u64::from(c.receiving.unacked_segments),
                        "segment",
                        "segments"
                    ),
                    tcp.delayed_ack
                );
                if nagle_holds {
                    why += &format!(
                        ", and Nagle holds the last {} (a partial segment) until that ACK comes",
                        human_bytes(unsent)
                    );
                }
                why
            }
            Cause::Nagle => format!(
                "Nagle holds {} (less than one {}-byte segment) while {} are unacknowledged{}",
                human_bytes(unsent),
                self.cfg.link.mss(),
                human_bytes(in_flight),
                match c.sender.nagle_rule() {
                    NagleRule::Bsd => "",
                    NagleRule::Minshall => ", an earlier short segment among them (Minshall)",
                }
            ),
            Cause::ZeroWindow => format!(
                "the receiver's window of {} is full with {} in flight",
                human_bytes(self.send_window(conn)),
                human_bytes(in_flight)
            ),
            Cause::SendBuffer => format!(
                "the send buffer holds {} of {}, all waiting to be sent or acknowledged",
                human_bytes(c.snd.bytes()),
                human_bytes(c.snd.hiwat())
            ),
            Cause::Rto => format!(
                "the segment at byte {} was lost; only the retransmission timer can repair it",
                c.sender.una()
            ),
            Cause::Wire => match self.cfg.link.kind {
                LinkKind::Ethernet { rate } => format!(
                    "{} in flight on a {} link with a {} round trip",
                    human_bytes(in_flight),
                    rate,
                    self.cfg.link.rtt
                ),
                LinkKind::Loopback => format!("{} in flight over loopback", human_bytes(in_flight)),
            },
            Cause::Nic => "the NIC's DMA engine is busy moving frames".to_owned(),
            Cause::Disk => "a disk read is in progress".to_owned(),
            Cause::Cpu | Cause::CpuWait | Cause::Idle => String::new(),
        }
    }

    /// The critical application's time by cause, up to the payload's last movement.
    pub fn time_account(&self) -> Vec<(Cause, u64)> {
        self.account.totals().collect()
    }
}
