//! The zero-copy strategies of the seeds, each as the sequence of kernel operations it does
//! for one application request.
//!
//! A strategy never computes a time or a count. For each request (one `write()` worth of
//! data, or one HTTP response) it lists [`Op`]s: enter the kernel, `read()` a file, make sure
//! a file is mapped, move bytes into the socket buffer by some [`Fill`], cork the socket, or
//! let the application write its own memory. The world runs those ops through the VM and the
//! network path, and every cost and counter comes from there.
//!
//! Stable ids (DESIGN section 6): `copy`, `page-loan`, `cow-send`, `zbuf`, `read-write`,
//! `mmap-write`, `mmap-loan`, `mmap-sendpage`, `sendfile`, `kernel-server`, `recv-copy`,
//! `page-flip`.

mod copy;
mod cow_send;
mod kernel_server;
mod mmap_loan;
mod mmap_sendpage;
mod mmap_write;
mod page_loan;
mod read_write;
mod receive;
mod sendfile;
mod zbuf;

use std::fmt;

/// Where a sender's data comes from; decides which strategies apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A buffer in the application's memory.
    Memory,
    /// A file (through the page cache).
    File,
    /// Data arriving from the network (a receiver).
    Receive,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Memory => "memory",
            SourceKind::File => "file",
            SourceKind::Receive => "receive",
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

/// NetBSD page-loaning options (`sosend_loan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoanOptions {
    /// Writes at least this long are loaned; shorter ones are copied (4 KiB at first, 8 KiB
    /// later the default).
    pub threshold_bytes: u64,
    /// `sosend_loan` breaks a write into chunks of this size, each one mbuf (64 KiB).
    pub chunk_bytes: u64,
    /// Kernel address space available for mapping loaned pages (16 MiB); a chunk that would
    /// exceed it is copied instead.
    pub kva_cap_bytes: u64,
}

impl Default for LoanOptions {
    fn default() -> Self {
        LoanOptions {
            threshold_bytes: 4096,
            chunk_bytes: 64 << 10,
            kva_cap_bytes: 16 << 20,
        }
    }
}

/// A strategy with its options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Copy,
    PageLoan(LoanOptions),
    CowSend,
    Zbuf,
    ReadWrite,
    MmapWrite,
    MmapLoan(LoanOptions),
    /// The 2003 Linux patch; `fixed` handles writes that straddle VMAs.
    MmapSendpage {
        fixed: bool,
    },
    /// `sendfile`; `linux_fallback`: Linux's `sendpage` copies instead when the NIC lacks
    /// scatter-gather or checksum offload.
    Sendfile {
        linux_fallback: bool,
    },
    KernelServer,
    RecvCopy,
    PageFlip,
}

/// Every strategy id, in catalogue order.
pub const STRATEGY_IDS: [&str; 12] = [
    "copy",
    "page-loan",
    "cow-send",
    "zbuf",
    "read-write",
    "mmap-write",
    "mmap-loan",
    "mmap-sendpage",
    "sendfile",
    "kernel-server",
    "recv-copy",
    "page-flip",
];

/// Ids named in DESIGN for later; rejected with a clear message until they exist.
pub const FUTURE_IDS: [&str; 6] = [
    "splice",
    "vmsplice-gift",
    "msg-zerocopy",
    "io-uring-send-zc",
    "tcp-zerocopy-receive",
    "af-xdp",
];

/// A strategy id that names nothing (or nothing yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownStrategy {
    pub id: String,
    pub planned: bool,
}

impl fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.planned {
            write!(f, "strategy `{}` is planned but not modelled yet", self.id)
        } else {
            write!(
                f,
                "unknown strategy `{}`; known: {}",
                self.id,
                STRATEGY_IDS.join(", ")
            )
        }
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
    /// What the kernel does for one request, step by step.
    pub steps: &'static [&'static str],
    /// What the receiver sees if the data changes after the call returns but before the
    /// NIC has read it.
    pub in_flight: &'static str,
}

impl Strategy {
    /// The strategy with DESIGN's default options, by id.
    pub fn from_id(id: &str) -> Result<Strategy, UnknownStrategy> {
        Ok(match id {
            "copy" => Strategy::Copy,
            "page-loan" => Strategy::PageLoan(LoanOptions::default()),
            "cow-send" => Strategy::CowSend,
            "zbuf" => Strategy::Zbuf,
            "read-write" => Strategy::ReadWrite,
            "mmap-write" => Strategy::MmapWrite,
            "mmap-loan" => Strategy::MmapLoan(LoanOptions::default()),
            "mmap-sendpage" => Strategy::MmapSendpage { fixed: false },
            "sendfile" => Strategy::Sendfile {
                linux_fallback: false,
            },
            "kernel-server" => Strategy::KernelServer,
            "recv-copy" => Strategy::RecvCopy,
            "page-flip" => Strategy::PageFlip,
            other => {
                return Err(UnknownStrategy {
                    id: other.to_owned(),
                    planned: FUTURE_IDS.contains(&other),
                });
            }
        })
    }

