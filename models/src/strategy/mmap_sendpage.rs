//! `mmap-sendpage`: the 2003 Linux patch that turned `write()` from a mapping into
//! `sendpage()` from the page cache (Thomas Ogrisegg, linux-kernel, Dec 2002 - Jan 2003).
//!
//! Models the patch against Linux 2.4.20 `net/ipv4/tcp.c` `tcp_sendmsg`: once per `write()`
//! `find_vma(current->mm, from)`, then `do_generic_file_read` of that VMA's file handing each
//! page to `tcp_sendpage`. With the bug Miller found, the whole write is read from the first
//! VMA's file; `fixed` looks up the next VMA at each VMA end.
//! The pages go through `tcp_sendpage`, so on a Linux target without scatter-gather or
//! checksum offload they are copied (`sock_no_sendpage`), as for `sendfile`.
//! Simplified: the "at least a page" test of the patch is not applied (every write qualifies).
//! With `map = per-request` each request maps its pages, writes and unmaps them; the pages
//! handed to `sendpage` are page-cache references, so the unmap does not wait for them.

use super::{
    Addr, Entry, Explanation, Fill, Kernel, MapMode, Op, OptionDoc, Request, SourceKind, Strategy,
};
use crate::vm::{FileId, PAGE_SIZE};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "mmap-sendpage",
    title: "Linux 2.4 patch: write() from a mapping becomes sendpage() from the page cache",
    origin: "linux-kernel, December 2002 - January 2003, Thomas Ogrisegg; reviewed by Larry McVoy, David S. Miller, Alan Cox",
    source: "The December 2002 patch against Linux 2.4.20 net/ipv4/tcp.c tcp_sendmsg (find_vma, do_generic_file_read of mm/filemap.c, tcp_sendpage, which copies via sock_no_sendpage without NETIF_F_SG or checksum offload)",
    steps: &[
        "mmap() the file once (the VM space it takes is the patch's main cost: \"the mmap way consumes precious VM space\", Miller)",
        "write(): enter the kernel; tcp_sendmsg sees a segment of at least a page and calls find_vma(current->mm, from)",
        "the bytes are read from the VMA's file with do_generic_file_read and handed to sendpage: page-cache pages referenced into the skb, no copy",
        "without scatter-gather or checksum offload, tcp_sendpage falls back to sock_no_sendpage and copies, as for sendfile",
        "bug: only the first VMA is looked up, so a write straddling two mappings reads the wrong file (Miller); `fixed` looks up each VMA",
    ],
    in_flight: "Unsafe: the wire carries the page cache as it is when the NIC reads it, so changes to the file reach the wire (\"a nasty unpleasant splat\", Cox).",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::File,
    make: || Strategy::MmapSendpage {
        fixed: false,
        map: MapMode::Once,
    },
    options: &[
        OptionDoc {
            key: "sendpage_fixed",
            what: "look up each VMA a write spans (Miller's fix)",
            default: "false (the patch as posted)",
        },
        super::MAP_OPTION,
    ],
};

pub(super) fn request(
    r: &Request,
    fixed: bool,
    map: MapMode,
    header: Option<u64>,
    ops: &mut Vec<Op>,
) {
    super::map_ops(r, map, ops);
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::SendPage {
            at: Addr::Mapping(r.off),
            fixed,
        },
    );
    super::unmap_ops(map, ops);
}

/// Where the 2003 patch is reading from: found once per `write()` by `find_vma`.
#[derive(Debug, Clone, Copy)]
pub struct SendpageCursor {
    file: FileId,
    pos: u64,
    vma_end: u64,
}

/// Once per `write()`, `find_vma(current->mm, from)`, then `do_generic_file_read` of that
/// VMA's file from `from - vm_start` onward, handing each page to `sendpage`. With the bug the
/// whole write is read from that one file; fixed, reaching the VMA's end looks up the next
/// one.
pub(super) fn fill(
    k: &mut Kernel<'_>,
    at: Addr,
    done: u64,
    len: u64,
    fixed: bool,
    cursor: &mut Option<SendpageCursor>,
) {
    let addr = k.addr(at, done);
    let asid = k.asid();
    let mut a = addr;
    let mut left = len;
    while left > 0 {
        let needs_lookup = match cursor {
            None => true,
            Some(c) => fixed && a >= c.vma_end,
        };
        if needs_lookup {
            let (vm, plan) = k.vm();
            let vma = vm.find_vma(asid, a, plan).expect("the source is mapped");
            let (file, index) = vma.file_page(a).expect("a file mapping");
            if k.narrating() {
                k.narrate(format_args!(
                    "find_vma({a:#x}) finds {:?} [{:#x}, {:#x}) of {file:?}; sendpage reads that file from page {index}",
                    vma.id, vma.start, vma.end
                ));
            }
            *cursor = Some(SendpageCursor {
                file,
                pos: index * PAGE_SIZE + a % PAGE_SIZE,
                vma_end: vma.end,
            });
        }
        let c = cursor.as_mut().expect("set above");
        let n = if fixed { left.min(c.vma_end - a) } else { left };
        let (file, pos) = (c.file, c.pos);
        c.pos += n;
        if super::sendfile::sendpage_copies(k) {
            super::sendfile::cache_copy(k, file, pos, n);
        } else {
            super::sendfile::cache_ref(k, file, pos, n, Some((asid, a)));
        }
        a += n;
        left -= n;
    }
}
