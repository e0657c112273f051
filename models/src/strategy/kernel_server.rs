//! `kernel-server`: the server in the kernel (TUX for Linux 2.4, NetWare's file cache).
//!
//! Models TUX 2 (`net/tux/` of Red Hat's 2.4 kernels, Ingo Molnar, 2000): the response header
//! built in an skb and the file's page-cache pages referenced into it, no system call. Its send
//! is the [`super::sendfile`] page-cache reference through `tcp_sendpage`, so like every
//! Linux `sendpage` user it falls back to a copy (`sock_no_sendpage`) when the NIC lacks
//! scatter-gather or checksum offload. Its workers are kernel threads
//! (`Machine::set_kernel_thread`): scheduled like processes, but borrowing the address space
//! they find, so switching to and from them costs nothing. Simplified: no request parsing.

use super::{Entry, Explanation, Fill, Kernel, Op, Request, SourceKind, Strategy};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "kernel-server",
    title: "The server in the kernel: locked cache pages to the driver",
    origin: "TUX for Linux 2.4 (Ingo Molnar, September 2000); NetWare's file cache (Jeff Merkey)",
    source: "TUX 2 for Linux 2.4 (Red Hat kernels, 2000-2001): net/tux/ output path over net/ipv4/tcp.c tcp_sendpage (do_tcp_sendpages; sock_no_sendpage copy fallback without NETIF_F_SG or checksum offload)",
    steps: &[
        "no system call: the server runs in the kernel",
        "the header is built in an mbuf; each file page is found in the page cache, locked and referenced into the packet",
        "the NIC DMAs from the cache pages; the references drop at the ACK",
        "without scatter-gather or checksum offload, tcp_sendpage falls back to sock_no_sendpage: the pages are copied into ordinary skbs",
    ],
    in_flight: "Unsafe unless the pages stay locked: a change to the file reaches the wire.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::File,
    make: || Strategy::KernelServer,
    options: &[],
};

pub(super) fn request(r: &Request, header: Option<u64>, ops: &mut Vec<Op>) {
    super::sends(ops, header, r.len, Fill::TuxSend { off: r.off });
}

/// TUX's send: `tcp_sendpage` of the cache pages, or its copy fallback on a Linux target
/// without scatter-gather or checksum offload.
pub(super) fn fill(k: &mut Kernel<'_>, off: u64, len: u64) {
    let file = k.source_file();
    if super::sendfile::sendpage_copies(k) {
        super::sendfile::cache_copy(k, file, off, len);
    } else {
        super::sendfile::cache_ref(k, file, off, len, None);
    }
}
