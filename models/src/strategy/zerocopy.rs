//! What `msg-zerocopy` and `io-uring-send-zc` share: user pages pinned into the socket
//! buffer, one completion per send call when the last reference to its pages drops, the
//! queue the completions wait in, and the application's rule of reusing a buffer only after
//! reading its completion.
//!
//! Models Linux 6.x `net/core/skbuff.c` (`msg_zerocopy_realloc`, `mm_account_pinned_pages`,
//! `msg_zerocopy_callback`, `skb_zerocopy_notify_extend`, `skb_copy_ubufs`) and
//! `net/ipv4/tcp.c` (`tcp_sendmsg_locked`), with io_uring's notifications from
//! `io_uring/notif.c`. A send call gets the next 32-bit key of its socket; its completion
//! fires when the call has returned and the last skb holding its data is freed (after the
//! ACK and the TX completion). Completions go on the socket's error queue as `[lo, hi]`
//! ranges, a new one extending the tail when `lo == tail.hi + 1` (io_uring posts one
//! notification CQE per send instead).
//!
//! Simplified: one `ubuf_info` per call (the kernel also extends the previous call's
//! `ubuf_info` while its skb is still the queue's tail, up to 512 KiB, which only merges
//! completions the error queue would merge anyway); a merged range keeps the first entry's
//! `SO_EE_CODE_ZEROCOPY_COPIED` code, as the kernel does; loopback's deferred copy
//! (`skb_copy_ubufs` when the skb is looped to a local socket) is done at send time, after
//! the pin, so its cost is the same but comes earlier.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::{Addr, Kernel};
use crate::machine::Activity;
use crate::net::LinkKind;
use crate::net::mbuf::{ExtId, ExtKind, PagePromise};
use crate::vm::{Access, PAGE_SIZE, pages_of};
use crate::world::{AppId, PathKind, PathNode};

/// An application step of a zero-copy room, run by the sender between its sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ZcOp {
    /// About to send from buffer offset `off`: the completion of the last send from there
    /// must have been read; read it (or wait for it) first.
    Reuse { off: u64 },
    /// io_uring: one `io_uring_enter` submits `batch` queued SQEs (a syscall on every
    /// `batch`-th send).
    Submit { batch: u64 },
    /// The send call starts: a new key; `memlock` charges the pinned pages against
    /// `RLIMIT_MEMLOCK` of this many bytes (`None`: registered buffers, pinned once).
    Begin {
        off: u64,
        len: u64,
        memlock: Option<u64>,
        fixed: bool,
    },
    /// The send call returned (`net_zcopy_put`: the call's own reference on its completion).
    End,
    /// `recvmsg(MSG_ERRQUEUE)` until `EAGAIN`, after every `every` sends.
    Poll { every: u64 },
    /// Wait for the completion of every send made so far, then read them.
    Wait,
    /// `vmsplice(SPLICE_F_GIFT)` of `[off, off + len)` of the buffer: refused (`EINVAL`)
    /// unless page-aligned and whole pages ([`super::vmsplice_gift`]).
    Gift { off: u64, len: u64 },
}

/// What the sender does after a [`ZcOp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ZcStep {
    Go,
    /// Sleep on the connection until storage comes back, then run the op again.
    Block,
}

