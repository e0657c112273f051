//! The world: one event loop over the machine, the VM and the network path, and the
//! applications that drive them.
//!
//! ## Decide, then happen
//! Handling an event *decides* what the kernel does: VM and network operations change state at
//! once and append their cost to a [`Plan`]. The plan then runs on a CPU thread; only when it
//! completes do its effects become visible to others: copied data is appended to the socket
//! buffer, packets go to the NIC, a blocked writer wakes. So TCP never sends bytes whose copy
//! has not finished, and every visible effect is as late as the work that caused it.
//!
//! ## Threads
//! Each application has a user thread. The kernel has a `softnet` thread (ACK and receive
//! processing, `tcp_output` run from them) at kernel priority and an interrupt thread at
//! interrupt priority. Work for a busy thread waits in its FIFO.
//!
//! ## Transmit path
//! `tcp_output` builds a packet per segment: a header mbuf plus `m_copy` references to the send
//! buffer's storage, a checksum pass unless offloaded or fused into the copy that filled the
//! storage, and descriptors for each physically contiguous piece. Without scatter-gather, or
//! with too many pieces, the driver first copies the payload into one bounce buffer. Packets
//! wait for TX descriptors (a full ring stops `tcp_output`), are DMAed one at a time over the
//! bus at most at the DMA engine's rate, then serialized on the wire. Each TX completion is
//! reported by an interrupt (coalesced), which frees the descriptors and the packet's
//! references. The peer acknowledges as [`crate::net::tcp::TcpReceiver`] decides, half an RTT
//! after the segment arrives, which is half an RTT after it left the wire.

mod app;
pub(crate) mod kernel;
mod path;
mod rx;
mod sender;
mod trace;

use std::collections::{BTreeMap, VecDeque};

use sim::{ByteRate, EventQueue, RngStreams, SimDuration, SimRng, SimTime};

pub use app::{AppId, AppSpec, FileName, Mutation, Receiver, Requests, SendSource, SenderSpec};
pub use path::{DataPath, PathKind, PathNode, human_bytes};
pub use trace::{FrameChange, FrameState, TOTALS, Trace};

use crate::machine::{
    Activity, Machine, MachineConfig, MachineEvent, Notice, Plan, Priority, Step, ThreadId,
};
use crate::net::mbuf::{ExtId, ExtKind, ExtTable, Release};
use crate::net::sockbuf::{Piece, RecvBuffer, SendBuffer};
use crate::net::tcp::{AckDecision, ShortSegments, TcpReceiver, TcpSender};
use crate::net::{
    ETHER_HEADER, LinkConfig, LinkKind, NetCounters, NicConfig, StackCosts, TcpConfig,
};
use crate::vm::{Vm, VmConfig};

/// Everything a world is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldConfig {
    pub machine: MachineConfig,
    pub link: LinkConfig,
    pub nic: NicConfig,
    pub tcp: TcpConfig,
    pub stack: StackCosts,
    /// The stack computes the TCP checksum during the copy that fills a cluster (Linux
    /// `csum_and_copy_from_user`), so such data needs no separate pass.
    pub fused_copy_checksum: bool,
    /// Size of each user address space.
    pub user_space_bytes: u64,
    /// Root seed of every random stream.
    pub seed: u64,
}

/// A thread's name in narration and traces.
pub(super) fn thread_name(t: ThreadId) -> String {
    match t {
        SOFTNET => "softnet".to_owned(),
        IRQ => "interrupt".to_owned(),
        ThreadId(n) => format!("app {}", n - FIRST_APP_THREAD),
    }
}

/// Receives one plain-language line per narrated event (`run --verbose`, the TUI).
pub type Narrator = Box<dyn FnMut(&str)>;

/// A connection, numbered from a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u32);

/// A packet in the transmit path, numbered from a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketId(pub u64);

/// Events of the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Machine(MachineEvent),
    /// The wire finished serializing its current frame.
    WireDone,
    /// A segment reached the remote peer.
    SegmentArrive {
        conn: ConnId,
        seq: u64,
        len: u64,
    },
    /// An ACK reached the sender.
    AckArrive {
        conn: ConnId,
        ack: u64,
    },
    /// The peer's delayed-ACK timer.
    DelayedAck {
        conn: ConnId,
    },
    /// The retransmission timer of a lost segment.
    Rto {
        conn: ConnId,
        seq: u64,
    },
    /// An application's timer (think time, a scheduled mutation).
    AppTimer {
        app: AppId,
    },
    /// The remote sender of an incoming connection may send (its window opened).
    RemoteOutput {
        conn: ConnId,
    },
    /// A frame from the remote reaches the NIC.
    RxFrameArrive {
        conn: ConnId,
        seq: u64,
        len: u64,
    },
    /// Our ACK reaches the remote.
    RemoteAck {
        conn: ConnId,
        ack: u64,
    },
}

impl From<MachineEvent> for Event {
    fn from(e: MachineEvent) -> Self {
        Event::Machine(e)
    }
}

