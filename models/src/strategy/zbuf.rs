//! `zbuf`: zero-copy buffers owned by the kernel (VxWorks zbufs; the NetBSD thread of 2002).

use super::{Explanation, Fill, Op, Request};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "zbuf",
    title: "Kernel-owned buffers handed over by the application",
    origin: "VxWorks zbufs; asked about for NetBSD in August 2002 (kyle.unice, Laight, Thorpe on tech-kern)",
    steps: &[
        "the application asks the kernel for buffers (kernel pages mapped into its address space) and builds its data in them",
        "send: enter the kernel; the buffers are unmapped from the application and become mbuf external storage (move semantics)",
        "tcp_output references them per segment; the NIC DMAs from them",
        "the pages are freed when the ACK frees the mbufs",
    ],
    in_flight: "Nothing can change: the application gave the buffer up and must take a new one for its next message.",
};

pub(super) fn request(r: &Request, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    super::sends(ops, header, r.len, Fill::Zbuf);
}
