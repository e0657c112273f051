//! `devmem-tcp`: Linux device memory TCP, payload received straight into a peer device's
//! memory.
//!
//! Models Linux 6.12 (the first release with it; `memory_provider_ops` as in 6.15):
//! `Documentation/networking/devmem.rst`, `net/core/devmem.c` (`net_devmem_bind_dmabuf`,
//! `mp_dmabuf_devmem_alloc_netmems`, `net_devmem_alloc_dmabuf`, `net_devmem_free_dmabuf`),
//! `net/ipv4/tcp.c` (`tcp_recvmsg_dmabuf`, `tcp_xa_pool_refill`), `net/core/sock.c`
//! (`sock_devmem_dontneed`, `MAX_DONTNEED_TOKENS` 128), as the selftest
//! `tools/testing/selftests/drivers/net/hw/ncdevmem.c` drives it.
//!
//! The application binds a `dmabuf` (a buffer in a GPU's memory, say) to one RX queue over
//! netlink: the kernel carves it into page-sized `net_iov`s (a `gen_pool` of `PAGE_SIZE`
//! chunks) and makes it that queue's page-pool memory provider. Flow steering sends the
//! connection to the queue, and the queue must split headers from data (devmem.rst: "Header
//! split, flow steering, & RSS are required"). The NIC then DMAs each frame's headers into
//! host memory and its payload, peer to peer over PCIe, into `net_iov`s of the `dmabuf`: the
//! payload never crosses the host memory bus, and the kernel never reads it (the frags are
//! "unreadable", so software checksumming is impossible and the NIC must verify checksums).
//!
//! `recvmsg(MSG_SOCK_DEVMEM)` walks the socket's queue (`tcp_recvmsg_dmabuf`): for each frag
//! it allocates a token (`xa_alloc` into `sk_user_frags`), takes a reference on the
//! `net_iov`, and puts a `SCM_DEVMEM_DMABUF` cmsg (dmabuf id, offset, size, token) in the
//! control buffer: no byte is copied. The application works on the payload on the device
//! and gives the frags back with `setsockopt(SO_DEVMEM_DONTNEED)`, up to 128 tokens a call
//! (`xa_erase`, then `napi_pp_put_page`): only then does the `net_iov` return to the page
//! pool. `ncdevmem` returns each token as it reads its cmsg (one `setsockopt` per frag); the
//! `devmem_dontneed_batch` option groups them: after each `recvmsg` the application returns
//! that call's tokens in `setsockopt`s of at most this many (tokens are not held across
//! calls, so a batch larger than one call's frags changes nothing).
//!
//! When the binding has no free `net_iov` for a frame's payload, the page pool cannot
//! allocate (`mp_dmabuf_devmem_alloc_netmems` returns 0) and the driver cannot post RX
//! buffers. devmem.rst warns this "will lead to packet drops"; this model's receive path
//! never loses frames, so the frame waits in the NIC (as 802.3x flow control holds the link)
//! until tokens come back, and the report counts such frames (`device_buffer_waits`): the
//! run shows the exhaustion as an outcome and as lost throughput, never as a silent stall.
//!
//! Simplified: one binding, one queue, one connection; the application does nothing with the
//! payload on the device (ncdevmem copies it back to host memory to validate it; a GPU
//! application would launch a kernel); a frame's headers are DMAed to host memory as part of
//! the frame, their buffer allocation not charged (as for every header-split frame here);
//! a token's `xa_alloc` and cmsg, and its `xa_erase` and page-pool put, are charged as one
//! object-cache operation each (an mbuf's cost); every frag is taken whole (`tcp_recvmsg_dmabuf`
//! can stop inside a frag, handing out a second token for its rest later); a frame that
//! cannot get device buffers waits rather than being dropped and retransmitted.
//!
//! ## Invariants
//! Every `net_iov` of a [`DevmemBinding`] is in exactly one place: free, in the network path
//! (landed, no token yet), held by the application (token out), or being returned (a
//! `SO_DEVMEM_DONTNEED` under way): free + landed + held + returning = niovs
//! ([`DevmemBinding::check_invariants`]).

use std::collections::VecDeque;

