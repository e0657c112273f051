//! `cow-send`: FreeBSD `ZERO_COPY_SOCKETS` send side (Drew Gallatin, Kenneth Merry, 2002).

use super::{Addr, Explanation, Fill, Op, Request};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "cow-send",
    title: "FreeBSD copy-on-write socket send",
    origin: "FreeBSD 5.0-CURRENT, June 2002, Drew Gallatin and Kenneth Merry (ZERO_COPY_SOCKETS, socow_setup)",
    steps: &[
        "write(): enter the kernel",
        "sosend: the page-aligned whole pages of the buffer are wired and write-protected copy-on-write (socow_setup: vm_page_wire, pmap_page_protect); each becomes one mbuf's external storage",
        "any unaligned head or tail is copied into clusters as usual",
        "tcp_output references the pages per segment; the NIC DMAs from them",
        "when the ACK frees the mbuf, socow_iodone unwires the page",
    ],
    in_flight: "Safe: a write to a wired page takes an ordinary COW fault and gets a copy; a page shared by several processes is copied only if one of them writes it while the kernel still holds it (Merry to Silbersack).",
};

pub(super) fn request(r: &Request, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::CowWire {
            at: Addr::Buffer(r.off),
        },
    );
}