/// Zero-copy counters over the run (absent from the report when nothing used zero copy).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct ZcCounters {
    /// Send calls that asked for zero copy (each got a key).
    pub sends: u64,
    /// Completions: send calls whose pages were all released.
    pub completions: u64,
    /// Of those, flagged `SO_EE_CODE_ZEROCOPY_COPIED` (the data was copied after all).
    pub completions_copied: u64,
    /// Payload bytes the completions covered.
    pub completed_bytes: u64,
    /// Notifications queued: error-queue entries after merging (msg-zerocopy) or
    /// notification CQEs (io_uring).
    pub notifications: u64,
    /// Result CQEs posted (io_uring; one per send).
    pub result_cqes: u64,
    /// `recvmsg(MSG_ERRQUEUE)` calls that returned a notification, and those that found the
    /// queue empty (`EAGAIN`).
    pub errqueue_reads: u64,
    pub errqueue_empty_reads: u64,
    /// User pages pinned per send (`pin_user_pages`), and pages of registered buffers
    /// pinned once at `io_uring_register`.
    pub pages_pinned: u64,
    pub pages_registered: u64,
    /// Sends refused because the pinned pages would pass `RLIMIT_MEMLOCK` (`ENOBUFS`, or
    /// `ENOMEM` from io_uring), and those then sent by copy (nothing in flight to wait for).
    pub memlock_refusals: u64,
    pub memlock_fallbacks: u64,
    /// Peak bytes charged against `RLIMIT_MEMLOCK`.
    pub memlock_peak_bytes: u64,
    /// Times the application slept for a completion before reusing a buffer.
    pub completion_waits: u64,
    /// `vmsplice(SPLICE_F_GIFT)` calls refused with `EINVAL` (not whole pages); the
    /// application then sent the bytes with `write()`.
    pub gifts_refused: u64,
    /// kTLS with `TLS_TX_ZEROCOPY_RO`: page reads by the NIC that found other bytes than an
    /// earlier read of the same record data (a retransmission, or the other part of a page
    /// split between segments, after the file changed): the receiver's record
    /// authentication fails.
    pub tls_auth_failures: u64,
}

impl ZcCounters {
    pub fn is_empty(&self) -> bool {
        *self == ZcCounters::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Pages still held by the stack (or the call has not returned).
    InFlight,
    /// Completed; the notification waits to be read.
    Queued,
}

#[derive(Debug)]
struct Send {
    /// References: one per storage holding its data, plus the call's own until it returns.
    refs: u32,
    bytes: u64,
    copied: bool,
    /// Bytes charged against `RLIMIT_MEMLOCK` (0 for registered buffers or a copy).
    memlock: u64,
    status: Status,
}

/// One application's zero-copy socket.
#[derive(Debug, Default)]
struct ZcApp {
    next_key: u64,
    /// The call in progress: its key, or `None` when it fell back to a plain send.
    open: Option<Option<u64>>,
    /// Sends not yet read by the application.
    sends: BTreeMap<u64, Send>,
    /// Last key sent from each buffer offset.
    slots: BTreeMap<u64, u64>,
    /// Error-queue entries `[lo, hi]` (or notification CQEs) not read yet.
    queue: VecDeque<(u64, u64)>,
    sends_since_poll: u64,
    memlock_used: u64,
    /// io_uring: the registered buffer is pinned.
    registered: bool,
    /// Sleeping for a completion (the poll that put it to sleep is charged once).
    asleep: bool,
    /// A refused call is retried (a new syscall).
    retry: bool,
    uring: bool,
    /// The current request's gift was refused: its bytes go by `write()`.
    gift_refused: bool,
}

/// Every application's zero-copy state, and which storage belongs to which send.
#[derive(Debug, Default)]
pub struct ZcState {
    apps: BTreeMap<AppId, ZcApp>,
    owners: BTreeMap<ExtId, (AppId, u64, u64)>,
    /// kTLS `ZEROCOPY_RO` storage, with the content version the NIC first read of each of
    /// its pages.
    tls_ro: BTreeMap<ExtId, BTreeMap<crate::vm::Pfn, crate::vm::Version>>,
    pub counters: ZcCounters,
}

impl ZcState {
    /// Marks `ext` as kTLS `ZEROCOPY_RO` storage: the NIC encrypts what it reads, so every
    /// read of its data must find the same bytes.
    pub(crate) fn track_tls_ro(&mut self, ext: ExtId) {
        self.tls_ro.insert(ext, BTreeMap::new());
    }

