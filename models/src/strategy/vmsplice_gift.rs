//! `vmsplice-gift`: user pages gifted into a pipe (`vmsplice(SPLICE_F_GIFT)`), then spliced
//! to a socket (Jens Axboe, Linux 2.6.17, 2006).
//!
//! Models Linux 2.6.17–2.6.2x `fs/splice.c`: `do_vmsplice` → `get_iovec_page_array(...,
//! flags & SPLICE_F_GIFT)`, which with the gift flag refuses an iovec whose base is not
//! page-aligned or whose length is not whole pages (`EINVAL`), and otherwise takes a
//! reference to each user page (`get_user_pages`) into a pipe buffer; `splice(pipe →
//! socket)` then hands the pages to the socket. Nothing protects the pages: vmsplice(2) says
//! "the application may not modify this memory ever". Later kernels pass `false` there and
//! no longer check the alignment (the gift became a hint).
//!
//! Simplified: one gift per request (the application never reuses a gifted buffer
//! correctly: there is no completion to tell it when it may); the pipe holds 16 pages.

use super::zerocopy::ZcOp;
use super::{Addr, Entry, Explanation, Fill, Kernel, Op, OptionDoc, Request, SourceKind, Strategy};
use crate::machine::Activity;
use crate::net::mbuf::{ExtKind, PagePromise};
use crate::vm::{Access, PAGE_SIZE, pages_of};
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "vmsplice-gift",
    title: "vmsplice(SPLICE_F_GIFT): user pages given to a pipe, then spliced to the socket",
    origin: "Linux 2.6.17 (2006), Jens Axboe; the user-memory half of splice, and the closest Linux came to the seeds' page loaning without protection",
    source: "Linux 2.6.17–2.6.2x: fs/splice.c do_vmsplice, get_iovec_page_array (aligned = SPLICE_F_GIFT: EINVAL unless page-aligned and whole pages), splice_to_pipe, user_page_pipe_buf_ops; man vmsplice(2)",
    steps: &[
        "vmsplice(pipe, iov, SPLICE_F_GIFT): the iovec must be page-aligned and whole pages, else EINVAL (the application then falls back to write(), a copy)",
        "get_user_pages takes a reference to each user page into a pipe buffer; nothing write-protects them",
        "splice(pipe, socket) hands the pipe buffers to TCP; the socket buffer references the user's pages and the NIC DMAs from them",
        "the references drop at the ACK; nothing tells the application when",
    ],
    in_flight: "Unsafe: the application promised never to touch the gifted pages; a write before the NIC reads them reaches the wire, and there is no completion to say when it is safe.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Memory,
    make: || Strategy::VmspliceGift {
        pipe_bytes: super::splice::DEFAULT_PIPE_BYTES,
    },
    options: &[OptionDoc {
        key: "pipe_size",
        what: "bytes the pipe holds; one vmsplice/splice pair moves at most this much",
        default: "64 KiB (16 pages)",
    }],
};

pub(super) fn request(r: &Request, pipe_bytes: u64, header: Option<u64>, ops: &mut Vec<Op>) {
    if let Some(h) = header {
        ops.push(Op::Syscall);
        ops.push(Op::Send {
            len: h,
            how: Fill::HeaderMbuf,
        });
    }
    // The iovec is checked first; a refused one (EINVAL, an outcome) makes the application
    // send the request with write() instead.
    ops.push(Op::Zc(ZcOp::Gift {
        off: r.off,
        len: r.len,
    }));
    for (off, len) in super::splice::pipe_fulls(r.off, r.len, pipe_bytes) {
        // vmsplice(pipe, SPLICE_F_GIFT), then splice(pipe, socket).
        ops.push(Op::Syscall);
        ops.push(Op::Syscall);
        ops.push(Op::Send {
            len,
            how: Fill::Gift {
                at: Addr::Buffer(off),
            },
        });
    }
}

/// `get_iovec_page_array` with `aligned`: the iovec's base and length must be whole pages.
pub(super) fn gift_fits(addr: u64, len: u64) -> bool {
    addr.is_multiple_of(PAGE_SIZE) && len.is_multiple_of(PAGE_SIZE)
}

/// The gifted pages at `at`, `done` bytes in: referenced into the pipe, then the socket.
pub(super) fn fill(k: &mut Kernel<'_>, at: Addr, done: u64, len: u64) {
    if super::zerocopy::gift_refused(k) {
        // EINVAL: the application sends the same bytes with write(): a copy.
        super::copy::fill(k, at, done, len);
        return;
    }
    let addr = k.addr(at, done);
    let asid = k.asid();
    let costs = k.config().machine.costs;
    let mbuf = k.config().stack.mbuf_ns;
    let mut pages = Vec::new();
    for page in pages_of(addr, len) {
        let (vm, plan) = k.vm();
        let (pfn, _) = vm
            .touch(asid, page * PAGE_SIZE, Access::Read, plan)
            .expect("the sender's buffer is mapped");
        vm.kernel_ref(pfn);
        plan.cpu(Activity::Loan, costs.loan_per_page_ns);
        plan.cpu(Activity::Protocol, mbuf);
        pages.push(PagePromise {
            pfn,
            expected: vm.frame(pfn).version,
        });
    }
    if k.narrating() {
        k.narrate(format_args!(
            "vmsplice: {} user pages gifted into the pipe and spliced to the socket, unprotected",
            pages.len()
        ));
    }
    k.attach(ExtKind::Pages { pages }, len, addr % PAGE_SIZE, 1);
    k.path(
        PathNode::UserBuffer,
        PathNode::SocketBuffer,
        PathKind::Reference,
        len,
    );
}
