//! `af-xdp`: an AF_XDP socket receives raw frames into a UMEM the application registered.
//!
//! Models Linux 6.8 `net/xdp/xsk.c`, `net/xdp/xsk_queue.h`, `net/xdp/xsk_buff_pool.c` and
//! `net/xdp/xdp_umem.c`, as `Documentation/networking/af_xdp.rst` describes them and the
//! `xdpsock` sample's `rxdrop` drives them. The application registers a UMEM of equal chunks
//! (`XDP_UMEM_REG`: the pages are pinned; in aligned mode a chunk is a power of two from
//! `XDP_UMEM_MIN_CHUNK_SIZE`, 2048, to `PAGE_SIZE`, so 2048 or 4096 here) and four
//! single-producer single-consumer rings: FILL (the application hands chunks to the
//! kernel), RX (the kernel hands filled chunks back, one descriptor per frame), TX (the
//! application hands chunks to send) and COMPLETION (the kernel hands sent chunks back). An
//! XDP program redirects the queue's frames to the socket (`bpf_redirect_map` into an
//! `XSKMAP`); no TCP or IP runs: the frames are raw.
//!
//! - **Zero-copy** (`XDP_ZEROCOPY`, the driver's `MEM_TYPE_XSK_BUFF_POOL`): the driver posts
//!   chunks taken from FILL (`xsk_buff_alloc` → `__xp_alloc` → `xskq_cons_peek_addr_unchecked`)
//!   as its receive descriptors, the NIC DMAs each frame straight into its chunk, and
//!   `xsk_rcv_zc` → `__xsk_rcv_zc` only writes an RX descriptor (`xskq_prod_reserve_desc`). A
//!   frame that finds FILL empty has no buffer and is dropped (`queue_empty_descs`, reported
//!   as `rx_fill_ring_empty_descs`).
//! - **Copy** (`XDP_COPY`): the NIC DMAs into the driver's own (page-pool) buffer; the
//!   redirect's `__xsk_rcv` takes a chunk from FILL (none: `rx_dropped`) and `memcpy`s the
//!   frame into it (`xsk_copy_xdp`): a CPU copy, one bus read and one bus write per byte, on
//!   top of the DMA's write.
//!
//! In both modes a full RX ring drops the frame (`rx_queue_full`) and its chunk goes back to
//! the pool (`xsk_buff_free`), reused before FILL. The application (`rxdrop` with `-p`)
//! `poll()`s, takes up to `batch` RX descriptors, does not touch the data, and puts the
//! chunks back on FILL.
//!
//! The hazard: a chunk belongs to exactly one of the kernel and the application at a time.
//! An application that forwards a received chunk on TX and also re-posts it to FILL (`l2fwd`
//! with a reuse bug) lets the NIC DMA a new frame into a chunk the NIC is still reading to
//! send. The kernel does not notice (it trusts the addresses); the model checks every
//! chunk's owner when the application posts it and reports each chunk on FILL and TX at
//! once as corruption (a counted outcome).
//!
//! Simplified: the driver's hardware ring is not a second list of chunks: a zero-copy frame
//! takes its chunk from FILL when it reaches the NIC (the driver refills its ring from FILL
//! as fast as FILL has chunks), and the ring's size bounds only how many frames wait for the
//! driver's NAPI poll (the NIC drops past it, as `rx_missed` counts). `need_wakeup`, busy
//! polling, unaligned chunks, multi-buffer frames (`XDP_USE_SG`) and shared UMEMs are not
//! modelled. The XDP program's run and redirect are charged as one object-cache operation
//! (`mbuf`), like each ring descriptor the kernel or the application writes or reads; the
//! forwarded frames' serialization on our outgoing wire is not modelled (only the NIC's DMA
//! read of them).
//!
//! ## Invariants
//! Every chunk of a [`Umem`] is in exactly one place: held by the application, on FILL, under
//! a frame the NIC has not finished with, in the RX ring (reserved or visible), or on the TX
//! path (TX ring, in the NIC, COMPLETION ring); a chunk the application put on FILL and TX at
//! once counts twice, and those are counted: free + fill + nic + rx + tx path = chunks +
//! doubly owned ([`Umem::check_invariants`]).

