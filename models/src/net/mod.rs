//! The network path: mbufs with external storage, socket buffers, TCP, the driver, the NIC's
//! DMA rings and the link.
//!
//! This module holds the state and the arithmetic; [`crate::world::World`] drives it in
//! simulated time. Submodules:
//!
//! | module | what it holds |
//! |---|---|
//! | [`mbuf`] | external storage with reference counts, `m_copy`, release on last reference |
//! | [`sockbuf`] | the send buffer (data referenced until ACKed) and the receive buffer |
//! | [`tcp`] | sender and receiver sequence state: segmentation, window, ACKs, loss, RTO |
//!
//! ## Wire arithmetic (DESIGN section 3)
//! A TCP segment of `p` payload bytes is an IP packet of `p + 40` bytes (`p + 52` with TCP
//! timestamps), the MSS is the MTU minus that header, and on Ethernet the frame occupies
//! `max(14 + ip + 4, 64) + 8 + 12` bytes of wire time: header, FCS, minimum frame, preamble
//! and inter-frame gap. The payload limit of a link is therefore
//! `rate × mss / (mss + header + 38)`; see [`LinkConfig::payload_limit_bytes_per_sec`].

pub mod mbuf;
pub mod nic;
pub mod sockbuf;
pub mod tcp;

use sim::{ByteRate, SimDuration};

/// Ethernet header bytes.
pub const ETHER_HEADER: u64 = 14;
/// Ethernet frame check sequence bytes.
pub const ETHER_FCS: u64 = 4;
/// Preamble + start-of-frame delimiter bytes.
pub const ETHER_PREAMBLE: u64 = 8;
/// Minimum inter-frame gap, in byte times.
pub const ETHER_GAP: u64 = 12;
/// Minimum Ethernet frame (header + payload + FCS).
pub const ETHER_MIN_FRAME: u64 = 64;
/// IPv4 + TCP headers without options.
pub const TCPIP_HEADER: u64 = 40;
/// IPv6 + TCP headers without options (the IPv6 header is 40 bytes, IPv4's 20).
pub const TCPIP6_HEADER: u64 = 60;
/// TCP timestamp option, padded.
pub const TCP_TIMESTAMP_OPTION: u64 = 12;

/// What carries the packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// A point-to-point Ethernet link to an ideal peer.
    Ethernet {
        /// Line rate (100 Mb/s = 12.5 MB/s).
        rate: ByteRate,
    },
    /// No wire: the receiving socket is on the same machine, and its `recv()` competes for the
    /// same CPUs and bus.
    Loopback,
}

/// The link and what TCP sees of it.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    pub kind: LinkKind,
    /// IP MTU, bytes (1500 standard, 9000 jumbo; loopback 16436 on Linux).
    pub mtu_bytes: u64,
    /// TCP timestamps on (RFC 1323): 12 more header bytes per segment.
    pub tcp_timestamps: bool,
    /// The connection runs over IPv6: 20 more header bytes per segment than IPv4 (the
    /// 4168-byte MTU of `tcp_mmap` is 4096 of payload + 40 of IPv6 + 32 of TCP with
    /// timestamps).
    pub ipv6: bool,
    /// Round-trip time excluding serialization: a segment's ACK arrives this long after the
    /// segment leaves the wire.
    pub rtt: SimDuration,
    /// Probability each data segment is lost on the wire, in `[0, 1)`.
    pub loss: f64,
}

impl LinkConfig {
    /// IP + TCP header bytes per segment.
    pub fn header_bytes(&self) -> u64 {
        (if self.ipv6 {
            TCPIP6_HEADER
        } else {
            TCPIP_HEADER
        }) + if self.tcp_timestamps {
            TCP_TIMESTAMP_OPTION
        } else {
            0
        }
    }

    /// Maximum segment payload.
    pub fn mss(&self) -> u64 {
        self.mtu_bytes - self.header_bytes()
    }

    /// Bytes of wire time a segment of `payload` bytes occupies (0 on loopback).
    pub fn wire_bytes(&self, payload: u64) -> u64 {
        match self.kind {
            LinkKind::Loopback => 0,
            LinkKind::Ethernet { .. } => {
                let frame =
                    (ETHER_HEADER + self.header_bytes() + payload + ETHER_FCS).max(ETHER_MIN_FRAME);
                frame + ETHER_PREAMBLE + ETHER_GAP
            }
        }
    }

