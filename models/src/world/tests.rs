//! The network path in motion, with invariants checked after every event.

use super::*;
use crate::net::mbuf::ExtKind;
use crate::net::mbuf::PagePromise;
use crate::testkit::{self, wire_bound_world};
use crate::vm::PAGE_SIZE;
use sim::ByteRate;

const MIB: u64 = 1 << 20;

/// A `copy` sender of `total` bytes in `write`-byte writes from a buffer of one write.
fn memory_sender(conn: ConnId, total: u64, write: u64) -> SenderSpec {
    SenderSpec {
        strategy: crate::strategy::Strategy::Copy,
        conns: vec![conn],
        source: SendSource::Memory {
            buffer_bytes: write,
            shared_file: None,
        },
        requests: Requests::Bulk {
            total_bytes: total,
            write_size: write,
        },
        rewrite_bytes: 0,
        stamp_bytes: 0,
        fill_each_write: false,
    }
}

fn bulk_send(cfg: WorldConfig, total: u64, write: u64) -> World {
    let mut w = World::new(cfg);
    w.set_check_invariants(true);
    let conn = w.open_conn();
    w.add_app(AppSpec::Sender(memory_sender(conn, total, write)));
    w.run();
    assert!(w.apps_done(), "the sender finished");
    assert_eq!(w.delivered_bytes(), total, "the peer got every byte");
    assert_eq!(w.acked_bytes(), total);
    assert!(w.is_clean(), "no storage, packet or loan left behind");
    w
}

fn rate(w: &World, total: u64) -> f64 {
    total as f64 / w.last_tx().as_nanos() as f64 * 1e9
}

#[test]
fn bulk_data_fills_100base_tx_to_its_analytic_limit() {
    // 100 Mb/s = 12.5 MB/s. Without timestamps a 1500-byte MTU carries 1460 bytes in
    // 14 + 40 + 1460 + 4 + 8 + 12 = 1538 bytes of wire time: 12.5e6 × 1460/1538 =
    // 11_866_060 B/s. With timestamps the payload is 1448: 11_768_531 B/s. The bus and CPU
    // are fast here, so the model must land on the wire's limit, within 0.5%, and send
    // exactly ceil(bytes / MSS) segments.
    let total = 4 * MIB;
    for (ts, mss, limit) in [(false, 1460, 11_866_060.0), (true, 1448, 11_768_531.0)] {
        let w = bulk_send(wire_bound_world(100_000_000, 1500, ts), total, 64 << 10);
        assert_eq!(w.net_counters().packets, total.div_ceil(mss));
        assert_eq!(w.net_counters().segments, total.div_ceil(mss));
        let got = rate(&w, total);
        assert!(
            (got / limit - 1.0).abs() < 0.005,
            "timestamps {ts}: {got:.0} B/s vs wire limit {limit:.0}"
        );
        let cfg_limit = w.config().link.payload_limit_bytes_per_sec().unwrap();
        assert!(
            (cfg_limit - limit).abs() < 1.0,
            "LinkConfig agrees with the hand figure"
        );
    }
}

#[test]
fn jumbo_frames_fill_gigabit_to_its_analytic_limit() {
    // Gigabit, 9000-byte MTU, timestamps: 8948 payload in 14 + 52 + 8948 + 4 + 20 = 9038
    // bytes of wire time: 125e6 × 8948/9038 = 123_755_256 B/s. The DMA engine (132 MB/s) is
    // faster than the wire, so the wire limits.
    let total = 16 * MIB;
    let w = bulk_send(wire_bound_world(1_000_000_000, 9000, true), total, 64 << 10);
    assert_eq!(w.net_counters().packets, total.div_ceil(8948));
    let got = rate(&w, total);
    assert!((got / 123_755_256.0 - 1.0).abs() < 0.005, "{got:.0} B/s");
}

#[test]
fn retransmissions_take_references_not_copies() {
    // With 2% loss some segments go again. The only CPU copies must still be the sender's
    // copyin (exactly the payload once): a retransmission re-references the send buffer's
    // clusters. Every byte still arrives, and nothing leaks.
    let total = MIB;
    let mut cfg = wire_bound_world(100_000_000, 1500, true);
    cfg.link.loss = 0.02;
    cfg.seed = 7;
    let w = bulk_send(cfg, total, 64 << 10);
    let n = w.net_counters();
    assert!(n.lost > 0, "2% of ~724 segments should lose some");
    // Every lost segment, retransmissions included, is sent again exactly once more.
    assert_eq!(n.retransmits, n.lost);
    assert_eq!(w.machine().stats().cpu_copy_bytes, total);
    assert_eq!(n.segments, total.div_ceil(1448) + n.retransmits);
}