/// What happens when a plan completes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cont {
    App(AppId, app::AppCont),
    /// Packets built by `tcp_output` go to the NIC (or the loopback peer).
    Output {
        packets: Vec<PacketId>,
    },
    /// An ACK was processed: wake the writer, send more.
    AckDone {
        conn: ConnId,
    },
    /// TX completions were reclaimed: descriptors are free again.
    TxReclaimed {
        slots: u32,
    },
    /// A received frame went through `tcp_input`.
    RxDelivered {
        conn: ConnId,
        seq: u64,
        len: u64,
        pieces: Vec<Piece>,
    },
    /// Loopback: received segments were processed into the receive buffer.
    LoopbackDelivered {
        conn: ConnId,
        pieces: Vec<Piece>,
    },
}

#[derive(Debug, Default)]
struct ThreadQueue {
    running: Option<Cont>,
    /// Plans waiting for the thread, with their narration line.
    pending: VecDeque<(Plan, Cont, u64)>,
}

/// A packet on its way out.
#[derive(Clone, Debug)]
struct Packet {
    conn: ConnId,
    seq: u64,
    len: u64,
    /// References to payload this packet holds (after coalescing: the bounce buffer).
    pieces: Vec<Piece>,
    /// TX descriptors it occupies.
    slots: u32,
    /// Its payload was already read by the CPU (coalescing copy) and checked then.
    checked: bool,
}

/// One TCP connection: the local socket and the TCP state on both ends.
#[derive(Debug)]
struct Conn {
    snd: SendBuffer,
    sender: TcpSender,
    /// Retransmissions whose RTO fired: seq → len.
    rexmit_due: BTreeMap<u64, u64>,
    /// TCP state of the receiving end: the remote peer for data we send, this host for data
    /// a remote sends us.
    receiving: TcpReceiver,
    /// For incoming connections: the remote sender.
    remote: Option<rx::Remote>,
    delack_armed: bool,
    /// Loopback only: the receiving socket's buffer on this machine.
    rcv: Option<RecvBuffer>,
    /// The application writing to it, if blocked on space.
    blocked_writer: Option<AppId>,
    /// The application reading from it, if blocked on data.
    blocked_reader: Option<AppId>,
    /// `tcp_output` stopped on a full ring.
    ring_stalled: bool,
    /// `TCP_CORK`: no short segment leaves.
    corked: bool,
    /// Uncorked: the short tail leaves at once, Nagle or not.
    push: bool,
}

impl Cont {
    /// What the work is for, in words.
    fn describe(&self) -> &'static str {
        match self {
            Cont::App(_, a) => a.describe(),
            Cont::Output { .. } => "runs tcp_output",
            Cont::AckDone { .. } => "takes the receive interrupt and processes an ACK",
            Cont::TxReclaimed { .. } => "reclaims TX descriptors and frees sent mbufs",
            Cont::RxDelivered { .. } => "takes the receive interrupt and runs tcp_input",
            Cont::LoopbackDelivered { .. } => "runs tcp_input for a looped-back segment",
        }
    }
}

/// A plan in words: its fixed CPU time by activity, and what it moves, by kind of step.
fn describe_plan(plan: &Plan, cfg: &WorldConfig) -> String {
    let mut fixed: BTreeMap<Activity, u64> = BTreeMap::new();
    // (what, why) -> (steps, bytes), in first-seen order.
    let mut moves: Vec<(&'static str, u64, u64)> = Vec::new();
    let mut add = |what: &'static str, bytes: u64| match moves.iter_mut().find(|m| m.0 == what) {
        Some(m) => {
            m.1 += 1;
            m.2 += bytes;
        }
        None => moves.push((what, 1, bytes)),
    };
    for step in plan.steps() {
        match *step {
            Step::Cpu { activity, duration } => {
                *fixed.entry(activity).or_default() += duration.as_nanos();
            }
            Step::Copy { payload_bytes, .. } => add("copy", payload_bytes),
            Step::Checksum { bytes } => add("checksum", bytes),
            Step::Zero { bytes } => add("zero-fill", bytes),
            Step::AppWrite { bytes } => add("app write", bytes),
            Step::DiskRead { bytes } => add("disk read", bytes),
        }
    }
    let costs = &cfg.machine.costs;
    let mut out: Vec<String> = fixed
        .iter()
        .map(|(a, ns)| format!("{} {}", a.name(), SimDuration::from_nanos(*ns)))
        .collect();
    for (what, n, bytes) in moves {
        let times = if n > 1 {
            format!(" in {n} steps")
        } else {
            String::new()
        };
        let how = match what {
            "copy" => format!(
                " ({} bus bytes per byte, at most {} for the CPU)",
                costs.copy_bus_factor(),
                costs.cpu_copy_rate
            ),
            "disk read" => format!(
                " ({} latency each, then DMA)",
                SimDuration::from_nanos(cfg.machine.disk.latency_ns)
            ),
            _ => String::new(),
        };
        out.push(format!("{what} {}{times}{how}", human_bytes(bytes)));
    }
    out.join(", ")
}

impl Conn {
    fn short_rule(&self) -> ShortSegments {
        if self.corked {
            ShortSegments::Never
        } else if self.push {
            ShortSegments::Always
        } else {
            ShortSegments::Nagle
        }
    }
}

/// Transmit side of the NIC.
#[derive(Debug, Default)]
struct Nic {
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
}

