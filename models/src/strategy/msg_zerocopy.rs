//! `msg-zerocopy`: `SO_ZEROCOPY` and `send(MSG_ZEROCOPY)` (Willem de Bruijn, Linux 4.14,
//! 2017).
//!
//! Models Linux 6.x `net/ipv4/tcp.c` `tcp_sendmsg_locked` (the `MSG_ZEROCOPY` branch:
//! `msg_zerocopy_realloc`, then `skb_zerocopy_iter_stream` when the route has `NETIF_F_SG`,
//! else `uarg->zerocopy = 0` and a copy) and `net/core/skbuff.c` (`mm_account_pinned_pages`,
//! `msg_zerocopy_callback`, `skb_zerocopy_notify_extend`, `skb_copy_ubufs`), as
//! `Documentation/networking/msg_zerocopy.rst` describes them; the shared machinery is in
//! [`super::zerocopy`].
//!
//! The application does what the document asks of it: it cycles over `buffers` buffers,
//! reads the error queue with `recvmsg(MSG_ERRQUEUE)` after every `poll_every` sends (one
//! call per queued range plus the one that returns `EAGAIN`), and reuses a buffer only once
//! it has read that buffer's completion, sleeping in `poll()` if it has not come. With
//! `wait_completion` it waits for each send's completion before going on (so a rewrite
//! after the send is safe).

use super::zerocopy::ZcOp;
use super::{Addr, Entry, Explanation, Fill, Op, OptionDoc, Request, SourceKind, Strategy};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "msg-zerocopy",
    title: "MSG_ZEROCOPY: pinned user pages, completions on the error queue",
    origin: "Linux 4.14 (2017), Willem de Bruijn (Google); the answer to the seeds' loan and COW schemes that gives up copy semantics instead of write-protecting",
    source: "Linux 6.6: net/ipv4/tcp.c tcp_sendmsg_locked; net/core/skbuff.c msg_zerocopy_realloc, mm_account_pinned_pages, skb_zerocopy_iter_stream, msg_zerocopy_callback, skb_zerocopy_notify_extend, skb_copy_ubufs; Documentation/networking/msg_zerocopy.rst",
    steps: &[
        "setsockopt(SO_ZEROCOPY) once; each send(MSG_ZEROCOPY) enters the kernel",
        "msg_zerocopy_realloc: a ubuf_info with the socket's next 32-bit key; mm_account_pinned_pages charges (len >> 12) + 2 pages against RLIMIT_MEMLOCK, ENOBUFS past it",
        "with NETIF_F_SG: skb_zerocopy_iter_stream pins the user pages (pin_user_pages) into skb frags, no copy; without it (or without checksum offload) uarg->zerocopy = 0 and the bytes are copied",
        "the NIC DMAs from the user's pages; nothing write-protects them, so the application must not touch them yet",
        "when the ACK and the TX completion free the last skb, msg_zerocopy_callback unpins the pages and queues [lo, hi] on the error queue, extending the tail entry when lo = hi + 1; COPIED if the data was copied (no SG, or skb_copy_ubufs when looped to a local socket)",
        "the application reads completions with recvmsg(MSG_ERRQUEUE), a syscall per entry, and only then reuses the buffer",
    ],
    in_flight: "Unsafe: the pages are pinned, not protected. A write before the completion reaches the wire (and a retransmission may carry yet other bytes); the application must wait for the completion before reusing the buffer.",
};

/// `msg-zerocopy` options: the application's side of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZcOptions {
    /// Buffers of one write each the application cycles over.
    pub buffers: u64,
    /// `recvmsg(MSG_ERRQUEUE)` until `EAGAIN` after every this many sends.
    pub poll_every: u64,
    /// Wait for each send's completion before going on.
    pub wait_completion: bool,
    /// `RLIMIT_MEMLOCK`, bytes (8 MiB by default since Linux 5.16).
    pub memlock_bytes: u64,
}

impl Default for ZcOptions {
    fn default() -> Self {
        ZcOptions {
            buffers: 8,
            poll_every: 1,
            wait_completion: false,
            memlock_bytes: 8 << 20,
        }
    }
}

pub(super) const OPTIONS: &[OptionDoc] = &[
    OptionDoc {
        key: "zerocopy_buffers",
        what: "buffers of one write each the application cycles over (a buffer is reused only after its completion is read)",
        default: "8",
    },
    OptionDoc {
        key: "zerocopy_poll_every",
        what: "read the error queue (recvmsg(MSG_ERRQUEUE) until EAGAIN) after every this many sends",
        default: "1",
    },
    OptionDoc {
        key: "zerocopy_wait",
        what: "wait for each send's completion before going on (makes a rewrite after the send safe)",
        default: "false",
    },
    OptionDoc {
        key: "zerocopy_memlock",
        what: "RLIMIT_MEMLOCK the pinned pages are charged against (ENOBUFS past it)",
        default: "8 MiB (Linux 5.16+)",
    },
];

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Memory,
    make: || Strategy::MsgZerocopy(ZcOptions::default()),
    options: OPTIONS,
};

pub(super) fn request(r: &Request, o: ZcOptions, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Zc(ZcOp::Reuse { off: r.off }));
    ops.push(Op::Syscall);
    ops.push(Op::Zc(ZcOp::Begin {
        off: r.off,
        len: r.len,
        memlock: Some(o.memlock_bytes),
        fixed: false,
    }));
    super::sends(
        ops,
        header,
        r.len,
        Fill::ZeroCopy {
            at: Addr::Buffer(r.off),
            fixed: false,
        },
    );
    ops.push(Op::Zc(ZcOp::End));
    if o.wait_completion {
        ops.push(Op::Zc(ZcOp::Wait));
    } else {
        ops.push(Op::Zc(ZcOp::Poll {
            every: o.poll_every,
        }));
    }
}
