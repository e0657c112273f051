//! `copy`: the classic `write()` path.

use super::{Addr, Explanation, Fill, Op, Request};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "copy",
    title: "write() copies into the kernel",
    origin: "Every BSD and Linux kernel; the baseline of every seed (ttcp and netperf numbers)",
    steps: &[
        "write(): enter the kernel",
        "sosend: allocate mbuf clusters and copyin() the bytes into them (2 bus bytes per byte, 3 with write-allocate caches)",
        "tcp_output: segment, checksum each segment on the CPU unless the NIC offloads it (or the copy computed it on the way)",
        "driver: map each segment onto TX descriptors; the NIC DMAs it from the clusters",
        "the clusters are freed when the peer ACKs the data",
    ],
    in_flight: "Safe: the kernel has its own copy, so the application may reuse its buffer as soon as write() returns.",
};

pub(super) fn request(r: &Request, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::CopyIn {
            at: Addr::Buffer(r.off),
        },
    );
}
