//! The world: one event loop over the machine, the VM and the network path, and the
//! applications that drive them.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`World`], its events and the dispatch between subsystems |
//! | `threads.rs` | kernel and application threads running plans; `Cont` routes each completion |
//! | `app.rs` | applications: receivers, mutators, writers, and what every app shares |
//! | `sender.rs` | the sender running its strategy's ops, chunk by chunk (`sosend`) |
//! | `kernel.rs` | the narrow interface strategy rooms work through |
//! | `tx.rs` | `tcp_output`, the driver, TX DMA, the wire, the TX completion interrupt |
//! | `peer.rs` | the receiving end of our connections, ACKs, delayed ACKs, loopback delivery |
//! | `rx.rs` | the remote sender, RX descriptors and DMA, `tcp_input` of incoming data |
//! | `narrate.rs` | the narration sink and the words for plans and threads |
//! | `path.rs` | the data-path graph |
//! | `trace.rs` | trace recording for the TUI and Perfetto |
//! | `invariants.rs` | the invariant checker and the stall diagnostic |
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

mod account;
mod app;
mod invariants;
pub(crate) mod kernel;
mod narrate;
mod path;
mod peer;
mod rx;
mod sender;
mod threads;
mod trace;
mod tx;
mod xsk;

use std::collections::{BTreeMap, VecDeque};

use sim::{EventQueue, RngStreams, SimDuration, SimRng, SimTime};

pub use account::Cause;
pub use app::{AppId, AppSpec, FileName, Mutation, Receiver, Requests, SendSource, SenderSpec};
pub use path::{DataPath, PathKind, PathNode, human_bytes};
pub use trace::{FrameChange, FrameState, TOTALS, Trace};

use crate::idwindow::IdWindow;
use crate::machine::{
    Activity, DmaTag, Machine, MachineConfig, MachineEvent, Notice, Plan, ThreadId,
};
use crate::net::mbuf::{ExtId, ExtTable, Release};
pub use crate::net::nic::PacketId;
use crate::net::nic::TxNic;
use crate::net::sockbuf::{Piece, RecvBuffer, SendBuffer};
use crate::net::tcp::{ShortSegments, TcpReceiver, TcpSender};
use crate::net::{LinkConfig, LinkKind, NetCounters, NicConfig, StackCosts, TcpConfig};
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
    /// Bytes a page-cache miss reads from disk at once (see `VmConfig::read_ahead_bytes`).
    pub read_ahead_bytes: u64,
    /// Linux `fault_around_bytes`: what one read fault on a file mapping maps (see
    /// [`crate::vm::VmConfig::fault_around_bytes`]).
    pub fault_around_bytes: u64,
    /// The last-level cache's size (see [`crate::vm::VmConfig::llc_bytes`]); 0: none.
    pub llc_bytes: u64,
    /// Root seed of every random stream.
    pub seed: u64,
}

/// Receives one plain-language line per narrated event (`run --verbose`, the TUI).
pub type Narrator = Box<dyn FnMut(&str)>;

/// A connection, numbered from a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u32);

/// Cleared vectors kept for reuse, so that a path that needs a scratch or a short-lived
/// vector per segment allocates none in steady state. Capped: a few are all that is ever
/// out at once, and a burst must not be kept forever.
#[derive(Debug)]
struct Spares<T>(Vec<Vec<T>>);

impl<T> Default for Spares<T> {
    fn default() -> Self {
        Spares(Vec::new())
    }
}

impl<T> Spares<T> {
    const KEEP: usize = 64;

    /// An empty vector, with the capacity of one given back earlier if there is one.
    fn take(&mut self) -> Vec<T> {
        self.0.pop().unwrap_or_default()
    }

    fn give(&mut self, mut v: Vec<T>) {
        if self.0.len() < Self::KEEP && v.capacity() > 0 {
            v.clear();
            self.0.push(v);
        }
    }
}

