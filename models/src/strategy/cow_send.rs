//! `cow-send`: FreeBSD's `ZERO_COPY_SOCKETS` send (Gallatin and Merry, June 2002).
//!
//! Models FreeBSD 5.0-CURRENT of 2002: `sys/kern/uipc_cow.c` `socow_setup` (wire the page,
//! `pmap_page_protect` read-only, hang it on an mbuf) and `socow_iodone` (unwire), called
//! from `sys/kern/uipc_socket.c` `sosend` for page-sized, page-aligned pieces.
//! Simplified: an unaligned head and tail are copied and the aligned middle wired (the
//! June 2002 code took the branch only with an aligned base).

use super::{Addr, Entry, Explanation, Fill, Kernel, Op, Request, SourceKind, Strategy};
use crate::net::mbuf::{ExtId, ExtKind, PagePromise};
use crate::vm::{LendKind, PAGE_SIZE, Pfn};
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "cow-send",
    title: "FreeBSD copy-on-write socket send",
    origin: "FreeBSD 5.0-CURRENT, June 2002, Drew Gallatin and Kenneth Merry (ZERO_COPY_SOCKETS, socow_setup)",
    steps: &[
        "write(): enter the kernel",
        "sosend: the page-aligned whole pages of the buffer are wired and write-protected copy-on-write (socow_setup: vm_page_wire, pmap_page_protect); each becomes one mbuf's external storage",
        "any unaligned head or tail is copied into clusters as usual",
        "tcp_output references the pages per segment; the NIC DMAs from them",
        "when the ACK frees the mbuf, socow_iodone unwires the page",
    ],
    in_flight: "Safe: a write to a wired page takes an ordinary COW fault and gets a copy; a page shared by several processes is copied only if one of them writes it while the kernel still holds it (Merry to Silbersack).",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Memory,
    make: || Strategy::CowSend,
    options: &[],
};

pub(super) fn request(r: &Request, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::CowWire {
            at: Addr::Buffer(r.off),
        },
    );
}

/// FreeBSD takes the COW branch only with `space >= PAGE_SIZE`, a page at a time.
pub(super) fn room() -> (u64, u64) {
    (PAGE_SIZE, PAGE_SIZE)
}

/// Whole aligned pages are wired COW, one page per mbuf (`socow_setup`); the ragged head and
/// tail are copied.
pub(super) fn fill(k: &mut Kernel<'_>, at: Addr, done: u64, len: u64) {
    let addr = k.addr(at, done);
    let asid = k.asid();
    let head = ((PAGE_SIZE - addr % PAGE_SIZE) % PAGE_SIZE).min(len);
    let pages = (len - head) / PAGE_SIZE;
    let tail = len - head - pages * PAGE_SIZE;
    if head > 0 {
        k.copyin(addr, head);
    }
    for i in 0..pages {
        let a = addr + head + i * PAGE_SIZE;
        let mut lent = Vec::new();
        let (vm, plan) = k.vm();
        vm.lend(asid, a, PAGE_SIZE, LendKind::CowWire, plan, &mut lent)
            .expect("the sender's source is mapped");
        k.attach(
            ExtKind::Lent {
                kind: LendKind::CowWire,
                pages: vec![PagePromise {
                    pfn: lent[0].pfn,
                    expected: lent[0].version,
                }],
            },
            PAGE_SIZE,
            0,
            1,
        );
    }
    if tail > 0 {
        k.copyin(addr + len - tail, tail);
    }
    let (lent_bytes, copied) = (pages * PAGE_SIZE, head + tail);
    k.path(
        PathNode::UserBuffer,
        PathNode::SocketBuffer,
        PathKind::Reference,
        lent_bytes,
    );
    k.path(
        PathNode::UserBuffer,
        PathNode::SocketBuffer,
        PathKind::CpuCopy,
        copied,
    );
}

/// The mbuf's last reference dropped: `socow_iodone` unwires the page.
pub(super) fn release(k: &mut Kernel<'_>, ext: ExtId, pages: Vec<Pfn>) {
    if k.narrating() {
        k.narrate(format_args!(
            "socow_iodone unwires {} pages (last reference to {ext:?} dropped)",
            pages.len()
        ));
    }
    for pfn in pages {
        let (vm, plan) = k.vm();
        vm.end_lend(pfn, LendKind::CowWire, plan);
    }
}