#[test]
fn without_scatter_gather_every_packet_is_coalesced_once() {
    // Every packet has a header and at least one data piece, so without scatter-gather the
    // driver must copy each packet's payload once into a bounce buffer: coalesced packets =
    // packets, and total CPU copies = 2 × payload (copyin + coalesce). With scatter-gather:
    // none.
    let total = MIB;
    let mut cfg = wire_bound_world(100_000_000, 1500, false);
    cfg.nic.scatter_gather = false;
    let w = bulk_send(cfg.clone(), total, 64 << 10);
    let n = w.net_counters();
    assert_eq!(n.coalesced_packets, n.packets);
    assert_eq!(n.coalesce_copy_bytes, total);
    assert_eq!(w.machine().stats().cpu_copy_bytes, 2 * total);

    cfg.nic.scatter_gather = true;
    let w = bulk_send(cfg, total, 64 << 10);
    assert_eq!(w.net_counters().coalesced_packets, 0);
    assert_eq!(w.machine().stats().cpu_copy_bytes, total);
}

#[test]
fn a_small_tx_ring_throttles_the_sender() {
    // Slow completion interrupts (30 us) make descriptors scarce: with 4 slots only one
    // packet (2-3 descriptors) fits, the wire idles while it is reclaimed, tcp_output stalls,
    // the send buffer fills and the writer blocks. More slots keep more packets queued, so
    // throughput must rise with the ring until the wire limits it, then stay there.
    let total = MIB;
    let limit = 11_768_531.0;
    let mut rates = Vec::new();
    for slots in [4, 8, 16, 128] {
        let mut cfg = wire_bound_world(100_000_000, 1500, true);
        cfg.nic.tx_ring_slots = slots;
        cfg.stack.interrupt_ns = 30_000;
        let w = bulk_send(cfg, total, 64 << 10);
        if slots == 4 {
            assert!(w.net_counters().ring_full_stalls > 0);
            assert!(w.net_counters().send_blocks > 0);
        }
        rates.push(rate(&w, total));
    }
    assert!(
        rates[0] < rates[1] && rates[1] < rates[2],
        "throughput must follow the ring: {rates:?}"
    );
    assert!(
        rates[0] < 0.8 * limit,
        "4 slots is well below the wire: {rates:?}"
    );
    for r in &rates[2..] {
        assert!(
            (r / limit - 1.0).abs() < 0.005,
            "16+ slots fill the wire: {rates:?}"
        );
    }
}

#[test]
fn a_page_modified_before_its_dma_splats() {
    // Two page-cache pages referenced into the send buffer (as sendfile does), the second
    // rewritten in place after the packets are built but before their DMA. Without
    // timestamps the 8192 bytes go as 1460-byte segments; every segment piece read from page
    // 1 (bytes 4096..8192) is a splat: segments 2..5 touch it (4 pieces), carrying all 4096 of
    // its bytes. Page 0 is unmodified and must count nothing.
    let mut w = World::new(wire_bound_world(100_000_000, 1500, false));
    w.set_check_invariants(true);
    let file = w.vm.create_file(2 * PAGE_SIZE);
    w.vm.warm_file(file);
    let pages: Vec<PagePromise> = (0..2)
        .map(|i| {
            let pfn = w.vm.cached(file, i).unwrap();
            w.vm.kernel_ref(pfn);
            PagePromise {
                pfn,
                expected: w.vm.frame(pfn).version,
            }
        })
        .collect();
    let conn = w.open_conn();
    let ext = w.exts.attach(ExtKind::Pages { pages }, 2 * PAGE_SIZE, 0);
    let c = &mut w.conns[0];
    c.snd.append(Piece {
        ext,
        off: 0,
        len: 2 * PAGE_SIZE,
    });
    c.sender.wrote(2 * PAGE_SIZE);
    w.schedule_output(conn, SOFTNET);
    w.vm.write_file_in_place(file, PAGE_SIZE, 100, &mut Plan::new());
    w.run();
    assert_eq!(w.net_counters().splats, 4);
    assert_eq!(w.net_counters().corrupt_bytes, PAGE_SIZE);
    assert_eq!(w.delivered_bytes(), 2 * PAGE_SIZE);
    assert!(w.is_clean());
}

fn loopback(receiver: Receiver, total: u64) -> World {
    let mut cfg = wire_bound_world(100_000_000, 16_436, true);
    cfg.link.kind = LinkKind::Loopback;
    // A bus that matters: 400 MB/s, with copies capped at 300 MB/s of payload.
    cfg.machine.memory_bus = ByteRate::from_bytes_per_sec(400_000_000);
    cfg.machine.costs.cpu_copy_rate = ByteRate::from_bytes_per_sec(300_000_000);
    let mut w = World::new(cfg);
    w.set_check_invariants(true);
    let conn = w.open_conn();
    w.add_app(AppSpec::Sender(memory_sender(conn, total, 64 << 10)));
    w.add_app(AppSpec::Receiver {
        conn,
        total_bytes: total,
        read_size: 64 << 10,
        receiver,
        buffer_offset: 0,
    });
    w.run();
    assert!(w.apps_done());
    assert!(w.is_clean());
    w
}

