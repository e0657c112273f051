//! `read`: `read()` a cached file into a buffer and sum it, with no socket (LMbench
//! `bw_file_rd`, `io_only` mode).
//!
//! Models Linux 2.4 `mm/filemap.c` `do_generic_file_read` + `file_read_actor` (Linux 6.6:
//! `filemap_read`, `copy_folio_to_iter`; NetBSD 1.6: `vn_read` -> `ubc_uiomove`): each page is
//! found in the page cache and copied out to the user's buffer. The application then reads
//! the buffer once, adding up its words (LMbench `bread()`), which is a user-level read pass
//! over `read_size` bytes. Simplified: no readahead (the file is cached), no per-page
//! `find_get_page` cost beyond the lookup the VM charges nothing for.

use super::{Addr, Entry, Explanation, Op, Request, SourceKind, Strategy};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "read",
    title: "read() a cached file into a buffer and sum it (LMbench bw_file_rd)",
    origin: "LMbench, Larry McVoy and Carl Staelin, 1996: file reread bandwidth, the bcopy-through-the-kernel baseline mmap is compared with",
    source: "Linux 2.4: mm/filemap.c do_generic_file_read, file_read_actor (Linux 6.6: filemap_read, copy_folio_to_iter); NetBSD 1.6: vn_read -> ubc_uiomove; LMbench src/bw_file_rd.c",
    steps: &[
        "read(): enter the kernel; find each page of the range in the page cache and copyout() it into the user buffer",
        "the application sums the buffer (LMbench bread()): a read pass over read_size bytes",
    ],
    in_flight: "Nothing is in flight: the data is copied into the buffer before read() returns.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::LocalFile,
    make: || Strategy::Read,
    options: &[],
};

pub(super) fn request(r: &Request, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    ops.push(Op::ReadFile {
        off: r.off,
        len: r.len,
    });
    ops.push(Op::UserRead {
        at: Addr::Buffer(0),
        len: r.len,
    });
}
