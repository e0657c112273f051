//! Today's receive-side zero copy (issue 17), checked from first principles.

use super::tests_modern::go;
use super::*;
use crate::testkit::wire_bound_world;
use crate::workload::Workload;
use crate::world::WorldConfig;

const MIB: u64 = 1 << 20;

/// 10 Gb/s Ethernet with header split at `mtu`; IPv6 if asked, timestamps on.
fn split_world(mtu: u64, ipv6: bool) -> WorldConfig {
    let mut c = wire_bound_world(10_000_000_000, mtu, true);
    c.link.ipv6 = ipv6;
    c.nic.header_split = true;
    c.nic.flow_steering = true;
    c.nic.dma_rate = None;
    c
}

fn receive(total: u64, read_size: u64) -> Workload {
    Workload::BulkReceive {
        total_bytes: total,
        read_size,
        buffer_offset: 0,
        segment_bytes: 65_536,
    }
}

fn tcp_zc() -> Strategy {
    Strategy::TcpZerocopyReceive(TcpZcOptions::default())
}

#[test]
fn tcp_zc_at_mtu_4168_maps_every_page_and_copies_nothing() {
    // MTU 4168 over IPv6 with timestamps: 4168 - 40 (IPv6) - 20 (TCP) - 12 (timestamps) =
    // 4096 bytes of payload per segment, which header split puts alone at the start of its
    // page. Every frag is a whole page at offset 0, so can_map_frag holds for all of them:
    // 4 MiB is 1024 pages mapped, no byte copied, no fallback. Mapping is a remap in the
    // data path, not a copy, so the CPU copied nothing at all.
    let r = go(
        &split_world(4168, true),
        &receive(4 * MIB, 256 << 10),
        tcp_zc(),
    );
    let rx = r
        .receive
        .as_ref()
        .expect("a receive run reports its receive side");
    assert_eq!(rx.pages_mapped, 1024);
    assert_eq!(rx.copied_bytes, 0);
    assert_eq!(rx.fallbacks, 0);
    assert_eq!(r.copies.cpu_copy_bytes, 0);
    assert_eq!(r.payload_bytes, 4 * MIB);
}

#[test]
fn tcp_zc_at_mtu_1500_copies_every_byte_because_no_frag_fills_a_page() {
    // MTU 1500 over IPv4 with timestamps: 1500 - 52 = 1448 bytes per segment, each alone in
    // its page. No frag is a whole page, so nothing maps: every byte reaches the reader by
    // the copy recv_skip_hint asks for (read() of the hint), and the report says so: copied
    // and fallback bytes are the whole 2 MiB.
    let total = 2 * MIB;
    let r = go(
        &split_world(1500, false),
        &receive(total, 256 << 10),
        tcp_zc(),
    );
    let rx = r.receive.as_ref().unwrap();
    assert_eq!(rx.pages_mapped, 0);
    assert_eq!(rx.copied_bytes, total);
    assert_eq!(rx.fallback_bytes, total);
    assert_eq!(r.copies.cpu_copy_bytes, total);
}

#[test]
fn tcp_zc_at_mtu_9000_maps_two_pages_per_segment_and_copies_the_756_byte_rest() {
    // MTU 9000 over IPv4 with timestamps: 8948 bytes per segment = 4096 + 4096 + 756 with
    // header split. 100 full segments (894,800 bytes) map 2 × 100 = 200 pages and copy
    // 756 × 100 = 75,600 bytes, the rest that fills no page; 200 × 4096 + 75,600 = 894,800.
    let total = 100 * 8948;
    let r = go(
        &split_world(9000, false),
        &receive(total, 256 << 10),
        tcp_zc(),
    );
    let rx = r.receive.as_ref().unwrap();
    assert_eq!(rx.pages_mapped, 200);
    assert_eq!(rx.copied_bytes, 75_600);
    assert_eq!(rx.fallback_bytes, 75_600);
    assert_eq!(rx.pages_mapped * 4096 + rx.copied_bytes, total);
}

#[test]
fn tcp_zc_copy_buffer_takes_the_stragglers_in_the_same_call() {
    // With a copy buffer the kernel copies the 756-byte rest itself (tcp_zc_handle_leftover)
    // instead of returning a hint the reader read()s: the same bytes are copied, in fewer
    // system calls (the read() per straggler disappears, so at least 100 fewer).
    let total = 100 * 8948;
    let w = receive(total, 256 << 10);
    let plain = go(&split_world(9000, false), &w, tcp_zc());
    let buffered = go(
        &split_world(9000, false),
        &w,
        Strategy::TcpZerocopyReceive(TcpZcOptions {
            copybuf_bytes: 4096,
        }),
    );
    let rx = buffered.receive.as_ref().unwrap();
    assert_eq!(rx.copied_bytes, 75_600);
    assert_eq!(rx.pages_mapped, 200);
    assert!(
        buffered.net.syscalls + 100 <= plain.net.syscalls,
        "{} syscalls with a copy buffer, {} without",
        buffered.net.syscalls,
        plain.net.syscalls
    );
}

