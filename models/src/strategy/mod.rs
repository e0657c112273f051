//! The zero-copy strategies: one room per mechanism, and the catalogue that lists them.
//!
//! ## A room
//! Each strategy lives in one file here, and everything it does is in that file:
//! - its [`Explanation`], citing the kernel source file and version it models and what the
//!   model simplifies;
//! - its catalogue [`Entry`] (id, source kind, options with their kernel defaults);
//! - `request`: the kernel-visible `Op`s of one application request (enter the kernel,
//!   `read()` a file, map it, send bytes by some `Fill`, cork, let the application write);
//! - its fill mechanism: how one chunk of a send becomes socket-buffer storage (copyin, loan,
//!   COW wiring, page-cache reference, buffer hand-off), written against the narrow
//!   `Kernel` interface, never against the world's fields;
//! - its room rule (`SendOp::room`): how much socket-buffer space its branch needs before
//!   it takes the next chunk;
//! - its release: what happens when the last reference to its storage drops.
//!
//! A strategy never computes a time or a count: every operation it calls appends its cost to
//! the plan, and every counter comes from the VM, the mbuf table or the network path.
//!
//! ## Adding a strategy
//! 1. Create `strategy/<name>.rs` from the closest room (`copy.rs` for a copying path,
//!    `sendfile.rs` for a page-cache reference, `page_loan.rs` for lending user pages): its
//!    `EXPLANATION` (cite the kernel file and version), `ENTRY`, `request`, and, if it moves
//!    bytes a new way, its fill function plus a `Fill` variant that names it.
//! 2. Add the variant to [`Strategy`] (with its options struct), one line to [`CATALOGUE`],
//!    and one arm each to [`Strategy::entry`] and the `request` dispatch; a new `Fill`
//!    gets one arm in `fill` and, if it has a unit, in `SendOp::room`.
//! 3. Copy the tests of the closest room in `strategy/tests.rs` (copies and faults by first
//!    principles, in-flight semantics, invariants on) and adapt their expected numbers.
//!
//! Stable ids (DESIGN section 6) are the catalogue's, in its order.

mod af_xdp;
mod copy;
mod cow_send;
mod devmem_tcp;
mod io_uring_send_zc;
mod io_uring_zcrx;
mod kernel_server;
mod mmap_loan;
mod mmap_read;
mod mmap_sendpage;
mod mmap_write;
mod msg_zerocopy;
mod page_flip;
mod page_loan;
mod read;
mod read_write;
mod recv_copy;
mod sendfile;
mod sendfile_ktls;
mod splice;
mod tcp_zerocopy_receive;
mod vmsplice_gift;
mod zbuf;
pub(crate) mod zerocopy;

use std::fmt;

pub use mmap_sendpage::SendpageCursor;
pub use page_flip::{FlipMisfit, flip_fits};

use crate::net::sockbuf::Piece;
use crate::vm::LendKind;
use crate::world::Receiver;
pub(crate) use crate::world::kernel::Kernel;

/// Where a sender's data comes from; decides which strategies apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A buffer in the application's memory.
    Memory,
    /// A file (through the page cache).
    File,
    /// Data arriving from the network (a receiver).
    Receive,
    /// A cached file the application reads and uses itself: no socket (LMbench
    /// `bw_file_rd`, `bw_mmap_rd`).
    LocalFile,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Memory => "memory",
            SourceKind::File => "file",
            SourceKind::Receive => "receive",
            SourceKind::LocalFile => "local",
        }
    }
}

/// How the HTTP-style header of a response goes out (file-server workload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderMode {
    /// Its own `write()` before the body: with the connection idle, Nagle lets it go alone,
    /// one extra small packet per response.
    SeparateWrite,
    /// `TCP_CORK` (Linux) around header and body: no partial segment leaves until uncorked.
    Cork,
    /// The header travels in the same call as the body (FreeBSD and HP-UX `sendfile` header
    /// iovec, or `writev`).
    HeaderIovec,
}

impl HeaderMode {
    pub const ALL: [HeaderMode; 3] = [
        HeaderMode::SeparateWrite,
        HeaderMode::Cork,
        HeaderMode::HeaderIovec,
    ];

    pub fn id(self) -> &'static str {
        match self {
            HeaderMode::SeparateWrite => "separate-write",
            HeaderMode::Cork => "cork",
            HeaderMode::HeaderIovec => "header-iovec",
        }
    }
}

