//! `page-loan`: NetBSD's `sosend_loan` (Jason Thorpe, 2002).
//!
//! Models NetBSD 1.6 / -current of mid-2002: `sys/kern/uipc_socket.c` (rev. 1.6x) `sosend`
//! and `sosend_loan` (the threshold `sock_loan_thresh`, `SOCK_LOAN_CHUNK` = 64 KiB passes,
//! `sokvaalloc` reserving kernel address space up to `SOMAXKVA` = 16 MiB and sleeping on
//! `socurkva` until `sokvafree` returns some) and `sys/uvm/uvm_loan.c` `uvm_loan` /
//! `uvm_unloan` / `uvm_loanbreak`.
//!
//! As the kernel does it:
//! - each pass of `sosend`'s loop tests the threshold against what is left of the write
//!   (`uio_iov->iov_len`, the remaining `uio_resid` of a `write()`) and the socket space left
//!   in this pass; a pass that fails is copied, one cluster at a time, and so is the rest of
//!   the pass (both quantities only shrink);
//! - a loaning pass takes `min(resid, space, 64 KiB)` bytes and reserves the page span of
//!   them in kernel address space; past `SOMAXKVA` the writer sleeps until loans are returned
//!   ([`KvaCapPolicy::Sleep`], the kernel's behaviour) — [`KvaCapPolicy::Copy`] keeps the
//!   earlier model's copy for comparison;
//! - `sock_loan_thresh` is `-1` (never loan) on `MULTIPROCESSOR` kernels (`#if
//!   defined(SOSEND_NO_LOAN) || defined(MULTIPROCESSOR)`), so with `cpus >= 2` the strategy
//!   copies unless [`LoanOptions::on_multiprocessor`] forces loaning.
//!
//! Simplified: a writer that must wait for socket space waits until a threshold's worth is
//! free (the kernel wakes it at `sb_lowat` and would copy a pass shorter than the threshold).

use super::{Addr, Entry, Explanation, Fill, Kernel, Op, OptionDoc, Request, SourceKind, Strategy};
use crate::net::mbuf::{ExtId, ExtKind, MCLBYTES, PagePromise};
use crate::vm::{LendKind, PAGE_SIZE, Pfn, pages_of};
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "page-loan",
    title: "NetBSD page loaning for socket writes",
    origin: "NetBSD-current, May 2002, Jason R. Thorpe (sosend_loan, uvm_loan); default for writes >= 8 KiB by August 2002",
    source: "NetBSD 1.6 (2002): sys/kern/uipc_socket.c rev. 1.6x (sosend, sosend_loan, sokvaalloc, sokvafree, sock_loan_thresh, SOMAXKVA); sys/uvm/uvm_loan.c (uvm_loan, uvm_unloan, uvm_loanbreak)",
    steps: &[
        "write(): enter the kernel",
        "sosend, each pass: if what is left of the write and the socket space are both at least sock_loan_thresh (4 KiB, later 8 KiB; -1, never, on MULTIPROCESSOR kernels) the pass is loaned, up to 64 KiB; otherwise it is copied a cluster at a time",
        "sokvaalloc reserves kernel address space for the pass's pages; past 16 MiB (SOMAXKVA) the writer sleeps until loans are returned",
        "uvm_loan: each user page gets a loan and a kernel reference, and every mapping of it is made read-only (a TLB shootdown on a multiprocessor)",
        "the loaned pages are mapped into that kernel address space (pmap_kenter_pa) and hung on one mbuf as external storage",
        "tcp_output references the mbuf's storage per segment (m_copy takes a reference); the NIC DMAs straight from the user's pages",
        "when the ACK frees the mbuf, uvm_unloan returns the pages and sokvafree the address space (waking a sleeping writer); the pages stay read-only until the next write, which only restores write permission",
    ],
    in_flight: "Safe: a write to a loaned page takes a fault that breaks the loan (uvm_loanbreak): the application gets a copy of the page, the kernel keeps the original. That copy plus the fault can cost more than the copy the loan avoided (Laight, Thorpe).",
};

/// What `sosend_loan` does when the kernel address space for loans is used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvaCapPolicy {
    /// `sokvaalloc` sleeps until `sokvafree` returns space (NetBSD's behaviour).
    Sleep,
    /// The pass is copied instead (the earlier model's simplification).
    Copy,
}

