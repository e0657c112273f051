//! `read-write`: `read()` the file into a buffer, then `write()` it.
//!
//! Models Linux 2.4 `mm/filemap.c` `do_generic_file_read` + `file_read_actor` (copy to user)
//! followed by `net/ipv4/tcp.c` `tcp_sendmsg` (copy from user); the same in the BSDs
//! (`vn_read` → `uiomove`, then `sosend`). Its send is the [`super::copy`] fill.

use super::{Addr, Entry, Explanation, Fill, Op, Request, SourceKind, Strategy};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "read-write",
    title: "read() the file, then write() it",
    origin: "The portable way every server started with; the baseline of the 2003 Linux thread",
    source: "Linux 2.4: mm/filemap.c do_generic_file_read, file_read_actor; net/ipv4/tcp.c tcp_sendmsg. NetBSD 1.6: vn_read -> uiomove, sys/kern/uipc_socket.c sosend",
    steps: &[
        "read(): enter the kernel; find each page in the page cache (reading it from disk on a miss) and copyout() it into the user buffer",
        "write(): enter the kernel again; copyin() the buffer into mbuf clusters",
        "tcp_output, checksum, DMA as for `copy`",
    ],
    in_flight: "Safe: the data was copied twice, so later changes to the file or the buffer do not reach the wire.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::File,
    make: || Strategy::ReadWrite,
    options: &[],
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
