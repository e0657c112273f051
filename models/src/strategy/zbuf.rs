//! `zbuf`: kernel-owned buffers the application fills and hands over (VxWorks zbufs, asked
//! for on NetBSD's tech-kern in August 2002).
//!
//! Models VxWorks 5.x `zbufLib` / `zbufSockLib` (Wind River): the application builds its data
//! in network buffers it got from the stack, then gives them up (`zbufSockSend`, move
//! semantics). VxWorks has one flat address space, so nothing is mapped or unmapped: the
//! hand-over is a pointer passing, no PTE change, no TLB flush.
//!
//! Data production: a zbuf application has no buffer to reuse, so it writes every byte of
//! every message into fresh buffers, charged as application writes (one bus byte per byte,
//! two with write-allocate) and counted in `VmCounters::data_pages_built`. The other memory
//! strategies reuse a pre-filled buffer unless the workload sets `fill_each_write`; a
//! comparison with them is like for like only then.

use super::{Entry, Explanation, Fill, Kernel, Op, Request, SourceKind, Strategy};
use crate::machine::Step;
use crate::net::mbuf::{ExtKind, PagePromise};
use crate::vm::PAGE_SIZE;
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "zbuf",
    title: "Kernel-owned buffers handed over by the application",
    origin: "VxWorks zbufs; asked about for NetBSD in August 2002 (kyle.unice, Laight, Thorpe on tech-kern)",
    source: "VxWorks 5.x zbufLib / zbufSockLib (Wind River, flat address space); NetBSD tech-kern thread of August 2002 (no NetBSD implementation)",
    steps: &[
        "the application asks the stack for buffers (zbufs; in VxWorks's single address space they are ordinary kernel memory)",
        "the application writes every byte of each message into them: zbuf runs pay for producing their data, which the other memory strategies do only with workload.fill_each_write",
        "send: enter the kernel; the buffers become mbuf external storage (move semantics); in VxWorks's flat address space nothing is unmapped, no PTE changes, no TLB flush",
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

/// The application builds the data directly in kernel pages it got from the stack (its own
/// work, an application write of every byte), then hands them over: a pointer passing, no
/// remap (VxWorks's flat address space).
pub(super) fn fill(k: &mut Kernel<'_>, len: u64) {
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
    let (vm, _) = k.vm();
    vm.count_data_pages(pages);
    if k.narrating() {
        k.narrate(format_args!(
            "zbuf: the application wrote {len} B into {pages} fresh buffers and handed them to the socket (no copy, no remap)"
        ));
    }
    k.path(
        PathNode::UserBuffer,
        PathNode::SocketBuffer,
        PathKind::Reference,
        len,
    );
}