#[test]
fn over_loopback_the_receivers_copy_slows_the_sender() {
    // Same sender; the receiver either copies out (recv) or discards in the kernel. Both run
    // on the one CPU and bus, so the receiver's copy (another payload's worth of CPU copy and
    // bus traffic) must make the transfer slower, and the copy counts must show why.
    let total = 4 * MIB;
    let with_copy = loopback(Receiver::Copy, total);
    let discard = loopback(Receiver::Discard, total);
    assert_eq!(with_copy.machine().stats().cpu_copy_bytes, 2 * total);
    assert_eq!(discard.machine().stats().cpu_copy_bytes, total);
    let (t_copy, t_discard) = (with_copy.now().as_nanos(), discard.now().as_nanos());
    assert!(
        t_copy as f64 > 1.5 * t_discard as f64,
        "copying receiver {t_copy} ns vs discarding {t_discard} ns"
    );
    assert_eq!(
        with_copy.net_counters().packets,
        total.div_ceil(16_436 - 52)
    );
}

#[test]
fn same_seed_same_run_other_seed_other_losses() {
    // Determinism: two runs with one seed agree on every counter and the final time; another
    // seed loses different segments.
    let run = |seed| {
        let mut cfg = wire_bound_world(100_000_000, 1500, true);
        cfg.link.loss = 0.02;
        cfg.seed = seed;
        let w = bulk_send(cfg, MIB / 2, 64 << 10);
        (w.now(), w.net_counters().clone())
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}

#[test]
fn the_plan_pool_stays_small_however_much_is_sent() {
    // Applications build their own plans and hand them back through the pool; uncapped, it
    // held about 850 plans per MiB sent (a review measured 13985 after 16 MiB). Memory must
    // follow what is in flight, so after 4 MiB in 4 KiB writes it holds at most its cap.
    let mut w = World::new(wire_bound_world(1_000_000_000, 1500, false));
    let conn = w.open_conn();
    w.add_app(AppSpec::Sender(memory_sender(conn, 4 * MIB, 4096)));
    w.run();
    let held = w.machine.spare_plans_held();
    assert!(held <= 64, "{held} plans kept");
    assert!(held > 0, "the pool is used");
}

#[test]
fn testkit_costs_are_what_the_comments_say() {
    assert_eq!(testkit::costs().copy_bus_factor(), 2);
}

fn gige_receive(header_split: bool, segment: u64, buffer_offset: u64, mode: Receiver) -> World {
    gige_receive_with(header_split, segment, buffer_offset, mode, |_| {})
}

fn gige_receive_with(
    header_split: bool,
    segment: u64,
    buffer_offset: u64,
    mode: Receiver,
    tune: impl FnOnce(&mut WorldConfig),
) -> World {
    let mut cfg = wire_bound_world(1_000_000_000, 9000, true);
    tune(&mut cfg);
    cfg.nic.header_split = header_split;
    cfg.nic.checksum_offload = true;
    let mut w = World::new(cfg);
    w.set_check_invariants(true);
    let total = 2 * MIB;
    let conn = w.open_incoming(total, segment);
    w.add_app(AppSpec::Receiver {
        conn,
        total_bytes: total,
        read_size: 64 << 10,
        receiver: mode,
        buffer_offset,
    });
    w.run();
    assert!(w.apps_done(), "the reader got everything");
    assert_eq!(w.net_counters().rx_dma_bytes, total);
    assert!(w.is_clean());
    w
}

#[test]
fn a_small_rx_ring_holds_frames_back_without_losing_them() {
    // With header splitting an 8192-byte frame takes two page descriptors. A ring of two
    // holds one frame until tcp_input has run and the driver refilled it. With tcp_input at
    // 200 us per segment, three times a frame's 66 us on the wire, frames arrive faster than
    // they are refilled: they must wait in the NIC (counted), every byte still arrives (the
    // helper checks it), and the run cannot be faster than with a roomy ring.
    let ring = |slots: u32| {
        move |c: &mut WorldConfig| {
            c.nic.rx_ring_slots = slots;
            c.stack.tcp_input_per_segment_ns = 200_000;
        }
    };
    let small = gige_receive_with(true, 8192, 0, Receiver::Copy, ring(2));
    let roomy = gige_receive_with(true, 8192, 0, Receiver::Copy, ring(256));
    assert!(small.net_counters().rx_ring_full > 0);
    assert_eq!(roomy.net_counters().rx_ring_full, 0);
    assert!(small.payload_done_at() >= roomy.payload_done_at());
    // A frame wider than the whole ring (3 pages on a ring of 1) is taken once the ring is
    // empty: the run still completes.
    let tiny = gige_receive_with(true, 8948, 0, Receiver::Copy, ring(1));
    assert!(tiny.net_counters().rx_ring_full > 0);
}

#[test]
fn page_flip_happens_when_every_condition_holds() {
    // Header splitting puts each 8192-byte segment's payload in two fresh pages at offset 0;
    // the reader's 64 KiB buffer is page-aligned and reads start at its beginning, and the MTU
    // (9000) exceeds a page: every page must flip and nothing may be copied.
    let total = 2 * MIB;
    let w = gige_receive(true, 8192, 0, Receiver::Flip);
    assert_eq!(w.net_counters().page_flips, total / PAGE_SIZE);
    assert_eq!(w.net_counters().flip_fallbacks, 0);
    assert_eq!(w.machine().stats().cpu_copy_bytes, 0);
}

#[test]
fn each_page_flip_misfit_falls_back_to_a_copy() {
    // Break one condition at a time; every page must then be copied (and counted as a
    // fallback), so copy bytes equal the payload. The buffer misaligned by 100 bytes breaks
    // "buffer aligned"; no header splitting breaks "payload in its own page"; 8948-byte
    // segments (the full MSS) leave later pages of the stream at unaligned places and short.
    let total = 2 * MIB;
    let misaligned = gige_receive(true, 8192, 100, Receiver::Flip);
    assert_eq!(misaligned.net_counters().page_flips, 0);
    assert_eq!(misaligned.net_counters().flip_fallbacks, total / PAGE_SIZE);
    assert_eq!(misaligned.machine().stats().cpu_copy_bytes, total);

    let no_split = gige_receive(false, 8192, 0, Receiver::Flip);
    assert_eq!(no_split.net_counters().page_flips, 0);
    assert_eq!(no_split.machine().stats().cpu_copy_bytes, total);

    let odd = gige_receive(true, 8948, 0, Receiver::Flip);
    let n = odd.net_counters();
    assert!(
        n.flip_fallbacks > 0,
        "short tails of 8948-byte segments must be copied"
    );
    let copied = odd.machine().stats().cpu_copy_bytes;
    assert_eq!(
        copied + n.page_flips * PAGE_SIZE,
        total,
        "every byte flipped or copied"
    );
}

#[test]
fn recv_copy_copies_every_received_byte_once() {
    let total = 2 * MIB;
    let w = gige_receive(false, 8948, 0, Receiver::Copy);
    assert_eq!(w.machine().stats().cpu_copy_bytes, total);
    assert_eq!(
        w.net_counters().page_flips + w.net_counters().flip_fallbacks,
        0
    );
}

mod flip_conditions {
    use super::*;
    use crate::net::mbuf::Ext;
    use crate::strategy::{FlipMisfit, flip_fits};
    use crate::vm::{Pfn, Version};

    fn page_ext(len: u64, offset_in_first_page: u64) -> Ext {
        Ext {
            kind: ExtKind::Pages {
                pages: vec![PagePromise {
                    pfn: Pfn(0),
                    expected: Version(0),
                }],
            },
            len,
            offset_in_first_page,
            refs: 1,
        }
    }

    fn piece(off: u64, len: u64) -> Piece {
        Piece {
            ext: ExtId(0),
            off,
            len,
        }
    }

    #[test]
    fn each_condition_is_checked() {
        // One good case, then each condition broken alone gives its own reason.
        let good = page_ext(PAGE_SIZE, 0);
        let p = piece(0, PAGE_SIZE);
        assert_eq!(flip_fits(&good, &p, 0x10000, 0x2000, 9000), Ok(()));
        assert_eq!(
            flip_fits(&good, &p, 0x10000, 0x2000, 1500),
            Err(FlipMisfit::SmallMtu)
        );
        let cluster = Ext {
            kind: ExtKind::Bounce,
            ..good.clone()
        };
        assert_eq!(
            flip_fits(&cluster, &p, 0x10000, 0, 9000),
            Err(FlipMisfit::NotPageBacked)
        );
        assert_eq!(
            flip_fits(
                &page_ext(PAGE_SIZE - 66, 66),
                &piece(0, PAGE_SIZE - 66),
                0x10000,
                0,
                9000
            ),
            Err(FlipMisfit::PayloadUnaligned)
        );
        assert_eq!(
            flip_fits(&page_ext(756, 0), &piece(0, 756), 0x10000, 0, 9000),
            Err(FlipMisfit::ShortLength)
        );
        assert_eq!(
            flip_fits(&good, &p, 0x10064, 0, 9000),
            Err(FlipMisfit::BufferUnaligned)
        );
        assert_eq!(
            flip_fits(&good, &p, 0x10000, 100, 9000),
            Err(FlipMisfit::OffsetUnaligned)
        );
    }
}
