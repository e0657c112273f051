//! The modern send path (issue 16): segmentation offload and today's zero-copy rooms,
//! checked from first principles.

use super::*;
use crate::report::{RunOptions, RunReport, run};
use crate::testkit::wire_bound_world;
use crate::workload::{BulkSource, Workload};
use crate::world::WorldConfig;

const MIB: u64 = 1 << 20;

/// Runs `s` with every invariant checked after every event.
pub(super) fn go(cfg: &WorldConfig, w: &Workload, s: Strategy) -> RunReport {
    run(
        cfg,
        w,
        s,
        RunOptions {
            check_invariants: true,
            ..RunOptions::default()
        },
    )
    .unwrap()
}

/// 1 Gb/s Ethernet, MTU 1500 with timestamps (MSS 1448), scatter-gather and offload.
fn gige() -> WorldConfig {
    wire_bound_world(1_000_000_000, 1500, true)
}

#[test]
fn tso_pays_stack_work_per_super_packet_and_leaves_the_wire_alone() {
    // Without TSO every segment is one MSS (1448 B), so 4 MiB from a cached file is
    // ceil(4 MiB / 1448) = 2897 segments, each a frame. With TSO tcp_output builds
    // super-packets of up to 45 MSS (65,160 B) from whatever the window has opened; once the
    // run is ACK-clocked each ACK opens only a few MSS (the model does not defer like
    // tcp_tso_should_defer), so super-packets average several MSS, not 45: segments built
    // fall more than 5x. The NIC still puts one MSS frame per 1448 B on the wire: frames,
    // payload on the wire and wire time are the same, and the protocol CPU time
    // (per-segment tcp_output, driver and completion work) falls.
    let w = Workload::BulkSend {
        total_bytes: 4 * MIB,
        write_size: 64 << 10,
        source: BulkSource::File {
            file_bytes: 4 * MIB,
            cold: false,
        },
    };
    let off = gige();
    let mut on = gige();
    on.nic.tso = true;
    let sf = Strategy::Sendfile {
        linux_fallback: false,
    };
    let a = go(&off, &w, sf);
    let b = go(&on, &w, sf);
    let frames = (4 * MIB).div_ceil(1448);
    assert_eq!(a.net.packets, frames);
    assert_eq!(a.net.segments, frames);
    assert_eq!(
        b.net.packets, frames,
        "the wire carries the same MSS frames"
    );
    assert!(
        b.net.segments * 5 < a.net.segments,
        "super-packets: {} vs {} segments",
        b.net.segments,
        a.net.segments
    );
    let wire = |r: &RunReport| r.utilization.wire * r.sim_time_ns as f64;
    assert!((wire(&a) - wire(&b)).abs() / wire(&a) < 1e-6);
    let proto = |r: &RunReport| r.breakdown.cpu_ns["protocol"];
    assert!(
        proto(&b) * 2 < proto(&a),
        "protocol CPU {} ns with TSO vs {} ns without",
        proto(&b),
        proto(&a)
    );
}

#[test]
fn tso_copies_land_in_page_frags_not_one_descriptor_per_cluster() {
    // A 64 KiB super-packet of copied data is 32 clusters of 2 KiB; counted one descriptor
    // each it would exceed max_frags (8 here) and the driver would bounce-copy every packet.
    // Linux copies into 32 KiB page frags, so a super-packet takes 1 + ceil(len / 32 KiB)
    // descriptors and nothing is coalesced: the only copy is the copyin.
    let w = Workload::BulkSend {
        total_bytes: 4 * MIB,
        write_size: 64 << 10,
        source: BulkSource::Memory,
    };
    let mut on = gige();
    on.nic.tso = true;
    let r = go(&on, &w, Strategy::Copy);
    assert_eq!(r.outcome.coalesced_packets, 0);
    assert_eq!(r.copies.cpu_copy_bytes, 4 * MIB);
    assert_eq!(r.net.packets, (4 * MIB).div_ceil(1448));
}