pub use af_xdp::{CHUNK_SIZES, Umem, XDP_PACKET_HEADROOM, XskCounters, XskMode, XskOptions};
pub(crate) use af_xdp::{XskStep, call as xsk_call, redirect as xsk_redirect, setup as xsk_setup};
pub use cow_send::{CowAlign, CowOptions};
pub use devmem_tcp::{DevmemBinding, DevmemOptions, MAX_DONTNEED_TOKENS};
pub use io_uring_send_zc::UringZcOptions;
pub(crate) use io_uring_zcrx::RxStep;
pub use io_uring_zcrx::{ZcrxArea, ZcrxOptions};
pub use msg_zerocopy::ZcOptions;
pub use page_loan::{KvaCapPolicy, LoanOptions};
pub use sendfile_ktls::{KtlsOptions, TlsMode};
pub use splice::DEFAULT_PIPE_BYTES;
pub use tcp_zerocopy_receive::{TCP_ZEROCOPY_PAGE_BATCH, TcpZcOptions, TcpZcState, can_map};
pub use zerocopy::{ZcCounters, ZcState};

/// How an mmap strategy maps its file (`[options] map`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MapMode {
    /// `mmap()` each file once, on its first request, and never unmap it: pages fault on
    /// first touch only. The default, and what every figure before this option assumed.
    #[default]
    Once,
    /// `mmap()` the pages of each request, use them, `munmap()` them: every request pays the
    /// syscalls, the VMA setup, a fault per fault-around window touched, the PTE teardown
    /// and a TLB flush (LMbench's `open2close` mode).
    PerRequest,
}

impl MapMode {
    pub const ALL: [MapMode; 2] = [MapMode::Once, MapMode::PerRequest];

    pub fn id(self) -> &'static str {
        match self {
            MapMode::Once => "once",
            MapMode::PerRequest => "per-request",
        }
    }
}

/// The option every mapping room documents.
const MAP_OPTION: OptionDoc = OptionDoc {
    key: "map",
    what: "map the file once, or mmap/munmap the pages of each request",
    default: "once",
};

/// A strategy with its options: one variant per room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Copy,
    PageLoan(LoanOptions),
    CowSend(CowOptions),
    Zbuf,
    ReadWrite,
    MmapWrite {
        map: MapMode,
    },
    MmapLoan {
        loan: LoanOptions,
        map: MapMode,
    },
    /// The 2003 Linux patch; `fixed` handles writes that straddle VMAs.
    MmapSendpage {
        fixed: bool,
        map: MapMode,
    },
    /// `sendfile`; `linux_fallback`: Linux's `sendpage` copies instead when the NIC lacks
    /// scatter-gather or checksum offload.
    Sendfile {
        linux_fallback: bool,
    },
    KernelServer,
    RecvCopy,
    PageFlip,
    /// Linux `MSG_ZEROCOPY`.
    MsgZerocopy(ZcOptions),
    /// io_uring `IORING_OP_SEND_ZC`.
    IoUringSendZc(UringZcOptions),
    /// `splice` file → pipe → socket; the pipe holds `pipe_bytes`.
    Splice {
        pipe_bytes: u64,
    },
    /// `vmsplice(SPLICE_F_GIFT)` then `splice` to the socket.
    VmspliceGift {
        pipe_bytes: u64,
    },
    /// `sendfile` on a kTLS socket.
    SendfileKtls(KtlsOptions),
    /// `read()` a cached file into a buffer and sum it (LMbench `bw_file_rd`).
    Read,
    /// `mmap()` a cached file and sum it (LMbench `bw_mmap_rd`).
    MmapRead {
        map: MapMode,
    },
    /// Linux `TCP_ZEROCOPY_RECEIVE`: received pages mapped into the reader.
    TcpZerocopyReceive(TcpZcOptions),
    /// io_uring zero-copy receive into a registered area.
    IoUringZcrx(ZcrxOptions),
    /// An AF_XDP socket receiving raw frames into its UMEM.
    AfXdp(XskOptions),
    /// Linux devmem TCP: payload received into a dmabuf in a peer device's memory.
    DevmemTcp(DevmemOptions),
}

/// One option of a strategy, as the catalogue documents it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionDoc {
    /// The scenario key that sets it.
    pub key: &'static str,
    pub what: &'static str,
    /// The kernel's default, in words.
    pub default: &'static str,
}

