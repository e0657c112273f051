//! `io-uring-send-zc`: `IORING_OP_SEND_ZC` (Pavel Begunkov, Linux 6.0, 2022).
//!
//! Models Linux 6.x `io_uring/net.c` (`io_send_zc_prep` adds `MSG_ZEROCOPY`; `io_send_zc`
//! passes io_uring's own `ubuf_info` in `msg->msg_ubuf` to the same TCP path as
//! `msg-zerocopy`; `io_sg_from_iter` for registered buffers fills frags with
//! `__skb_fill_page_desc_noacc` and `SKBFL_MANAGED_FRAG_REFS`, no per-page reference;
//! `io_sg_from_iter_iovec` pins plain buffers) and `io_uring/notif.c` (the notification
//! CQE when the last skb drops, and `io_notif_account_mem` charging plain buffers' pages
//! against `RLIMIT_MEMLOCK`). liburing's `io_uring_prep_send_zc` is the user side.
//!
//! The application queues one SQE per send and enters the kernel once per `batch` of them
//! (the send runs inline in its context, as io_uring issues a send that can proceed); each
//! send posts a result CQE when it returns and a notification CQE when its pages are
//! released. CQEs are read from the shared ring without a syscall. A buffer is reused only
//! after its notification; with `wait_each` the application waits for every notification
//! before the next send (the anti-pattern of oferchen/rsync PR #7600). Simplified: the
//! registered buffer is pinned on the first send (`io_uring_register`), not at setup.

use super::zerocopy::ZcOp;
use super::{Addr, Entry, Explanation, Fill, Op, OptionDoc, Request, SourceKind, Strategy};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "io-uring-send-zc",
    title: "io_uring SEND_ZC: zero-copy sends with completions on the completion queue",
    origin: "Linux 6.0 (2022), Pavel Begunkov; registered-buffer sends; the same skb path as MSG_ZEROCOPY",
    source: "Linux 6.6: io_uring/net.c io_send_zc_prep, io_send_zc, io_sg_from_iter (registered: __skb_fill_page_desc_noacc, SKBFL_MANAGED_FRAG_REFS), io_sg_from_iter_iovec (plain: pins); io_uring/notif.c (notification CQE, io_notif_account_mem); liburing io_uring_prep_send_zc",
    steps: &[
        "the application writes an SQE per send into the shared ring; one io_uring_enter submits a batch of them",
        "each send enters tcp_sendmsg_locked with io_uring's ubuf_info: registered buffers' pages go into frags with no pin and no per-page refcount; plain buffers are pinned (and charged against RLIMIT_MEMLOCK)",
        "when the send has queued its bytes, a result CQE (flag F_MORE) is posted",
        "when the ACK and the TX completion free the last skb, a second, notification CQE says the buffer is the application's again",
        "CQEs are read from the shared ring without a syscall; waiting for one is io_uring_enter(GETEVENTS)",
    ],
    in_flight: "Unsafe, as MSG_ZEROCOPY: until the notification CQE the NIC may still read the buffer, so a write before it reaches the wire.",
};

/// `io-uring-send-zc` options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UringZcOptions {
    /// Registered (fixed) buffers: no per-send pin or refcount (`IORING_RECVSEND_FIXED_BUF`).
    pub fixed_buffers: bool,
    /// SQEs submitted per `io_uring_enter`.
    pub batch: u64,
    /// Wait for each notification before the next send (the anti-pattern).
    pub wait_each: bool,
    /// Buffers of one write each the application cycles over.
    pub buffers: u64,
    /// `RLIMIT_MEMLOCK` for plain buffers' pinned pages, bytes.
    pub memlock_bytes: u64,
}

impl Default for UringZcOptions {
    fn default() -> Self {
        UringZcOptions {
            fixed_buffers: true,
            batch: 1,
            wait_each: false,
            buffers: 8,
            memlock_bytes: 8 << 20,
        }
    }
}

pub(super) const OPTIONS: &[OptionDoc] = &[
    OptionDoc {
        key: "send_zc_fixed_buffers",
        what: "send from registered buffers (no per-send pin or page refcount)",
        default: "true",
    },
    OptionDoc {
        key: "send_zc_batch",
        what: "SQEs submitted per io_uring_enter",
        default: "1",
    },
    OptionDoc {
        key: "send_zc_wait_each",
        what: "wait for each notification CQE before the next send (the anti-pattern)",
        default: "false",
    },
    OptionDoc {
        key: "zerocopy_buffers",
        what: "buffers of one write each the application cycles over",
        default: "8",
    },
    OptionDoc {
        key: "zerocopy_memlock",
        what: "RLIMIT_MEMLOCK for plain buffers' pinned pages",
        default: "8 MiB",
    },
];

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Memory,
    make: || Strategy::IoUringSendZc(UringZcOptions::default()),
    options: OPTIONS,
};

pub(super) fn request(r: &Request, o: UringZcOptions, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Zc(ZcOp::Reuse { off: r.off }));
    ops.push(Op::Zc(ZcOp::Submit { batch: o.batch }));
    ops.push(Op::Zc(ZcOp::Begin {
        off: r.off,
        len: r.len,
        memlock: (!o.fixed_buffers).then_some(o.memlock_bytes),
        fixed: o.fixed_buffers,
    }));
    super::sends(
        ops,
        header,
        r.len,
        Fill::ZeroCopy {
            at: Addr::Buffer(r.off),
            fixed: o.fixed_buffers,
        },
    );
    ops.push(Op::Zc(ZcOp::End));
    if o.wait_each {
        ops.push(Op::Zc(ZcOp::Wait));
    }
}
