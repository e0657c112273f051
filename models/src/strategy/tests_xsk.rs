//! The `af-xdp` room (issue 17 item 3), checked from first principles.

use super::tests_modern::go;
use super::*;
use crate::testkit::wire_bound_world;
use crate::workload::Workload;
use crate::world::WorldConfig;

/// Ethernet at `rate_bits`, no DMA cap, the test kit's round-number costs.
fn wire(rate_bits: u64) -> WorldConfig {
    let mut c = wire_bound_world(rate_bits, 1500, true);
    c.nic.dma_rate = None;
    c
}

/// `total` bytes as raw frames of `frame` bytes.
fn frames(total: u64, frame: u64) -> Workload {
    Workload::BulkReceive {
        total_bytes: total,
        read_size: 64 << 10,
        buffer_offset: 0,
        segment_bytes: frame,
    }
}

/// A small UMEM (64 chunks of 2 KiB: 32 pages) so the registration's cost is easy to
/// subtract.
fn xsk(mode: XskMode) -> XskOptions {
    XskOptions {
        mode,
        chunk_bytes: 2048,
        umem_chunks: 64,
        fill_ring: 64,
        ..XskOptions::default()
    }
}

fn bus(r: &crate::report::RunReport, what: &str) -> u64 {
    r.breakdown.bus_bytes.get(what).copied().unwrap_or(0)
}

/// Registering the 64 × 2 KiB UMEM faults in and zero-fills its 32 pages: 32 × 4096 =
/// 131,072 bus bytes that are not payload.
const UMEM_ZERO: u64 = 32 * 4096;

#[test]
fn zero_copy_moves_each_byte_across_the_bus_once() {
    // 100 frames of 1500 B on 1 Gb/s: one every (1504 + 20) × 8 = 12.2 us, while the host
    // spends at most a few microseconds on each (an interrupt of 1 us, the poll's 300 ns,
    // a 1 us poll() per batch), so nothing is dropped and all 150,000 bytes arrive. The NIC
    // DMAs each frame straight into its UMEM chunk: DMA bus bytes = 150,000 (no TCP/IP
    // header, no ACK: the frame is the payload), no copy at all, and the only other bus
    // traffic is the UMEM's zero-fill at registration. So each payload byte crosses the
    // host memory bus exactly once.
    let total = 100 * 1500;
    let r = go(
        &wire(1_000_000_000),
        &frames(total, 1500),
        Strategy::AfXdp(xsk(XskMode::ZeroCopy)),
    );
    let rx = r.receive.as_ref().expect("a receive report");
    assert_eq!(r.payload_bytes, total);
    assert_eq!(rx.frames_dropped, 0);
    assert_eq!(rx.completions, 100, "one RX descriptor per frame");
    assert_eq!(rx.copied_bytes, 0);
    assert_eq!(r.copies.cpu_copy_bytes, 0);
    assert_eq!(bus(&r, "dma"), total);
    assert_eq!(bus(&r, "copy"), 0);
    assert_eq!(r.copies.bus_bytes - UMEM_ZERO, total);
}

#[test]
fn copy_mode_moves_each_byte_across_the_bus_three_times() {
    // The same 100 frames in copy mode: the NIC DMAs each into a driver buffer (150,000 bus
    // bytes written), then __xsk_rcv copies it into a UMEM chunk: a CPU copy reads and
    // writes each byte (the test kit does not write-allocate), 2 × 150,000 = 300,000 bus
    // bytes. DMA + copy = 450,000 = 3 × the payload; with the UMEM's zero-fill that is all.
    let total = 100 * 1500;
    let r = go(
        &wire(1_000_000_000),
        &frames(total, 1500),
        Strategy::AfXdp(xsk(XskMode::Copy)),
    );
    let rx = r.receive.as_ref().expect("a receive report");
    assert_eq!(r.payload_bytes, total);
    assert_eq!(rx.frames_dropped, 0);
    assert_eq!(rx.copied_bytes, total);
    assert_eq!(r.copies.cpu_copy_bytes, total);
    assert_eq!(bus(&r, "dma"), total);
    assert_eq!(bus(&r, "copy"), 2 * total);
    assert_eq!(r.copies.bus_bytes - UMEM_ZERO, 3 * total);
}

#[test]
fn fill_ring_empty_drops_are_counted_not_stalled() {
    // 1000 frames of 60 B on 10 Gb/s arrive every (64 + 20) × 0.8 = 67.2 ns, while the
    // poll alone spends 300 ns of the one CPU on each (driver 100, XDP run 50, refill 50,
    // chunk and RX descriptor 2 × 50): the host cannot keep up. With a UMEM of 8 chunks all
    // on FILL, at most 8 frames are between the NIC and the application, so frames find
    // FILL empty and are dropped: that is the only cause (8 frames never fill a 256-slot
    // hardware ring or a 2048-entry RX ring). Every frame is accounted for: received +
    // dropped = 1000, and the run finishes rather than stalling.
    let o = XskOptions {
        umem_chunks: 8,
        fill_ring: 8,
        ..xsk(XskMode::ZeroCopy)
    };
    let r = go(
        &wire(10_000_000_000),
        &frames(1000 * 60, 60),
        Strategy::AfXdp(o),
    );
    let rx = r.receive.as_ref().expect("a receive report");
    assert!(rx.frames_dropped > 0, "the host kept up: {rx:?}");
    assert_eq!(rx.fill_ring_empty_drops, rx.frames_dropped);
    assert_eq!(rx.rx_ring_full_drops + rx.nic_ring_full_drops, 0);
    assert_eq!(rx.completions + rx.frames_dropped, 1000);
    assert_eq!(r.payload_bytes, rx.completions * 60);
    assert!(r.outcome.stalled.is_none());
}

