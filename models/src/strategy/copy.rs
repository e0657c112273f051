//! `copy`: the classic `write()` path, and the copy fills every other room falls back on.
//!
//! Models NetBSD 1.6 `sys/kern/uipc_socket.c` `sosend` → `uiomove` (and Linux 2.4
//! `net/ipv4/tcp.c` `tcp_sendmsg`): the user's bytes are copied into mbuf clusters
//! (`MCLBYTES` = 2 KiB each), checksummed on the way where the stack fuses the two.
//! Simplified: one cluster per 2 KiB whatever the allocator's state; no `sb_lowat`
//! tuning beyond waiting for one cluster of room.

use super::{Addr, Entry, Explanation, Fill, Kernel, Op, Request, SourceKind, Strategy};
use crate::net::mbuf::MCLBYTES;
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "copy",
    title: "write() copies into the kernel",
    origin: "Every BSD and Linux kernel; the baseline of every seed (ttcp and netperf numbers)",
    source: "NetBSD 1.6 (2002): sys/kern/uipc_socket.c sosend -> sys/kern/kern_subr.c uiomove; Linux 2.4.20: net/ipv4/tcp.c tcp_sendmsg (csum_and_copy_from_user; linear MSS-sized skbs when the device lacks NETIF_F_SG)",
    steps: &[
        "write(): enter the kernel",
        "sosend: allocate mbuf clusters and copyin() the bytes into them (2 bus bytes per byte, 3 with write-allocate caches)",
        "tcp_output: segment, checksum each segment on the CPU unless the NIC offloads it (or the copy computed it on the way)",
        "driver: map each segment onto TX descriptors; the NIC DMAs it from the clusters",
        "the clusters are freed when the peer ACKs the data",
    ],
    in_flight: "Safe: the kernel has its own copy, so the application may reuse its buffer as soon as write() returns.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Memory,
    make: || Strategy::Copy,
    options: &[],
};

pub(super) fn request(r: &Request, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::CopyIn {
            at: Addr::Buffer(r.off),
        },
    );
}

/// `sosend` waits for `sb_lowat`: one cluster of room, and takes any amount.
pub(super) fn room() -> (u64, u64) {
    (MCLBYTES, 1)
}

/// `copyin` of the next `len` bytes at `at` into clusters.
pub(super) fn fill(k: &mut Kernel<'_>, at: Addr, done: u64, len: u64) {
    let addr = k.addr(at, done);
    k.copyin(addr, len);
    k.path(
        source_node(at),
        PathNode::SocketBuffer,
        PathKind::CpuCopy,
        len,
    );
}

/// The kernel copies the header from the call's iovec (or builds it) into an mbuf: a small
/// copy, counted like any other.
pub(super) fn fill_header(k: &mut Kernel<'_>, len: u64) {
    // From the call's iovec or a buffer the kernel builds: memory the cache model does not
    // track.
    k.copy_into_clusters(&[(None, len)]);
    k.path(
        PathNode::UserBuffer,
        PathNode::SocketBuffer,
        PathKind::CpuCopy,
        len,
    );
}

/// Where bytes at `at` live, for the data-path graph.
pub(super) fn source_node(at: Addr) -> PathNode {
    match at {
        Addr::Mapping(_) => PathNode::PageCache,
        Addr::Buffer(_) | Addr::Header => PathNode::UserBuffer,
    }
}
