//! `zbuf`: kernel-owned buffers the application fills and hands over (VxWorks zbufs, asked
//! for on NetBSD's tech-kern in August 2002).
//!
//! Models the VxWorks `zbufLib` / `zbufSockLib` idea on a BSD kernel: the application builds
//! its data in kernel pages mapped into its space, then gives them up (move semantics).
//! Simplified: every page is unmapped from the application (a PTE change each way and one TLB
//! flush per hand-over); the data production is charged as an application write.

use super::{Entry, Explanation, Fill, Kernel, Op, Request, SourceKind, Strategy};
use crate::machine::{Activity, Step};
use crate::net::mbuf::{ExtKind, PagePromise};
use crate::vm::PAGE_SIZE;
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "zbuf",
    title: "Kernel-owned buffers handed over by the application",
    origin: "VxWorks zbufs; asked about for NetBSD in August 2002 (kyle.unice, Laight, Thorpe on tech-kern)",
    steps: &[
        "the application asks the kernel for buffers (kernel pages mapped into its address space) and builds its data in them",
        "send: enter the kernel; the buffers are unmapped from the application and become mbuf external storage (move semantics)",
        "tcp_output references them per segment; the NIC DMAs from them",
        "the pages are freed when the ACK frees the mbufs",
    ],
    in_flight: "Nothing can change: the application gave the buffer up and must take a new one for its next message.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Memory,
    make: || Strategy::Zbuf,
    options: &[],
};

pub(super) fn request(r: &Request, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    super::sends(ops, header, r.len, Fill::Zbuf);
}

/// The application builds the data directly in kernel pages it got from the kernel (its own
/// work, one bus byte per byte), then hands them over: each page is unmapped from the
/// application (a PTE change each way and one TLB flush).
pub(super) fn fill(k: &mut Kernel<'_>, len: u64) {
    let costs = k.config().machine.costs;
    let mut left = len;
    let mut pages = 0;
    while left > 0 {
        let n = left.min(PAGE_SIZE);
        let (vm, plan) = k.vm();
        let pfn = vm.alloc_kernel_page(plan);
        plan.push(Step::AppWrite { bytes: n });
        vm.device_wrote(pfn);
        let expected = vm.frame(pfn).version;
        k.attach(
            ExtKind::Pages {
                pages: vec![PagePromise { pfn, expected }],
            },
            n,
            0,
            1,
        );
        left -= n;
        pages += 1;
    }
    let plan = k.plan();
    plan.cpu(Activity::MapUnmap, 2 * pages * costs.pte_update_ns);
    plan.cpu(Activity::Tlb, costs.tlb_flush_ns);
    k.path(
        PathNode::UserBuffer,
        PathNode::SocketBuffer,
        PathKind::Remap,
        len,
    );
}