    /// The most payload per second full-size segments can carry (`None` on loopback).
    pub fn payload_limit_bytes_per_sec(&self) -> Option<f64> {
        match self.kind {
            LinkKind::Loopback => None,
            LinkKind::Ethernet { rate } => Some(
                rate.bytes_per_sec() as f64 * self.mss() as f64
                    / self.wire_bytes(self.mss()) as f64,
            ),
        }
    }
}

/// The network interface.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NicConfig {
    /// TX descriptors; a packet takes one per fragment.
    pub tx_ring_slots: u32,
    /// RX descriptors (posted buffers).
    pub rx_ring_slots: u32,
    /// The DMA engine's own rate cap (e.g. 32-bit/33 MHz PCI ≈ 132 MB/s); `None` = bus only.
    pub dma_rate: Option<ByteRate>,
    /// Scatter-gather DMA: a packet may be several fragments.
    pub scatter_gather: bool,
    /// Fragments a packet may have (header included) when scatter-gather is on.
    pub max_frags: u32,
    /// The NIC computes TCP checksums.
    pub checksum_offload: bool,
    /// Receive header splitting: payload lands page-aligned in its own page.
    pub header_split: bool,
    /// TX completions per interrupt (interrupt coalescing); at least 1.
    pub tx_coalesce: u32,
    /// TCP segmentation offload (Linux TSO/GSO): `tcp_output` hands the NIC super-packets of
    /// up to [`GSO_MAX_BYTES`] and the NIC cuts them into MSS frames on the wire, so the
    /// stack's per-packet work is paid once per super-packet (Ethernet only).
    pub tso: bool,
    /// Receive coalescing (Linux GRO, or LRO in the NIC): in-order frames of one flow that
    /// one interrupt's poll finds are merged into one skb of up to [`GRO_MAX_BYTES`] before
    /// `tcp_input`, which then runs once per merged skb. The payload stays where the NIC put
    /// it (the merged skb's frags are the frames' pages).
    pub gro: bool,
    /// Flow steering (ethtool ntuple rules): a flow's frames can be directed to one RX queue,
    /// which io_uring zero-copy receive and devmem TCP bind their memory to.
    pub flow_steering: bool,
    /// The driver refills its RX ring from a page pool (`net/core/page_pool.c`): a recycled
    /// page is a per-CPU cache pop (charged as one mbuf operation) instead of a page
    /// allocation.
    pub page_pool: bool,
}

/// Largest skb GRO builds (`GRO_LEGACY_MAX_SIZE`, 64 KiB; BIG TCP's larger `gro_max_size`
/// is not modelled).
pub const GRO_MAX_BYTES: u64 = 65_536;

/// Largest super-packet TSO hands the NIC (Linux `GSO_MAX_SIZE`, 64 KiB; `gso_max_size`
/// per device since 5.19, with BIG TCP above it, not modelled).
pub const GSO_MAX_BYTES: u64 = 65_536;

/// The page frags Linux `tcp_sendmsg` copies into when the device does scatter-gather
/// (`sk_page_frag`, order-3 pages: `SKB_FRAG_PAGE_ORDER`, 32 KiB): a copied super-packet is a
/// few frags, not one per 2 KiB cluster.
pub const SKB_FRAG_PAGE_BYTES: u64 = 32 << 10;

/// The payload lengths of the frames a (super-)packet of `len` bytes becomes on the wire:
/// MSS-sized frames and a shorter tail.
pub fn frames_of(len: u64, mss: u64) -> impl Iterator<Item = u64> {
    let mss = mss.max(1);
    (0..len.div_ceil(mss)).map(move |i| mss.min(len - i * mss))
}

/// TCP and socket-buffer settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TcpConfig {
    /// Send buffer high-water mark (`SO_SNDBUF`), bytes.
    pub send_buffer_bytes: u64,
    /// Receive buffer high-water mark (`SO_RCVBUF`), bytes.
    pub recv_buffer_bytes: u64,
    /// Send window (the peer's advertised window), bytes.
    pub window_bytes: u64,
    /// The receiver ACKs every this many in-order segments (2 = delayed ACKs).
    pub ack_every: u32,
    /// An odd segment is ACKed after at most this long.
    pub delayed_ack: SimDuration,
    /// The smallest retransmission timeout (BSD and Linux: 200 ms); the timer otherwise
    /// follows the measured round trip, doubling per expiry.
    pub rto: SimDuration,
    /// The congestion window at the start, in segments (2 in RFC 2581, 2002; 10 in
    /// current Linux).
    pub initial_window_segments: u32,
    /// Slow start, congestion avoidance and fast recovery; off, only the peer's window
    /// limits the sender.
    pub congestion_control: bool,
    /// `TCP_NODELAY`: short segments leave at once (no Nagle).
    pub nodelay: bool,
    /// Which Nagle rule holds short segments when `nodelay` is off: the BSDs' or Linux's
    /// (Minshall's variant).
    pub nagle: tcp::NagleRule,
}