    /// The NIC read `pfn` of `ext` holding content `now`: a different content than an
    /// earlier read of the same page of that storage is a record that will not authenticate.
    pub(crate) fn nic_read(&mut self, ext: ExtId, pfn: crate::vm::Pfn, now: crate::vm::Version) {
        let Some(reads) = self.tls_ro.get_mut(&ext) else {
            return;
        };
        let first = *reads.entry(pfn).or_insert(now);
        if first != now {
            self.counters.tls_auth_failures += 1;
        }
    }

    /// Storage pieces still owned by a send (for the invariant check: each is live).
    pub fn owned(&self) -> impl Iterator<Item = ExtId> + '_ {
        self.owners.keys().copied()
    }

    /// Panics unless every send's references are its live storages (plus an open call's).
    pub fn check_invariants(&self) {
        for (app, a) in &self.apps {
            for (key, s) in &a.sends {
                if s.status == Status::InFlight {
                    let held = self
                        .owners
                        .values()
                        .filter(|(o, k, _)| o == app && k == key)
                        .count() as u32;
                    let open = u32::from(a.open == Some(Some(*key)));
                    assert_eq!(
                        s.refs,
                        held + open,
                        "zerocopy send {key} of {app:?} counts {} references, holders {}",
                        s.refs,
                        held + open
                    );
                }
            }
        }
    }
}

/// Whether the current request's `vmsplice` gift was refused (its bytes are copied).
pub(super) fn gift_refused(k: &mut Kernel<'_>) -> bool {
    app(k).gift_refused
}

fn app<'z>(k: &'z mut Kernel<'_>) -> &'z mut ZcApp {
    let id = k.app_id();
    k.zc().apps.entry(id).or_default()
}

/// Runs one application step.
pub(crate) fn app_op(k: &mut Kernel<'_>, op: ZcOp) -> ZcStep {
    match op {
        ZcOp::Reuse { off } => {
            let a = app(k);
            let Some(&key) = a.slots.get(&off) else {
                return ZcStep::Go;
            };
            match a.sends.get(&key).map(|s| s.status) {
                None => ZcStep::Go,
                Some(Status::Queued) => {
                    read_queue(k);
                    ZcStep::Go
                }
                Some(Status::InFlight) => sleep(k, "reuse its buffer"),
            }
        }
        ZcOp::Submit { batch } => {
            let a = app(k);
            a.uring = true;
            a.sends_since_poll += 1;
            if a.sends_since_poll >= batch.max(1) {
                a.sends_since_poll = 0;
                k.syscall();
            }
            ZcStep::Go
        }
        ZcOp::Begin {
            off,
            len,
            memlock,
            fixed,
        } => begin(k, off, len, memlock, fixed),
        ZcOp::End => {
            let a = app(k);
            let uring = a.uring;
            if let Some(Some(key)) = a.open.take() {
                if uring {
                    k.zc().counters.result_cqes += 1;
                }
                let id = k.app_id();
                put(k, id, key);
            }
            ZcStep::Go
        }
        ZcOp::Poll { every } => {
            let a = app(k);
            a.sends_since_poll += 1;
            if a.sends_since_poll >= every.max(1) {
                a.sends_since_poll = 0;
                read_queue(k);
            }
            ZcStep::Go
        }
        ZcOp::Gift { off, len } => {
            let addr = k.buffer().0 + off;
            let fits = super::vmsplice_gift::gift_fits(addr, len);
            app(k).gift_refused = !fits;
            if fits {
                return ZcStep::Go;
            }
            k.syscall();
            k.zc().counters.gifts_refused += 1;
            if k.narrating() {
                k.narrate(format_args!(
                    "vmsplice(SPLICE_F_GIFT) of {len} B at {addr:#x}: EINVAL, a gift must be page-aligned whole pages; the application falls back to write()"
                ));
            }
            ZcStep::Go
        }
        ZcOp::Wait => {
            if app(k).sends.values().any(|s| s.status == Status::InFlight) {
                return sleep(k, "have every send completed");
            }
            read_queue(k);
            ZcStep::Go
        }
    }
}