fn bulk_mem(total: u64, write: u64) -> Workload {
    Workload::BulkSend {
        total_bytes: total,
        write_size: write,
        source: BulkSource::Memory,
    }
}

fn rewrite(total: u64) -> Workload {
    Workload::RewriteAfterWrite {
        total_bytes: total,
        write_size: 64 << 10,
        rewrite_bytes: 4096,
    }
}

fn zc(o: ZcOptions) -> Strategy {
    Strategy::MsgZerocopy(o)
}

fn uring(o: UringZcOptions) -> Strategy {
    Strategy::IoUringSendZc(o)
}

#[test]
fn msg_zerocopy_pins_every_page_copies_nothing_and_completes_every_byte_once() {
    // With scatter-gather and checksum offload skb_zerocopy_iter_stream pins the pages: no
    // CPU copy at all, one pin per page of payload (4 MiB = 1024 pages, each write
    // page-aligned), one key per send (64 sends of 64 KiB). Every send completes exactly once
    // (a second completion of a key would underflow its reference count and panic), and the
    // completions cover exactly the payload; none is flagged COPIED.
    let total = 4 * MIB;
    let r = go(
        &gige(),
        &bulk_mem(total, 64 << 10),
        zc(ZcOptions::default()),
    );
    let z = &r.zerocopy;
    assert_eq!(r.copies.cpu_copy_bytes, 0);
    assert_eq!(z.pages_pinned, total / 4096);
    assert_eq!(z.sends, 64);
    assert_eq!(z.completions, 64);
    assert_eq!(z.completed_bytes, total);
    assert_eq!(z.completions_copied, 0);
    assert_eq!(
        r.integrity.splats, 0,
        "bulk-send never rewrites its buffers"
    );
    // Every notification read is a recvmsg(MSG_ERRQUEUE) syscall, plus one EAGAIN per drain,
    // on top of one send per write.
    assert_eq!(
        r.net.syscalls,
        64 + z.errqueue_reads + z.errqueue_empty_reads + z.completion_waits
    );
}

#[test]
fn msg_zerocopy_copies_everything_over_loopback_and_without_scatter_gather() {
    // Without NETIF_F_SG tcp_sendmsg_locked sets uarg->zerocopy = 0 and copies: the whole
    // payload is copied once, nothing is pinned, and every completion says COPIED. Over
    // loopback the pages are pinned, then skb_copy_ubufs copies them when the skb is looped
    // to the local socket: the sender copies the payload once (the local reader's recv()
    // copies it once more), and again every completion is COPIED.
    let total = 2 * MIB;
    let w = bulk_mem(total, 64 << 10);
    let mut no_sg = gige();
    no_sg.nic.scatter_gather = false;
    // A Linux stack (the model's flag for it): tcp_sendmsg builds linear skbs without SG,
    // so the driver has nothing to coalesce and the only copy is the send's.
    no_sg.fused_copy_checksum = true;
    let r = go(&no_sg, &w, zc(ZcOptions::default()));
    assert_eq!(r.copies.cpu_copy_bytes, total);
    assert_eq!(r.zerocopy.pages_pinned, 0);
    assert_eq!(r.zerocopy.completions_copied, r.zerocopy.sends);
    assert_eq!(r.zerocopy.completed_bytes, total);

    let mut lo = gige();
    lo.link.kind = crate::net::LinkKind::Loopback;
    let r = go(&lo, &w, zc(ZcOptions::default()));
    assert_eq!(
        r.copies.cpu_copy_bytes,
        2 * total,
        "deferred copy + reader's copy"
    );
    assert_eq!(r.zerocopy.pages_pinned, total / 4096);
    assert_eq!(r.zerocopy.completions_copied, r.zerocopy.sends);
    assert_eq!(r.zerocopy.completed_bytes, total);
}

