//! `mmap-loan`: `write()` from an mmap'd file with NetBSD page loaning.
//!
//! Models NetBSD-current of May 2002: `sosend_loan` (`sys/kern/uipc_socket.c`) loaning
//! page-cache pages through the mapping (`sys/uvm/uvm_loan.c` `uvm_loanuobj`). Its send is
//! the [`super::page_loan`] fill from the mapping; a `write()` into a lent page-cache page
//! breaks the object's loan (`uvm_loanbreak`). With `map = per-request` each request maps its
//! pages, writes and unmaps them (`uvm_unmap`); pages still on loan stay referenced by the
//! loan, not the mapping.

use super::{
    Addr, Entry, Explanation, Fill, LoanOptions, MapMode, Op, OptionDoc, Request, SourceKind,
    Strategy,
};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "mmap-loan",
    title: "write() from an mmap'd file with NetBSD page loaning",
    origin: "NetBSD-current, May 2002, Jason R. Thorpe: \"the data is moved exactly once: from disk to memory\"",
    source: "NetBSD-current, May 2002: sys/kern/uipc_socket.c sosend_loan; sys/uvm/uvm_loan.c uvm_loan, uvm_loanuobj, uvm_loanbreak",
    steps: &[
        "mmap() the file once (with map = per-request, just the request's pages, unmapped after the write())",
        "write(): enter the kernel; sosend_loan loans the mapped page-cache pages (faulting them in first), chunk by chunk, as for `page-loan`",
        "tcp_output references the loaned pages; the NIC DMAs from the page cache",
        "the ACK returns the loans",
    ],
    in_flight: "Safe: a write to the file while a page is loaned breaks the loan; the kernel keeps the original page.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::File,
    make: || Strategy::MmapLoan {
        loan: super::LoanOptions::default(),
        map: MapMode::Once,
    },
    options: &OPTIONS,
};

/// The loan options, then `map`.
const OPTIONS: [OptionDoc; super::page_loan::OPTIONS.len() + 1] = {
    let mut all = [super::MAP_OPTION; super::page_loan::OPTIONS.len() + 1];
    let mut i = 0;
    while i < super::page_loan::OPTIONS.len() {
        all[i] = super::page_loan::OPTIONS[i];
        i += 1;
    }
    all
};

pub(super) fn request(
    r: &Request,
    opts: LoanOptions,
    map: MapMode,
    header: Option<u64>,
    ops: &mut Vec<Op>,
) {
    super::map_ops(r, map, ops);
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
    super::unmap_ops(map, ops);
}