/// NetBSD page-loaning options (`sosend_loan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoanOptions {
    /// A pass with at least this much left of the write and of the socket space is loaned;
    /// a shorter one is copied (`sock_loan_thresh`: 4 KiB at first, 8 KiB later).
    pub threshold_bytes: u64,
    /// Most bytes one pass loans, one mbuf (`SOCK_LOAN_CHUNK`, 64 KiB).
    pub chunk_bytes: u64,
    /// Kernel address space available for mapping loaned pages (`SOMAXKVA`, 16 MiB).
    pub kva_cap_bytes: u64,
    /// What a pass does when its pages would pass `kva_cap_bytes`.
    pub at_kva_cap: KvaCapPolicy,
    /// Loan on a multiprocessor kernel too. NetBSD sets `sock_loan_thresh = -1` on
    /// `MULTIPROCESSOR` kernels, so by default a target with `cpus >= 2` copies.
    pub on_multiprocessor: bool,
}

impl Default for LoanOptions {
    fn default() -> Self {
        LoanOptions {
            threshold_bytes: 4096,
            chunk_bytes: 64 << 10,
            kva_cap_bytes: 16 << 20,
            at_kva_cap: KvaCapPolicy::Sleep,
            on_multiprocessor: false,
        }
    }
}

impl LoanOptions {
    /// Whether this kernel loans at all: uniprocessor kernels do; `MULTIPROCESSOR` kernels
    /// only if forced.
    pub fn loans_on(&self, cpus: u32) -> bool {
        cpus < 2 || self.on_multiprocessor
    }
}

pub(super) const OPTIONS: &[OptionDoc] = &[
    OptionDoc {
        key: "loan_threshold",
        what: "a pass with at least this much left of the write and of the socket space is loaned (sock_loan_thresh)",
        default: "4 KiB",
    },
    OptionDoc {
        key: "loan_chunk",
        what: "most bytes loaned per pass, one mbuf (SOCK_LOAN_CHUNK)",
        default: "64 KiB",
    },
    OptionDoc {
        key: "loan_kva_cap",
        what: "kernel address space for loaned pages (SOMAXKVA)",
        default: "16 MiB",
    },
    OptionDoc {
        key: "loan_at_kva_cap",
        what: "\"sleep\" until loans are returned (sokvaalloc), or \"copy\" the pass",
        default: "sleep",
    },
    OptionDoc {
        key: "loan_on_multiprocessor",
        what: "loan on a MULTIPROCESSOR kernel (cpus >= 2) too",
        default: "false (sock_loan_thresh = -1 on MULTIPROCESSOR kernels)",
    },
];

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Memory,
    make: || Strategy::PageLoan(LoanOptions::default()),
    options: OPTIONS,
};

pub(super) fn request(r: &Request, opts: LoanOptions, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::Loan {
            at: Addr::Buffer(r.off),
            opts,
        },
    );
}

/// NetBSD takes the loan branch only with `space >= sock_loan_thresh`: a writer with at
/// least a threshold left waits for that much room; one with less, or on a kernel that does
/// not loan, waits for a cluster like `copy`.
pub(super) fn room(opts: LoanOptions, cpus: u32, left: u64) -> (u64, u64) {
    if opts.loans_on(cpus) && left >= opts.threshold_bytes {
        (opts.threshold_bytes, 1)
    } else {
        (MCLBYTES, 1)
    }
}

/// One pass of `sosend`'s loop, as planned from the state when the chunk starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pass {
    /// Loan `n` bytes mapped by `span` bytes of kernel address space.
    Loan { n: u64, span: u64 },
    /// Copy `n` bytes (one or more clusters).
    Copy { n: u64 },
    /// The writer sleeps for kernel address space before the rest.
    Sleep,
}

