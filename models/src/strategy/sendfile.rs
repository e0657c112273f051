//! `sendfile`: page-cache pages straight to the socket.

use super::{Explanation, Fill, Op, Request};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "sendfile",
    title: "sendfile(): the page cache to the socket, no user mapping",
    origin: "Linux 2.2 / 2.4 (do_generic_file_read + sendpage), FreeBSD 3.0, HP-UX; defended by David S. Miller in January 2003",
    steps: &[
        "sendfile(): enter the kernel; no VMA lookup, no mapping",
        "each page is found in the page cache (read from disk on a miss) and referenced into the socket buffer",
        "the header goes by a separate write(), under TCP_CORK, or in the same call as a header iovec (FreeBSD, HP-UX)",
        "Linux option: without scatter-gather or checksum offload, sendpage falls back to copying into a normal skb",
        "the NIC DMAs from the page cache; the references drop at the ACK",
    ],
    in_flight: "Unsafe: changes written into the file in place reach the wire; writing a new file and rename()ing it over is safe.",
};

pub(super) fn request(r: &Request, linux_fallback: bool, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::CacheRef {
            off: r.off,
            linux_fallback,
        },
    );
}
