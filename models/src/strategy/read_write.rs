//! `read-write`: a file sent with `read()` into a buffer, then `write()`.

use super::{Addr, Explanation, Fill, Op, Request};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "read-write",
    title: "read() the file, then write() it",
    origin: "The portable way every server started with; the baseline of the 2003 Linux thread",
    steps: &[
        "read(): enter the kernel; find each page in the page cache (reading it from disk on a miss) and copyout() it into the user buffer",
        "write(): enter the kernel again; copyin() the buffer into mbuf clusters",
        "tcp_output, checksum, DMA as for `copy`",
    ],
    in_flight: "Safe: the data was copied twice, so later changes to the file or the buffer do not reach the wire.",
};

pub(super) fn request(r: &Request, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    ops.push(Op::ReadFile {
        off: r.off,
        len: r.len,
    });
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::CopyIn {
            at: Addr::Buffer(0),
        },
    );
}
