//! `kernel-server`: TUX and NetWare serving from the kernel.

use super::{Explanation, Fill, Op, Request};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "kernel-server",
    title: "The server in the kernel: locked cache pages to the driver",
    origin: "TUX for Linux 2.4 (Ingo Molnar, September 2000); NetWare's file cache (Jeff Merkey)",
    steps: &[
        "no system call: the server runs in the kernel",
        "the header is built in an mbuf; each file page is found in the page cache, locked and referenced into the packet",
        "the NIC DMAs from the cache pages; the references drop at the ACK",
    ],
    in_flight: "Unsafe unless the pages stay locked: a change to the file reaches the wire.",
};

pub(super) fn request(r: &Request, header: Option<u64>, ops: &mut Vec<Op>) {
    super::sends(
        ops,
        header,
        r.len,
        Fill::CacheRef {
            off: r.off,
            linux_fallback: false,
        },
    );
}