const SOFTNET: ThreadId = ThreadId(0);
const IRQ: ThreadId = ThreadId(1);
const FIRST_APP_THREAD: u32 = 16;

/// The whole simulated system. See the module docs.
pub struct World {
    cfg: WorldConfig,
    queue: EventQueue<Event>,
    machine: Machine,
    vm: Vm,
    exts: ExtTable,
    conns: Vec<Conn>,
    packets: BTreeMap<PacketId, Packet>,
    next_packet: u64,
    nic: Nic,
    threads: BTreeMap<ThreadId, ThreadQueue>,
    apps: Vec<app::App>,
    net: NetCounters,
    loss_rng: SimRng,
    notices: Vec<Notice>,
    events: u64,
    /// When the last frame finished on the wire (or reached the loopback peer).
    last_tx: SimTime,
    /// When the sender last learned of newly acknowledged data.
    last_ack: SimTime,
    /// When a remote receiving end last got new in-order data.
    last_delivery: SimTime,
    /// When a reader last finished a `recv()`.
    last_recv: SimTime,
    /// System calls made by applications.
    syscalls: u64,
    /// Applications that could not map their memory (a simulated failure).
    failed_setups: u64,
    /// Time the wire spent serializing frames (our side), ns.
    wire_busy_ns: u64,
    /// Time the transmit and receive DMA engines were busy, ns, and when the current
    /// transfers began.
    tx_dma_busy_ns: u64,
    rx_dma_busy_ns: u64,
    tx_dma_started: SimTime,
    rx_dma_started: SimTime,
    /// Narration sink (`run --verbose`); `None` costs one branch per narrated point.
    narrator: Option<Narrator>,
    /// Trace recording (the TUI, `export`); `None` costs one branch per recording point.
    tracer: Option<Box<trace::Tracer>>,
    /// Names under which files are opened (a rename replaces the file under a name).
    file_names: Vec<crate::vm::FileId>,
    /// Where the bytes went.
    path: DataPath,
    /// Kernel address space holding loaned pages now (NetBSD maps loans into KVA).
    kva_loaned_bytes: u64,
    /// When the remote's side of the wire is next free.
    rx_wire_free: SimTime,
    next_rx: u64,
    rx_frames: BTreeMap<u64, rx::RxFrame>,
    rx_dma_queue: VecDeque<u64>,
    rx_dma_active: Option<u64>,
    /// Check every invariant after every event (tests and debug builds).
    check_every_event: bool,
    /// Why the run stopped before its work was done, if it did.
    stalled: Option<String>,
    /// Tests only: break an invariant after the first event.
    inject_bug: bool,
}

/// Simulated time without any byte moving after which a run is declared stalled. Long enough
/// for the longest backed-off retransmission timer, think time or disk queue of any preset.
pub const STALL_LIMIT: SimDuration = SimDuration::from_secs(600);

impl World {
    pub fn new(cfg: WorldConfig) -> Self {
        let machine = Machine::new(cfg.machine.clone());
        let vm = Vm::new(VmConfig {
            costs: cfg.machine.costs,
            cpus: cfg.machine.cpus,
            user_space_bytes: cfg.user_space_bytes,
        });
        let streams = RngStreams::new(cfg.seed);
        World {
            loss_rng: streams.named_stream("link.loss", 0),
            queue: EventQueue::new(),
            machine,
            vm,
            exts: ExtTable::default(),
            conns: Vec::new(),
            packets: BTreeMap::new(),
            next_packet: 0,
            nic: Nic {
                free_slots: cfg.nic.tx_ring_slots,
                ..Nic::default()
            },
            threads: BTreeMap::new(),
            apps: Vec::new(),
            net: NetCounters::default(),
            notices: Vec::new(),
            events: 0,
            last_tx: SimTime::ZERO,
            last_ack: SimTime::ZERO,
            last_delivery: SimTime::ZERO,
            last_recv: SimTime::ZERO,
            syscalls: 0,
            failed_setups: 0,
            wire_busy_ns: 0,
            tx_dma_busy_ns: 0,
            rx_dma_busy_ns: 0,
            tx_dma_started: SimTime::ZERO,
            rx_dma_started: SimTime::ZERO,
            narrator: None,
            tracer: None,
            file_names: Vec::new(),
            path: DataPath::default(),
            kva_loaned_bytes: 0,
            rx_wire_free: SimTime::ZERO,
            next_rx: 0,
            rx_frames: BTreeMap::new(),
            rx_dma_queue: VecDeque::new(),
            rx_dma_active: None,
            check_every_event: cfg!(debug_assertions),
            stalled: None,
            inject_bug: false,
            cfg,
        }
    }

    /// Turns the after-every-event invariant check on or off (on by default in debug builds).
    pub fn set_check_invariants(&mut self, on: bool) {
        self.check_every_event = on;
    }

    pub fn config(&self) -> &WorldConfig {
        &self.cfg
    }

    pub fn now(&self) -> SimTime {
        self.queue.now()
    }

    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// The VM, for setting the stage before the run (files, warm caches).
    pub fn vm_mut(&mut self) -> &mut Vm {
        &mut self.vm
    }

    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    pub fn net_counters(&self) -> &NetCounters {
        &self.net
    }