#[test]
fn contiguous_completions_merge_into_one_error_queue_entry() {
    // Reading the error queue only every 32 sends lets completions pile up; consecutive keys
    // completing in order extend the tail entry (skb_zerocopy_notify_extend), so there are
    // far fewer entries than completions, and each recvmsg returns one entry.
    let o = ZcOptions {
        poll_every: 32,
        buffers: 64,
        ..ZcOptions::default()
    };
    let r = go(&gige(), &bulk_mem(8 * MIB, 64 << 10), zc(o));
    let z = &r.zerocopy;
    assert_eq!(z.completions, 128);
    assert!(
        z.notifications * 4 < z.completions,
        "{} entries for {} completions",
        z.notifications,
        z.completions
    );
    assert!(z.errqueue_reads <= z.notifications);
}

#[test]
fn memlock_limit_refuses_pins_as_an_outcome() {
    // Each 16 KiB send charges (16 KiB >> 12) + 2 = 6 pages (24 KiB) against
    // RLIMIT_MEMLOCK. With a 40 KiB limit a second send while one is in flight is refused
    // (ENOBUFS): the application waits for a completion and calls again, so refusals happen
    // and the charge never passes the limit. With 16 KiB no send fits even alone: every one
    // goes out by copy.
    let w = bulk_mem(MIB, 16 << 10);
    let o = ZcOptions {
        memlock_bytes: 40 << 10,
        ..ZcOptions::default()
    };
    let r = go(&gige(), &w, zc(o));
    assert!(r.zerocopy.memlock_refusals > 0);
    assert!(r.zerocopy.memlock_peak_bytes <= 40 << 10);
    assert_eq!(r.zerocopy.memlock_fallbacks, 0);
    assert_eq!(r.copies.cpu_copy_bytes, 0);
    assert_eq!(r.zerocopy.completed_bytes, MIB);

    let o = ZcOptions {
        memlock_bytes: 16 << 10,
        ..ZcOptions::default()
    };
    let r = go(&gige(), &w, zc(o));
    assert_eq!(r.zerocopy.memlock_fallbacks, 64);
    assert_eq!(r.zerocopy.sends, 0);
    assert_eq!(r.copies.cpu_copy_bytes, MIB);
}

#[test]
fn io_uring_registered_buffers_pin_nothing_per_send() {
    // Registered buffers: io_sg_from_iter fills frags without pinning or refcounting, so no
    // page is pinned per send; the 8 buffers of 64 KiB (128 pages) are pinned once at
    // registration. Plain buffers pin every page of every send (1024 pages for 4 MiB).
    // Either way nothing is copied and each send posts a result CQE and a notification.
    let w = bulk_mem(4 * MIB, 64 << 10);
    let r = go(&gige(), &w, uring(UringZcOptions::default()));
    assert_eq!(r.zerocopy.pages_pinned, 0);
    assert_eq!(r.zerocopy.pages_registered, 8 * 16);
    assert_eq!(r.copies.cpu_copy_bytes, 0);
    assert_eq!(r.zerocopy.result_cqes, 64);
    assert_eq!(r.zerocopy.notifications, 64);
    let plain = UringZcOptions {
        fixed_buffers: false,
        ..UringZcOptions::default()
    };
    let r = go(&gige(), &w, uring(plain));
    assert_eq!(r.zerocopy.pages_pinned, 1024);
    assert_eq!(r.zerocopy.pages_registered, 0);
}