use std::collections::{BTreeMap, VecDeque};

use super::{Entry, Explanation, Kernel, OptionDoc, SourceKind, Strategy};
use crate::machine::Activity;
use crate::vm::{Access, AsId, MmapRequest, PAGE_SIZE, Pfn};
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "af-xdp",
    title: "AF_XDP: raw frames into a registered UMEM through four rings",
    origin: "Linux 4.18, 2018 (Björn Töpel, Magnus Karlsson; Intel); zero-copy drivers from 4.20",
    source: "Linux 6.8: net/xdp/xsk.c xsk_rcv, xsk_rcv_zc, __xsk_rcv_zc, __xsk_rcv, xsk_copy_xdp, xsk_rcv_check, xsk_flush; net/xdp/xsk_queue.h xskq_prod_reserve_desc, xskq_cons_peek_addr_unchecked; net/xdp/xsk_buff_pool.c __xp_alloc (queue_empty_descs); net/xdp/xdp_umem.c xdp_umem_reg (chunk size 2048..PAGE_SIZE, a power of two); Documentation/networking/af_xdp.rst; samples xdpsock rxdrop",
    steps: &[
        "setup: register a UMEM (pinned pages cut into 2 KiB or 4 KiB chunks) and four single-producer rings (FILL, RX, TX, COMPLETION); put chunks on FILL; an XDP program redirects the queue's frames to the socket",
        "zero-copy: the driver posts FILL chunks as receive buffers and the NIC DMAs each frame straight into its chunk; a frame that finds FILL empty is dropped and counted",
        "copy mode: the NIC DMAs into a driver (page-pool) buffer; the redirect takes a FILL chunk (none: dropped, counted) and copies the frame into it",
        "the kernel writes one RX descriptor per frame (RX ring full: dropped, counted, the chunk back to the pool); no TCP, no IP, no skb",
        "the application polls, takes up to a batch of RX descriptors, and puts their chunks back on FILL; a chunk it also puts on TX is owned twice: reported as corruption",
    ],
    in_flight: "Not applicable on receive: a chunk on RX is the application's until it puts it back on FILL; putting it on FILL while it is on TX lets the NIC overwrite it mid-send (reported).",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Receive,
    make: || Strategy::AfXdp(XskOptions::default()),
    options: &[
        OptionDoc {
            key: "xsk_mode",
            what: "zerocopy: the NIC DMAs into UMEM chunks; copy: into a driver buffer, then the kernel copies",
            default: "zerocopy (XDP_ZEROCOPY)",
        },
        OptionDoc {
            key: "xsk_chunk_size",
            what: "bytes per UMEM chunk: 2048 or 4096 (aligned mode)",
            default: "4096 (XSK_UMEM__DEFAULT_FRAME_SIZE)",
        },
        OptionDoc {
            key: "xsk_umem_chunks",
            what: "chunks in the UMEM",
            default: "4096 (xdpsock's NUM_FRAMES)",
        },
        OptionDoc {
            key: "xsk_fill_ring",
            what: "FILL ring entries, a power of two",
            default: "4096 (xdpsock: XSK_RING_PROD__DEFAULT_NUM_DESCS * 2)",
        },
        OptionDoc {
            key: "xsk_rx_ring",
            what: "RX ring entries, a power of two",
            default: "2048 (XSK_RING_CONS__DEFAULT_NUM_DESCS)",
        },
        OptionDoc {
            key: "xsk_tx_ring",
            what: "TX ring entries, a power of two",
            default: "2048 (XSK_RING_PROD__DEFAULT_NUM_DESCS)",
        },
        OptionDoc {
            key: "xsk_comp_ring",
            what: "COMPLETION ring entries, a power of two",
            default: "2048 (XSK_RING_CONS__DEFAULT_NUM_DESCS)",
        },
        OptionDoc {
            key: "xsk_batch",
            what: "RX descriptors the application takes per poll() before returning their chunks to FILL",
            default: "64 (xdpsock's BATCH_SIZE)",
        },
        OptionDoc {
            key: "xsk_reuse_bug",
            what: "the application forwards each frame on TX and also re-posts its chunk to FILL at once (the FILL/TX hazard)",
            default: "false",
        },
    ],
};