/// Events of the world.
///
/// `repr(u64)`: a word-sized tag puts every payload at an aligned offset. With a byte tag,
/// the queue's moves of an event copied words at odd offsets over bytes just stored in
/// pieces, and the loads stalled on store forwarding (perf: the model loop's top samples,
/// whose share fell from 14.6% to 10.1% with the wider tag; the wall-time gain was within
/// the host's noise). The assertion below keeps a new variant from growing it unnoticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
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
        /// Sent only to open the window: not a duplicate ACK.
        window_update: bool,
    },
    /// The peer's delayed-ACK timer.
    DelayedAck {
        conn: ConnId,
    },
    /// The connection's retransmission timer expired.
    RetransmitTimer {
        conn: ConnId,
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
    /// Raw frame `seq` of the AF_XDP flow reaches the NIC.
    XskFrameArrive {
        seq: u64,
    },
}

const _: () = assert!(
    std::mem::size_of::<Event>() == 32,
    "an Event is a word-sized tag and at most three words of payload"
);

impl From<MachineEvent> for Event {
    fn from(e: MachineEvent) -> Self {
        Event::Machine(e)
    }
}

/// Packets one `tcp_output` call built, with the call's place in its connection's order.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Output {
    conn: ConnId,
    ticket: u64,
    packets: Vec<PacketId>,
}

/// What happens when a plan completes: the one enum that routes every completion.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cont {
    /// An application's setup is done.
    AppStarted { app: AppId },
    /// Costs an application's ops accumulated were paid; it goes on.
    AppWorked { app: AppId },
    /// A chunk's storage is ready to be appended to the socket buffer (the app holds one
    /// reference to each until then).
    ChunkReady {
        app: AppId,
        conn: ConnId,
        exts: Vec<(ExtId, u64)>,
    },
    /// A `tcp_output` run in an application's context finished; its packets go out.
    AppOutput { app: AppId, out: Output },
    /// A `recv()` finished, moving `len` bytes.
    Received { app: AppId, len: u64 },
    /// An application finished reading `len` bytes of a file it reads locally.
    Consumed { app: AppId, len: u64 },
    /// Packets built by `tcp_output` go to the NIC (or the loopback peer).
    Output { out: Output },
    /// An ACK was processed: wake the writer, send more.
    AckDone { conn: ConnId },
    /// TX completions were reclaimed: descriptors are free again.
    TxReclaimed { slots: u32 },
    /// A received frame went through `tcp_input`.
    RxDelivered {
        conn: ConnId,
        seq: u64,
        len: u64,
        pieces: Vec<Piece>,
    },
    /// Loopback: received segments were processed into the receive buffer.
    LoopbackDelivered { conn: ConnId, pieces: Vec<Piece> },
    /// The NAPI poll redirected a raw frame to the AF_XDP socket: its RX descriptor
    /// (chunk, length), or `None` if it was dropped.
    XskPolled { desc: Option<(u64, u64)> },
    /// An AF_XDP socket is registered and bound; its frames may come.
    XskBound { app: AppId },
    /// An AF_XDP application took `bytes` off its RX ring.
    XskReceived { app: AppId, bytes: u64 },
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
    /// Segments to retransmit at the next `tcp_output`: seq → len.
    rexmit_due: BTreeMap<u64, u64>,
    /// The retransmission timer, while it runs.
    rexmit_timer: Option<SimTime>,
    /// The retransmission-timer event in the queue, if any, and when it fires. The timer is
    /// lazy: restarting or stopping it only moves `rexmit_timer`, and an event that fires
    /// before the deadline re-arms itself for it, so an ACK costs no queue operation.
    rexmit_event: Option<(SimTime, sim::CancelToken)>,
    /// `tcp_output` calls that built packets, and how many of them have reached the NIC;
    /// calls whose work finished early wait here for the earlier ones.
    output_tickets: u64,
    output_released: u64,
    held_outputs: BTreeMap<u64, Vec<PacketId>>,
    /// The receiving end's free buffer space when it last sent an ACK (the window it last
    /// advertised); a read's window update is judged against it.
    rcv_advertised: u64,
    /// End of the highest segment the wire lost (for the time account: until `una` passes
    /// it, the connection is repairing a loss).
    lost_end: u64,
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

