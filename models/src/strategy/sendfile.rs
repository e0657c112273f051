//! `sendfile`: the page cache to the socket, no user mapping.
//!
//! Models Linux 2.4 `mm/filemap.c` `do_sendfile` → `do_generic_file_read` with
//! `file_send_actor` → `tcp_sendpage` (`net/ipv4/tcp.c`, which falls back to `sock_no_sendpage`,
//! a copy, when the device lacks `NETIF_F_SG` or checksum offload), and FreeBSD 4.x
//! `sys/kern/uipc_syscalls.c` `sendfile` (`sf_buf` references, header iovec).
//! Simplified: one mbuf per page reference; no `sf_buf` exhaustion.

use super::{Entry, Explanation, Fill, Kernel, Op, OptionDoc, Request, SourceKind, Strategy};
use crate::net::mbuf::{ExtKind, PagePromise};
use crate::vm::{AsId, FileId, PAGE_SIZE, pages_of};
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "sendfile",
    title: "sendfile(): the page cache to the socket, no user mapping",
    origin: "Linux 2.2 / 2.4 (do_generic_file_read + sendpage), FreeBSD 3.0, HP-UX; defended by David S. Miller in January 2003",
    source: "Linux 2.4: mm/filemap.c do_sendfile, file_send_actor; net/ipv4/tcp.c tcp_sendpage (sock_no_sendpage without NETIF_F_SG or checksum offload). FreeBSD 4.x: sys/kern/uipc_syscalls.c sendfile",
    steps: &[
        "sendfile(): enter the kernel; no VMA lookup, no mapping",
        "each page is found in the page cache (read from disk on a miss) and referenced into the socket buffer",
        "the header goes by a separate write(), under TCP_CORK, or in the same call as a header iovec (FreeBSD, HP-UX)",
        "Linux option: without scatter-gather or checksum offload, sendpage falls back to copying into a normal skb",
        "the NIC DMAs from the page cache; the references drop at the ACK",
    ],
    in_flight: "Unsafe: changes written into the file in place reach the wire; writing a new file and rename()ing it over is safe.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::File,
    make: || Strategy::Sendfile {
        linux_fallback: false,
    },
    options: &[OptionDoc {
        key: "linux_sendpage_fallback",
        what: "sendpage copies when the NIC lacks scatter-gather or checksum offload",
        default: "false (BSD); true on Linux targets",
    }],
};

pub(super) fn request(r: &Request, linux_fallback: bool, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::CacheRef {
            off: r.off,
            linux_fallback,
        },
    );
}

/// `len` bytes at `off` of the sender's file: referenced, or, for Linux without
/// scatter-gather or checksum offload, copied.
pub(super) fn fill(k: &mut Kernel<'_>, off: u64, len: u64, linux_fallback: bool) {
    let file = k.source_file();
    if linux_fallback && nic_forces_sendpage_copy(k) {
        cache_copy(k, file, off, len);
    } else {
        cache_ref(k, file, off, len, None);
    }
}

/// `sendfile` / TUX / `sendpage`: each page of `[off, off + len)` of `file` is found in the
/// page cache (read from disk on a miss) and referenced. The promise for each page is its
/// content now, or, with `meant_at = (asid, addr)`, the content of the page the user has
/// mapped at the corresponding address: under the 2003 patch's straddle bug, past the first
/// VMA's end, that is the *other* file's page.
pub(super) fn cache_ref(
    k: &mut Kernel<'_>,
    file: FileId,
    off: u64,
    len: u64,
    meant_at: Option<(AsId, u64)>,
) {
    let mut pages = Vec::new();
    for (i, index) in pages_of(off, len).enumerate() {
        let (vm, plan) = k.vm();
        let pfn = vm.cache_page(file, index, plan);
        vm.kernel_ref(pfn);
        let meant = meant_at.and_then(|(asid, addr)| {
            let user_addr = (addr / PAGE_SIZE + i as u64) * PAGE_SIZE;
            let (f, idx) = vm.space(asid).vma_at(user_addr)?.file_page(user_addr)?;
            vm.cached(f, idx)
        });
        let expected = vm.frame(meant.unwrap_or(pfn)).version;
        pages.push(PagePromise { pfn, expected });
    }
    let n = pages.len() as u64;
    if k.narrating() {
        k.narrate(format_args!(
            "page cache: {} pages of {file:?} referenced into the socket buffer, no copy",
            pages.len()
        ));
    }
    k.attach(ExtKind::Pages { pages }, len, off % PAGE_SIZE, n);
    k.path(
        PathNode::PageCache,
        PathNode::SocketBuffer,
        PathKind::Reference,
        len,
    );
}

/// Whether Linux 2.4's `tcp_sendpage` falls back to `sock_no_sendpage` (a copy through
/// `tcp_sendmsg`): the device lacks `NETIF_F_SG` or any checksum offload (`net/ipv4/tcp.c`:
/// `if (!(sk->route_caps & NETIF_F_SG) || !(sk->route_caps & NETIF_F_ALL_CSUM))`).
pub(super) fn nic_forces_sendpage_copy(k: &Kernel<'_>) -> bool {
    let nic = k.config().nic;
    !nic.scatter_gather || !nic.checksum_offload
}

/// The Linux-only `sendpage` users (the 2003 `mmap-sendpage` patch, TUX) take the fallback on
/// a Linux target ([`Kernel::linux_target`]); on a BSD target they stand for a port that
/// references the pages as BSD's `sendfile` does.
pub(super) fn sendpage_copies(k: &Kernel<'_>) -> bool {
    k.linux_target() && nic_forces_sendpage_copy(k)
}

/// Linux `sendpage` without scatter-gather or checksum offload: the page-cache data is
/// copied into a normal socket buffer instead.
pub(super) fn cache_copy(k: &mut Kernel<'_>, file: FileId, off: u64, len: u64) {
    let src = k.cache_segs(file, off, len);
    k.copy_into_clusters(&src);
    k.path(
        PathNode::PageCache,
        PathNode::SocketBuffer,
        PathKind::CpuCopy,
        len,
    );
}