/// The passes that move `chunk` bytes starting at user address `addr`, with `kva_loaned`
/// bytes of loan address space in use. `chunk` is `min(left, space)`, so what is left of the
/// write and of the socket space in a pass is `chunk - taken` (see `sosend`).
pub(super) fn passes(
    opts: LoanOptions,
    cpus: u32,
    addr: u64,
    chunk: u64,
    kva_loaned: u64,
) -> Vec<Pass> {
    let mut out = Vec::new();
    let mut taken = 0;
    let mut kva = kva_loaned;
    while taken < chunk {
        let rest = chunk - taken;
        if !opts.loans_on(cpus) || rest < opts.threshold_bytes {
            // The copy branch; resid and space only shrink, so the rest of the chunk copies.
            out.push(Pass::Copy { n: rest });
            break;
        }
        let n = rest.min(opts.chunk_bytes);
        let span = pages_of(addr + taken, n).count() as u64 * PAGE_SIZE;
        if kva + span > opts.kva_cap_bytes {
            // With nothing loaned the pass could never fit (a cap below one chunk): sleeping
            // would wait for good, so it is copied.
            let never_fits = kva == 0;
            match opts.at_kva_cap {
                KvaCapPolicy::Sleep if !never_fits => {
                    out.push(Pass::Sleep);
                    break;
                }
                _ => out.push(Pass::Copy { n }),
            }
        } else {
            kva += span;
            out.push(Pass::Loan { n, span });
        }
        taken += n;
    }
    out
}

/// Of `chunk` bytes the socket has room for, how many the writer moves now: up to the first
/// pass that must sleep for kernel address space (0: the writer sleeps until a loan is
/// returned).
pub(super) fn take(opts: LoanOptions, cpus: u32, addr: u64, chunk: u64, kva_loaned: u64) -> u64 {
    passes(opts, cpus, addr, chunk, kva_loaned)
        .iter()
        .map_while(|p| match p {
            Pass::Loan { n, .. } | Pass::Copy { n } => Some(*n),
            Pass::Sleep => None,
        })
        .sum()
}

/// `sosend` → `sosend_loan`, pass by pass: loaned passes become one mbuf each over the lent
/// pages; the others are copied into clusters.
pub(super) fn fill(k: &mut Kernel<'_>, at: Addr, done: u64, len: u64, opts: LoanOptions) {
    let addr = k.addr(at, done);
    let from = super::copy::source_node(at);
    let cpus = k.config().machine.cpus;
    let asid = k.asid();
    let mut consumed = 0;
    for pass in passes(opts, cpus, addr, len, k.kva_loaned()) {
        let a = addr + consumed;
        match pass {
            Pass::Sleep => unreachable!("the sender took only what fits (see take)"),
            Pass::Copy { n } => {
                k.copyin(a, n);
                k.path(from, PathNode::SocketBuffer, PathKind::CpuCopy, n);
                consumed += n;
            }
            Pass::Loan { n, span } => {
                let mut lent = Vec::new();
                let (vm, plan) = k.vm();
                vm.lend(asid, a, n, LendKind::Loan, plan, &mut lent)
                    .expect("the sender's source is mapped");
                k.kva_map(span);
                if k.narrating() {
                    let note = k.narrate(format_args!(
                        "uvm_loan: {} pages ({} B) loaned to the kernel and write-protected in every mapping; one mbuf points at them",
                        lent.len(),
                        n
                    ));
                    let label = format!("loan of {} pages", lent.len());
                    k.instant("loan", label.into(), note);
                }
                let pages = lent
                    .iter()
                    .map(|p| PagePromise {
                        pfn: p.pfn,
                        expected: p.version,
                    })
                    .collect();
                k.attach(
                    ExtKind::Lent {
                        kind: LendKind::Loan,
                        pages,
                    },
                    n,
                    a % PAGE_SIZE,
                    1,
                );
                k.path(from, PathNode::SocketBuffer, PathKind::Reference, n);
                consumed += n;
            }
        }
    }
    debug_assert_eq!(consumed, len);
}

/// The mbuf's last reference dropped: `uvm_unloan` returns the pages and `sokvafree` their
/// kernel address space. A writer sleeping for that space is woken by the ACK that dropped
/// the reference (`AckDone` → `wake_writer` on its connection), and retries.
pub(super) fn release(k: &mut Kernel<'_>, ext: ExtId, pages: Vec<Pfn>) {
    if k.narrating() {
        k.narrate(format_args!(
            "uvm_unloan returns {} pages (last reference to {ext} dropped)",
            pages.len()
        ));
    }
    k.kva_unmap(pages.len() as u64 * PAGE_SIZE);
    for pfn in pages {
        let (vm, plan) = k.vm();
        vm.end_lend(pfn, LendKind::Loan, plan);
    }
}
