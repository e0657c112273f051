//! `mmap-read`: `mmap()` a cached file and sum it through the mapping, with no socket
//! (LMbench `bw_mmap_rd`: `mmap_only` with `map = once`, `open2close` with `map = per-request`).
//!
//! Models Linux `mm/mmap.c` `do_mmap` (a VMA, no data), the read fault on first touch
//! (`mm/memory.c` `do_read_fault`; from Linux 3.15 `do_fault_around` and `mm/filemap.c`
//! `filemap_map_pages` map up to `fault_around_bytes` of already-cached pages around the
//! faulting address in the same fault; Linux 2.4 `do_no_page` and the 2002 BSDs map one page
//! per fault), and, per request, `munmap` (`do_munmap` / `unmap_region`: each PTE torn down,
//! then a TLB flush). The application sums the mapped bytes (LMbench `bread()`): a user-level
//! read pass, no copy. Simplified: huge pages and fault-around across page tables are not
//! modelled (a window never crosses a 2 MiB page-table boundary, as in Linux).

use super::{Addr, Entry, Explanation, MapMode, Op, Request, SourceKind, Strategy};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "mmap-read",
    title: "mmap() a cached file and sum it (LMbench bw_mmap_rd)",
    origin: "LMbench, Larry McVoy and Carl Staelin, 1996; McVoy's point in the 2003 Linux thread: mapping costs more than copying for small reads",
    source: "Linux 6.6: mm/mmap.c do_mmap, mm/memory.c do_read_fault, do_fault_around, mm/filemap.c filemap_map_pages, mm/mmap.c do_munmap (Linux 2.4: mm/memory.c do_no_page, one page per fault); LMbench src/bw_mmap_rd.c",
    steps: &[
        "mmap() the file once (with map = per-request: mmap() just this request's pages)",
        "the application sums the mapped bytes: the first touch of each page not yet mapped faults; a fault maps up to fault_around_bytes of cached pages around it (none on a 2002 kernel)",
        "with map = per-request: munmap() the pages (each PTE torn down, then a TLB flush)",
    ],
    in_flight: "Nothing is in flight: the application reads the page cache itself.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::LocalFile,
    make: || Strategy::MmapRead { map: MapMode::Once },
    options: &[super::MAP_OPTION],
};

pub(super) fn request(r: &Request, map: MapMode, ops: &mut Vec<Op>) {
    super::map_ops(r, map, ops);
    ops.push(Op::UserRead {
        at: Addr::Mapping(r.off),
        len: r.len,
    });
    super::unmap_ops(map, ops);
}