use super::{Entry, Explanation, Kernel, RxStep, SourceKind, Strategy};
use crate::machine::{Activity, MachineConfig};
use crate::net::mbuf::ExtKind;
use crate::vm::PAGE_SIZE;
use crate::world::{ConnId, PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "devmem-tcp",
    title: "Linux devmem TCP: payload received into a peer device's memory (dmabuf)",
    origin: "Linux 6.12, 2024 (Mina Almasry, Willem de Bruijn, Kaiyuan Zhang; Google)",
    source: "Linux 6.12: Documentation/networking/devmem.rst; net/core/devmem.c net_devmem_bind_dmabuf, mp_dmabuf_devmem_alloc_netmems, net_devmem_alloc_dmabuf, net_devmem_free_dmabuf (as in 6.15); net/ipv4/tcp.c tcp_recvmsg_dmabuf, tcp_xa_pool_refill; net/core/sock.c sock_devmem_dontneed (MAX_DONTNEED_TOKENS 128); tools/testing/selftests/drivers/net/hw/ncdevmem.c",
    steps: &[
        "setup: bind a dmabuf in the peer device's memory to one RX queue (netlink bind-rx): it becomes the queue's page pool, page-sized net_iovs; flow steering sends the connection there; the queue splits headers from data",
        "the NIC DMAs each frame's headers into host memory and its payload, peer to peer over PCIe, into free net_iovs: the payload never crosses the host memory bus",
        "recvmsg(MSG_SOCK_DEVMEM): for each frag, a token (xa_alloc) and an SCM_DEVMEM_DMABUF cmsg with its offset in the dmabuf: no byte copied, the CPU never reads the payload",
        "the application works on the payload on the device, then returns the tokens with setsockopt(SO_DEVMEM_DONTNEED), devmem_dontneed_batch at a time (at most 128): the net_iovs go back to the page pool",
        "if the binding has no free net_iov, the driver cannot post RX buffers: the frame waits in the NIC (the kernel would drop it), counted as a device-buffer wait",
    ],
    in_flight: "Not applicable: the frag is the application's until it returns its token with SO_DEVMEM_DONTNEED.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Receive,
    make: || Strategy::DevmemTcp(DevmemOptions::default()),
    options: &[
        super::OptionDoc {
            key: "devmem_binding",
            what: "bytes of device memory bound to the RX queue as the dmabuf (a multiple of 4 KiB, at least 64 KiB, at most the target's device_memory)",
            default: "62.5 MiB (ncdevmem.c's NUM_PAGES, 16000 pages)",
        },
        super::OptionDoc {
            key: "devmem_dontneed_batch",
            what: "tokens the application returns per setsockopt(SO_DEVMEM_DONTNEED), 1 to 128",
            default: "1 (ncdevmem.c returns each frag's token as it reads its cmsg)",
        },
    ],
};

/// `ncdevmem.c`'s `NUM_PAGES`: the pages of the dmabuf it binds.
pub const NCDEVMEM_PAGES: u64 = 16_000;

/// `net/core/sock.c` `MAX_DONTNEED_TOKENS`: tokens one `SO_DEVMEM_DONTNEED` may carry.
pub const MAX_DONTNEED_TOKENS: u64 = 128;

/// The application's binding and token-return policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevmemOptions {
    /// Bytes of the dmabuf bound to the queue.
    pub binding_bytes: u64,
    /// Most tokens returned per `SO_DEVMEM_DONTNEED`; each `recvmsg`'s tokens are returned
    /// after it, never held over to the next call.
    pub dontneed_batch: u64,
}

impl Default for DevmemOptions {
    fn default() -> Self {
        DevmemOptions {
            binding_bytes: NCDEVMEM_PAGES * PAGE_SIZE,
            dontneed_batch: 1,
        }
    }
}

/// A dmabuf bound to the receive queue: which of its `net_iov`s are free, landed, held or on
/// their way back. See the module docs for its invariant.
#[derive(Debug)]
pub struct DevmemBinding {
    niovs: u64,
    /// Free `net_iov`s, in the order the `gen_pool` hands them out: those never handed out
    /// (`fresh..niovs`, first), then those returned, oldest first. A cursor, so a binding of
    /// many GiB costs memory only for what has been used.
    fresh: u64,
    recycled: VecDeque<u64>,
    /// `net_iov`s the NIC has filled that no `recvmsg` has handed out yet.
    landed: u64,
    /// `net_iov`s whose tokens the application holds.
    held: Vec<u64>,
    /// `net_iov`s whose tokens a `SO_DEVMEM_DONTNEED` under way returns: free once it ends.
    returning: Vec<u64>,
    /// Frames that found too few free `net_iov`s for their payload and waited in the NIC.
    pub waits: u64,
}

impl DevmemBinding {
    fn new(niovs: u64) -> Self {
        DevmemBinding {
            niovs,
            fresh: 0,
            recycled: VecDeque::new(),
            landed: 0,
            held: Vec::new(),
            returning: Vec::new(),
            waits: 0,
        }
    }

    /// Whether `pages` free `net_iov`s are there for a frame's payload.
    pub fn has_free(&self, pages: u64) -> bool {
        self.free() >= pages
    }

    fn free(&self) -> u64 {
        self.niovs - self.fresh + self.recycled.len() as u64
    }

    /// The page pool's next buffer (`net_devmem_alloc_dmabuf`). Panics if none is free: the
    /// receive path checks [`DevmemBinding::has_free`] before landing a frame.
    pub fn take(&mut self) -> u64 {
        let niov = if self.fresh < self.niovs {
            self.fresh += 1;
            self.fresh - 1
        } else {
            self.recycled
                .pop_front()
                .expect("a frame lands only with free net_iovs")
        };
        self.landed += 1;
        niov
    }

    /// The `SO_DEVMEM_DONTNEED` calls under way have ended: their `net_iov`s are free again.
    pub fn settle_returns(&mut self) {
        self.recycled.extend(self.returning.drain(..));
    }

