//! `mmap-loan`: NetBSD page loaning of a mapped file (Thorpe, 2002).

use super::{Addr, Explanation, Fill, LoanOptions, Op, Request};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "mmap-loan",
    title: "write() from an mmap'd file with NetBSD page loaning",
    origin: "NetBSD-current, May 2002, Jason R. Thorpe: \"the data is moved exactly once: from disk to memory\"",
    steps: &[
        "mmap() the file once",
        "write(): enter the kernel; sosend_loan loans the mapped page-cache pages (faulting them in first), chunk by chunk, as for `page-loan`",
        "tcp_output references the loaned pages; the NIC DMAs from the page cache",
        "the ACK returns the loans",
    ],
    in_flight: "Safe: a write to the file while a page is loaned breaks the loan; the kernel keeps the original page.",
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