/// The application sleeps for a completion: `poll(POLLERR)` (msg-zerocopy) or
/// `io_uring_enter(GETEVENTS)`, charged once per sleep.
fn sleep(k: &mut Kernel<'_>, why: &str) -> ZcStep {
    let a = app(k);
    if !a.asleep {
        a.asleep = true;
        k.zc().counters.completion_waits += 1;
        k.syscall();
        if k.narrating() {
            let id = k.app_id();
            k.narrate(format_args!(
                "app {} sleeps for a zero-copy completion before it may {why}",
                id.0
            ));
        }
    }
    ZcStep::Block
}

/// Reads every queued notification: msg-zerocopy makes one `recvmsg(MSG_ERRQUEUE)` per
/// entry and one more that finds the queue empty; io_uring reads CQEs from the shared ring
/// without entering the kernel.
fn read_queue(k: &mut Kernel<'_>) {
    let a = app(k);
    a.asleep = false;
    let uring = a.uring;
    let entries: Vec<(u64, u64)> = a.queue.drain(..).collect();
    for &(lo, hi) in &entries {
        for key in lo..=hi {
            let s = a
                .sends
                .remove(&key)
                .expect("a queued completion has its send");
            debug_assert_eq!(s.status, Status::Queued);
        }
    }
    if uring {
        return;
    }
    let n = entries.len() as u64;
    for _ in 0..=n {
        k.syscall();
        k.socket_work();
    }
    let c = &mut k.zc().counters;
    c.errqueue_reads += n;
    c.errqueue_empty_reads += 1;
    if n > 0 && k.narrating() {
        let id = k.app_id();
        let ranges: Vec<String> = entries.iter().map(|(l, h)| format!("[{l}, {h}]")).collect();
        let note = k.narrate(format_args!(
            "app {} reads the error queue: {n} recvmsg(MSG_ERRQUEUE) calls return {}, one more returns EAGAIN",
            id.0,
            ranges.join(" ")
        ));
        k.instant(
            "errqueue read",
            format!("errqueue read {}", ranges.join(" ")).into(),
            note,
        );
    }
}

/// `msg_zerocopy_realloc` (or io_uring's notification): a new key, with its pages charged
/// against `RLIMIT_MEMLOCK` (`mm_account_pinned_pages`: `(len >> PAGE_SHIFT) + 2` pages,
/// "worst case"). Past the limit the call fails (`ENOBUFS`); the application waits for a
/// completion and calls again, or, with nothing in flight, sends by copy.
fn begin(k: &mut Kernel<'_>, off: u64, len: u64, memlock: Option<u64>, fixed: bool) -> ZcStep {
    let a = app(k);
    if a.retry {
        a.retry = false;
        k.syscall();
    }
    let a = app(k);
    let charge = memlock.map_or(0, |_| ((len / PAGE_SIZE) + 2) * PAGE_SIZE);
    if let Some(limit) = memlock
        && a.memlock_used + charge > limit
    {
        let in_flight = a.sends.values().any(|s| s.status == Status::InFlight);
        k.zc().counters.memlock_refusals += 1;
        if in_flight {
            app(k).retry = true;
            return sleep(k, "send again (ENOBUFS: RLIMIT_MEMLOCK)");
        }
        k.zc().counters.memlock_fallbacks += 1;
        app(k).open = Some(None);
        return ZcStep::Go;
    }
    if fixed && !a.registered {
        // io_uring_register(IORING_REGISTER_BUFFERS): the whole buffer pinned once.
        a.registered = true;
        let (start, bytes) = k.buffer();
        k.syscall();
        let pages = pages_of(start, bytes).count() as u64;
        let cost = k.config().machine.costs.loan_per_page_ns;
        k.plan().cpu(Activity::Loan, cost * pages);
        k.zc().counters.pages_registered += pages;
    }
    let a = app(k);
    a.asleep = false;
    let key = a.next_key;
    a.next_key += 1;
    a.memlock_used += charge;
    let used = a.memlock_used;
    a.slots.insert(off, key);
    a.sends.insert(
        key,
        Send {
            refs: 1,
            bytes: 0,
            copied: false,
            memlock: charge,
            status: Status::InFlight,
        },
    );
    a.open = Some(Some(key));
    let c = &mut k.zc().counters;
    c.sends += 1;
    c.memlock_peak_bytes = c.memlock_peak_bytes.max(used);
    ZcStep::Go
}