    pub fn ext_table(&self) -> &ExtTable {
        &self.exts
    }

    /// When the last frame left the wire (or reached the loopback peer).
    pub fn last_tx(&self) -> SimTime {
        self.last_tx
    }

    /// When the sender last learned of newly acknowledged data.
    pub fn last_ack(&self) -> SimTime {
        self.last_ack
    }

    /// When the payload finished moving: when the remote end got the last byte (as a
    /// receiving ttcp measures; the sender's last ACK may still wait for a delayed-ACK timer),
    /// or when a local reader finished its last `recv()`, whichever is later.
    pub fn payload_done_at(&self) -> SimTime {
        self.last_delivery.max(self.last_recv)
    }

    /// System calls the applications made.
    pub fn syscalls(&self) -> u64 {
        self.syscalls
    }

    /// Time the wire spent serializing our frames, ns.
    pub fn wire_busy_ns(&self) -> u64 {
        self.wire_busy_ns
    }

    /// Time the NIC's busier DMA engine (transmit or receive) was moving data, ns.
    pub fn nic_dma_busy_ns(&self) -> u64 {
        self.tx_dma_busy_ns.max(self.rx_dma_busy_ns)
    }

    /// Sends one plain-language line per narrated event to `f` (`run --verbose`).
    pub fn set_narrator(&mut self, f: Narrator) {
        self.narrator = Some(f);
    }

    /// Whether a narrator or a trace is listening; check before formatting a line.
    pub(super) fn narrating(&self) -> bool {
        self.narrator.is_some() || self.tracer.is_some()
    }

    /// Tells the narrator, and keeps the line in the trace. Returns the line's id in the trace
    /// (0 when not tracing), for records to point at.
    pub(super) fn narrate(&mut self, line: std::fmt::Arguments<'_>) -> u64 {
        let now = self.now();
        let text = format!("{:>12}  {line}", now.to_string());
        if let Some(f) = &mut self.narrator {
            f(&text);
        }
        match &mut self.tracer {
            Some(t) => {
                t.notes.push(text);
                (t.notes.len() - 1) as u64
            }
            None => 0,
        }
    }

    /// The data-path graph: the moves recorded as they happened, plus the device transfers
    /// and fault copies read off the counters.
    pub fn data_path(&self) -> DataPath {
        let mut p = self.path.clone();
        let vm = self.vm.counters();
        let disk = (vm.major_faults + vm.cache_misses) * crate::vm::PAGE_SIZE;
        p.add(PathNode::Disk, PathNode::PageCache, PathKind::Dma, disk);
        let cow = (vm.cow_faults + vm.loan_breaks) * crate::vm::PAGE_SIZE;
        p.add(
            PathNode::UserBuffer,
            PathNode::UserBuffer,
            PathKind::CpuCopy,
            cow,
        );
        let n = &self.net;
        p.add(
            PathNode::SocketBuffer,
            PathNode::DriverBounce,
            PathKind::CpuCopy,
            n.coalesce_copy_bytes,
        );
        p.add(
            PathNode::DriverBounce,
            PathNode::Nic,
            PathKind::Dma,
            n.coalesce_copy_bytes.min(n.tx_dma_bytes),
        );
        p.add(
            PathNode::SocketBuffer,
            PathNode::Nic,
            PathKind::Dma,
            n.tx_dma_bytes.saturating_sub(n.coalesce_copy_bytes),
        );
        let on_wire: u64 = match self.cfg.link.kind {
            LinkKind::Ethernet { .. } => n.tx_dma_bytes,
            LinkKind::Loopback => 0,
        };
        p.add(PathNode::Nic, PathNode::Wire, PathKind::Dma, on_wire);
        if self.cfg.link.kind == LinkKind::Loopback {
            let looped: u64 = self.conns.iter().map(|c| c.receiving.received).sum();
            p.add(
                PathNode::SocketBuffer,
                PathNode::KernelBuffer,
                PathKind::Reference,
                looped,
            );
        }
        p.add(PathNode::Wire, PathNode::Nic, PathKind::Dma, n.rx_dma_bytes);
        p.add(
            PathNode::Nic,
            PathNode::KernelBuffer,
            PathKind::Dma,
            n.rx_dma_bytes,
        );
        p
    }

    /// Payload bytes remote peers sent us that readers have received, over all incoming
    /// connections.
    pub fn incoming_received_bytes(&self) -> u64 {
        self.conns
            .iter()
            .filter(|c| c.remote.is_some())
            .map(|c| c.receiving.received)
            .sum()
    }

    /// Payload bytes the peer has received in order, over all connections.
    pub fn delivered_bytes(&self) -> u64 {
        self.conns.iter().map(|c| c.receiving.received).sum()
    }

    /// Events handled so far.
    pub fn events_handled(&self) -> u64 {
        self.events
    }

    /// Payload bytes the peer has acknowledged, over all connections.
    pub fn acked_bytes(&self) -> u64 {
        self.conns.iter().map(|c| c.sender.una).sum()
    }

    /// Payload bytes written into send buffers, over all connections.
    pub fn written_bytes(&self) -> u64 {
        self.conns.iter().map(|c| c.sender.written).sum()
    }