    pub fn id(&self) -> &'static str {
        self.explain().id
    }

    /// The source this strategy sends from.
    pub fn source(&self) -> SourceKind {
        match self {
            Strategy::Copy | Strategy::PageLoan(_) | Strategy::CowSend | Strategy::Zbuf => {
                SourceKind::Memory
            }
            Strategy::ReadWrite
            | Strategy::MmapWrite
            | Strategy::MmapLoan(_)
            | Strategy::MmapSendpage { .. }
            | Strategy::Sendfile { .. }
            | Strategy::KernelServer => SourceKind::File,
            Strategy::RecvCopy | Strategy::PageFlip => SourceKind::Receive,
        }
    }

    /// Whether it reaches the file through a mapping of it in the sender's address space.
    pub fn maps_file(&self) -> bool {
        matches!(
            self,
            Strategy::MmapWrite | Strategy::MmapLoan(_) | Strategy::MmapSendpage { .. }
        )
    }

    pub fn explain(&self) -> &'static Explanation {
        match self {
            Strategy::Copy => &copy::EXPLANATION,
            Strategy::PageLoan(_) => &page_loan::EXPLANATION,
            Strategy::CowSend => &cow_send::EXPLANATION,
            Strategy::Zbuf => &zbuf::EXPLANATION,
            Strategy::ReadWrite => &read_write::EXPLANATION,
            Strategy::MmapWrite => &mmap_write::EXPLANATION,
            Strategy::MmapLoan(_) => &mmap_loan::EXPLANATION,
            Strategy::MmapSendpage { .. } => &mmap_sendpage::EXPLANATION,
            Strategy::Sendfile { .. } => &sendfile::EXPLANATION,
            Strategy::KernelServer => &kernel_server::EXPLANATION,
            Strategy::RecvCopy => &receive::RECV_COPY,
            Strategy::PageFlip => &receive::PAGE_FLIP,
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
            Strategy::CowSend => cow_send::request(r, header_in_call, &mut ops),
            Strategy::Zbuf => zbuf::request(r, header_in_call, &mut ops),
            Strategy::ReadWrite => read_write::request(r, header_in_call, &mut ops),
            Strategy::MmapWrite => mmap_write::request(r, header_in_call, &mut ops),
            Strategy::MmapLoan(o) => mmap_loan::request(r, *o, header_in_call, &mut ops),
            Strategy::MmapSendpage { fixed } => {
                mmap_sendpage::request(r, *fixed, header_in_call, &mut ops)
            }
            Strategy::Sendfile { linux_fallback } => {
                sendfile::request(r, *linux_fallback, header_in_call, &mut ops)
            }
            Strategy::KernelServer => unreachable!("handled above"),
            Strategy::RecvCopy | Strategy::PageFlip => {
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

/// How bytes become socket-buffer storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// `copyin` into clusters (`sosend` → `uiomove`).
    CopyIn { at: Addr },
    /// NetBSD `sosend_loan`: loan the user pages.
    Loan { at: Addr, opts: LoanOptions },
    /// FreeBSD `socow_setup`: wire whole aligned pages COW, copy the ragged edges.
    CowWire { at: Addr },
    /// The application built the data in kernel buffers it now hands over.
    Zbuf,
    /// Reference page-cache pages of the source file at this offset (`sendfile`, TUX).
    CacheRef { off: u64, linux_fallback: bool },
    /// The 2003 patch: `find_vma` on the address, then `sendpage` from that VMA's file.
    SendPage { at: Addr, fixed: bool },
    /// The header copied into an mbuf by the kernel in the same call.
    HeaderMbuf,
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
    fn every_id_round_trips_and_future_ids_say_so() {
        for id in STRATEGY_IDS {
            let s = Strategy::from_id(id).unwrap();
            assert_eq!(s.id(), id);
            assert!(!s.explain().steps.is_empty());
        }
        let e = Strategy::from_id("splice").unwrap_err();
        assert!(e.planned && e.to_string().contains("planned"));
        let e = Strategy::from_id("sendfiel").unwrap_err();
        assert!(!e.planned && e.to_string().contains("known: copy"));
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