/// A zero-copy writer waits for a page of socket-buffer room and moves whole pages, so a
/// page-aligned buffer has each page pinned once. Simplified: the kernel waits in
/// `sk_stream_wait_memory` and would pin a page split between two skbs twice.
pub(super) fn room() -> (u64, u64) {
    (PAGE_SIZE, PAGE_SIZE)
}

/// How the stack takes a zero-copy send's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// Pin the user pages into frags (`skb_zerocopy_iter_stream`).
    Pin,
    /// No scatter-gather or no checksum offload: `uarg->zerocopy = 0`, copied at once.
    Copy,
    /// Loopback: pinned, then copied when looped to the local socket (`skb_copy_ubufs`).
    PinThenCopy,
}

fn route(k: &Kernel<'_>) -> Route {
    let cfg = k.config();
    if !cfg.nic.scatter_gather || !cfg.nic.checksum_offload {
        Route::Copy
    } else if cfg.link.kind == LinkKind::Loopback {
        Route::PinThenCopy
    } else {
        Route::Pin
    }
}

/// The send's next `len` bytes at `at`, `done` into the call: pinned user pages, or a copy
/// (a plain send after a memlock fallback, or a route that cannot keep references).
pub(crate) fn fill(k: &mut Kernel<'_>, at: Addr, done: u64, len: u64, fixed: bool) {
    let addr = k.addr(at, done);
    let id = k.app_id();
    let key = match app(k).open {
        Some(Some(key)) => key,
        // MSG_ZEROCOPY refused: an ordinary send.
        _ => {
            k.copyin(addr, len);
            k.path(
                PathNode::UserBuffer,
                PathNode::SocketBuffer,
                PathKind::CpuCopy,
                len,
            );
            return;
        }
    };
    let r = route(k);
    // Pages pinned by this fill, and those whose unpin waits for the storage's release.
    let mut pinned = 0;
    let mut unpin_later = 0;
    let before = k.filled();
    if r == Route::Copy {
        k.copyin(addr, len);
        k.path(
            PathNode::UserBuffer,
            PathNode::SocketBuffer,
            PathKind::CpuCopy,
            len,
        );
    } else {
        let pages = pin(k, addr, len, fixed);
        pinned = if fixed { 0 } else { pages.len() as u64 };
        unpin_later = pinned;
        if r == Route::PinThenCopy {
            // skb_copy_ubufs: fresh pages, a memcpy of the frags, the user pages dropped.
            k.plan().copy(len);
            k.attach_clusters(len);
            let unpin = k.config().machine.costs.unloan_per_page_ns;
            k.plan().cpu(Activity::Loan, unpin * pinned);
            for p in &pages {
                k.vm().0.kernel_unref(p.pfn);
            }
            unpin_later = 0;
            k.path(
                PathNode::UserBuffer,
                PathNode::SocketBuffer,
                PathKind::CpuCopy,
                len,
            );
        } else {
            let n = pages.len();
            k.attach(ExtKind::Pages { pages }, len, addr % PAGE_SIZE, 1);
            k.path(
                PathNode::UserBuffer,
                PathNode::SocketBuffer,
                PathKind::Reference,
                len,
            );
            if k.narrating() {
                let how = if fixed {
                    "registered buffer: frags point at its pages, no per-page pin or refcount"
                } else {
                    "pin_user_pages: pinned and referenced by skb frags"
                };
                k.narrate(format_args!(
                    "zerocopy send {key}: {n} user pages ({len} B), {how}; a write to them before the completion reaches the wire"
                ));
            }
        }
    }
    let new = k.filled_since(before);
    let z = k.zc();
    let a = z.apps.get_mut(&id).expect("begun");
    let s = a.sends.get_mut(&key).expect("open send");
    s.bytes += len;
    s.copied |= r != Route::Pin;
    s.refs += new.len() as u32;
    z.counters.pages_pinned += pinned;
    for (i, e) in new.into_iter().enumerate() {
        // The unpin of the pages is charged when the storage holding them goes.
        let pages = if i == 0 { unpin_later } else { 0 };
        z.owners.insert(e, (id, key, pages));
    }
}