/// A strategy's line in the catalogue.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub explanation: &'static Explanation,
    /// The source it sends from (or `Receive`).
    pub source: SourceKind,
    /// The strategy with its kernel's default options.
    pub make: fn() -> Strategy,
    pub options: &'static [OptionDoc],
}

impl Entry {
    pub fn id(&self) -> &'static str {
        self.explanation.id
    }
}

/// Every strategy, in DESIGN's order: the one place ids are enumerated. The CLI, scenarios,
/// `list`, `explain` and the TUI read it.
pub const CATALOGUE: [&Entry; 23] = [
    &copy::ENTRY,
    &page_loan::ENTRY,
    &cow_send::ENTRY,
    &zbuf::ENTRY,
    &read_write::ENTRY,
    &mmap_write::ENTRY,
    &mmap_loan::ENTRY,
    &mmap_sendpage::ENTRY,
    &sendfile::ENTRY,
    &kernel_server::ENTRY,
    &recv_copy::ENTRY,
    &page_flip::ENTRY,
    &tcp_zerocopy_receive::ENTRY,
    &io_uring_zcrx::ENTRY,
    &af_xdp::ENTRY,
    &devmem_tcp::ENTRY,
    &splice::ENTRY,
    &vmsplice_gift::ENTRY,
    &msg_zerocopy::ENTRY,
    &io_uring_send_zc::ENTRY,
    &sendfile_ktls::ENTRY,
    &read::ENTRY,
    &mmap_read::ENTRY,
];

/// Every strategy id, in catalogue order (read off [`CATALOGUE`]).
pub const STRATEGY_IDS: [&str; CATALOGUE.len()] = {
    let mut ids = [""; CATALOGUE.len()];
    let mut i = 0;
    while i < CATALOGUE.len() {
        ids[i] = CATALOGUE[i].explanation.id;
        i += 1;
    }
    ids
};

/// A strategy id that names nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownStrategy {
    pub id: String,
}

impl fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown strategy `{}`; known: {}",
            self.id,
            STRATEGY_IDS.join(", ")
        )
    }
}

impl std::error::Error for UnknownStrategy {}

/// The plain-language account of a strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub id: &'static str,
    pub title: &'static str,
    /// System, year and people.
    pub origin: &'static str,
    /// The kernel source files (and their versions) the room models.
    pub source: &'static str,
    /// What the kernel does for one request, step by step.
    pub steps: &'static [&'static str],
    /// What the receiver sees if the data changes after the call returns but before the
    /// NIC has read it.
    pub in_flight: &'static str,
}

impl Strategy {
    /// The strategy with its kernel's default options, by id.
    pub fn from_id(id: &str) -> Result<Strategy, UnknownStrategy> {
        match CATALOGUE.iter().find(|e| e.id() == id) {
            Some(e) => Ok((e.make)()),
            None => Err(UnknownStrategy { id: id.to_owned() }),
        }
    }