#[test]
fn rewrite_reaches_the_wire_unless_the_application_waits_for_the_completion() {
    // rewrite-after-write overwrites the first page of the buffer it just sent. Pinned pages
    // are not protected, so the NIC reads the new bytes: splats. Waiting for the completion
    // before the rewrite (zerocopy_wait, send_zc_wait_each) means the NIC has read the page
    // already: none. page-loan breaks the loan on the write and copy owns a copy: never.
    let w = rewrite(2 * MIB);
    let splats = |s| go(&gige(), &w, s).integrity.splats;
    assert!(splats(zc(ZcOptions::default())) > 0);
    assert!(splats(uring(UringZcOptions::default())) > 0);
    let wait = ZcOptions {
        wait_completion: true,
        ..ZcOptions::default()
    };
    assert_eq!(splats(zc(wait)), 0);
    let wait_each = UringZcOptions {
        wait_each: true,
        ..UringZcOptions::default()
    };
    assert_eq!(splats(uring(wait_each)), 0);
    assert_eq!(splats(Strategy::Copy), 0);
    let loan = LoanOptions {
        on_multiprocessor: true,
        ..LoanOptions::default()
    };
    assert_eq!(splats(Strategy::PageLoan(loan)), 0);
}

#[test]
fn waiting_for_each_notification_serializes_sends_on_the_round_trip() {
    // Pipelined, several sends are in flight; waiting for each notification leaves one send
    // per round trip plus the TX completion (oferchen/rsync #7600's anti-pattern), so the
    // same transfer takes longer.
    let w = bulk_mem(4 * MIB, 64 << 10);
    let piped = go(&gige(), &w, uring(UringZcOptions::default()));
    let each = UringZcOptions {
        wait_each: true,
        ..UringZcOptions::default()
    };
    let waited = go(&gige(), &w, uring(each));
    assert!(
        waited.sim_time_ns > piped.sim_time_ns * 3 / 2,
        "{} ns waiting vs {} ns pipelined",
        waited.sim_time_ns,
        piped.sim_time_ns
    );
    assert_eq!(waited.zerocopy.completion_waits, 64);
}

#[test]
fn a_writer_waiting_on_loopback_wakes_when_the_readers_copy_completes_its_send() {
    // Over loopback a SEND_ZC's pages are released by the local reader's recv() copy, after
    // every ACK has come (Minshall's Nagle sends a write's short tail at once, so the write
    // is acknowledged before the sender sleeps). No ACK or TX completion follows: the
    // completion itself must wake the sleeper, or the run stalls with the sender asleep. It
    // finishing, with one sleep per 32 KiB write (2 MiB / 32 KiB = 64), proves the wake-up.
    let w = bulk_mem(2 * MIB, 32 << 10);
    let mut lo = gige();
    lo.link.kind = crate::net::LinkKind::Loopback;
    lo.tcp.nagle = crate::net::tcp::NagleRule::Minshall;
    let each = UringZcOptions {
        wait_each: true,
        ..UringZcOptions::default()
    };
    let r = go(&lo, &w, uring(each));
    assert_eq!(r.outcome.stalled, None);
    assert_eq!(r.zerocopy.completed_bytes, 2 * MIB);
    assert_eq!(r.zerocopy.completion_waits, 64);
}

#[test]
fn splice_references_the_page_cache_two_syscalls_per_pipe_full() {
    // From a cached file splice copies nothing (page references into the pipe, then into
    // the socket). Each pipe-full costs splice(file, pipe) + splice(pipe, socket): 64 KiB
    // writes through the default 64 KiB pipe are 2 syscalls per write (64 writes: 128);
    // through a 16 KiB pipe, 4 pipe-fulls per write: 512.
    let w = Workload::BulkSend {
        total_bytes: 4 * MIB,
        write_size: 64 << 10,
        source: BulkSource::File {
            file_bytes: 4 * MIB,
            cold: false,
        },
    };
    let r = go(&gige(), &w, Strategy::from_id("splice").unwrap());
    assert_eq!(r.copies.cpu_copy_bytes, 0);
    assert_eq!(r.net.syscalls, 128);
    let small = go(
        &gige(),
        &w,
        Strategy::Splice {
            pipe_bytes: 16 << 10,
        },
    );
    assert_eq!(small.net.syscalls, 512);
    assert_eq!(small.copies.cpu_copy_bytes, 0);
}