#[test]
fn tcp_zc_copy_buffer_larger_than_the_read_buffer_is_its_own_buffer() {
    // copybuf_address is a buffer of its own in Linux: a 1 MiB copy buffer beside 4 KiB
    // reads must take whole queues (receive_fallback_to_copy) without writing past the read
    // buffer. It once shared the read buffer and the copy ran off its end (a panic). At MTU
    // 1500 nothing maps, so every byte is copied, all of them received.
    let total = 4 * MIB;
    let r = go(
        &split_world(1500, false),
        &receive(total, 4096),
        Strategy::TcpZerocopyReceive(TcpZcOptions { copybuf_bytes: MIB }),
    );
    let rx = r.receive.as_ref().unwrap();
    assert_eq!(r.payload_bytes, total);
    assert_eq!(rx.copied_bytes, total);
    assert_eq!(rx.pages_mapped, 0);
}

#[test]
fn tcp_zc_without_header_split_maps_nothing() {
    // Without header split a frame lands in one contiguous buffer, not a page of its own:
    // can_map_frag fails for every frag even at MTU 4168, and the whole payload is copied.
    let mut c = split_world(4168, true);
    c.nic.header_split = false;
    let r = go(&c, &receive(MIB, 256 << 10), tcp_zc());
    let rx = r.receive.as_ref().unwrap();
    assert_eq!(rx.pages_mapped, 0);
    assert_eq!(rx.copied_bytes, MIB);
}

#[test]
fn tcp_zc_maps_read_only_pages_and_the_next_call_zaps_them() {
    // Each call zaps what the last one mapped (one TLB flush per call that finds pages
    // there) and maps anew: with 1024 pages received in chunks of at most 64 pages (the
    // 256 KiB VMA), there are at least 1024 / 64 = 16 calls, so at least 15 flushes. The
    // mapped pages are read-only: the VM's invariants (checked after every event) hold
    // throughout, and every received page frame but the last call's is freed again.
    let r = go(
        &split_world(4168, true),
        &receive(4 * MIB, 256 << 10),
        tcp_zc(),
    );
    assert!(r.vm.vma_lookups >= 16, "{} lookups", r.vm.vma_lookups);
    assert!(r.breakdown.cpu_ns.contains_key("tlb"));
}

fn zcrx(area_bytes: u64, refill_batch: u64) -> Strategy {
    Strategy::IoUringZcrx(ZcrxOptions {
        area_bytes,
        refill_batch,
    })
}

#[test]
fn zcrx_completes_every_frag_in_place_whatever_the_mtu() {
    // The NIC DMAs payload into area chunks; each frag becomes one completion and no byte is
    // copied, whether or not it fills its page: at MTU 9000 each 8948-byte segment is 3
    // frags (4096, 4096, 756), so 100 segments are 300 completions and 0 copied bytes, the
    // area (32 MiB) never running out.
    let total = 100 * 8948;
    let r = go(
        &split_world(9000, false),
        &receive(total, 256 << 10),
        Strategy::IoUringZcrx(ZcrxOptions::default()),
    );
    let rx = r.receive.as_ref().unwrap();
    assert_eq!(rx.completions, 300);
    assert_eq!(rx.copied_bytes, 0);
    assert_eq!(rx.area_exhausted_pages, 0);
    assert_eq!(r.copies.cpu_copy_bytes, 0);
}

#[test]
fn zcrx_copies_only_what_landed_after_the_area_ran_out() {
    // A 64-chunk area returned 64 chunks at a time: the application holds every chunk it was
    // given until it has all 64, so the area runs dry and frames land in kernel pages. Each
    // such page (a whole 4096-byte segment at MTU 4168) is copied into a chunk once one is
    // back, one fallback each: fallbacks = exhausted pages, and the bytes copied are exactly
    // 4096 per exhausted page, the only CPU copies of the run.
    let r = go(
        &split_world(4168, true),
        &receive(4 * MIB, 256 << 10),
        zcrx(64 * 4096, 64),
    );
    let rx = r.receive.as_ref().unwrap();
    assert!(rx.area_exhausted_pages > 0, "the area never ran out");
    assert_eq!(rx.fallbacks, rx.area_exhausted_pages);
    assert_eq!(rx.copied_bytes, rx.area_exhausted_pages * 4096);
    assert_eq!(r.copies.cpu_copy_bytes, rx.copied_bytes);
    assert_eq!(
        rx.completions, 1024,
        "one completion per page, copied or not"
    );
}

#[test]
fn zcrx_needs_header_split_and_flow_steering() {
    // Registration binds the area to one RX queue: without header split or flow steering
    // the strategy does not apply, and the refusal names the missing feature.
    let w = receive(MIB, 64 << 10);
    for (split, steer, missing) in [
        (false, true, "header_split"),
        (true, false, "flow_steering"),
    ] {
        let mut c = split_world(4168, true);
        c.nic.header_split = split;
        c.nic.flow_steering = steer;
        let e = w
            .build(&c, Strategy::IoUringZcrx(ZcrxOptions::default()))
            .err()
            .expect("refused");
        assert!(e.reason.contains(missing), "{}", e.reason);
    }
}
