//! `cow-send`: FreeBSD's `ZERO_COPY_SOCKETS` send (Gallatin and Merry, June 2002).
//!
//! Models FreeBSD 5.0-CURRENT of June 2002: `sys/kern/uipc_socket.c` `sosend`, whose
//! `so_zero_copy_send` branch, per pass, calls `sys/kern/uipc_cow.c` `socow_setup` only when
//! `resid`, `space` and `iov_len` are each at least a page *and* the user address is
//! page-aligned; any other pass copies one cluster (`MCLBYTES`) as usual. So a write whose
//! base is not page-aligned is copied in clusters all the way through (unless a cluster
//! boundary happens to reach a page boundary: a base 2 KiB into a page realigns after one
//! cluster). That is [`CowAlign::AlignedOnly`], the default. [`CowAlign::PartialPage`] is
//! the later, more forgiving rule: copy the ragged head up to the page boundary, wire the
//! whole pages, copy the tail.
//!
//! `socow_setup` (2002) per page: `pmap_extract` on the user's pmap (no `vm_map` lookup),
//! `sf_buf_alloc` + `pmap_qenter` (one PTE write), `vm_page_cowsetup` (`pmap_page_protect`
//! read-only in every mapping, a TLB flush), `vm_page_wire`, `vm_object_reference`;
//! `socow_iodone` undoes it at the ACK.
//! Simplified: a page that is not resident is faulted in (the 2002 code copied such a page).

use super::{Addr, Entry, Explanation, Fill, Kernel, Op, OptionDoc, Request, SourceKind, Strategy};
use crate::net::mbuf::{ExtId, ExtKind, MCLBYTES, PagePromise};
use crate::vm::{LendKind, PAGE_SIZE, Pfn};
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "cow-send",
    title: "FreeBSD copy-on-write socket send",
    origin: "FreeBSD 5.0-CURRENT, June 2002, Drew Gallatin and Kenneth Merry (ZERO_COPY_SOCKETS, socow_setup)",
    source: "FreeBSD 5.0-CURRENT, June 2002 (ZERO_COPY_SOCKETS): sys/kern/uipc_cow.c socow_setup, socow_iodone; sys/kern/uipc_socket.c sosend (the so_zero_copy_send branch)",
    steps: &[
        "write(): enter the kernel",
        "sosend, each pass: with at least a page left and a page of room, and the user address page-aligned, socow_setup takes the page (pmap_extract, sf_buf + pmap_qenter, vm_page_cowsetup write-protects it, vm_page_wire); it becomes one mbuf's external storage",
        "any other pass copies a cluster as usual: an unaligned buffer is copied all the way (the June 2002 rule; an option copies only the ragged head and tail)",
        "tcp_output references the pages per segment; the NIC DMAs from them",
        "when the ACK frees the mbuf, socow_iodone unwires the page",
    ],
    in_flight: "Safe: a write to a wired page takes an ordinary COW fault and gets a copy; a page shared by several processes is copied only if one of them writes it while the kernel still holds it (Merry to Silbersack).",
};

/// Which passes of a `write()` FreeBSD's zero-copy send takes by COW.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CowAlign {
    /// June 2002: only a pass whose user address is page-aligned; others copy a cluster.
    #[default]
    AlignedOnly,
    /// Later: copy the unaligned head up to the page boundary, then wire whole pages.
    PartialPage,
}

/// FreeBSD COW-send options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CowOptions {
    pub align: CowAlign,
}

pub(super) const OPTIONS: &[OptionDoc] = &[OptionDoc {
    key: "cow_align",
    what: "\"aligned-only\" (June 2002: an unaligned write is copied) or \"partial-page\" (copy the ragged head, wire the rest)",
    default: "aligned-only",
}];

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Memory,
    make: || Strategy::CowSend(CowOptions::default()),
    options: OPTIONS,
};

pub(super) fn request(r: &Request, opts: CowOptions, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::CowWire {
            at: Addr::Buffer(r.off),
            opts,
        },
    );
}

/// FreeBSD takes the COW branch only with `space >= PAGE_SIZE`, a page at a time.
pub(super) fn room() -> (u64, u64) {
    (PAGE_SIZE, PAGE_SIZE)
}

/// One pass of `sosend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pass {
    Wire,
    Copy(u64),
}

/// The passes that move `len` bytes from user address `addr` (`len` is `min(resid, space)`,
/// so `len - done` is what is left of both in a pass).
pub(super) fn passes(addr: u64, len: u64, opts: CowOptions) -> Vec<Pass> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < len {
        let (a, rest) = (addr + pos, len - pos);
        let aligned = a.is_multiple_of(PAGE_SIZE);
        let pass = if rest >= PAGE_SIZE && aligned {
            Pass::Wire
        } else {
            match opts.align {
                CowAlign::AlignedOnly => Pass::Copy(rest.min(MCLBYTES)),
                CowAlign::PartialPage if aligned => Pass::Copy(rest),
                CowAlign::PartialPage => Pass::Copy((PAGE_SIZE - a % PAGE_SIZE).min(rest)),
            }
        };
        pos += match pass {
            Pass::Wire => PAGE_SIZE,
            Pass::Copy(n) => n,
        };
        out.push(pass);
    }
    out
}

/// `sosend`'s passes: a wired page per mbuf where the rule allows (`socow_setup`), clusters
/// copied elsewhere.
pub(super) fn fill(k: &mut Kernel<'_>, at: Addr, done: u64, len: u64, opts: CowOptions) {
    let addr = k.addr(at, done);
    let asid = k.asid();
    let (mut pos, mut lent_bytes, mut copied) = (0, 0, 0);
    let mut copy_run = 0;
    for pass in passes(addr, len, opts) {
        match pass {
            Pass::Copy(n) => {
                copy_run += n;
                copied += n;
                pos += n;
            }
            Pass::Wire => {
                if copy_run > 0 {
                    k.copyin(addr + pos - copy_run, copy_run);
                    copy_run = 0;
                }
                let mut lent = Vec::new();
                let (vm, plan) = k.vm();
                vm.cow_wire_page(asid, addr + pos, plan, &mut lent)
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
                lent_bytes += PAGE_SIZE;
                pos += PAGE_SIZE;
            }
        }
    }
    if copy_run > 0 {
        k.copyin(addr + pos - copy_run, copy_run);
    }
    if k.narrating() && copied > 0 {
        k.narrate(format_args!(
            "sosend: {copied} B at {addr:#x} copied into clusters (the COW branch needs a page-aligned address and a page left), {lent_bytes} B wired copy-on-write"
        ));
    }
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
            "socow_iodone unwires {} pages (last reference to {ext} dropped)",
            pages.len()
        ));
    }
    for pfn in pages {
        let (vm, plan) = k.vm();
        vm.end_lend(pfn, LendKind::CowWire, plan);
    }
}