/// `XDP_PACKET_HEADROOM`: the driver keeps this much of a chunk before the frame.
pub const XDP_PACKET_HEADROOM: u64 = 256;

/// The chunk sizes aligned mode accepts on 4 KiB pages (`xdp_umem_reg`).
pub const CHUNK_SIZES: [u64; 2] = [2048, 4096];

/// Where the frame lands (`bind()` flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XskMode {
    /// `XDP_ZEROCOPY`: the NIC DMAs into UMEM chunks.
    #[default]
    ZeroCopy,
    /// `XDP_COPY`: the kernel copies from its own buffer into a chunk.
    Copy,
}

impl XskMode {
    pub const ALL: [XskMode; 2] = [XskMode::ZeroCopy, XskMode::Copy];

    pub fn id(self) -> &'static str {
        match self {
            XskMode::ZeroCopy => "zerocopy",
            XskMode::Copy => "copy",
        }
    }
}

/// The application's UMEM, rings and habits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XskOptions {
    pub mode: XskMode,
    pub chunk_bytes: u64,
    pub umem_chunks: u64,
    pub fill_ring: u64,
    pub rx_ring: u64,
    pub tx_ring: u64,
    pub comp_ring: u64,
    /// RX descriptors taken per `poll()`.
    pub batch: u64,
    /// Forward each frame on TX while re-posting its chunk to FILL.
    pub reuse_bug: bool,
}

impl Default for XskOptions {
    fn default() -> Self {
        XskOptions {
            mode: XskMode::ZeroCopy,
            chunk_bytes: 4096,
            umem_chunks: 4096,
            fill_ring: 4096,
            rx_ring: 2048,
            tx_ring: 2048,
            comp_ring: 2048,
            batch: 64,
            reuse_bug: false,
        }
    }
}

impl XskOptions {
    /// The largest frame a chunk takes (`xsk_pool_get_rx_frame_size`: the chunk less
    /// `XDP_PACKET_HEADROOM`).
    pub fn max_frame_bytes(&self) -> u64 {
        self.chunk_bytes - XDP_PACKET_HEADROOM
    }

    /// Why frames of `frame_bytes` cannot be received with these options, if they cannot:
    /// without `XDP_USE_SG` such a frame would be dropped, every one of them
    /// (`xsk_rcv_check`), so the run is refused instead.
    pub fn frame_misfit(&self, frame_bytes: u64) -> Option<String> {
        (frame_bytes > self.max_frame_bytes()).then(|| {
            format!(
                "a {frame_bytes}-byte frame does not fit a {}-byte UMEM chunk (at most {} bytes after the {XDP_PACKET_HEADROOM}-byte XDP_PACKET_HEADROOM); chunk sizes: 2048 (frames up to 1792 B), 4096 (frames up to 3840 B)",
                self.chunk_bytes,
                self.max_frame_bytes()
            )
        })
    }
}

/// Frames the socket lost, by cause (the kernel's `XDP_STATISTICS` and the NIC's counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskCounters {
    /// RX descriptors the application consumed.
    pub rx_descs: u64,
    /// Frames that found FILL empty (`rx_fill_ring_empty_descs`, `rx_dropped`).
    pub fill_empty_drops: u64,
    /// Frames that found the RX ring full (`rx_ring_full`).
    pub rx_full_drops: u64,
    /// Frames that found every hardware descriptor holding a frame not yet polled
    /// (`rx_missed`).
    pub nic_full_drops: u64,
    /// Chunks the application put on FILL while they were on the TX path.
    pub corruptions: u64,
    /// Frames forwarded on TX (the reuse bug's application).
    pub tx_frames: u64,
}

