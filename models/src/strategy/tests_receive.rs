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

/// `split_world` at MTU 4168 over IPv6 (MSS 4096) with a peer device's memory of 1 GiB
/// behind a 25 GB/s link, and checksum offload (devmem TCP needs all three).
fn device_world() -> WorldConfig {
    let mut c = split_world(4168, true);
    c.nic.checksum_offload = true;
    c.machine.device_memory = Some(crate::machine::DeviceMemoryConfig {
        capacity_bytes: 1 << 30,
        bandwidth: sim::ByteRate::from_bytes_per_sec(25_000_000_000),
    });
    c
}

fn devmem(binding_bytes: u64, dontneed_batch: u64) -> Strategy {
    Strategy::DevmemTcp(DevmemOptions {
        binding_bytes,
        dontneed_batch,
    })
}

#[test]
fn devmem_moves_only_headers_over_the_host_bus_and_payload_into_device_memory() {
    // MSS 4096 (4168 - 40 IPv6 - 20 TCP - 12 timestamps): 4 MiB arrives as 1024 frames. Each
    // frame's headers, 14 (Ethernet) + 72 (IPv6, TCP, timestamps) = 86 bytes, are DMAed into
    // host memory: 1024 × 86 = 88,064 bytes, the only DMA the host bus carries. The payload,
    // 4 MiB, is DMAed into the device's memory instead, which the report counts apart. The
    // CPU copies nothing (recvmsg hands out one token per frag: 1024 cmsgs) and checksums
    // nothing (offloaded), so no copy or checksum bytes cross the host bus at all.
    let r = go(
        &device_world(),
        &receive(4 * MIB, 256 << 10),
        devmem(8 * MIB, 1),
    );
    let rx = r.receive.as_ref().unwrap();
    assert_eq!(r.payload_bytes, 4 * MIB);
    assert_eq!(r.breakdown.bus_bytes["dma"], 1024 * 86);
    assert!(!r.breakdown.bus_bytes.contains_key("copy"));
    assert!(!r.breakdown.bus_bytes.contains_key("checksum"));
    assert_eq!(rx.device_bytes, 4 * MIB);
    assert_eq!(r.copies.dma_bytes, 4 * MIB + 1024 * 86);
    assert_eq!(r.copies.cpu_copy_bytes, 0);
    assert_eq!(rx.copied_bytes, 0);
    assert_eq!(rx.completions, 1024);
    assert_eq!(rx.device_buffer_waits, 0);
    assert!(r.utilization.device_memory > 0.0);
}

#[test]
fn devmem_host_bus_bytes_per_payload_byte_are_the_headers_where_recv_copy_pays_three() {
    // On the same target recv-copy DMAs the payload into host memory (1 bus byte per byte)
    // and copies it to the reader (2 more: read and write): at least 3 bus bytes per payload
    // byte. devmem-tcp's host bus carries the headers' DMA, 86 bytes per 4096 of payload
    // (0.021 per byte), plus what both readers pay alike once: faulting in and writing their
    // 256 KiB read buffer (zeroing and the write, 2 × 262,144 = 524,288 bytes, 0.125 per
    // payload byte of 4 MiB): so under 0.15, twenty times less.
    let w = receive(4 * MIB, 256 << 10);
    let copy = go(&device_world(), &w, Strategy::RecvCopy);
    let dm = go(&device_world(), &w, devmem(8 * MIB, 1));
    assert!(
        copy.bus_bytes_per_payload_byte >= 3.0,
        "{}",
        copy.bus_bytes_per_payload_byte
    );
    assert!(
        dm.bus_bytes_per_payload_byte < 0.15,
        "{}",
        dm.bus_bytes_per_payload_byte
    );
    assert_eq!(
        dm.copies.bus_bytes - dm.breakdown.bus_bytes["dma"],
        copy.copies.bus_bytes - copy.breakdown.bus_bytes["dma"] - 2 * 4 * MIB,
        "besides the DMA, devmem's bus bytes are recv-copy's less its 2 bytes per byte copied"
    );
}

#[test]
fn devmem_exhausted_binding_makes_frames_wait_and_says_so() {
    // A 16-buffer (64 KiB) binding against a 256 KiB receive buffer: the remote may have 64
    // frames of 4096 bytes in flight, but only 16 find device buffers; the rest wait in the
    // NIC until the reader's SO_DEVMEM_DONTNEED returns some, and the report counts them.
    // Nothing is lost or copied: all 4 MiB arrive, one token per frag.
    let r = go(
        &device_world(),
        &receive(4 * MIB, 256 << 10),
        devmem(64 << 10, 1),
    );
    let rx = r.receive.as_ref().unwrap();
    assert!(rx.device_buffer_waits > 0, "the binding never ran out");
    assert_eq!(r.payload_bytes, 4 * MIB);
    assert_eq!(rx.completions, 1024);
    assert_eq!(rx.copied_bytes, 0);
    assert_eq!(rx.device_bytes, 4 * MIB);
}

#[test]
fn devmem_dontneed_batches_save_one_setsockopt_per_token() {
    // ncdevmem returns each token by its own setsockopt: 1024 frags are 1024 DONTNEED calls
    // on top of the recvmsg calls and the one bind call. With batches of 128, a recvmsg of at
    // most 64 frags (256 KiB / 4096) is followed by exactly one DONTNEED: syscalls less the
    // bind are then two per recvmsg, an even number.
    let w = receive(4 * MIB, 256 << 10);
    let one = go(&device_world(), &w, devmem(8 * MIB, 1));
    let batched = go(&device_world(), &w, devmem(8 * MIB, 128));
    let recvmsgs = one.net.syscalls - 1 - 1024;
    assert!(
        recvmsgs >= 16,
        "{recvmsgs} recvmsg calls for 64 frags at most each"
    );
    assert_eq!(
        (batched.net.syscalls - 1) % 2,
        0,
        "{}",
        batched.net.syscalls
    );
    assert!(batched.net.syscalls < one.net.syscalls);
}

#[test]
fn devmem_needs_device_memory_header_split_flow_steering_and_checksum_offload() {
    // Binding a dmabuf needs a device memory to carve it from, a queue that splits headers
    // from data and has the flow steered to it, and a NIC that verifies checksums (the kernel
    // cannot read the payload); without one of them the strategy does not apply, and the
    // refusal names the target key.
    let w = receive(MIB, 64 << 10);
    type Change = fn(&mut WorldConfig);
    let cases: [(Change, &str); 5] = [
        (|c| c.machine.device_memory = None, "device_memory"),
        (|c| c.nic.header_split = false, "header_split"),
        (|c| c.nic.flow_steering = false, "flow_steering"),
        (|c| c.nic.checksum_offload = false, "checksum_offload"),
        (
            |c| {
                c.machine.device_memory = Some(crate::machine::DeviceMemoryConfig {
                    capacity_bytes: 1 << 20,
                    bandwidth: sim::ByteRate::from_bytes_per_sec(25_000_000_000),
                })
            },
            "larger than the device memory",
        ),
    ];
    for (change, missing) in cases {
        let mut c = device_world();
        change(&mut c);
        let e = w.build(&c, devmem(8 * MIB, 1)).err().expect("refused");
        assert!(e.reason.contains(missing), "{}", e.reason);
    }
}
