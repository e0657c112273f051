//! `mmap-loan`: `write()` from an mmap'd file with NetBSD page loaning.
//!
//! Models NetBSD-current of May 2002: `sosend_loan` (`sys/kern/uipc_socket.c`) loaning
//! page-cache pages through the mapping (`sys/uvm/uvm_loan.c` `uvm_loanuobj`). Its send is
//! the [`super::page_loan`] fill from the mapping; a `write()` into a lent page-cache page
//! breaks the object's loan (`uvm_loanbreak`).

use super::{Addr, Entry, Explanation, Fill, LoanOptions, Op, Request, SourceKind, Strategy};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "mmap-loan",
    title: "write() from an mmap'd file with NetBSD page loaning",
    origin: "NetBSD-current, May 2002, Jason R. Thorpe: \"the data is moved exactly once: from disk to memory\"",
    source: "NetBSD-current, May 2002: sys/kern/uipc_socket.c sosend_loan; sys/uvm/uvm_loan.c uvm_loan, uvm_loanuobj, uvm_loanbreak",
    steps: &[
        "mmap() the file once",
        "write(): enter the kernel; sosend_loan loans the mapped page-cache pages (faulting them in first), chunk by chunk, as for `page-loan`",
        "tcp_output references the loaned pages; the NIC DMAs from the page cache",
        "the ACK returns the loans",
    ],
    in_flight: "Safe: a write to the file while a page is loaned breaks the loan; the kernel keeps the original page.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::File,
    make: || Strategy::MmapLoan(super::LoanOptions::default()),
    options: super::page_loan::OPTIONS,
};

pub(super) fn request(r: &Request, opts: LoanOptions, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::EnsureMapped);
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::Loan {
            at: Addr::Mapping(r.off),
            opts,
        },
    );
}