impl XskCounters {
    pub fn dropped(&self) -> u64 {
        self.fill_empty_drops + self.rx_full_drops + self.nic_full_drops
    }
}

/// A registered UMEM with its four rings. See the module docs for its invariant.
#[derive(Debug)]
pub struct Umem {
    pub opts: XskOptions,
    asid: AsId,
    /// The UMEM's start in the application's address space, and its pages.
    base: u64,
    pages: Vec<Pfn>,
    /// Chunks the application holds, on no ring.
    free: Vec<u64>,
    /// The FILL ring.
    fill: VecDeque<u64>,
    /// Chunks the kernel's buffer pool got back from a dropped frame (`xsk_buff_free`),
    /// reused before FILL.
    pool: Vec<u64>,
    /// Chunks under a zero-copy frame the NAPI poll has not handled yet.
    nic: u64,
    /// RX descriptors reserved by a poll whose work has not finished, and the visible ring.
    rx_reserved: u64,
    rx: VecDeque<(u64, u64)>,
    /// The TX path: the TX ring, frames the NIC is reading, the COMPLETION ring.
    tx: VecDeque<(u64, u64)>,
    tx_in_flight: u64,
    comp: VecDeque<u64>,
    /// Chunks on the TX path, with how many times.
    on_tx: BTreeMap<u64, u32>,
    /// Chunks owned twice (on FILL's side and on the TX path at once).
    doubly: u64,
    pub counters: XskCounters,
}

impl Umem {
    pub fn chunks(&self) -> u64 {
        self.opts.umem_chunks
    }

    /// The chunk's address in the application's address space.
    pub fn addr(&self, chunk: u64) -> u64 {
        self.base + chunk * self.opts.chunk_bytes
    }

    /// The page holding the chunk.
    pub fn page(&self, chunk: u64) -> Pfn {
        self.pages[(chunk * self.opts.chunk_bytes / PAGE_SIZE) as usize]
    }

    /// A zero-copy frame reaches the NIC: the chunk it lands in, from FILL (counted as a
    /// drop if FILL is empty).
    pub fn take_for_nic(&mut self) -> Option<u64> {
        let c = self.alloc();
        match c {
            Some(_) => self.nic += 1,
            None => self.counters.fill_empty_drops += 1,
        }
        c
    }

    /// `xsk_buff_alloc`: a chunk from the pool's free list, else from FILL.
    fn alloc(&mut self) -> Option<u64> {
        self.pool.pop().or_else(|| self.fill.pop_front())
    }

    /// Whether the RX ring has room for one more descriptor.
    fn rx_room(&self) -> bool {
        self.rx.len() as u64 + self.rx_reserved < self.opts.rx_ring
    }

    /// A reserved descriptor's poll finished: the frame is visible on RX.
    pub fn publish(&mut self, chunk: u64, len: u64) {
        self.rx_reserved -= 1;
        self.rx.push_back((chunk, len));
    }

    /// Descriptors the application can take now, and completions it can reap.
    pub fn ready(&self) -> bool {
        !self.rx.is_empty() || !self.comp.is_empty()
    }

    /// Nothing is left on the TX path.
    pub fn tx_idle(&self) -> bool {
        self.tx.is_empty() && self.tx_in_flight == 0 && self.comp.is_empty()
    }

    /// The next TX descriptor the NIC may read, if the COMPLETION ring can take its entry
    /// (`xskq_prod_reserve_addr` on the completion queue: the TX path's backpressure).
    pub fn start_tx(&mut self) -> Option<(u64, u64)> {
        if self.comp.len() as u64 + self.tx_in_flight >= self.opts.comp_ring {
            return None;
        }
        let d = self.tx.pop_front()?;
        self.tx_in_flight += 1;
        Some(d)
    }

