//! `mmap-write`: `write()` straight from a mapping of the file.

use super::{Addr, Explanation, Fill, Op, Request};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "mmap-write",
    title: "mmap() the file, write() from the mapping",
    origin: "Common in portable servers (the 2003 Linux thread's starting point)",
    steps: &[
        "mmap() the file once (a VMA; no data moves)",
        "write(): enter the kernel; copyin() from the mapping into clusters, taking a minor fault per page on first touch (a major fault and a disk read if the page is not cached)",
        "tcp_output, checksum, DMA as for `copy`",
    ],
    in_flight: "Safe: the data is copied at write() time.",
};

pub(super) fn request(r: &Request, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::EnsureMapped);
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::CopyIn {
            at: Addr::Mapping(r.off),
        },
    );
}