#[test]
fn splice_sends_file_changes_made_in_flight() {
    // The pipe and the socket hold references to the page cache: a file written in place
    // while its pages wait for the NIC goes out changed (splats), as with sendfile.
    let w = Workload::FileMutation {
        total_bytes: 4 * MIB,
        write_size: 64 << 10,
        file_bytes: MIB,
        mode: crate::workload::MutationMode::InPlace,
        every: sim::SimDuration::from_micros(500),
    };
    let r = go(&gige(), &w, Strategy::from_id("splice").unwrap());
    assert!(r.integrity.splats > 0);
}

#[test]
fn vmsplice_gift_refuses_unaligned_buffers_as_an_outcome_and_splats_on_rewrite() {
    // get_iovec_page_array with SPLICE_F_GIFT wants whole pages: 1000-byte writes are all
    // refused (EINVAL, counted), and the application sends each by write() instead: the
    // whole payload is copied once. Page-sized writes are gifted without a copy; a rewrite
    // after the gift reaches the wire.
    let r = go(
        &gige(),
        &bulk_mem(100_000, 1000),
        Strategy::from_id("vmsplice-gift").unwrap(),
    );
    assert_eq!(r.zerocopy.gifts_refused, 100);
    assert_eq!(r.copies.cpu_copy_bytes, 100_000);
    let r = go(
        &gige(),
        &bulk_mem(4 * MIB, 64 << 10),
        Strategy::from_id("vmsplice-gift").unwrap(),
    );
    assert_eq!(r.zerocopy.gifts_refused, 0);
    assert_eq!(r.copies.cpu_copy_bytes, 0);
    let r = go(
        &gige(),
        &rewrite(2 * MIB),
        Strategy::from_id("vmsplice-gift").unwrap(),
    );
    assert!(r.integrity.splats > 0);
}

#[test]
fn software_ktls_doubles_the_bus_bytes_of_sendfile_from_disk() {
    // From a cold file plain sendfile moves each byte twice over the bus: the disk's DMA
    // writes it into the page cache and the NIC's DMA reads it (2 bus bytes per byte, the
    // Netflix rule). Software kTLS adds an encryption pass that reads the plaintext and
    // writes the ciphertext (2 more on a bus without write-allocate): 4, twice sendfile, and
    // all of it on the CPU as crypto. NIC offload with TLS_TX_ZEROCOPY_RO is back to 2 and
    // no crypto; NIC offload without it still copies the plaintext into its records (4).
    let w = Workload::BulkSend {
        total_bytes: 2 * MIB,
        write_size: 64 << 10,
        source: BulkSource::File {
            file_bytes: 2 * MIB,
            cold: true,
        },
    };
    let cfg = gige();
    let per_byte = |s| go(&cfg, &w, s).bus_bytes_per_payload_byte;
    let ktls = |mode, zerocopy_ro| Strategy::SendfileKtls(KtlsOptions { mode, zerocopy_ro });
    let sf = per_byte(Strategy::Sendfile {
        linux_fallback: false,
    });
    let sw = go(&cfg, &w, ktls(TlsMode::Software, false));
    let ro = per_byte(ktls(TlsMode::NicOffload, true));
    let hw = go(&cfg, &w, ktls(TlsMode::NicOffload, false));
    // Headers are DMAed too, so each figure is a little above its whole number.
    assert!((2.0..2.05).contains(&sf), "sendfile {sf}");
    assert!((4.0..4.05).contains(&sw.bus_bytes_per_payload_byte));
    assert!((2.0..2.05).contains(&ro), "zerocopy_ro {ro}");
    assert!((4.0..4.05).contains(&hw.bus_bytes_per_payload_byte));
    assert!(sw.breakdown.cpu_ns.contains_key("crypto"));
    assert!(!hw.breakdown.cpu_ns.contains_key("crypto"));
    assert_eq!(hw.copies.cpu_copy_bytes, 2 * MIB);
    assert_eq!(
        sw.copies.cpu_copy_bytes, 0,
        "encryption is not counted as a copy"
    );
}

