//! `tcp-zerocopy-receive`: Linux maps received pages into the reader's address space.
//!
//! Models Linux 6.6 `net/ipv4/tcp.c`: `tcp_mmap` (the reader `mmap`s the socket, read-only,
//! reserving a VMA with no pages), then `getsockopt(TCP_ZEROCOPY_RECEIVE)` →
//! `tcp_zerocopy_receive`, as the reference reader `tools/testing/selftests/net/tcp_mmap.c`
//! drives it (`SO_RCVLOWAT` of one chunk, then one call per chunk, `read()` of whatever
//! `recv_skip_hint` names).
//!
//! One call: the kernel looks the VMA up (`vma_lookup`), takes `avail = min(vma length,
//! tcp_inq)` rounded down to whole pages, zaps that range (`zap_page_range_single`: the pages
//! the previous call mapped are unmapped and freed, and the TLB is flushed), then walks the
//! receive queue's frags. A frag maps only if it is exactly one page at offset 0
//! (`can_map_frag`); such pages are inserted with `vm_insert_pages` in batches of
//! `TCP_ZEROCOPY_PAGE_BATCH_SIZE` (32). At the first frag that does not fill a page the walk
//! stops and `recv_skip_hint` says how many bytes come before the next mappable frag
//! (`find_next_mappable_frag`); the kernel copies up to `copybuf_len` of them into the
//! caller's copy buffer (`tcp_zc_handle_leftover`), and the reader `read()`s the rest. Less
//! than a page waiting is not mapped at all (`inq < PAGE_SIZE`: the hint is all of it), and
//! with a copy buffer at least as large as what waits, the call copies it all
//! (`receive_fallback_to_copy`).
//!
//! So only payload the NIC put page-aligned, a page per frag, maps: with header split and a
//! 4096-byte MSS (MTU 4168 over IPv6 with timestamps) every page; with a 9000-byte MTU
//! (8948-byte segments) two pages per segment and 756 bytes copied; with MTU 1500 (1448-byte
//! segments, each alone in its page) nothing, and everything is copied; without header split
//! (a frame in one contiguous buffer) nothing either.
//!
//! Simplified: a received frame's pages are one "skb" each, so the hint runs to the next
//! mappable piece across frames (the kernel stops at an skb's end and reads on in the next
//! call); the application neither reads the mapped pages nor `madvise`s them away (the next
//! call's zap does); the per-CPU page-table lock contention the kernel avoids with aligned
//! VMAs (`map_align`) is not modelled.

use super::{Entry, Explanation, Kernel, SourceKind, Strategy};
use crate::net::mbuf::{Ext, ExtKind};
use crate::net::sockbuf::Piece;
use crate::vm::{MmapRequest, PAGE_SIZE, Pfn};
use crate::world::{ConnId, PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "tcp-zerocopy-receive",
    title: "Linux TCP_ZEROCOPY_RECEIVE: received pages mapped into the reader",
    origin: "Linux 4.18, 2018 (Eric Dumazet, Google): tcp_mmap, then getsockopt(TCP_ZEROCOPY_RECEIVE); vm_insert_pages batches and the copy buffer by Arjun Roy, 2020",
    source: "Linux 6.6: net/ipv4/tcp.c tcp_mmap, tcp_zerocopy_receive, tcp_zerocopy_vm_insert_batch, find_next_mappable_frag, tcp_zc_handle_leftover, receive_fallback_to_copy; mm/memory.c vm_insert_pages, zap_page_range_single; tools/testing/selftests/net/tcp_mmap.c",
    steps: &[
        "setup: mmap() of the socket reserves a read-only VMA (tcp_mmap refuses a writable one); SO_RCVLOWAT of one chunk, so the reader wakes with a chunk waiting",
        "getsockopt(TCP_ZEROCOPY_RECEIVE): find the VMA; zap the range about to be mapped (the previous call's pages are unmapped and freed, the TLB flushed)",
        "walk the receive queue: each frag that is exactly one page at offset 0 is inserted into the VMA, vm_insert_pages 32 at a time; the skb is freed, the page lives on in the mapping",
        "at the first frag that fills no page, recv_skip_hint says how many bytes to copy: the kernel copies them into the copy buffer if the caller gave one, else the reader read()s them",
        "a header-splitting NIC with an MSS of a whole page (MTU 4168 over IPv6 with timestamps) makes every page mappable; at MTU 1500 nothing is",
    ],
    in_flight: "Not applicable: the mapped pages are the reader's, read-only, until its next call zaps them.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Receive,
    make: || Strategy::TcpZerocopyReceive(TcpZcOptions::default()),
    options: &[super::OptionDoc {
        key: "tcp_zc_copybuf",
        what: "bytes of copy buffer the reader passes (copybuf_len): stragglers up to this are copied in the same call, instead of by a read()",
        default: "0 (tcp_mmap.c passes none and read()s the hint)",
    }],
};