    /// Its catalogue entry.
    pub fn entry(&self) -> &'static Entry {
        match self {
            Strategy::Copy => &copy::ENTRY,
            Strategy::PageLoan(_) => &page_loan::ENTRY,
            Strategy::CowSend(_) => &cow_send::ENTRY,
            Strategy::Zbuf => &zbuf::ENTRY,
            Strategy::ReadWrite => &read_write::ENTRY,
            Strategy::MmapWrite { .. } => &mmap_write::ENTRY,
            Strategy::MmapLoan { .. } => &mmap_loan::ENTRY,
            Strategy::MmapSendpage { .. } => &mmap_sendpage::ENTRY,
            Strategy::Sendfile { .. } => &sendfile::ENTRY,
            Strategy::KernelServer => &kernel_server::ENTRY,
            Strategy::RecvCopy => &recv_copy::ENTRY,
            Strategy::PageFlip => &page_flip::ENTRY,
            Strategy::MsgZerocopy(_) => &msg_zerocopy::ENTRY,
            Strategy::IoUringSendZc(_) => &io_uring_send_zc::ENTRY,
            Strategy::Splice { .. } => &splice::ENTRY,
            Strategy::VmspliceGift { .. } => &vmsplice_gift::ENTRY,
            Strategy::SendfileKtls(_) => &sendfile_ktls::ENTRY,
            Strategy::Read => &read::ENTRY,
            Strategy::MmapRead { .. } => &mmap_read::ENTRY,
            Strategy::TcpZerocopyReceive(_) => &tcp_zerocopy_receive::ENTRY,
            Strategy::IoUringZcrx(_) => &io_uring_zcrx::ENTRY,
            Strategy::AfXdp(_) => &af_xdp::ENTRY,
            Strategy::DevmemTcp(_) => &devmem_tcp::ENTRY,
        }
    }

    pub fn id(&self) -> &'static str {
        self.entry().id()
    }

    /// The source this strategy sends from.
    pub fn source(&self) -> SourceKind {
        self.entry().source
    }

    /// Whether it reaches the file through a mapping of it in the sender's address space.
    pub fn maps_file(&self) -> bool {
        self.map_mode().is_some()
    }

    /// How it maps its file, for the strategies that map one.
    pub fn map_mode(&self) -> Option<MapMode> {
        match *self {
            Strategy::MmapWrite { map }
            | Strategy::MmapLoan { map, .. }
            | Strategy::MmapSendpage { map, .. }
            | Strategy::MmapRead { map } => Some(map),
            _ => None,
        }
    }

    /// The strategy with its mapping mode set to `map` (unchanged if it maps nothing).
    pub fn with_map(self, map: MapMode) -> Strategy {
        match self {
            Strategy::MmapWrite { .. } => Strategy::MmapWrite { map },
            Strategy::MmapLoan { loan, .. } => Strategy::MmapLoan { loan, map },
            Strategy::MmapSendpage { fixed, .. } => Strategy::MmapSendpage { fixed, map },
            Strategy::MmapRead { .. } => Strategy::MmapRead { map },
            other => other,
        }
    }

    /// How many buffers of one write each the application cycles over (a zero-copy sender
    /// reuses a buffer only after its completion); 1 for every other strategy.
    pub fn buffers_cycled(&self) -> u64 {
        match self {
            Strategy::MsgZerocopy(o) => o.buffers.max(1),
            Strategy::IoUringSendZc(o) => o.buffers.max(1),
            _ => 1,
        }
    }

    /// Whether the application needs a buffer to `read()` the file into.
    pub fn reads_into_buffer(&self) -> bool {
        matches!(self, Strategy::ReadWrite | Strategy::Read)
    }

    pub fn explain(&self) -> &'static Explanation {
        self.entry().explanation
    }

    /// How a receiving application takes data out of its socket under this strategy.
    pub fn receiver(&self) -> Option<Receiver> {
        match self {
            Strategy::RecvCopy => Some(Receiver::Copy),
            Strategy::PageFlip => Some(Receiver::Flip),
            Strategy::TcpZerocopyReceive(o) => Some(Receiver::ZeroCopyMap(*o)),
            Strategy::IoUringZcrx(o) => Some(Receiver::Zcrx(*o)),
            Strategy::AfXdp(o) => Some(Receiver::Xsk(*o)),
            Strategy::DevmemTcp(o) => Some(Receiver::Devmem(*o)),
            _ => None,
        }
    }

    /// The ops for one request: `len` bytes at offset `off` of the source, preceded by a
    /// `header_bytes` header sent as `header` says (0 for none).
    pub(crate) fn request(&self, r: &Request) -> Vec<Op> {
        let mut ops = Vec::new();
        if *self == Strategy::KernelServer {
            // In the kernel there is no call to separate or cork: the header is built in an
            // mbuf and goes with the body.
            kernel_server::request(r, (r.header_bytes > 0).then_some(r.header_bytes), &mut ops);
            return ops;
        }
        let corked = r.header_bytes > 0 && r.header == HeaderMode::Cork;
        if corked {
            ops.push(Op::Syscall);
            ops.push(Op::Cork(true));
        }
        // A header that is not folded into the body's call is its own write().
        if r.header_bytes > 0 && r.header != HeaderMode::HeaderIovec {
            ops.push(Op::Syscall);
            ops.push(Op::Send {
                len: r.header_bytes,
                how: Fill::CopyIn { at: Addr::Header },
            });
        }
        let header_in_call =
            (r.header_bytes > 0 && r.header == HeaderMode::HeaderIovec).then_some(r.header_bytes);
        match self {
            Strategy::Copy => copy::request(r, header_in_call, &mut ops),
            Strategy::PageLoan(o) => page_loan::request(r, *o, header_in_call, &mut ops),
            Strategy::CowSend(o) => cow_send::request(r, *o, header_in_call, &mut ops),
            Strategy::Zbuf => zbuf::request(r, header_in_call, &mut ops),
            Strategy::ReadWrite => read_write::request(r, header_in_call, &mut ops),
            Strategy::MmapWrite { map } => mmap_write::request(r, *map, header_in_call, &mut ops),
            Strategy::MmapLoan { loan, map } => {
                mmap_loan::request(r, *loan, *map, header_in_call, &mut ops)
            }
            Strategy::MmapSendpage { fixed, map } => {
                mmap_sendpage::request(r, *fixed, *map, header_in_call, &mut ops)
            }
            Strategy::Sendfile { linux_fallback } => {
                sendfile::request(r, *linux_fallback, header_in_call, &mut ops)
            }
            Strategy::MsgZerocopy(o) => msg_zerocopy::request(r, *o, header_in_call, &mut ops),
            Strategy::IoUringSendZc(o) => {
                io_uring_send_zc::request(r, *o, header_in_call, &mut ops)
            }
            Strategy::Splice { pipe_bytes } => {
                splice::request(r, *pipe_bytes, header_in_call, &mut ops)
            }
            Strategy::VmspliceGift { pipe_bytes } => {
                vmsplice_gift::request(r, *pipe_bytes, header_in_call, &mut ops)
            }
            Strategy::SendfileKtls(o) => sendfile_ktls::request(r, *o, header_in_call, &mut ops),
            Strategy::Read => read::request(r, &mut ops),
            Strategy::MmapRead { map } => mmap_read::request(r, *map, &mut ops),
            Strategy::KernelServer => unreachable!("handled above"),
            Strategy::RecvCopy
            | Strategy::PageFlip
            | Strategy::TcpZerocopyReceive(_)
            | Strategy::IoUringZcrx(_)
            | Strategy::AfXdp(_)
            | Strategy::DevmemTcp(_) => {
                unreachable!("receive strategies make no send requests")
            }
        }
        if corked {
            ops.push(Op::Syscall);
            ops.push(Op::Cork(false));
        }
        ops
    }
}