#[test]
fn ktls_zerocopy_ro_sends_file_changes_in_flight_and_the_copying_modes_do_not() {
    // With TLS_TX_ZEROCOPY_RO the NIC reads the page cache, so a file written in place while
    // it waits goes out changed; software kTLS encrypted (and plain offload copied) the bytes
    // at the call, so later changes do not reach the wire.
    let w = Workload::FileMutation {
        total_bytes: 4 * MIB,
        write_size: 64 << 10,
        file_bytes: MIB,
        mode: crate::workload::MutationMode::InPlace,
        every: sim::SimDuration::from_micros(500),
    };
    let ktls = |mode, zerocopy_ro| Strategy::SendfileKtls(KtlsOptions { mode, zerocopy_ro });
    assert!(
        go(&gige(), &w, ktls(TlsMode::NicOffload, true))
            .integrity
            .splats
            > 0
    );
    assert_eq!(
        go(&gige(), &w, ktls(TlsMode::NicOffload, false))
            .integrity
            .splats,
        0
    );
    assert_eq!(
        go(&gige(), &w, ktls(TlsMode::Software, false))
            .integrity
            .splats,
        0
    );
}

#[test]
fn completions_are_trace_events_with_their_narration() {
    // The trace (the TUI's events row, Perfetto) gets one `completion` instant per send and an
    // `errqueue read` instant per drain that returned something, each pointing at its
    // narration line: 16 sends of 64 KiB, 16 completions.
    let w = bulk_mem(MIB, 64 << 10);
    let f = crate::report::simulate(
        &gige(),
        &w,
        zc(ZcOptions::default()),
        RunOptions {
            trace_records: Some(1 << 20),
            ..RunOptions::default()
        },
    )
    .unwrap();
    let trace = f.trace.expect("a trace was asked for");
    let instants: Vec<&sim::trace::Instant> = trace
        .records
        .iter()
        .filter_map(|r| match r {
            sim::trace::TraceRecord::Instant(i) => Some(i),
            _ => None,
        })
        .collect();
    let completions: Vec<_> = instants.iter().filter(|i| i.kind == "completion").collect();
    assert_eq!(completions.len() as u64, f.report.zerocopy.completions);
    assert_eq!(completions.len(), 16);
    for c in &completions {
        assert!(trace.notes[c.detail as usize].contains("msg_zerocopy_callback"));
    }
    let reads = instants
        .iter()
        .filter(|i| i.kind == "errqueue read")
        .count() as u64;
    assert!(reads > 0 && reads <= f.report.zerocopy.errqueue_reads);
}

#[test]
fn ktls_zerocopy_ro_lets_a_changed_file_break_record_authentication() {
    // TLS_TX_ZEROCOPY_RO: the NIC encrypts whatever it reads from the page cache, each time
    // it reads it. With the file rewritten in place every 200 us and 2% of frames lost, a
    // retransmission (or the second half of a page split between segments) reads other bytes
    // than the first read of the same record data: the receiver's authentication fails.
    // Software kTLS encrypted a private copy at the call: nothing to re-read, no failure.
    let w = Workload::FileMutation {
        total_bytes: 4 * MIB,
        write_size: 64 << 10,
        file_bytes: MIB,
        mode: crate::workload::MutationMode::InPlace,
        every: sim::SimDuration::from_micros(200),
    };
    let mut lossy = gige();
    lossy.link.loss = 0.02;
    let ktls = |mode, zerocopy_ro| Strategy::SendfileKtls(KtlsOptions { mode, zerocopy_ro });
    let ro = go(&lossy, &w, ktls(TlsMode::NicOffload, true));
    assert!(ro.net.retransmits > 0);
    assert!(ro.zerocopy.tls_auth_failures > 0);
    let sw = go(&lossy, &w, ktls(TlsMode::Software, false));
    assert_eq!(sw.zerocopy.tls_auth_failures, 0);
}