/// `TCP_ZEROCOPY_RECEIVE`'s batch: pages per `vm_insert_pages` call.
pub const TCP_ZEROCOPY_PAGE_BATCH: usize = 32;

/// The reader's choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpZcOptions {
    /// `copybuf_len`: stragglers up to this many bytes are copied by the call itself.
    pub copybuf_bytes: u64,
}

/// What a zero-copy reader carries between calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpZcState {
    /// The socket's VMA (`tcp_mmap`) and its length.
    vma: u64,
    vma_len: u64,
    /// `recv_skip_hint` of the last call: bytes the reader must `read()` before mapping on.
    skip: u64,
    /// The copy buffer (`copybuf_address`): the reader's own anonymous buffer of
    /// `copybuf_len` bytes, apart from its `read()` buffer; 0 when it passes none.
    copybuf: u64,
}

/// Whether `piece` of storage `ext` is a frag `can_map_frag` accepts: exactly one page at
/// offset 0, taken whole.
pub fn can_map(ext: &Ext, piece: &Piece) -> bool {
    matches!(&ext.kind, ExtKind::Pages { pages } if pages.len() == 1)
        && ext.offset_in_first_page == 0
        && piece.off == 0
        && piece.len == PAGE_SIZE
        && ext.len == PAGE_SIZE
}

/// Setup: `mmap()` of the socket, a read-only VMA of `read_size` rounded up to pages (the
/// reader's chunk), and the copy buffer if the reader passes one (its pages fault in when
/// first written). Returns `None` (a failed setup) if either does not fit.
pub(crate) fn setup(k: &mut Kernel<'_>, o: TcpZcOptions, read_size: u64) -> Option<TcpZcState> {
    let asid = k.asid();
    let len = read_size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let (vm, plan) = k.vm();
    let vma = vm.mmap(asid, MmapRequest::anon(len), plan).ok()?;
    let copybuf = if o.copybuf_bytes > 0 {
        let bytes = o.copybuf_bytes.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        vm.mmap(asid, MmapRequest::anon(bytes).writable(), plan)
            .ok()?
    } else {
        0
    };
    Some(TcpZcState {
        vma,
        vma_len: len,
        skip: 0,
        copybuf,
    })
}

/// The reader is woken with at least this much waiting: `SO_RCVLOWAT` of one chunk, as
/// `tcp_mmap.c` sets it (Linux caps it at half the receive buffer), or less at the end.
/// With a hint pending it reads whatever is there.
pub(crate) fn lowat(st: &TcpZcState, read_size: u64, rcvbuf: u64, left: u64) -> u64 {
    if st.skip > 0 {
        1
    } else {
        read_size.min(rcvbuf / 2).min(left).max(1)
    }
}

