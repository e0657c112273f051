//! `recv-copy`: `recv()` copies out of the kernel's buffers.
//!
//! Models NetBSD 1.6 `sys/kern/uipc_socket.c` `soreceive` → `uiomove` (Linux 2.4
//! `tcp_recvmsg` → `skb_copy_datagram_iovec`): every byte is copied out to the user's buffer
//! and the mbufs are freed.

use super::{Entry, Explanation, Kernel, SourceKind, Strategy};
use crate::net::sockbuf::Piece;
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "recv-copy",
    title: "recv() copies out of the kernel's buffers",
    origin: "Every BSD and Linux kernel",
    source: "NetBSD 1.6: sys/kern/uipc_socket.c soreceive -> uiomove; Linux 2.4: net/ipv4/tcp.c tcp_recvmsg -> skb_copy_datagram_iovec",
    steps: &[
        "the NIC DMAs each frame into a posted receive buffer; the receive interrupt and tcp_input queue it on the socket (a checksum pass unless offloaded)",
        "recv(): enter the kernel; copyout() the data into the user's buffer; the buffers are freed",
    ],
    in_flight: "Not applicable: the data is the receiver's once copied.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Receive,
    make: || Strategy::RecvCopy,
    options: &[],
};

/// `copyout` of `piece` into the user's buffer at `dest`.
pub(super) fn receive(k: &mut Kernel<'_>, piece: &Piece, dest: u64) {
    let asid = k.asid();
    let src = k.ext_segs(piece.ext, piece.off, piece.len);
    let (vm, plan) = k.vm();
    vm.copyout_from(asid, dest, &src, plan)
        .expect("the receiver's buffer is mapped writable");
    k.path(
        PathNode::KernelBuffer,
        PathNode::UserBuffer,
        PathKind::CpuCopy,
        piece.len,
    );
    k.count_copied(piece.len);
}