/// One application request, as a strategy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    /// Offset of the data in the source (buffer or file).
    pub off: u64,
    pub len: u64,
    pub header_bytes: u64,
    pub header: HeaderMode,
}

/// An address in the sender's memory, resolved when the op runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Addr {
    /// The application's data buffer, at this offset.
    Buffer(u64),
    /// The application's mapping of its source, at this offset.
    Mapping(u64),
    /// The application's small header buffer.
    Header,
}

/// How bytes become socket-buffer storage: each variant names the room whose fill function
/// does it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// `copyin` into clusters (`sosend` → `uiomove`): [`copy`].
    CopyIn { at: Addr },
    /// NetBSD `sosend_loan`: loan the user pages: [`page_loan`].
    Loan { at: Addr, opts: LoanOptions },
    /// FreeBSD `socow_setup`: wire whole aligned pages COW, copy the ragged edges:
    /// [`cow_send`].
    CowWire { at: Addr, opts: CowOptions },
    /// The application built the data in kernel buffers it now hands over: [`zbuf`].
    Zbuf,
    /// Reference page-cache pages of the source file at this offset (`sendfile`, TUX):
    /// [`sendfile`].
    CacheRef { off: u64, linux_fallback: bool },
    /// TUX: `tcp_sendpage` of the source file's cache pages at this offset (a copy on a Linux
    /// target without SG or checksum offload): [`kernel_server`].
    TuxSend { off: u64 },
    /// The 2003 patch: `find_vma` on the address, then `sendpage` from that VMA's file:
    /// [`mmap_sendpage`].
    SendPage { at: Addr, fixed: bool },
    /// The header copied into an mbuf by the kernel in the same call: [`copy`].
    HeaderMbuf,
    /// `MSG_ZEROCOPY` / `SEND_ZC`: user pages pinned into frags (or, for `fixed`, a
    /// registered buffer's pages): [`zerocopy`].
    ZeroCopy { at: Addr, fixed: bool },
    /// Page-cache pages of the source file at this offset through a pipe: [`splice`].
    Splice { off: u64 },
    /// Gifted user pages through a pipe: [`vmsplice_gift`].
    Gift { at: Addr },
    /// The source file at this offset as kTLS records: [`sendfile_ktls`].
    Ktls { off: u64, opts: KtlsOptions },
}