impl Conn {
    fn short_rule(&self, nodelay: bool) -> ShortSegments {
        if self.corked {
            ShortSegments::Never
        } else if self.push || nodelay {
            ShortSegments::Always
        } else {
            ShortSegments::Nagle
        }
    }
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
    packets: IdWindow<PacketId, Packet>,
    next_packet: u64,
    nic: TxNic,
    /// Per thread, indexed by `ThreadId` (dense: softnet, the IRQ thread, then one per app).
    threads: Vec<ThreadQueue>,
    /// Cleared vectors kept for reuse by the per-segment paths (a packet's pieces, a
    /// `tcp_output`'s packets, an interrupt's completions, an ACK's released storages).
    spare_pieces: Spares<Piece>,
    spare_ids: Spares<PacketId>,
    spare_exts: Spares<ExtId>,
    /// Spare lists for a chunk's storages on their way into the socket buffer
    /// (`Cont::ChunkReady`).
    spare_chunks: Spares<(ExtId, u64)>,
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
    /// When a reader last finished a `recv()`, or an application a pass over a file it
    /// reads locally.
    last_recv: SimTime,
    /// Bytes applications read from files locally and finished using (`read`, `mmap-read`).
    consumed_bytes: u64,
    /// System calls made by applications.
    syscalls: u64,
    /// Blocked applications woken by socket events.
    wakeups: u64,
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
    /// When the remote's side of the wire is next free, and how long it has been busy, ns.
    rx_wire_free: SimTime,
    rx_wire_busy_ns: u64,
    next_rx: u64,
    rx_frames: BTreeMap<u64, rx::RxFrame>,
    rx_dma_queue: VecDeque<u64>,
    /// Posted RX descriptors that hold a frame not yet through `tcp_input`.
    rx_slots_used: u32,
    /// Frames waiting in the NIC for descriptors: (conn, seq, len).
    rx_backlog: VecDeque<(ConnId, u64, u64)>,
    rx_dma_active: Option<u64>,
    /// The receive queue's coalescing and zero-copy receive state (`rx.rs`).
    rxq: rx::RxQueue,
    /// Check every invariant after every event (tests and debug builds).
    check_every_event: bool,
    /// Why the run stopped before its work was done, if it did.
    stalled: Option<String>,
    /// Tests only: break an invariant after the first event.
    inject_bug: bool,
    /// The critical application's time by cause.
    account: account::Account,
    /// Lent pages came back since the last TX reclaim (a writer may be asleep on loan KVA).
    lend_returned: bool,
    /// Zero-copy sends (`MSG_ZEROCOPY`, `SEND_ZC`) and their completions.
    zc: crate::strategy::ZcState,
    /// The AF_XDP flow and socket (`xsk.rs`), if any.
    xsk: Option<xsk::XskFlow>,
}

