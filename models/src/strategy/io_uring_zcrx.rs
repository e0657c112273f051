//! `io-uring-zcrx`: io_uring zero-copy receive into a user-registered area.
//!
//! Models Linux 6.15 `io_uring/zcrx.c` as the selftest
//! `tools/testing/selftests/drivers/net/hw/iou-zcrx.c` drives it. The application registers
//! an area of its memory and a refill ring with an RX queue (`io_register_zcrx_ifq`: the
//! pages are pinned and DMA-mapped; an ntuple rule steers the flow to that queue, and the
//! queue must split headers from data). The queue's page pool then takes its buffers from
//! the area (`io_pp_zc_alloc_netmems`): the NIC DMAs payload straight into the
//! application's pages, headers into kernel memory. A multishot `IORING_OP_RECV_ZC` walks
//! the socket's queue (`tcp_read_sock` → `io_zcrx_recv_skb`): each frag in the area becomes
//! a completion carrying its offset in the area (`io_zcrx_queue_cqe`), no byte copied; a
//! frag that is not in the area is copied into a free area chunk (`io_zcrx_copy_chunk`,
//! counted as a fallback). The application reads each completion's bytes where they lie and
//! hands the chunk back through the refill ring, from which the page pool refills.
//!
//! When the area has no free chunk as a frame lands (the application holds too many, or
//! returns them in too large batches, or the socket queue holds the whole area), the frame
//! lands in an ordinary kernel page, and the receive copies it into an area chunk once one is
//! back (`io_zcrx_copy_chunk`, the path for any frag not in the area). Real drivers may stop
//! posting buffers instead (and the NIC drop or pause); the model lands and copies, which
//! keeps the transfer going and counts what the exhaustion costs. A returned chunk goes to
//! those copies before any new frame, so the copy at the head of the socket queue always
//! gets one.
//!
//! Simplified: one area per queue, one connection per area; the completion's CQE is charged
//! as one object-cache operation (an mbuf's cost), the refill as the page pool's recycle;
//! `IO_SKBS_PER_CALL_LIMIT` (a multishot request re-queued after 20 skbs) is not modelled.
//!
//! ## Invariants
//! Every chunk of a [`ZcrxArea`] is in exactly one place: free, held by the application
//! (completed, not yet refilled), or in the network path (landed in a frame not yet
//! completed): free + held + landed = chunks ([`ZcrxArea::check_invariants`]).

use std::collections::{BTreeMap, VecDeque};

use super::{Entry, Explanation, Kernel, SourceKind, Strategy};
use crate::machine::Activity;
use crate::net::mbuf::ExtKind;
use crate::vm::{Access, MmapRequest, PAGE_SIZE, Pfn};
use crate::world::{ConnId, PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "io-uring-zcrx",
    title: "io_uring zero-copy receive into a registered area",
    origin: "Linux 6.15, 2025 (David Wei, Pavel Begunkov; Meta)",
    source: "Linux 6.15: io_uring/zcrx.c io_register_zcrx_ifq, io_pp_zc_alloc_netmems, io_zcrx_ring_refill, io_zcrx_recv_skb, io_zcrx_recv_frag, io_zcrx_queue_cqe, io_zcrx_copy_chunk; tools/testing/selftests/drivers/net/hw/iou-zcrx.c",
    steps: &[
        "setup: register an area of user memory (pinned, DMA-mapped) and a refill ring with one RX queue; flow steering sends the connection there; the queue splits headers from data",
        "the NIC DMAs each frame's payload into free area chunks (the queue's page pool allocates from the area), its headers into kernel memory",
        "io_uring_enter: the multishot RECV_ZC walks the socket queue; each frag in the area becomes a completion with its offset: no copy",
        "a frag outside the area (landed when the area had no free chunk) is copied into an area chunk: a fallback, counted",
        "the application reads each completion in place and returns its chunk through the refill ring, refill_batch at a time",
    ],
    in_flight: "Not applicable: the chunk is the application's until it returns it through the refill ring.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Receive,
    make: || Strategy::IoUringZcrx(ZcrxOptions::default()),
    options: &[
        super::OptionDoc {
            key: "zcrx_area",
            what: "bytes of application memory registered as the receive area (a multiple of 4 KiB)",
            default: "32 MiB (iou-zcrx.c's AREA_SIZE, 8192 pages)",
        },
        super::OptionDoc {
            key: "zcrx_refill_batch",
            what: "chunks the application returns through the refill ring at a time",
            default: "1 (iou-zcrx.c returns each chunk as it reads its completion)",
        },
    ],
};

/// The application's registration and refill policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZcrxOptions {
    /// Bytes of the registered area.
    pub area_bytes: u64,
    /// Chunks returned through the refill ring at a time.
    pub refill_batch: u64,
}

impl Default for ZcrxOptions {
    fn default() -> Self {
        ZcrxOptions {
            area_bytes: 8192 * PAGE_SIZE,
            refill_batch: 1,
        }
    }
}

/// A registered area: its pages, which of them are free, which the application holds. See
/// the module docs for its invariant.
#[derive(Debug)]
pub struct ZcrxArea {
    /// The area's start in the application's address space.
    base: u64,
    /// Chunk index of every page of the area.
    index: BTreeMap<Pfn, u64>,
    /// Free chunks, in the order the page pool hands them out.
    free: VecDeque<Pfn>,
    /// Chunks completed to the application and not yet returned.
    held: Vec<Pfn>,
    /// Chunks the NIC has filled that no completion has handed over yet.
    landed: u64,
    /// Frames' pages that found no free chunk and landed in kernel memory.
    pub exhausted_pages: u64,
    /// Of those, the pages not yet copied into a chunk.
    pending_copies: u64,
}