    /// Opens a connection. On loopback the receiving socket is local.
    pub fn open_conn(&mut self) -> ConnId {
        let id = ConnId(self.conns.len() as u32);
        let loopback = self.cfg.link.kind == LinkKind::Loopback;
        self.conns.push(Conn {
            snd: SendBuffer::new(self.cfg.tcp.send_buffer_bytes),
            sender: TcpSender::default(),
            rexmit_due: BTreeMap::new(),
            receiving: TcpReceiver::default(),
            remote: None,
            delack_armed: false,
            rcv: loopback.then(|| RecvBuffer::new(self.cfg.tcp.recv_buffer_bytes)),
            blocked_writer: None,
            blocked_reader: None,
            ring_stalled: false,
            corked: false,
            push: false,
        });
        id
    }

    /// Runs until nothing is left to do, or until nothing has moved for [`STALL_LIMIT`] of
    /// simulated time. A run whose events ran out with work left, or that stopped moving, is
    /// stalled: [`World::stalled`] says what everyone was waiting for.
    pub fn run(&mut self) {
        self.run_until(SimTime::MAX);
        if self.stalled.is_none() && !self.is_clean() {
            self.stalled = Some(self.stall_diagnostic("no event is left to run"));
        }
    }

    /// Runs events up to and including `limit` (or until the run stalls).
    pub fn run_until(&mut self, limit: SimTime) {
        while let Some(t) = self.queue.peek_time() {
            if t > limit || self.stalled.is_some() {
                break;
            }
            let (_, ev) = self.queue.pop().expect("peeked");
            self.handle(ev);
            self.events += 1;
            if self.tracer.is_some() {
                self.trace_after_event();
            }
            if std::mem::take(&mut self.inject_bug) {
                // Tests prove a command runs the checker: one descriptor appears from nowhere.
                self.nic.free_slots += 1;
            }
            if self.check_every_event {
                self.check_invariants();
            }
            if self.events % 4096 == 0 {
                self.watch_progress();
            }
        }
    }

    /// Tests only: breaks the TX-descriptor conservation invariant after the next event.
    #[doc(hidden)]
    pub fn inject_invariant_bug(&mut self) {
        self.inject_bug = true;
    }

    /// Why the run stopped before its work was done, if it did.
    pub fn stalled(&self) -> Option<&str> {
        self.stalled.as_deref()
    }