    /// Panics unless every `net_iov` is in exactly one place.
    pub fn check_invariants(&self) {
        assert_eq!(
            self.free() + self.landed + self.held.len() as u64 + self.returning.len() as u64,
            self.niovs,
            "dmabuf net_iovs not conserved"
        );
    }
}

/// Why the target cannot run devmem TCP, if it cannot: the queue must split headers from
/// data and have the flow steered to it (devmem.rst, "NIC Setup"), and the NIC must verify
/// checksums, since the kernel cannot read the payload to do it ("Software checksum
/// calculation fails").
pub(crate) fn target_misfit(nic: &crate::net::NicConfig) -> Option<&'static str> {
    if !nic.header_split {
        return Some(
            "devmem TCP needs a NIC that splits headers (to host memory) from payload (to device memory) (target header_split = true)",
        );
    }
    if !nic.flow_steering {
        return Some(
            "devmem TCP needs flow steering to bind the connection to the dmabuf's queue (target flow_steering = true)",
        );
    }
    if !nic.checksum_offload {
        return Some(
            "devmem TCP needs the NIC to verify checksums: the kernel cannot read payload in device memory (target checksum_offload = true)",
        );
    }
    None
}

/// Why the machine cannot: it has no peer device memory, or less than the binding.
pub(crate) fn machine_misfit(o: DevmemOptions, m: &MachineConfig) -> Option<String> {
    match m.device_memory {
        None => Some(
            "devmem TCP needs a peer device's memory to bind a dmabuf in (target device_memory > 0, e.g. preset gpu-server-2024)"
                .into(),
        ),
        Some(d) if d.capacity_bytes < o.binding_bytes => Some(format!(
            "the dmabuf binding ({} bytes) is larger than the device memory ({} bytes)",
            o.binding_bytes, d.capacity_bytes
        )),
        Some(_) => None,
    }
}

/// Binding: the netlink `bind-rx` call carves the dmabuf into `net_iov`s (each initialised
/// with its DMA address) and installs it as `conn`'s queue's memory provider. Returns false
/// (a failed setup) if the binding has fewer `net_iov`s than one segment's payload needs.
pub(crate) fn setup(k: &mut Kernel<'_>, o: DevmemOptions, conn: ConnId) -> bool {
    let niovs = o.binding_bytes / PAGE_SIZE;
    if niovs < k.config().link.mss().div_ceil(PAGE_SIZE) {
        return false;
    }
    k.syscall();
    k.socket_work();
    let init = k.config().stack.mbuf_ns * niovs;
    k.plan().cpu(Activity::Protocol, init);
    k.bind_devmem(conn, DevmemBinding::new(niovs));
    true
}

/// One `recvmsg(MSG_SOCK_DEVMEM)` of at most `read_size` bytes, then the
/// `SO_DEVMEM_DONTNEED` calls that return its tokens.
pub(crate) fn call(k: &mut Kernel<'_>, o: DevmemOptions, conn: ConnId, read_size: u64) -> RxStep {
    k.syscall();
    k.socket_work();
    let token_ns = k.config().stack.mbuf_ns;
    // Whole frags up to read_size (at least one): each a token and a cmsg.
    let mut len = 0;
    let mut niovs = Vec::new();
    for p in k.rcv_pieces(conn) {
        if len > 0 && len + p.len > read_size {
            break;
        }
        let niov = match k.ext(p.ext).kind {
            ExtKind::DeviceMem { niov } => niov,
            ref other => unreachable!("a devmem queue lands payload in net_iovs, not {other:?}"),
        };
        niovs.push((niov, p.ext));
        len += p.len;
    }
    let mut taken = Vec::new();
    let split = k.rcv_take(conn, len, &mut taken);
    debug_assert!(!split, "devmem receives whole frags");
    for &(niov, ext) in &niovs {
        // tcp_xa_pool_refill (xa_alloc), the niov's reference, put_cmsg: no byte copied.
        k.plan().cpu(Activity::Protocol, token_ns);
        k.count_completion();
        // The skb lets go of the frag; the token keeps the net_iov.
        k.unref(ext);
        let b = k.devmem_binding().expect("the dmabuf is bound");
        b.landed -= 1;
        b.held.push(niov);
    }
    k.path(
        PathNode::DeviceMemory,
        PathNode::UserBuffer,
        PathKind::Reference,
        len,
    );
    // SO_DEVMEM_DONTNEED, a batch of tokens a call: xa_erase and napi_pp_put_page each.
    let batch = o.dontneed_batch.clamp(1, MAX_DONTNEED_TOKENS);
    let held = {
        let b = k.devmem_binding().expect("the dmabuf is bound");
        std::mem::take(&mut b.held)
    };
    for chunk in held.chunks(batch as usize) {
        k.syscall();
        k.plan()
            .cpu(Activity::Protocol, token_ns * chunk.len() as u64);
    }
    let b = k.devmem_binding().expect("the dmabuf is bound");
    b.returning.extend(held);
    RxStep::Received(len)
}