#[test]
fn a_full_rx_ring_drops_the_frame_and_its_chunk_goes_back_to_the_pool() {
    // A one-entry RX ring and frames faster than the host: a frame whose poll finds RX
    // holding a descriptor the application has not taken is dropped (rx_queue_full), and its
    // chunk goes to the kernel pool's free list (xsk_buff_free), not to FILL, which the
    // application keeps topped up from its 56 spare chunks (64 in the UMEM, 8 on FILL). Had
    // it gone back on FILL, FILL would hold 9 with room for 8, which `check_invariants`
    // (run after every event by `go`) refuses. Every frame is still accounted for.
    let o = XskOptions {
        umem_chunks: 64,
        fill_ring: 8,
        rx_ring: 1,
        ..xsk(XskMode::ZeroCopy)
    };
    let r = go(
        &wire(10_000_000_000),
        &frames(1000 * 60, 60),
        Strategy::AfXdp(o),
    );
    let rx = r.receive.as_ref().expect("a receive report");
    assert!(rx.rx_ring_full_drops > 0, "RX never filled: {rx:?}");
    assert_eq!(rx.completions + rx.frames_dropped, 1000);
    assert!(r.outcome.stalled.is_none());
}

#[test]
fn small_frames_run_at_the_wires_packet_rate_without_panicking() {
    // 10,000 frames of 60 B take (60 + 4 FCS) + 8 preamble + 12 gap = 84 B of wire each:
    // 10,000 × 84 × 8 bits / 10 Gb/s = 672 us of serialization, so the run lasts at least
    // that long whatever the host does, and every frame is received or dropped (a large
    // UMEM: drops, if any, come from the NIC's or the socket's rings, never a stall).
    let r = go(
        &wire(10_000_000_000),
        &frames(10_000 * 60, 60),
        Strategy::AfXdp(XskOptions::default()),
    );
    let rx = r.receive.as_ref().expect("a receive report");
    assert!(r.sim_time_ns >= 672_000, "{} ns", r.sim_time_ns);
    assert_eq!(rx.completions + rx.frames_dropped, 10_000);
    assert_eq!(rx.fill_ring_empty_drops, 0);
}

#[test]
fn a_chunk_on_fill_and_tx_at_once_is_reported_as_corruption() {
    // The buggy application forwards each of the 100 frames on TX (a 2048-entry ring, never
    // full) and re-posts the same chunk to FILL while it is still on the TX path: each is a
    // chunk owned twice, 100 corruptions, counted and reported; the run still ends (every
    // TX completion reaped). The correct rxdrop application forwards nothing: 0.
    let total = 100 * 1500;
    let buggy = XskOptions {
        reuse_bug: true,
        ..xsk(XskMode::ZeroCopy)
    };
    let r = go(
        &wire(1_000_000_000),
        &frames(total, 1500),
        Strategy::AfXdp(buggy),
    );
    let rx = r.receive.as_ref().expect("a receive report");
    assert_eq!(rx.chunk_corruptions, 100);
    assert_eq!(r.payload_bytes, total);
    assert!(r.outcome.stalled.is_none());
    let clean = go(
        &wire(1_000_000_000),
        &frames(total, 1500),
        Strategy::AfXdp(xsk(XskMode::ZeroCopy)),
    );
    assert_eq!(clean.receive.as_ref().unwrap().chunk_corruptions, 0);
}

#[test]
fn a_frame_larger_than_its_chunk_is_refused_with_the_allowed_sizes() {
    // A 2048-byte chunk keeps 256 bytes of XDP_PACKET_HEADROOM, so frames up to 1792 B fit:
    // 1792 builds, 1793 is refused and the reason names the chunk sizes.
    let o = xsk(XskMode::ZeroCopy);
    let mut c = wire(1_000_000_000);
    c.link.mtu_bytes = 9000; // jumbo frames, so only the chunk limits
    assert!(frames(1792 * 4, 1792).build(&c, Strategy::AfXdp(o)).is_ok());
    let e = frames(1793 * 4, 1793)
        .build(&c, Strategy::AfXdp(o))
        .err()
        .expect("refused");
    assert!(
        e.reason.contains("1792") && e.reason.contains("4096"),
        "{}",
        e.reason
    );
    // The UMEM is the buffer: a buffer offset would be silently ignored, so it is refused.
    let offset = Workload::BulkReceive {
        total_bytes: 1500,
        read_size: 64 << 10,
        buffer_offset: 100,
        segment_bytes: 1500,
    };
    let e = offset.build(&c, Strategy::AfXdp(o)).err().expect("refused");
    assert!(e.reason.contains("buffer_offset"), "{}", e.reason);
    // At MTU 1500 the largest frame is 1500 + the 14-byte Ethernet header: 1514 builds,
    // 1515 is refused and the reason names the key that limits it.
    c.link.mtu_bytes = 1500;
    assert!(frames(1514 * 4, 1514).build(&c, Strategy::AfXdp(o)).is_ok());
    let e = frames(1515 * 4, 1515)
        .build(&c, Strategy::AfXdp(o))
        .err()
        .expect("refused");
    assert!(e.reason.contains("target.mtu_bytes"), "{}", e.reason);
}
