//! `splice`: a file into a pipe, the pipe into a socket (Jens Axboe, Linux 2.6.17, 2006).
//!
//! Models Linux 6.6 `fs/splice.c`: `splice(file → pipe)` reaches `filemap_splice_read`,
//! which puts references to page-cache folios into the pipe's buffers (no copy), and
//! `splice(pipe → socket)` reaches `splice_to_socket`, which hands up to 16 pipe buffers per
//! pass to `tcp_sendmsg_locked` as `MSG_SPLICE_PAGES` (David Howells' 2023 series that
//! replaced `->sendpage`; TCP "copies unspliceable data" itself, and copies everything when
//! the route lacks scatter-gather). The pipe holds `pipe_size` bytes (16 buffers of a page
//! by default, `PIPE_DEF_BUFFERS`; `F_SETPIPE_SZ` raises it), so a request is moved one
//! pipe-full at a time, two syscalls each.
//!
//! Simplified: each pipe buffer is charged one `mbuf_ns` of bookkeeping; the pipe is emptied
//! by each splice to the socket (the pages move on with their references).

use super::{Entry, Explanation, Fill, Kernel, Op, OptionDoc, Request, SourceKind, Strategy};
use crate::machine::Activity;
use crate::vm::{PAGE_SIZE, pages_of};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "splice",
    title: "splice(): file to pipe to socket, page references all the way",
    origin: "Linux 2.6.17 (2006), Jens Axboe, after Linus Torvalds' pipe-buffer design; sendfile() itself became splice-based",
    source: "Linux 6.6: fs/splice.c (splice_file_to_pipe, filemap_splice_read, splice_to_socket: MSG_SPLICE_PAGES, 16 pipe buffers per pass); net/ipv4/tcp.c tcp_sendmsg_locked (MSG_SPLICE_PAGES; copies without NETIF_F_SG); include/linux/pipe_fs_i.h PIPE_DEF_BUFFERS",
    steps: &[
        "splice(file, pipe): filemap_splice_read finds each page in the page cache (reading it from disk on a miss) and puts a reference to it in a pipe buffer, at most pipe_size (16 pages by default) per call",
        "splice(pipe, socket): splice_to_socket takes up to 16 pipe buffers per pass and hands them to tcp_sendmsg_locked as MSG_SPLICE_PAGES: the socket buffer references the same pages",
        "without scatter-gather the stack copies them into ordinary skbs instead",
        "the NIC DMAs from the page cache; the references drop at the ACK",
    ],
    in_flight: "Unsafe, as sendfile: the pages stay live in the pipe and the socket, so a write() into the file, a shared mapping or fallocate changes bytes already 'sent' (\"that way since 2005\", Howells 2023).",
};

pub(super) const OPTIONS: &[OptionDoc] = &[OptionDoc {
    key: "pipe_size",
    what: "bytes the pipe holds (F_SETPIPE_SZ); one splice pair moves at most this much",
    default: "64 KiB (16 buffers of a page, PIPE_DEF_BUFFERS)",
}];

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::File,
    make: || Strategy::Splice {
        pipe_bytes: DEFAULT_PIPE_BYTES,
    },
    options: OPTIONS,
};

/// `PIPE_DEF_BUFFERS` pages.
pub const DEFAULT_PIPE_BYTES: u64 = 16 * PAGE_SIZE;

/// The pipe-fulls of `[off, off + len)`: each at most `pipe_bytes` and at most as many
/// pages as the pipe has buffers.
pub(super) fn pipe_fulls(off: u64, len: u64, pipe_bytes: u64) -> Vec<(u64, u64)> {
    let buffers = (pipe_bytes / PAGE_SIZE).max(1);
    let mut out = Vec::new();
    let mut at = off;
    while at < off + len {
        let end = ((at / PAGE_SIZE + buffers) * PAGE_SIZE).min(off + len);
        out.push((at, end - at));
        at = end;
    }
    out
}

pub(super) fn request(r: &Request, pipe_bytes: u64, header: Option<u64>, ops: &mut Vec<Op>) {
    if let Some(h) = header {
        ops.push(Op::Syscall);
        ops.push(Op::Send {
            len: h,
            how: Fill::HeaderMbuf,
        });
    }
    for (off, len) in pipe_fulls(r.off, r.len, pipe_bytes) {
        // splice(file, pipe) and splice(pipe, socket).
        ops.push(Op::Syscall);
        ops.push(Op::Syscall);
        ops.push(Op::Send {
            len,
            how: Fill::Splice { off },
        });
    }
}

/// `len` bytes at `off` of the file: into pipe buffers, then to the socket.
pub(super) fn fill(k: &mut Kernel<'_>, off: u64, len: u64) {
    let file = k.source_file();
    let pages = pages_of(off, len).count() as u64;
    let mbuf = k.config().stack.mbuf_ns;
    k.plan().cpu(Activity::Protocol, mbuf * pages);
    if super::sendfile::nic_forces_sendpage_copy(k) {
        super::sendfile::cache_copy(k, file, off, len);
    } else {
        super::sendfile::cache_ref(k, file, off, len, None);
    }
}