/// `pin_user_pages` of `[addr, addr + len)` (or, for a registered buffer, its pages found
/// without a per-page pin): each page faulted in if absent and referenced.
fn pin(k: &mut Kernel<'_>, addr: u64, len: u64, fixed: bool) -> Vec<PagePromise> {
    let asid = k.asid();
    let cost = k.config().machine.costs.loan_per_page_ns;
    let mut out = Vec::new();
    for page in pages_of(addr, len) {
        let (vm, plan) = k.vm();
        let (pfn, _) = vm
            .touch(asid, page * PAGE_SIZE, Access::Read, plan)
            .expect("the sender's buffer is mapped");
        vm.kernel_ref(pfn);
        if !fixed {
            plan.cpu(Activity::Loan, cost);
        }
        out.push(PagePromise {
            pfn,
            expected: vm.frame(pfn).version,
        });
    }
    out
}

/// A storage's last reference dropped: if a zero-copy send owns it, that send loses a
/// reference (and its pages' unpin is charged).
pub(crate) fn released(k: &mut Kernel<'_>, ext: ExtId) {
    k.zc().tls_ro.remove(&ext);
    let Some((id, key, pinned)) = k.zc().owners.remove(&ext) else {
        return;
    };
    let unpin = k.config().machine.costs.unloan_per_page_ns;
    k.plan().cpu(Activity::Loan, unpin * pinned);
    put(k, id, key);
}

/// Drops one reference of send `key`; the last one completes it (`msg_zerocopy_callback`).
fn put(k: &mut Kernel<'_>, id: AppId, key: u64) {
    // The callback's own work: msg_zerocopy_callback allocates and queues an error-queue skb
    // (an mbuf plus socket-layer work); io_uring runs task work to post the CQE (socket-layer
    // work).
    let stack = k.config().stack;
    let z = k.zc();
    let a = z.apps.get_mut(&id).expect("a send's app");
    let s = a.sends.get_mut(&key).expect("a live send");
    s.refs -= 1;
    if s.refs > 0 {
        return;
    }
    s.status = Status::Queued;
    let (bytes, copied, memlock) = (s.bytes, s.copied, s.memlock);

    a.memlock_used -= memlock;
    let uring = a.uring;
    let work = stack.socket_per_chunk_ns + if uring { 0 } else { stack.mbuf_ns };
    let merged = match a.queue.back_mut() {
        Some((_, hi)) if !uring && *hi + 1 == key => {
            *hi = key;
            true
        }
        _ => {
            a.queue.push_back((key, key));
            false
        }
    };
    let (lo, hi) = *a.queue.back().expect("just queued");
    k.plan().cpu(Activity::Protocol, work);
    let c = &mut k.zc().counters;
    c.completions += 1;
    c.completed_bytes += bytes;
    c.completions_copied += u64::from(copied);
    c.notifications += u64::from(!merged);
    k.storage_returned();
    if k.narrating() {
        let code = if copied {
            " with SO_EE_CODE_ZEROCOPY_COPIED (the data was copied after all)"
        } else {
            ""
        };
        let note = if uring {
            k.narrate(format_args!(
                "io_uring: send {key} of app {} releases its pages; its notification CQE ({bytes} B) is posted{code}",
                id.0
            ))
        } else {
            k.narrate(format_args!(
                "msg_zerocopy_callback: send {key} of app {} ({bytes} B) completes; the error queue's entry is now [{lo}, {hi}]{code}",
                id.0
            ))
        };
        k.instant(
            "completion",
            format!("zerocopy completion {key}").into(),
            note,
        );
    }
}