    /// Declares the run stalled when no byte has moved for [`STALL_LIMIT`].
    fn watch_progress(&mut self) {
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
    fn stall_diagnostic(&self, why: &str) -> String {
        let mut waits = Vec::new();
        for (i, c) in self.conns.iter().enumerate() {
            let unacked = c.sender.written - c.sender.una;
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
                    self.nic.free_slots, self.cfg.nic.tx_ring_slots
                ));
            }
            if unacked > 0 {
                waits.push(format!("conn {i} has {unacked} bytes unacknowledged"));
            }
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

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Machine(m) => {
                let mut notices = std::mem::take(&mut self.notices);
                self.machine.handle(&mut self.queue, m, &mut notices);
                for n in notices.drain(..) {
                    match n {
                        Notice::PlanDone(t) => self.plan_done(t),
                        Notice::DmaDone { tag } if tag & rx::RX_TAG != 0 => {
                            self.rx_dma_done(tag & !rx::RX_TAG)
                        }
                        Notice::DmaDone { tag } => self.dma_done(PacketId(tag)),
                    }
                }
                self.notices = notices;
            }
            Event::WireDone => self.wire_done(),
            Event::SegmentArrive { conn, seq, len } => self.segment_arrive(conn, seq, len),
            Event::AckArrive { conn, ack } => self.ack_arrive(conn, ack),
            Event::DelayedAck { conn } => {
                let c = &mut self.conns[conn.0 as usize];
                c.delack_armed = false;
                if let Some(ack) = c.receiving.delayed_ack() {
                    self.net.delayed_acks += 1;
                    if c.remote.is_some() {
                        self.ack_remote(conn, ack);
                    } else {
                        self.send_ack(conn, ack);
                    }
                }
            }
            Event::Rto { conn, seq } => {
                let c = &mut self.conns[conn.0 as usize];
                if let Some(len) = c.sender.lost.remove(&seq) {
                    c.rexmit_due.insert(seq, len);
                    self.schedule_output(conn, SOFTNET);
                }
            }
            Event::AppTimer { app } => self.app_timer(app),
            Event::RemoteOutput { conn } => self.remote_output(conn),
            Event::RxFrameArrive { conn, seq, len } => self.rx_frame_arrive(conn, seq, len),
            Event::RemoteAck { conn, ack } => self.remote_ack(conn, ack),
        }
    }

    // ----- threads ---------------------------------------------------------------------------

    fn priority_of(&self, thread: ThreadId) -> Priority {
        match thread {
            SOFTNET => Priority::Kernel,
            IRQ => Priority::Interrupt,
            _ => Priority::User,
        }
    }

    /// Runs `plan` on `thread` now, or after the thread's earlier work.
    fn submit(&mut self, thread: ThreadId, plan: Plan, cont: Cont) {
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
    fn start_or_queue(&mut self, thread: ThreadId, plan: Plan, cont: Cont, note: u64) {
        let tq = self.threads.entry(thread).or_default();
        if tq.running.is_some() {
            tq.pending.push_back((plan, cont, note));
            return;
        }
        tq.running = Some(cont);
        if let Some(t) = &mut self.tracer {
            t.thread_note.insert(thread, note);
        }
        let prio = self.priority_of(thread);
        let mut notices = std::mem::take(&mut self.notices);
        self.machine
            .submit(&mut self.queue, thread, prio, &plan, &mut notices);
        self.notices = notices;
        // An empty plan completes at once.
        while let Some(Notice::PlanDone(t)) = self.notices.pop() {
            self.plan_done(t);
        }
    }

    fn plan_done(&mut self, thread: ThreadId) {
        let tq = self.threads.get_mut(&thread).expect("thread ran a plan");
        let cont = tq.running.take().expect("a plan was running");
        if let Some((plan, next, note)) = tq.pending.pop_front() {
            self.start_or_queue(thread, plan, next, note);
        }
        match cont {
            Cont::App(app, c) => self.app_continue(app, c),
            Cont::Output { packets } => self.output_done(packets),
            Cont::AckDone { conn } => {
                self.wake_writer(conn);
                self.schedule_output(conn, SOFTNET);
            }
            Cont::TxReclaimed { slots } => {
                self.nic.free_slots += slots;
                self.nic.reclaiming_slots -= slots;
                if self.tracing() {
                    let used = self.cfg.nic.tx_ring_slots - self.nic.free_slots;
                    self.trace_counter("TX ring slots in use", f64::from(used));
                }
                self.nic.irq_pending = false;
                if !self.nic.completed.is_empty() {
                    self.tx_interrupt();
                }
                for i in 0..self.conns.len() {
                    if std::mem::take(&mut self.conns[i].ring_stalled) {
                        self.schedule_output(ConnId(i as u32), SOFTNET);
                    }
                }
            }
            Cont::RxDelivered {
                conn,
                seq,
                len,
                pieces,
            } => self.rx_delivered(conn, seq, len, pieces),
            Cont::LoopbackDelivered { conn, pieces } => {
                let c = &mut self.conns[conn.0 as usize];
                let rcv = c.rcv.as_mut().expect("loopback connection");
                for p in pieces {
                    rcv.append(p);
                }
                if let Some(app) = c.blocked_reader.take() {
                    self.app_wake(app);
                }
            }
        }
    }

    // ----- releasing storage -----------------------------------------------------------------

    /// Drops one reference to `ext`; if it was the last, releases it and charges the release
    /// (an `mbuf_ns`, and an unloan per lent page) to `plan`.
    fn unref_ext(&mut self, ext: ExtId, plan: &mut Plan) {
        plan.cpu(Activity::Protocol, self.cfg.stack.mbuf_ns);
        match self.exts.unref(ext) {
            None | Some(Release::Memory) => {}
            Some(Release::EndLend { kind, pages }) => {
                let mut k = kernel::Kernel::for_work(self, None, plan);
                crate::strategy::end_lend(&mut k, kind, ext, pages);
            }
            Some(Release::Unref { pages }) => {
                for pfn in pages {
                    self.vm.kernel_unref(pfn);
                }
            }
        }
    }

    // ----- transmit --------------------------------------------------------------------------

    /// Decides `tcp_output` for `conn` now and runs its work on `thread`; its packets reach
    /// the NIC when that work completes.
    fn schedule_output(&mut self, conn: ConnId, thread: ThreadId) {
        let mut plan = Plan::new();
        let packets = self.tcp_output(conn, &mut plan);
        if packets.is_empty() && plan.is_empty() {
            return;
        }
        self.submit(thread, plan, Cont::Output { packets });
    }

    /// The peer's window as the sender sees it.
    fn send_window(&self, conn: ConnId) -> u64 {
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
    fn tcp_output(&mut self, conn: ConnId, plan: &mut Plan) -> Vec<PacketId> {
        let mss = self.cfg.link.mss();
        let window = self.send_window(conn);
        let mut packets = Vec::new();
        loop {
            let c = &self.conns[conn.0 as usize];
            let (seq, len, rexmit) = if let Some((&s, &l)) = c.rexmit_due.first_key_value() {
                (s, l, true)
            } else if let Some(l) = c.sender.next_segment(window, mss, c.short_rule()) {
                (c.sender.nxt, l, false)
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
                let short = if len < mss { " (short)" } else { "" };
                self.narrate(format_args!(
                    "tcp_output: conn {} {kind} segment {seq}..{} of {len} bytes{short}",
                    conn.0,
                    seq + len
                ));
            }
            let c = &mut self.conns[conn.0 as usize];
            if rexmit {
                c.rexmit_due.remove(&seq);
                self.net.retransmits += 1;
            } else {
                c.sender.nxt += len;
                if c.sender.nxt == c.sender.written {
                    c.push = false;
                }
            }
            self.net.segments += 1;
        }
        packets
    }

    /// One segment as a packet, or `None` if the TX ring lacks descriptors for it.
    fn build_packet(
        &mut self,
        conn: ConnId,
        seq: u64,
        len: u64,
        plan: &mut Plan,
    ) -> Option<PacketId> {
        let stack = self.cfg.stack;
        let loopback = self.cfg.link.kind == LinkKind::Loopback;
        let mut pieces = Vec::new();
        let c = &self.conns[conn.0 as usize];
        c.snd.pieces(seq - c.sender.una, len, &mut pieces);
        let data_frags: u64 = pieces
            .iter()
            .map(|p| self.exts.get(p.ext).pieces(p.off, p.len))
            .sum();
        let frags = 1 + data_frags;
        let nic = self.cfg.nic;
        let coalesce = !loopback && (!nic.scatter_gather || frags > u64::from(nic.max_frags));
        let slots = if loopback {
            0
        } else if coalesce {
            1
        } else {
            frags as u32
        };
        if slots > self.nic.free_slots {
            return None;
        }
        self.nic.free_slots -= slots;
        if self.tracing() {
            let used = self.cfg.nic.tx_ring_slots - self.nic.free_slots;
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
            let old: Vec<Piece> = std::mem::take(&mut pieces);
            for p in old {
                self.unref_ext(p.ext, plan);
            }
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
    fn check_content(&mut self, pieces: &[Piece]) {
        let mut splats = Vec::new();
        for p in pieces {
            let ext = self.exts.get(p.ext);
            for (page, bytes) in ext.page_ranges(p.off, p.len) {
                let now = self.vm.frame(page.pfn).version;
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
                    "SPLAT: {:?} holds content v{} but the send promised v{}: {bytes} wrong bytes go on the wire",
                    page.pfn, now.0, page.expected.0
                ));
                self.trace_instant("splat", format!("splat on {:?}", page.pfn).into(), note);
            }
        }
    }

    /// Packets built by a finished `tcp_output` enter the NIC (or reach the loopback peer).
    fn output_done(&mut self, packets: Vec<PacketId>) {
        if self.cfg.link.kind == LinkKind::Loopback {
            self.loopback_deliver(packets);
            return;
        }
        self.nic.dma_queue.extend(packets);
        self.kick_dma();
    }

    fn kick_dma(&mut self) {
        if self.nic.dma_active.is_some() {
            return;
        }
        let Some(id) = self.nic.dma_queue.pop_front() else {
            return;
        };
        self.nic.dma_active = Some(id);
        self.tx_dma_started = self.now();
        let p = &self.packets[&id];
        let bytes = ETHER_HEADER + self.cfg.link.header_bytes() + p.len;
        self.machine
            .start_dma(&mut self.queue, bytes, self.cfg.nic.dma_rate, id.0);
    }

    fn dma_done(&mut self, id: PacketId) {
        assert_eq!(self.nic.dma_active, Some(id), "DMA completion out of order");
        self.nic.dma_active = None;
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
        }
        self.nic.wire_queue.push_back(id);
        self.kick_wire();
        self.kick_dma();
    }

    fn link_rate(&self) -> ByteRate {
        match self.cfg.link.kind {
            LinkKind::Ethernet { rate } => rate,
            LinkKind::Loopback => unreachable!("no wire on loopback"),
        }
    }

    fn kick_wire(&mut self) {
        if self.nic.wire_active.is_some() {
            return;
        }
        let Some(id) = self.nic.wire_queue.pop_front() else {
            return;
        };
        self.nic.wire_active = Some(id);
        let bytes = self.cfg.link.wire_bytes(self.packets[&id].len);
        let serialize = self.link_rate().time_for(bytes);
        self.wire_busy_ns += serialize.as_nanos();
        let now = self.now();
        if let Some(t) = &mut self.tracer {
            t.wire_started = now;
        }
        let at = self.now() + serialize;
        self.queue.schedule_at(at, Event::WireDone);
    }

    fn wire_done(&mut self) {
        let id = self.nic.wire_active.take().expect("wire was busy");
        self.net.packets += 1;
        self.last_tx = self.now();
        let (conn, seq, len) = {
            let p = &self.packets[&id];
            (p.conn, p.seq, p.len)
        };
        let lost =
            self.cfg.link.loss > 0.0 && sim::rng::chance(&mut self.loss_rng, self.cfg.link.loss);
        let half_rtt = SimDuration::from_nanos(self.cfg.link.rtt.as_nanos() / 2);
        let mut wire_note = 0;
        if self.narrating() {
            let fate = if lost {
                format!("is lost; its RTO fires in {}", self.cfg.tcp.rto)
            } else {
                "is on its way to the peer".to_owned()
            };
            let wire = self.cfg.link.wire_bytes(len);
            wire_note = self.narrate(format_args!(
                "wire: conn {} segment {seq}..{} ({len} B payload, {wire} B of wire time with headers, preamble and gap) {fate}",
                conn.0,
                seq + len
            ));
        }
        if let Some(t) = &self.tracer {
            let start = t.wire_started;
            let kind = if lost { "lost" } else { "frame" };
            let label = format!("segment {seq}..{}", seq + len);
            self.trace_span(|l| l.wire, start, kind, label.clone().into(), wire_note);
            if lost {
                self.trace_instant("loss", format!("{label} lost").into(), wire_note);
            }
        }
        if lost {
            self.net.lost += 1;
            self.conns[conn.0 as usize].sender.lost.insert(seq, len);
            self.queue
                .schedule_at(self.now() + self.cfg.tcp.rto, Event::Rto { conn, seq });
        } else {
            self.queue.schedule_at(
                self.now() + half_rtt,
                Event::SegmentArrive { conn, seq, len },
            );
        }
        self.nic.completed.push(id);
        self.kick_wire();
        let idle = self.nic.wire_active.is_none() && self.nic.dma_active.is_none();
        if self.nic.completed.len() >= self.cfg.nic.tx_coalesce.max(1) as usize || idle {
            self.tx_interrupt();
        }
    }

    /// The TX completion interrupt: reclaims descriptors and frees the packets' mbufs.
    fn tx_interrupt(&mut self) {
        if self.nic.irq_pending {
            return; // the running handler will take these too on its next pass
        }
        let done = std::mem::take(&mut self.nic.completed);
        if done.is_empty() {
            return;
        }
        self.net.interrupts += 1;
        let stack = self.cfg.stack;
        let mut plan = Plan::new();
        plan.cpu(
            Activity::Interrupt,
            stack.interrupt_ns + stack.tx_complete_per_packet_ns * done.len() as u64,
        );
        let mut slots = 0;
        for id in done {
            let p = self.packets.remove(&id).expect("completed packet exists");
            slots += p.slots;
            for piece in p.pieces {
                self.unref_ext(piece.ext, &mut plan);
            }
        }
        self.nic.irq_pending = true;
        self.nic.reclaiming_slots += slots;
        self.submit(IRQ, plan, Cont::TxReclaimed { slots });
    }

    // ----- the peer and ACKs --------------------------------------------------------------------

    fn segment_arrive(&mut self, conn: ConnId, seq: u64, len: u64) {
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
    fn arm_delayed_ack(&mut self, conn: ConnId) {
        let c = &mut self.conns[conn.0 as usize];
        if !c.delack_armed {
            c.delack_armed = true;
            let at = self.now() + self.cfg.tcp.delayed_ack;
            self.queue.schedule_at(at, Event::DelayedAck { conn });
        }
    }

    fn send_ack(&mut self, conn: ConnId, ack: u64) {
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
    fn ack_arrive(&mut self, conn: ConnId, ack: u64) {
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

    fn wake_writer(&mut self, conn: ConnId) {
        let c = &mut self.conns[conn.0 as usize];
        if c.blocked_writer.is_some()
            && c.snd.space() >= crate::net::mbuf::MCLBYTES.min(c.snd.hiwat())
        {
            let app = c.blocked_writer.take().expect("checked");
            self.app_wake(app);
        }
    }

    // ----- loopback ------------------------------------------------------------------------------

    /// Loopback: each packet is handed to the local receiving socket (`looutput` →
    /// `ip_input` → `tcp_input`): protocol work on the softnet thread, no copy, no DMA, no
    /// checksum; the packet's references move into the receive buffer.
    fn loopback_deliver(&mut self, packets: Vec<PacketId>) {
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

    // ----- invariants -----------------------------------------------------------------------------

    /// Panics naming the first broken invariant: the machine's and the VM's own; per
    /// connection, bytes conserved (the send buffer holds exactly `written − acked`, and
    /// `sent = acked + in flight`); TCP sequence order; every live external storage referenced
    /// exactly as often as the send buffers, receive buffers and packets hold it; TX
    /// descriptors conserved.
    pub fn check_invariants(&self) {
        self.machine.check_invariants();
        self.vm.check_invariants();
        self.exts.check_invariants();
        let mut holders: BTreeMap<ExtId, u32> = BTreeMap::new();
        for (i, c) in self.conns.iter().enumerate() {
            c.sender.check_invariants();
            c.snd.check_invariants();
            assert_eq!(
                c.snd.bytes(),
                c.sender.written - c.sender.una,
                "conn {i}: send buffer holds {} bytes, but written − acked = {}",
                c.snd.bytes(),
                c.sender.written - c.sender.una
            );
            for e in c.snd.exts() {
                *holders.entry(e).or_default() += 1;
            }
            if let Some(r) = &c.rcv {
                for e in r.exts() {
                    *holders.entry(e).or_default() += 1;
                }
            }
        }
        let mut slots = 0;
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
        for tq in self.threads.values() {
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
                holders.get(id).copied().unwrap_or(0),
                e.refs,
                "{id:?} has {} references but {} holders",
                e.refs,
                holders.get(id).copied().unwrap_or(0)
            );
        }
        assert_eq!(
            slots + self.nic.free_slots + self.nic.reclaiming_slots,
            self.cfg.nic.tx_ring_slots,
            "TX descriptors not conserved"
        );
    }

    /// Whether the run left nothing behind: no storage, loan, wiring or packet.
    pub fn is_clean(&self) -> bool {
        self.exts.live() == 0
            && self.packets.is_empty()
            && self.rx_frames.is_empty()
            && self.vm.counters().lent_pages == 0
    }
}

fn cont_exts(c: &Cont) -> Vec<ExtId> {
    match c {
        Cont::LoopbackDelivered { pieces, .. } | Cont::RxDelivered { pieces, .. } => {
            pieces.iter().map(|p| p.ext).collect()
        }
        Cont::App(_, a) => a.held_exts(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