/// CPU costs of the network stack, ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackCosts {
    /// `tcp_output` per segment built (header, options, bookkeeping), ns.
    pub tcp_output_per_segment_ns: u64,
    /// `tcp_input` per data segment received, ns.
    pub tcp_input_per_segment_ns: u64,
    /// `tcp_input` per ACK processed (including `sbdrop`), ns.
    pub tcp_ack_ns: u64,
    /// Driver: mapping one fragment onto a descriptor, ns.
    pub driver_per_frag_ns: u64,
    /// Interrupt entry and exit, ns.
    pub interrupt_ns: u64,
    /// TX completion work per packet (descriptor reclaim, `m_freem`), ns.
    pub tx_complete_per_packet_ns: u64,
    /// Allocating or freeing one mbuf or cluster, ns.
    pub mbuf_ns: u64,
    /// Socket-layer work per `send`/`recv` chunk (`sosend`, `soreceive` bookkeeping), ns.
    pub socket_per_chunk_ns: u64,
}

/// Counters the report reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetCounters {
    /// TCP segments built, retransmissions included.
    pub segments: u64,
    pub retransmits: u64,
    /// Frames that reached the wire (or the loopback peer).
    pub packets: u64,
    /// Segments lost on the wire.
    pub lost: u64,
    /// Interrupts taken (TX completion and RX).
    pub interrupts: u64,
    /// ACKs processed by the sender.
    pub acks: u64,
    /// ACKs the receiving end sent only because its delayed-ACK timer ran out.
    pub delayed_acks: u64,
    /// Packets the driver had to coalesce into one buffer (no scatter-gather, or too many
    /// fragments), and the payload bytes it copied doing so.
    pub coalesced_packets: u64,
    pub coalesce_copy_bytes: u64,
    /// Payload bytes that left through the NIC by DMA.
    pub tx_dma_bytes: u64,
    /// Payload bytes the NIC DMAed into memory on receive.
    pub rx_dma_bytes: u64,
    /// Pages whose content at DMA (or coalescing copy) time was not what `write()` promised,
    /// and the payload bytes they carried.
    pub splats: u64,
    pub corrupt_bytes: u64,
    /// Times a writer blocked on a full send buffer.
    pub send_blocks: u64,
    /// Times `tcp_output` stopped because the TX ring was full.
    pub ring_full_stalls: u64,
    /// Retransmissions started by three duplicate ACKs.
    pub fast_retransmits: u64,
    /// Retransmission timer expiries.
    pub rto_timeouts: u64,
    /// ACKs a receiver sent because a read opened its window (or emptied its buffer with an
    /// ACK pending), not because data arrived.
    pub window_updates: u64,
    /// Received frames that found too few posted RX descriptors and waited in the NIC
    /// (802.3x flow control holds the link meanwhile) until the driver replenished the ring.
    pub rx_ring_full: u64,
    /// Receive side: pages flipped into the reader's address space, and received pages that
    /// a flipping receiver had to copy because a condition did not hold.
    pub page_flips: u64,
    pub flip_fallbacks: u64,
    /// Receive side, the other rooms: pages mapped into the reader (`TCP_ZEROCOPY_RECEIVE`),
    /// completions handing the reader payload in place (io_uring zero-copy receive).
    pub pages_mapped: u64,
    pub rx_completions: u64,
    /// Payload bytes copied to a reader (every copying receive, fallbacks included).
    pub rx_copied_bytes: u64,
    /// Copies a zero-copy receive made because its path could not take the data (a
    /// straggler that fills no page, an exhausted area), and the bytes they copied (page
    /// flipping's fallbacks, counted in `flip_fallbacks`, add their bytes here too).
    pub rx_fallbacks: u64,
    pub rx_fallback_bytes: u64,
}