/// One kernel-visible step of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Enter and leave the kernel once.
    Syscall,
    /// `read()` of `len` bytes at `off` of the source file into the buffer at offset 0.
    ReadFile { off: u64, len: u64 },
    /// Map the source file if it is not mapped yet (`mmap`); failure fails the request.
    EnsureMapped,
    /// `mmap()` the pages of the source file `[off, off + len)` spans, for this request only
    /// (`map = per-request`); failure fails the request.
    MapRequest { off: u64, len: u64 },
    /// `munmap()` the request's mapping.
    UnmapRequest,
    /// The application reads `len` bytes of its own memory at `at` and sums them (LMbench's
    /// `rd` loop): pages fault on first touch, and the bytes become the run's payload.
    UserRead { at: Addr, len: u64 },
    /// Put `len` bytes into the socket buffer, chunk by chunk, waiting for space.
    Send { len: u64, how: Fill },
    /// `setsockopt(TCP_CORK)`.
    Cork(bool),
    /// The application writes `len` bytes of its own memory at `at` (a rewrite after
    /// `write()`), or, with `per_page`, `len` bytes at the start of each page of
    /// `[at, at + span)` (timestamps stamped into each page before sending).
    UserWrite {
        at: Addr,
        len: u64,
        span: u64,
        per_page: bool,
    },
    /// An application step of a zero-copy room (completions, buffer reuse): [`zerocopy`].
    Zc(zerocopy::ZcOp),
}

/// The mapping step before a mapping room's request: map the whole file once, or map this
/// request's pages.
pub(crate) fn map_ops(r: &Request, map: MapMode, ops: &mut Vec<Op>) {
    ops.push(match map {
        MapMode::Once => Op::EnsureMapped,
        MapMode::PerRequest => Op::MapRequest {
            off: r.off,
            len: r.len,
        },
    });
}

/// The unmapping step after a mapping room's request (none when mapped once).
pub(crate) fn unmap_ops(map: MapMode, ops: &mut Vec<Op>) {
    if map == MapMode::PerRequest {
        ops.push(Op::UnmapRequest);
    }
}

/// Appends the sends of one call: the header in the same call (if any), then the body.
pub(crate) fn sends(ops: &mut Vec<Op>, header: Option<u64>, len: u64, how: Fill) {
    if let Some(h) = header {
        ops.push(Op::Send {
            len: h,
            how: Fill::HeaderMbuf,
        });
    }
    ops.push(Op::Send { len, how });
}

/// A `Send` op in progress.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendOp {
    pub how: Fill,
    /// Bytes of the op already in the socket buffer (or on their way).
    pub done: u64,
    pub left: u64,
    /// `mmap-sendpage`: where the VMA lookup said the bytes come from.
    pub sendpage: Option<SendpageCursor>,
}

impl SendOp {
    pub fn new(len: u64, how: Fill) -> Self {
        SendOp {
            how,
            done: 0,
            left: len,
            sendpage: None,
        }
    }

    /// Room the socket buffer must have before this op moves its next chunk, and the unit
    /// its chunks come in. BSD `sosend` waits for `sb_lowat` (a cluster); the zero-copy
    /// paths only take their branch with room for their unit (see [`page_loan::room`] and
    /// [`cow_send::room`]), so a writer of theirs waits for that much rather than copying a
    /// ragged piece. `cpus` is the target's CPU count (NetBSD loans only on uniprocessor
    /// kernels).
    pub fn room(&self, cpus: u32) -> (u64, u64) {
        let unit = match self.how {
            Fill::Loan { opts, .. } => page_loan::room(opts, cpus, self.left),
            Fill::CowWire { .. } => cow_send::room(),
            Fill::ZeroCopy { .. } | Fill::Gift { .. } => zerocopy::room(),
            _ => copy::room(),
        };
        (unit.0.min(self.left), unit.1)
    }

    /// The user address this op's room rule needs to see (the next byte of a loan, whose
    /// page span decides its kernel address space), if any.
    pub fn needs_addr(&self) -> Option<Addr> {
        match self.how {
            Fill::Loan { at, .. } => Some(at),
            _ => None,
        }
    }

