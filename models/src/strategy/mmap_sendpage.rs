//! `mmap-sendpage`: the 2003 Linux zero-copy `mmap` + `write` patch (Thomas Ogrisegg).

use super::{Addr, Explanation, Fill, Op, Request};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "mmap-sendpage",
    title: "Linux 2.4 patch: write() from a mapping becomes sendpage() from the page cache",
    origin: "linux-kernel, December 2002 - January 2003, Thomas Ogrisegg; reviewed by Larry McVoy, David S. Miller, Alan Cox",
    steps: &[
        "mmap() the file once (the VM space it takes is the patch's main cost: \"the mmap way consumes precious VM space\", Miller)",
        "write(): enter the kernel; tcp_sendmsg sees a segment of at least a page and calls find_vma(current->mm, from)",
        "the bytes are read from the VMA's file with do_generic_file_read and handed to sendpage: page-cache pages referenced into the skb, no copy",
        "bug: only the first VMA is looked up, so a write straddling two mappings reads the wrong file (Miller); `fixed` looks up each VMA",
    ],
    in_flight: "Unsafe: the wire carries the page cache as it is when the NIC reads it, so changes to the file reach the wire (\"a nasty unpleasant splat\", Cox).",
};

pub(super) fn request(r: &Request, fixed: bool, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::EnsureMapped);
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
}
