//! `mmap-write`: `mmap()` the file once, `write()` from the mapping.
//!
//! Models Linux 2.4 `mm/memory.c` `handle_mm_fault` / `do_no_page` (a minor fault per page on
//! first touch, a major one if uncached) under `tcp_sendmsg`'s copy from user. Its send is the
//! [`super::copy`] fill from the mapping. Simplified: the file is mapped once and never
//! unmapped; no fault-around.

use super::{Addr, Entry, Explanation, Fill, Op, Request, SourceKind, Strategy};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "mmap-write",
    title: "mmap() the file, write() from the mapping",
    origin: "Common in portable servers (the 2003 Linux thread's starting point)",
    source: "Linux 2.4: mm/memory.c handle_mm_fault / do_no_page; net/ipv4/tcp.c tcp_sendmsg",
    steps: &[
        "mmap() the file once (a VMA; no data moves)",
        "write(): enter the kernel; copyin() from the mapping into clusters, taking a minor fault per page on first touch (a major fault and a disk read if the page is not cached)",
        "tcp_output, checksum, DMA as for `copy`",
    ],
    in_flight: "Safe: the data is copied at write() time.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::File,
    make: || Strategy::MmapWrite,
    options: &[],
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