    /// The NIC finished reading `chunk`: its address goes on COMPLETION.
    pub fn tx_done(&mut self, chunk: u64) {
        self.tx_in_flight -= 1;
        self.comp.push_back(chunk);
    }

    /// The application puts `chunk` back on FILL (or keeps it if FILL is full); a chunk on
    /// the TX path is then owned twice: corruption.
    fn post_fill(&mut self, chunk: u64) {
        if self.on_tx.contains_key(&chunk) {
            self.counters.corruptions += 1;
            self.doubly += 1;
        }
        if (self.fill.len() as u64) < self.opts.fill_ring {
            self.fill.push_back(chunk);
        } else {
            self.free.push(chunk);
        }
    }

    /// Panics unless every chunk is in exactly one place (see the module docs).
    pub fn check_invariants(&self) {
        let places = self.free.len() as u64
            + self.fill.len() as u64
            + self.pool.len() as u64
            + self.nic
            + self.rx_reserved
            + self.rx.len() as u64
            + self.tx.len() as u64
            + self.tx_in_flight
            + self.comp.len() as u64;
        assert_eq!(
            places,
            self.opts.umem_chunks + self.doubly,
            "UMEM chunks not conserved"
        );
        assert!(
            self.fill.len() as u64 <= self.opts.fill_ring,
            "FILL overran"
        );
        assert!(
            self.rx.len() as u64 + self.rx_reserved <= self.opts.rx_ring,
            "RX overran"
        );
        let on_tx: u64 = self.on_tx.values().map(|&n| u64::from(n)).sum();
        assert_eq!(
            on_tx,
            self.tx.len() as u64 + self.tx_in_flight + self.comp.len() as u64,
            "TX path chunks miscounted"
        );
    }
}

/// Registration (`XDP_UMEM_REG`, the rings' `setsockopt`s, `bind`): map and pin the UMEM and
/// put the first chunks on FILL (`xsk_populate_fill_ring`). `None` (a failed setup) if the
/// UMEM does not fit the address space.
pub(crate) fn setup(k: &mut Kernel<'_>, o: XskOptions) -> Option<Umem> {
    let asid = k.asid();
    let pin = k.config().machine.costs.loan_per_page_ns;
    let bytes = (o.umem_chunks * o.chunk_bytes).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let (vm, plan) = k.vm();
    let base = vm
        .mmap(asid, MmapRequest::anon(bytes).writable(), plan)
        .ok()?;
    let mut pages = Vec::new();
    for i in 0..bytes / PAGE_SIZE {
        // xdp_umem_pin_pages: fault the page in, hold it for the device.
        let (pfn, _) = vm
            .touch(asid, base + i * PAGE_SIZE, Access::Write, plan)
            .expect("the UMEM was just mapped writable");
        vm.kernel_ref(pfn);
        plan.cpu(Activity::Loan, pin);
        pages.push(pfn);
    }
    let posted = o.umem_chunks.min(o.fill_ring);
    let ring_op = k.config().stack.mbuf_ns;
    k.plan().cpu(Activity::App, ring_op * posted);
    Some(Umem {
        opts: o,
        asid,
        base,
        pages,
        free: (posted..o.umem_chunks).rev().collect(),
        fill: (0..posted).collect(),
        pool: Vec::new(),
        nic: 0,
        rx_reserved: 0,
        rx: VecDeque::new(),
        tx: VecDeque::new(),
        tx_in_flight: 0,
        comp: VecDeque::new(),
        on_tx: BTreeMap::new(),
        doubly: 0,
        counters: XskCounters::default(),
    })
}

