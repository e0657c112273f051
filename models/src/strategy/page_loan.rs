//! `page-loan`: NetBSD's `sosend_loan` (Jason Thorpe, 2002).
//!
//! Models NetBSD 1.6 / -current of mid-2002: `sys/kern/uipc_socket.c` `sosend_loan` (the
//! threshold `sock_loan_thresh`, 64 KiB chunks, the `SOMAXKVA` cap on kernel address space
//! for loans) and `sys/uvm/uvm_loan.c` `uvm_loan` / `uvm_unloan` / `uvm_loanbreak`.
//! Simplified: a chunk that would pass the KVA cap is copied (the kernel sleeps for space);
//! the threshold is tested against the whole `write()`.

use super::{Addr, Entry, Explanation, Fill, Kernel, Op, OptionDoc, Request, SourceKind, Strategy};
use crate::net::mbuf::{ExtId, ExtKind, MCLBYTES, PagePromise};
use crate::vm::{LendKind, PAGE_SIZE, Pfn, pages_of};
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "page-loan",
    title: "NetBSD page loaning for socket writes",
    origin: "NetBSD-current, May 2002, Jason R. Thorpe (sosend_loan, uvm_loan); default for writes >= 8 KiB by August 2002",
    steps: &[
        "write(): enter the kernel",
        "sosend_loan: writes at or above the threshold (4 KiB, later 8 KiB) are loaned in chunks of 64 KiB; shorter ones are copied",
        "uvm_loan: each user page gets a loan and a kernel reference, and every mapping of it is made read-only (a TLB shootdown on a multiprocessor)",
        "the loaned pages are mapped into kernel address space (at most 16 MiB of it; beyond that the chunk is copied) and hung on one mbuf as external storage",
        "tcp_output references the mbuf's storage per segment (m_copy takes a reference); the NIC DMAs straight from the user's pages",
        "when the ACK frees the mbuf, uvm_unloan returns the pages; they stay read-only until the next write, which only restores write permission",
    ],
    in_flight: "Safe: a write to a loaned page takes a fault that breaks the loan (uvm_loanbreak): the application gets a copy of the page, the kernel keeps the original. That copy plus the fault can cost more than the copy the loan avoided (Laight, Thorpe).",
};

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

pub(super) const OPTIONS: &[OptionDoc] = &[
    OptionDoc {
        key: "loan_threshold",
        what: "writes at least this long are loaned (sock_loan_thresh)",
        default: "4 KiB",
    },
    OptionDoc {
        key: "loan_chunk",
        what: "bytes loaned per mbuf",
        default: "64 KiB",
    },
    OptionDoc {
        key: "loan_kva_cap",
        what: "kernel address space for loaned pages (SOMAXKVA)",
        default: "16 MiB",
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

/// NetBSD takes the loan branch only with `space >= sock_loan_thresh`; a write under the
/// threshold is copied as usual.
pub(super) fn room(opts: LoanOptions, total: u64) -> (u64, u64) {
    if total >= opts.threshold_bytes {
        (opts.threshold_bytes, 1)
    } else {
        (MCLBYTES, 1)
    }
}

/// `sosend_loan`: writes under the threshold are copied; the rest is loaned in chunks (one
/// mbuf each), unless mapping a chunk would exceed the kernel address space kept for loans,
/// in which case that chunk is copied.
pub(super) fn fill(
    k: &mut Kernel<'_>,
    at: Addr,
    done: u64,
    len: u64,
    total: u64,
    opts: LoanOptions,
) {
    let addr = k.addr(at, done);
    let from = super::copy::source_node(at);
    if total < opts.threshold_bytes {
        k.copyin(addr, len);
        k.path(from, PathNode::SocketBuffer, PathKind::CpuCopy, len);
        return;
    }
    let asid = k.asid();
    let mut consumed = 0;
    while consumed < len {
        let into_chunk = (done + consumed) % opts.chunk_bytes;
        let n = (len - consumed).min(opts.chunk_bytes - into_chunk);
        let a = addr + consumed;
        let span = pages_of(a, n).count() as u64 * PAGE_SIZE;
        if k.kva_loaned() + span > opts.kva_cap_bytes {
            k.copyin(a, n);
            k.path(from, PathNode::SocketBuffer, PathKind::CpuCopy, n);
        } else {
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
        }
        consumed += n;
    }
}

/// The mbuf's last reference dropped: `uvm_unloan` returns the pages and their kernel
/// address space.
pub(super) fn release(k: &mut Kernel<'_>, ext: ExtId, pages: Vec<Pfn>) {
    if k.narrating() {
        k.narrate(format_args!(
            "uvm_unloan returns {} pages (last reference to {ext:?} dropped)",
            pages.len()
        ));
    }
    k.kva_unmap(pages.len() as u64 * PAGE_SIZE);
    for pfn in pages {
        let (vm, plan) = k.vm();
        vm.end_lend(pfn, LendKind::Loan, plan);
    }
}
