//! `mmap-write`: `mmap()` the file once, `write()` from the mapping.
//!
//! Models Linux 2.4 `mm/memory.c` `handle_mm_fault` / `do_no_page` (a minor fault per page on
//! first touch, a major one if uncached) under `tcp_sendmsg`'s copy from user. Its send is the
//! [`super::copy`] fill from the mapping. With `map = once` (the default) the file is mapped
//! once and never unmapped; with `map = per-request` each request maps its pages, writes and
//! unmaps them (the VM charges `mmap`, the faults with the target's fault-around, and
//! `munmap`'s teardown and TLB flush; see [`crate::vm`]).

use super::{Addr, Entry, Explanation, Fill, MapMode, Op, Request, SourceKind, Strategy};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "mmap-write",
    title: "mmap() the file, write() from the mapping",
    origin: "Common in portable servers (the 2003 Linux thread's starting point)",
    source: "Linux 2.4: mm/memory.c handle_mm_fault / do_no_page; net/ipv4/tcp.c tcp_sendmsg",
    steps: &[
        "mmap() the file once (a VMA; no data moves); with map = per-request, mmap() just the request's pages",
        "write(): enter the kernel; copyin() from the mapping into clusters, taking a minor fault per page on first touch (a major fault and a disk read if the page is not cached)",
        "tcp_output, checksum, DMA as for `copy`",
        "with map = per-request: munmap() the pages (each PTE torn down, then a TLB flush)",
    ],
    in_flight: "Safe: the data is copied at write() time.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::File,
    make: || Strategy::MmapWrite { map: MapMode::Once },
    options: &[super::MAP_OPTION],
};

pub(super) fn request(r: &Request, map: MapMode, header: Option<u64>, ops: &mut Vec<Op>) {
    super::map_ops(r, map, ops);
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::CopyIn {
            at: Addr::Mapping(r.off),
        },
    );
    super::unmap_ops(map, ops);
}