/// The NAPI poll's redirect of one frame of `len` bytes to the socket (`xsk_rcv`), charged
/// to `k`'s plan: zero-copy with the chunk it landed in, copy mode with `None` (the frame
/// is in a driver buffer). Returns the chunk whose RX descriptor it reserved, or `None` if
/// the frame was dropped (counted).
pub(crate) fn redirect(k: &mut Kernel<'_>, landed: Option<u64>, len: u64) -> Option<u64> {
    let ring_op = k.config().stack.mbuf_ns;
    let umem = k.xsk().expect("the UMEM is registered");
    let chunk = match landed {
        Some(c) => {
            umem.nic -= 1;
            c
        }
        // __xsk_rcv: xsk_buff_alloc from FILL; none: rx_dropped.
        None => match umem.alloc() {
            Some(c) => c,
            None => {
                umem.counters.fill_empty_drops += 1;
                return None;
            }
        },
    };
    if !umem.rx_room() {
        // __xsk_rcv_zc: xskq_prod_reserve_desc failed; xsk_buff_free returns the chunk to
        // the pool's free list (not to FILL, which the application may have refilled).
        umem.counters.rx_full_drops += 1;
        umem.pool.push(chunk);
        return None;
    }
    umem.rx_reserved += 1;
    let (asid, dest) = (umem.asid, umem.addr(chunk));
    if landed.is_none() {
        // xsk_copy_xdp: memcpy from the driver's buffer into the chunk.
        let (vm, plan) = k.vm();
        vm.copyout(asid, dest, len, plan)
            .expect("the UMEM is mapped writable");
        k.path(
            PathNode::KernelBuffer,
            PathNode::UserBuffer,
            PathKind::CpuCopy,
            len,
        );
        k.count_copied(len);
    }
    // The chunk's allocation from the pool and the RX descriptor written.
    k.plan().cpu(Activity::Protocol, 2 * ring_op);
    Some(chunk)
}

/// What one `poll()` iteration of the application did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum XskStep {
    /// Frames and their bytes taken off RX (0 when it only reaped completions).
    Received { frames: u64, bytes: u64 },
    /// Nothing to take or reap: the application sleeps in `poll()`.
    Wait,
}

/// One iteration of `rxdrop` (`-p`): `poll()`, reap COMPLETION, take up to `batch` RX
/// descriptors without touching the data, and put their chunks back on FILL (the reuse
/// bug's application first forwards each on TX).
pub(crate) fn call(k: &mut Kernel<'_>) -> XskStep {
    // A poll() that finds nothing sleeps inside the call; the wake-up's return is the same
    // syscall, charged then (once per poll that returns), not here and again.
    if !k.xsk().expect("the UMEM is registered").ready() {
        return XskStep::Wait;
    }
    k.syscall();
    let ring_op = k.config().stack.mbuf_ns;
    let umem = k.xsk().expect("the UMEM is registered");
    let mut ops = 0;
    while let Some(c) = umem.comp.pop_front() {
        ops += 1;
        let n = umem.on_tx.get_mut(&c).expect("a completed chunk was on TX");
        *n -= 1;
        if *n == 0 {
            umem.on_tx.remove(&c);
        }
        if umem.doubly > 0 {
            // The buggy application already re-posted this chunk: only its TX side ends.
            umem.doubly -= 1;
        } else {
            umem.free.push(c);
        }
    }
    let (mut frames, mut bytes) = (0, 0);
    while frames < umem.opts.batch {
        let Some((c, len)) = umem.rx.pop_front() else {
            break;
        };
        frames += 1;
        bytes += len;
        ops += 1;
        if umem.opts.reuse_bug && (umem.tx.len() as u64) < umem.opts.tx_ring {
            umem.tx.push_back((c, len));
            *umem.on_tx.entry(c).or_default() += 1;
            umem.counters.tx_frames += 1;
            ops += 1;
        }
        umem.post_fill(c);
        ops += 1;
    }
    // Chunks held back while FILL was full go on it as it drains.
    while (umem.fill.len() as u64) < umem.opts.fill_ring {
        let Some(c) = umem.free.pop() else { break };
        umem.fill.push_back(c);
        ops += 1;
    }
    umem.counters.rx_descs += frames;
    k.plan().cpu(Activity::App, ring_op * ops);
    XskStep::Received { frames, bytes }
}