impl ZcrxArea {
    /// The page pool's next buffer from the area (`io_pp_zc_alloc_netmems`), if any is free;
    /// `None` (counted) sends the page to kernel memory. A chunk is kept back for each page
    /// that landed so and waits to be copied: the copy at the head of the socket queue
    /// always gets a returned chunk (else the reader could wait for a chunk that only frames
    /// behind that copy hold).
    pub fn take_chunk(&mut self) -> Option<Pfn> {
        let c = if self.free.len() as u64 > self.pending_copies {
            self.free.pop_front()
        } else {
            None
        };
        match c {
            Some(_) => self.landed += 1,
            None => {
                self.exhausted_pages += 1;
                self.pending_copies += 1;
            }
        }
        c
    }

    fn contains(&self, pfn: Pfn) -> bool {
        self.index.contains_key(&pfn)
    }

    /// The chunk's address in the application's address space.
    fn addr(&self, pfn: Pfn) -> u64 {
        self.base + self.index[&pfn] * PAGE_SIZE
    }

    /// Panics unless every chunk is in exactly one place (free, held or landed).
    pub fn check_invariants(&self) {
        assert_eq!(
            self.free.len() as u64 + self.held.len() as u64 + self.landed,
            self.index.len() as u64,
            "zero-copy area chunks not conserved"
        );
    }
}

/// Why the target cannot run zero-copy receive, if it cannot: registration needs the queue
/// to split headers (`tcp-data-split`) and the flow steered to it.
pub(crate) fn target_misfit(nic: &crate::net::NicConfig) -> Option<&'static str> {
    if !nic.header_split {
        return Some(
            "io_uring zero-copy receive needs a NIC that splits headers from data (target header_split = true)",
        );
    }
    if !nic.flow_steering {
        return Some(
            "io_uring zero-copy receive needs flow steering to bind the connection to the area's queue (target flow_steering = true)",
        );
    }
    None
}

/// Registration: map and pin the area, bind it to `conn`'s queue. Returns false (a failed
/// setup) if the area does not fit the address space.
pub(crate) fn setup(k: &mut Kernel<'_>, o: ZcrxOptions, conn: ConnId) -> bool {
    let asid = k.asid();
    let pin = k.config().machine.costs.loan_per_page_ns;
    let (vm, plan) = k.vm();
    let Ok(base) = vm.mmap(asid, MmapRequest::anon(o.area_bytes).writable(), plan) else {
        return false;
    };
    let mut index = BTreeMap::new();
    let mut free = VecDeque::new();
    for i in 0..o.area_bytes / PAGE_SIZE {
        // pin_user_pages: fault the page in, hold it for the device.
        let (pfn, _) = vm
            .touch(asid, base + i * PAGE_SIZE, Access::Write, plan)
            .expect("the area was just mapped writable");
        vm.kernel_ref(pfn);
        plan.cpu(Activity::Loan, pin);
        index.insert(pfn, i);
        free.push_back(pfn);
    }
    k.bind_zcrx(
        conn,
        ZcrxArea {
            base,
            index,
            free,
            held: Vec::new(),
            landed: 0,
            exhausted_pages: 0,
            pending_copies: 0,
        },
    );
    true
}

/// What one wait for completions did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RxStep {
    /// Payload bytes completed to the application (0 when it only refilled chunks).
    Received(u64),
    /// Nothing could be completed and nothing returned: the reader waits.
    Wait,
}

/// One `io_uring_enter` of the application: the multishot receive runs over what waits,
/// then the application returns chunks through the refill ring.
pub(crate) fn call(k: &mut Kernel<'_>, o: ZcrxOptions, conn: ConnId) -> RxStep {
    k.syscall();
    k.socket_work();
    let cqe_ns = k.config().stack.mbuf_ns;
    let mut received = 0;
    for p in k.rcv_pieces(conn) {
        let pfn = match &k.ext(p.ext).kind {
            ExtKind::Pages { pages } => pages[0].pfn,
            other => unreachable!("a split-header queue lands pages, not {other:?}"),
        };
        let area = k.zcrx_area().expect("the area is registered");
        if area.contains(pfn) {
            area.landed -= 1;
            area.held.push(pfn);
            k.path(
                PathNode::KernelBuffer,
                PathNode::UserBuffer,
                PathKind::Remap,
                p.len,
            );
        } else {
            // io_zcrx_copy_chunk into a free chunk (io_zcrx_alloc_fallback), or stop.
            let Some(chunk) = area.free.pop_front() else {
                break;
            };
            area.held.push(chunk);
            area.pending_copies -= 1;
            let dest = area.addr(chunk);
            super::recv_copy::receive(k, &p, dest);
            k.count_fallback(p.len);
        }
        k.plan().cpu(Activity::Protocol, cqe_ns);
        k.count_completion();
        let mut taken = Vec::new();
        k.rcv_take(conn, p.len, &mut taken);
        // The skb lets go of the page; the area's pin (and the application) keep it.
        k.unref(p.ext);
        received += p.len;
    }
    let area = k.zcrx_area().expect("the area is registered");
    // The application returns chunks a batch at a time; when the receive could take
    // nothing it returns what it holds, or it could wait for good on its own chunks.
    let flush =
        area.held.len() as u64 >= o.refill_batch || (received == 0 && !area.held.is_empty());
    if flush {
        let returned = std::mem::take(&mut area.held);
        area.free.extend(returned);
    }
    match (received, flush) {
        (0, false) => RxStep::Wait,
        (n, _) => RxStep::Received(n),
    }
}