/// One call of the reader: a `read()` of a pending hint into `buf` (the reader's buffer of
/// `read_size` bytes), else one `getsockopt`, which copies what it copies into the copy
/// buffer. Returns the payload bytes consumed.
pub(crate) fn call(
    k: &mut Kernel<'_>,
    st: &mut TcpZcState,
    o: TcpZcOptions,
    conn: ConnId,
    buf: u64,
    read_size: u64,
) -> u64 {
    k.syscall();
    k.socket_work();
    if st.skip > 0 {
        // read(fd, buffer, min(recv_skip_hint, chunk)): a plain copying receive.
        let want = st.skip.min(read_size);
        let got = copy_out(k, conn, buf, want);
        st.skip -= got;
        k.count_fallback(got);
        return got;
    }
    let inq = k.rcv_bytes(conn);
    if inq > 0 && inq <= o.copybuf_bytes {
        // receive_fallback_to_copy: what waits fits the copy buffer; copy it all.
        let got = copy_out(k, conn, st.copybuf, inq);
        k.count_fallback(got);
        return got;
    }
    if inq < PAGE_SIZE {
        st.skip = inq;
        return 0;
    }
    let asid = k.asid();
    {
        let (vm, plan) = k.vm();
        vm.find_vma(asid, st.vma, plan)
            .expect("the socket's VMA is mapped");
    }
    let to_map = st.vma_len.min(inq) / PAGE_SIZE * PAGE_SIZE;
    {
        let (vm, plan) = k.vm();
        vm.zap_range(asid, st.vma, to_map, plan);
    }
    // Walk the queue: mappable pages up to `to_map`, stopping at the first straggler.
    let pieces = k.rcv_pieces(conn);
    let mut pfns: Vec<Pfn> = Vec::new();
    let mut stop = None;
    for (i, p) in pieces.iter().enumerate() {
        if (pfns.len() as u64 + 1) * PAGE_SIZE > to_map {
            break;
        }
        if !can_map(k.ext(p.ext), p) {
            stop = Some(i);
            break;
        }
        pfns.push(single_page(k.ext(p.ext)));
    }
    for (i, batch) in pfns.chunks(TCP_ZEROCOPY_PAGE_BATCH).enumerate() {
        let at = st.vma + (i * TCP_ZEROCOPY_PAGE_BATCH) as u64 * PAGE_SIZE;
        let (vm, plan) = k.vm();
        vm.insert_pages(asid, at, batch, plan)
            .expect("the socket's VMA covers the mapped range");
    }
    let mapped = pfns.len() as u64;
    if mapped > 0 {
        let mut taken = Vec::new();
        k.rcv_take(conn, mapped * PAGE_SIZE, &mut taken);
        for p in &taken {
            // The skb is freed (tcp_recv_skb eats it); the page lives on in the mapping.
            k.unref(p.ext);
        }
        k.count_mapped(mapped);
        k.path(
            PathNode::KernelBuffer,
            PathNode::UserBuffer,
            PathKind::Remap,
            mapped * PAGE_SIZE,
        );
    }
    // recv_skip_hint: the bytes before the next mappable frag.
    if let Some(i) = stop {
        st.skip = pieces[i..]
            .iter()
            .take_while(|p| !can_map(k.ext(p.ext), p))
            .map(|p| p.len)
            .sum();
        let copylen = st.skip.min(o.copybuf_bytes);
        if copylen > 0 {
            // tcp_zc_handle_leftover → tcp_copy_straggler_data, into the copy buffer.
            let got = copy_out(k, conn, st.copybuf, copylen);
            st.skip -= got;
            k.count_fallback(got);
            return mapped * PAGE_SIZE + got;
        }
    }
    mapped * PAGE_SIZE
}

fn single_page(ext: &Ext) -> Pfn {
    match &ext.kind {
        ExtKind::Pages { pages } => pages[0].pfn,
        other => unreachable!("can_map accepted {other:?}"),
    }
}

/// Copies up to `want` bytes from the front of the queue into the reader's buffer at `buf`.
fn copy_out(k: &mut Kernel<'_>, conn: ConnId, buf: u64, want: u64) -> u64 {
    let mut taken = Vec::new();
    let split = k.rcv_take(conn, want, &mut taken);
    let mut off = 0;
    let n = taken.len();
    for (i, p) in taken.iter().enumerate() {
        super::recv_copy::receive(k, p, buf + off);
        off += p.len;
        if !(split && i == n - 1) {
            k.unref(p.ext);
        }
    }
    off
}