    /// Of `chunk` bytes the socket buffer has room for, how many the op moves now, given the
    /// kernel state outside the socket buffer: `addr` (from [`SendOp::needs_addr`]) and
    /// `kva_loaned` bytes of loan address space in use. 0 means the writer sleeps until a
    /// release wakes it (NetBSD `sokvaalloc` at `SOMAXKVA`); it waits on its connection like
    /// a writer waiting for socket-buffer room.
    pub fn take(&self, chunk: u64, cpus: u32, addr: Option<u64>, kva_loaned: u64) -> u64 {
        match (self.how, addr) {
            (Fill::Loan { opts, .. }, Some(a)) => page_loan::take(opts, cpus, a, chunk, kva_loaned),
            _ => chunk,
        }
    }
}

/// Fills the next `len` bytes of `op` into storage, through the room its [`Fill`] names.
pub(crate) fn fill(k: &mut Kernel<'_>, op: &mut SendOp, len: u64) {
    let done = op.done;
    match op.how {
        Fill::CopyIn { at } => copy::fill(k, at, done, len),
        Fill::HeaderMbuf => copy::fill_header(k, len),
        Fill::Loan { at, opts } => page_loan::fill(k, at, done, len, opts),
        Fill::CowWire { at, opts } => cow_send::fill(k, at, done, len, opts),
        Fill::Zbuf => zbuf::fill(k, len),
        Fill::CacheRef {
            off,
            linux_fallback,
        } => sendfile::fill(k, off + done, len, linux_fallback),
        Fill::TuxSend { off } => kernel_server::fill(k, off + done, len),
        Fill::SendPage { at, fixed } => {
            mmap_sendpage::fill(k, at, done, len, fixed, &mut op.sendpage)
        }
        Fill::ZeroCopy { at, fixed } => zerocopy::fill(k, at, done, len, fixed),
        Fill::Splice { off } => splice::fill(k, off + done, len),
        Fill::Gift { at } => vmsplice_gift::fill(k, at, done, len),
        Fill::Ktls { off, opts } => sendfile_ktls::fill(k, off + done, len, opts),
    }
}

/// The last reference to lent pages dropped: the room that lent them takes them back.
pub(crate) fn end_lend(
    k: &mut Kernel<'_>,
    kind: LendKind,
    ext: crate::net::mbuf::ExtId,
    pages: Vec<crate::vm::Pfn>,
) {
    match kind {
        LendKind::Loan => page_loan::release(k, ext, pages),
        LendKind::CowWire => cow_send::release(k, ext, pages),
    }
}

/// A `recv()` takes `piece` into the user's buffer at `dest` (`buf` is the buffer's start);
/// `whole` is false for a piece cut in two, whose reference stays with the tail.
pub(crate) fn receive(
    k: &mut Kernel<'_>,
    how: Receiver,
    piece: &Piece,
    buf: u64,
    dest: u64,
    whole: bool,
) {
    let flipped = match how {
        Receiver::Discard => false,
        Receiver::ZeroCopyMap(_) | Receiver::Zcrx(_) | Receiver::Xsk(_) | Receiver::Devmem(_) => {
            unreachable!("the zero-copy receivers make their own calls (receive_call)")
        }
        Receiver::Flip => page_flip::receive(k, piece, buf, dest, whole),
        Receiver::Copy => {
            recv_copy::receive(k, piece, dest);
            false
        }
    };
    if whole && !flipped {
        k.unref(piece.ext);
    }
}

/// Why the target's NIC cannot carry this strategy's receive, if it cannot.
pub fn target_misfit(s: &Strategy, nic: &crate::net::NicConfig) -> Option<&'static str> {
    match s {
        Strategy::IoUringZcrx(_) => io_uring_zcrx::target_misfit(nic),
        Strategy::DevmemTcp(_) => devmem_tcp::target_misfit(nic),
        _ => None,
    }
}

/// Why the target's machine cannot carry this strategy's receive (devmem TCP without device
/// memory to bind, or with less than the binding), if it cannot.
pub fn machine_misfit(s: &Strategy, m: &crate::machine::MachineConfig) -> Option<String> {
    match s {
        Strategy::DevmemTcp(o) => devmem_tcp::machine_misfit(*o, m),
        _ => None,
    }
}

/// A zero-copy receiver's state between calls.
#[derive(Debug, Default)]
pub(crate) enum RxCall {
    #[default]
    None,
    TcpZc(TcpZcState),
}