/// Every this many events the invariant check also walks the whole VM (every frame and PTE);
/// after the others it checks only what changed.
pub const FULL_VM_CHECK_EVERY: u64 = 1 << 16;

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
            read_ahead_bytes: cfg.read_ahead_bytes,
            fault_around_bytes: cfg.fault_around_bytes,
            llc_bytes: cfg.llc_bytes,
        });
        let streams = RngStreams::new(cfg.seed);
        World {
            loss_rng: streams.named_stream("link.loss", 0),
            queue: EventQueue::new(),
            machine,
            vm,
            exts: ExtTable::default(),
            conns: Vec::new(),
            packets: IdWindow::default(),
            next_packet: 0,
            nic: TxNic::new(cfg.nic.tx_ring_slots),
            threads: Vec::new(),
            spare_pieces: Spares::default(),
            spare_ids: Spares::default(),
            spare_exts: Spares::default(),
            spare_chunks: Spares::default(),
            apps: Vec::new(),
            net: NetCounters::default(),
            notices: Vec::new(),
            events: 0,
            last_tx: SimTime::ZERO,
            last_ack: SimTime::ZERO,
            last_delivery: SimTime::ZERO,
            last_recv: SimTime::ZERO,
            consumed_bytes: 0,
            syscalls: 0,
            wakeups: 0,
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
            rx_wire_busy_ns: 0,
            next_rx: 0,
            rx_frames: BTreeMap::new(),
            rx_dma_queue: VecDeque::new(),
            rx_slots_used: 0,
            rx_backlog: VecDeque::new(),
            rx_dma_active: None,
            rxq: rx::RxQueue::default(),
            check_every_event: cfg!(debug_assertions),
            stalled: None,
            inject_bug: false,
            account: account::Account::default(),
            lend_returned: false,
            zc: crate::strategy::ZcState::default(),
            xsk: None,
            cfg,
        }
    }

    /// Turns the after-every-event invariant check on or off (on by default in debug builds;
    /// `report::RunOptions` keeps that default for every command).
    pub fn set_check_invariants(&mut self, on: bool) {
        self.check_every_event = on;
        self.vm.set_incremental_checks(on);
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

    /// Payload bytes applications read from files locally and finished using (the file-read
    /// workload's payload; no socket carries them).
    pub fn consumed_bytes(&self) -> u64 {
        self.consumed_bytes
    }

    /// When the payload finished moving: when the remote end got the last byte (as a
    /// receiving ttcp measures; the sender's last ACK may still wait for a delayed-ACK timer),
    /// or when a local reader finished its last `recv()` or file pass, whichever is later.
    pub fn payload_done_at(&self) -> SimTime {
        self.last_delivery.max(self.last_recv)
    }

    /// Blocked applications woken by socket events.
    pub fn wakeups(&self) -> u64 {
        self.wakeups
    }

    /// System calls the applications made.
    pub fn syscalls(&self) -> u64 {
        self.syscalls
    }

    /// Time the busier direction of the wire spent serializing frames, ns (ours out, or
    /// the remote's toward us).
    pub fn wire_busy_ns(&self) -> u64 {
        self.wire_busy_ns.max(self.rx_wire_busy_ns)
    }

    /// Time the NIC's busier DMA engine (transmit or receive) was moving data, ns.
    pub fn nic_dma_busy_ns(&self) -> u64 {
        self.tx_dma_busy_ns.max(self.rx_dma_busy_ns)
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
        let device = self.machine.stats().device_bytes;
        p.add(
            PathNode::Nic,
            PathNode::KernelBuffer,
            PathKind::Dma,
            n.rx_dma_bytes.saturating_sub(device),
        );
        p.add(PathNode::Nic, PathNode::DeviceMemory, PathKind::Dma, device);
        p
    }

    /// Payload bytes remote peers sent us that readers have received, over all incoming
    /// connections and the AF_XDP socket's RX ring.
    pub fn incoming_received_bytes(&self) -> u64 {
        self.conns
            .iter()
            .filter(|c| c.remote.is_some())
            .map(|c| c.receiving.received)
            .sum::<u64>()
            + self.xsk.as_ref().map_or(0, |x| x.received_bytes)
    }

    /// Payload bytes the peer has received in order, over all connections.
    pub fn delivered_bytes(&self) -> u64 {
        self.conns.iter().map(|c| c.receiving.received).sum()
    }

    /// Zero-copy sends' counters (completions, error-queue reads, pinned pages).
    pub fn zc_counters(&self) -> &crate::strategy::ZcCounters {
        &self.zc.counters
    }

    /// Events handled so far.
    pub fn events_handled(&self) -> u64 {
        self.events
    }

    /// Payload bytes the peer has acknowledged, over all connections.
    pub fn acked_bytes(&self) -> u64 {
        self.conns.iter().map(|c| c.sender.una()).sum()
    }

    /// Payload bytes written into send buffers, over all connections.
    pub fn written_bytes(&self) -> u64 {
        self.conns.iter().map(|c| c.sender.written()).sum()
    }

    /// Opens a connection. On loopback the receiving socket is local.
    pub fn open_conn(&mut self) -> ConnId {
        let id = ConnId(self.conns.len() as u32);
        let loopback = self.cfg.link.kind == LinkKind::Loopback;
        self.conns.push(Conn {
            snd: SendBuffer::new(self.cfg.tcp.send_buffer_bytes),
            sender: TcpSender::new(
                u64::from(self.cfg.tcp.initial_window_segments.max(1)) * self.cfg.link.mss(),
                self.cfg.tcp.congestion_control,
            )
            .with_nagle(self.cfg.tcp.nagle),
            rexmit_due: BTreeMap::new(),
            rexmit_timer: None,
            rexmit_event: None,
            output_tickets: 0,
            output_released: 0,
            held_outputs: BTreeMap::new(),
            lost_end: 0,
            // The SYN advertised the whole buffer.
            rcv_advertised: self.cfg.tcp.recv_buffer_bytes,
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
        while self.stalled.is_none() {
            let Some((_, ev)) = self.queue.pop_until(limit) else {
                break;
            };
            self.handle(ev);
            self.events += 1;
            if self.tracer.is_some() {
                self.trace_after_event();
            }
            self.account_event();
            if std::mem::take(&mut self.inject_bug) {
                // Tests prove a command runs the checker: one descriptor appears from nowhere.
                self.nic.corrupt();
            }
            if self.check_every_event {
                self.check_after_event();
            }
            if self.events.is_multiple_of(4096) {
                self.watch_progress();
            }
        }
    }

    /// Tests only: breaks the TX-descriptor conservation invariant after the next event.
    #[doc(hidden)]
    pub fn inject_invariant_bug(&mut self) {
        self.inject_bug = true;
    }

    /// Whether the target runs a Linux stack. Stands for an explicit flag until the target
    /// keys have one: of the presets, exactly the Linux ones fuse copy and checksum
    /// (`csum_and_copy_from_user`).
    pub(crate) fn linux_stack(&self) -> bool {
        self.cfg.fused_copy_checksum
    }

    /// Why the run stopped before its work was done, if it did.
    pub fn stalled(&self) -> Option<&str> {
        self.stalled.as_deref()
    }

    /// What a machine event told the world: plans done, DMAs finished.
    fn handle_notices(&mut self) {
        let mut notices = std::mem::take(&mut self.notices);
        for n in notices.drain(..) {
            match n {
                Notice::PlanDone(t) => self.plan_done(t),
                Notice::DmaDone {
                    tag: DmaTag::Rx(id),
                } if self.xsk_dma_bytes(id).is_some() => self.xsk_dma_done(id),
                Notice::DmaDone {
                    tag: DmaTag::Rx(id),
                } => self.rx_dma_done(id),
                Notice::DmaDone {
                    tag: DmaTag::XskTx(chunk),
                } => self.xsk_tx_done(chunk),
                Notice::DmaDone {
                    tag: DmaTag::Tx(id),
                } => self.dma_done(PacketId(id)),
            }
        }
        self.notices = notices;
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Machine(m) => {
                self.machine.handle(&mut self.queue, m, &mut self.notices);
                if !self.notices.is_empty() {
                    // Mid-plan, a CPU step's end tells the world nothing (the usual case).
                    self.handle_notices();
                }
                self.machine.settle(&mut self.queue);
            }
            Event::WireDone => self.wire_done(),
            Event::SegmentArrive { conn, seq, len } => self.segment_arrive(conn, seq, len),
            Event::AckArrive {
                conn,
                ack,
                window_update,
            } => self.ack_arrive(conn, ack, window_update),
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
            Event::RetransmitTimer { conn } => self.retransmit_timeout(conn),
            Event::AppTimer { app } => self.app_timer(app),
            Event::RemoteOutput { conn } => self.remote_output(conn),
            Event::RxFrameArrive { conn, seq, len } => self.rx_frame_arrive(conn, seq, len),
            Event::RemoteAck { conn, ack } => self.remote_ack(conn, ack),
            Event::XskFrameArrive { seq } => self.xsk_frame_arrive(seq),
        }
    }

    // ----- releasing storage -----------------------------------------------------------------

    /// Drops one reference to `ext`; if it was the last, releases it and charges the release
    /// (an `mbuf_ns`, and an unloan per lent page) to `plan`.
    fn unref_ext(&mut self, ext: ExtId, plan: &mut Plan) {
        plan.cpu(Activity::Protocol, self.cfg.stack.mbuf_ns);
        let release = self.exts.unref(ext);
        if release.is_some() {
            // A zero-copy send owning this storage loses a reference (its completion).
            let mut k = kernel::Kernel::for_work(self, None, plan);
            crate::strategy::zerocopy::released(&mut k, ext);
        }
        match release {
            None | Some(Release::Memory) => {}
            Some(Release::EndLend { kind, pages }) => {
                self.lend_returned = true;
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
}

#[cfg(test)]
mod tests;
