//! The modern send path (issue 16): segmentation offload and today's zero-copy rooms,
//! checked from first principles.

use super::*;
use crate::report::{RunOptions, RunReport, run};
use crate::testkit::wire_bound_world;
use crate::workload::{BulkSource, Workload};
use crate::world::WorldConfig;

const MIB: u64 = 1 << 20;

fn go(cfg: &WorldConfig, w: &Workload, s: Strategy) -> RunReport {
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
