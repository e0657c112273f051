//! `page-loan`: NetBSD's `sosend_loan` (Jason Thorpe, 2002).

use super::{Addr, Explanation, Fill, LoanOptions, Op, Request};

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