/// Sets a zero-copy receiver up before its first call (the socket `mmap`, the area's
/// registration). False if it could not map its memory (a failed setup).
pub(crate) fn receive_setup(
    k: &mut Kernel<'_>,
    how: Receiver,
    conn: crate::world::ConnId,
    read_size: u64,
    st: &mut RxCall,
) -> bool {
    match how {
        Receiver::ZeroCopyMap(o) => match tcp_zerocopy_receive::setup(k, o, read_size) {
            Some(s) => {
                *st = RxCall::TcpZc(s);
                true
            }
            None => false,
        },
        Receiver::Zcrx(o) => io_uring_zcrx::setup(k, o, conn),
        Receiver::Devmem(o) => devmem_tcp::setup(k, o, conn),
        Receiver::Copy | Receiver::Discard | Receiver::Flip => true,
        Receiver::Xsk(_) => unreachable!("an AF_XDP socket is set up by world::xsk"),
    }
}

/// Bytes that must wait in the receive buffer before the reader is woken (`SO_RCVLOWAT`),
/// given `left` bytes still to come.
pub(crate) fn receive_lowat(
    how: Receiver,
    st: &RxCall,
    read_size: u64,
    rcvbuf: u64,
    left: u64,
) -> u64 {
    match (how, st) {
        (Receiver::ZeroCopyMap(_), RxCall::TcpZc(s)) => {
            tcp_zerocopy_receive::lowat(s, read_size, rcvbuf, left)
        }
        _ => 1,
    }
}

/// One call of a zero-copy receiver (`getsockopt(TCP_ZEROCOPY_RECEIVE)` or its `read()`,
/// an `io_uring_enter` for completions); `buf` is its copy buffer of `read_size` bytes.
pub(crate) fn receive_call(
    k: &mut Kernel<'_>,
    how: Receiver,
    conn: crate::world::ConnId,
    buf: u64,
    read_size: u64,
    st: &mut RxCall,
) -> RxStep {
    match (how, st) {
        (Receiver::ZeroCopyMap(o), RxCall::TcpZc(s)) => {
            RxStep::Received(tcp_zerocopy_receive::call(k, s, o, conn, buf, read_size))
        }
        (Receiver::Zcrx(o), _) => io_uring_zcrx::call(k, o, conn),
        (Receiver::Devmem(o), _) => devmem_tcp::call(k, o, conn, read_size),
        (other, _) => unreachable!("{other:?} receives with recv()"),
    }
}

/// A strategy applied to a workload it does not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoesNotApply {
    pub strategy: &'static str,
    pub workload: &'static str,
    pub reason: String,
}

impl fmt::Display for DoesNotApply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "strategy `{}` does not apply to workload `{}`: {}",
            self.strategy, self.workload, self.reason
        )
    }
}

impl std::error::Error for DoesNotApply {}

#[cfg(test)]
mod basics {
    use super::*;

    #[test]
    fn every_id_round_trips_and_unknown_ids_list_the_known() {
        for id in STRATEGY_IDS {
            let s = Strategy::from_id(id).unwrap();
            assert_eq!(s.id(), id);
            assert!(!s.explain().steps.is_empty());
        }
        let e = Strategy::from_id("sendfiel").unwrap_err();
        assert!(e.to_string().contains("known: copy"));
    }

    #[test]
    fn header_modes_shape_the_request() {
        // Separate write: the header is its own syscall and send before the body; cork wraps
        // both in setsockopt calls; the iovec folds it into the body's call.
        let r = |header| Request {
            off: 0,
            len: 8192,
            header_bytes: 200,
            header,
        };
        let sf = Strategy::Sendfile {
            linux_fallback: false,
        };
        let sep = sf.request(&r(HeaderMode::SeparateWrite));
        assert_eq!(sep.iter().filter(|o| **o == Op::Syscall).count(), 2);
        let cork = sf.request(&r(HeaderMode::Cork));
        assert_eq!(cork.first(), Some(&Op::Syscall));
        assert_eq!(cork[1], Op::Cork(true));
        assert_eq!(cork.last(), Some(&Op::Cork(false)));
        let iov = sf.request(&r(HeaderMode::HeaderIovec));
        assert_eq!(iov.iter().filter(|o| **o == Op::Syscall).count(), 1);
        assert!(iov.contains(&Op::Send {
            len: 200,
            how: Fill::HeaderMbuf
        }));
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fileread;
#[cfg(test)]
mod tests_modern;
#[cfg(test)]
mod tests_receive;
#[cfg(test)]
mod tests_xsk;
