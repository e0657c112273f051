//! Every strategy on the workloads of the seeds, checked from first principles.

use super::*;
use crate::report::{RunOptions, RunReport, run};
use crate::testkit::wire_bound_world;
use crate::workload::{BulkSource, MutationMode, Workload};
use crate::world::{PathKind, WorldConfig};

const MIB: u64 = 1 << 20;

/// 100 Mb/s Ethernet with checksum offload and scatter-gather, so the only CPU copies are the
/// ones a strategy makes.
fn target() -> WorldConfig {
    wire_bound_world(100_000_000, 1500, true)
}

fn go(w: &Workload, id: &str) -> RunReport {
    go_with(&target(), w, Strategy::from_id(id).unwrap(), false)
}

fn go_with(cfg: &WorldConfig, w: &Workload, s: Strategy, check: bool) -> RunReport {
    let r = run(
        cfg,
        w,
        s,
        RunOptions {
            check_invariants: check,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        r.integrity.splats,
        0,
        "{} on {} splatted",
        r.strategy,
        w.id()
    );
    r
}

/// NetBSD `sosend` tests the loan threshold per pass against what is left of the write and of
/// the socket space; a pass under it is copied, and since both only shrink, so is the rest of
/// that round. So a loaning run copies at most one ragged end (< `sock_loan_thresh` = 4096 B)
/// per `sosend` round, and there is one round per `write()` plus one per wait for room:
/// copies <= 4095 × (writes + send_blocks), besides 4096 B per loan break.
fn assert_loan_copies_only_ragged_passes(r: &RunReport, writes: u64, loan_breaks: u64) {
    let ragged = r.copies.cpu_copy_bytes - 4096 * loan_breaks;
    assert!(
        ragged <= 4095 * (writes + r.outcome.send_blocks),
        "{}: {ragged} B copied in {} rounds",
        r.strategy,
        writes + r.outcome.send_blocks
    );
    assert!(r.vm.pages_loaned * 4096 + ragged >= r.payload_bytes);
}

fn bulk(source: BulkSource) -> Workload {
    Workload::BulkSend {
        total_bytes: 16 * MIB,
        write_size: 64 << 10,
        source,
    }
}

#[test]
fn bulk_send_copies_by_first_principles() {
    // From memory: `copy` copies the payload exactly once; loaning, COW wiring and zbufs copy
    // nothing. From a cached file: read-write copies twice (read, then write), mmap-write
    // once, and the page-referencing strategies never. sendfile never looks up a VMA;
    // mmap-sendpage does at least once per write() (256 writes of 64 KiB).
    let mem = bulk(BulkSource::Memory);
    let file = bulk(BulkSource::File {
        file_bytes: 16 * MIB,
        cold: false,
    });
    let total = 16 * MIB;
    for (w, id, copies) in [
        (&mem, "copy", total),
        (&mem, "cow-send", 0),
        (&mem, "zbuf", 0),
        (&file, "read-write", 2 * total),
        (&file, "mmap-write", total),
        (&file, "mmap-sendpage", 0),
        (&file, "sendfile", 0),
        (&file, "kernel-server", 0),
    ] {
        let r = go(w, id);
        assert_eq!(r.payload_bytes, total, "{id}");
        assert_eq!(r.copies.cpu_copy_bytes, copies, "{id} copies");
    }
    for (w, id) in [(&mem, "page-loan"), (&file, "mmap-loan")] {
        let r = go(w, id);
        assert_eq!(r.payload_bytes, total, "{id}");
        assert_loan_copies_only_ragged_passes(&r, 256, 0);
    }
    assert_eq!(go(&file, "sendfile").vm.vma_lookups, 0);
    assert!(go(&file, "mmap-sendpage").vm.vma_lookups >= 256);
}

#[test]
fn a_cold_file_is_read_from_disk_once() {
    // Cold, each of the 4096 pages is read once (a major fault or a cache miss), by DMA: the
    // disk-to-memory move Thorpe says is the only one mmap-loan makes.
    let w = bulk(BulkSource::File {
        file_bytes: 16 * MIB,
        cold: true,
    });
    for id in ["mmap-loan", "sendfile"] {
        let r = go(&w, id);
        assert_eq!(
            r.faults.major + r.outcome.mmap_failures,
            if id == "mmap-loan" { 4096 } else { 0 }
        );
        if id == "mmap-loan" {
            assert_loan_copies_only_ragged_passes(&r, 256, 0);
        } else {
            assert_eq!(r.copies.cpu_copy_bytes, 0, "{id}");
        }
        assert!(
            r.copies.dma_bytes >= 16 * MIB + 16 * MIB,
            "{id}: disk in + NIC out"
        );
    }
}

#[test]
fn rewrite_after_write_keeps_the_bytes_of_write_time() {
    // The application overwrites its whole buffer as soon as write() returns. copy, page-loan
    // and cow-send must all put the bytes as of write() on the wire (go() asserts zero
    // splats). page-loan pays one loan break per rewritten page still on loan: each is a
    // 4096-byte copy and nothing else is copied, so copy bytes = 4096 × loan breaks.
    let w = Workload::RewriteAfterWrite {
        total_bytes: 4 * MIB,
        write_size: 64 << 10,
        rewrite_bytes: 64 << 10,
    };
    for id in ["copy", "page-loan", "cow-send"] {
        go(&w, id);
    }
    let loan = go(&w, "page-loan");
    assert!(loan.faults.loan_break > 0);
    assert!(
        loan.faults.loan_break <= 4 * MIB / 4096,
        "at most one per rewritten page"
    );
    // 4 MiB in 64 KiB writes: 64 writes.
    assert_loan_copies_only_ragged_passes(&loan, 64, loan.faults.loan_break);
    let cow = go(&w, "cow-send");
    assert_eq!(cow.copies.cpu_copy_bytes, cow.faults.cow * 4096);
}

fn mutation(mode: MutationMode) -> Workload {
    Workload::FileMutation {
        total_bytes: 4 * MIB,
        write_size: 64 << 10,
        file_bytes: MIB,
        mode,
        every: sim::SimDuration::from_micros(500),
    }
}

#[test]
fn in_place_file_changes_splat_only_the_referencing_strategies() {
    // Changed in place while being sent: sendfile and mmap-sendpage reference the very cache
    // pages that change, so the wire carries bytes that differ from the ones asked for.
    // read-write and mmap-write copied at call time; mmap-loan's loan is broken by the write.
    let w = mutation(MutationMode::InPlace);
    for id in ["sendfile", "mmap-sendpage"] {
        let r = run(
            &target(),
            &w,
            Strategy::from_id(id).unwrap(),
            RunOptions::default(),
        )
        .unwrap();
        assert!(r.integrity.splats > 0, "{id} must splat");
        assert!(r.integrity.corrupt_bytes > 0);
    }
    for id in ["read-write", "mmap-write", "mmap-loan"] {
        go(&w, id);
    }
}

#[test]
fn rename_never_splats() {
    // Written to a new file and renamed over the old name: the pages in flight belong to the
    // old file and never change, so nobody splats (go() asserts it).
    let w = mutation(MutationMode::Rename);
    for id in [
        "sendfile",
        "mmap-sendpage",
        "read-write",
        "mmap-write",
        "mmap-loan",
    ] {
        go(&w, id);
    }
}

#[test]
fn the_straddle_bug_sends_the_wrong_file() {
    // Each write spans two mappings of 32 KiB. With the original patch, the second half comes
    // from the first file's next 32 KiB: every byte of it is wrong. Fixed, nothing is.
    let w = Workload::Straddle {
        total_bytes: MIB,
        map_bytes: 32 << 10,
    };
    let buggy = run(
        &target(),
        &w,
        Strategy::MmapSendpage {
            fixed: false,
            map: MapMode::Once,
        },
        RunOptions::default(),
    )
    .unwrap();
    assert_eq!(buggy.integrity.corrupt_bytes, MIB / 2);
    go_with(
        &target(),
        &w,
        Strategy::MmapSendpage {
            fixed: true,
            map: MapMode::Once,
        },
        false,
    );
    go(&w, "mmap-write");
}

fn server(header: HeaderMode) -> Workload {
    Workload::FileServer {
        clients: 4,
        files: 8,
        file_bytes: 64 << 10,
        body_bytes: 64 << 10,
        requests: 40,
        header_bytes: 200,
        header,
    }
}

#[test]
fn a_separate_header_write_costs_one_small_packet_per_response() {
    // 40 responses of a 200-byte header and a 65536-byte body. Corked or as an iovec, header
    // and body fill ceil(65736 / 1448) = 46 segments. As its own write on an idle connection,
    // Nagle lets the header go alone: 1 + ceil(65536 / 1448) = 47.
    // A ring that never fills keeps back-pressure from merging a header into its body.
    let mut cfg = target();
    cfg.nic.tx_ring_slots = 4096;
    let packets = |mode, id| {
        go_with(&cfg, &server(mode), Strategy::from_id(id).unwrap(), false)
            .net
            .packets
    };
    for id in ["sendfile", "read-write"] {
        let sep = packets(HeaderMode::SeparateWrite, id);
        let cork = packets(HeaderMode::Cork, id);
        let iov = packets(HeaderMode::HeaderIovec, id);
        assert_eq!(cork, 40 * 46, "{id} corked");
        assert_eq!(iov, 40 * 46, "{id} iovec");
        assert_eq!(sep, 40 * 47, "{id} separate write");
    }
}

#[test]
fn mapping_more_than_three_gib_fails_as_an_outcome() {
    // 1600 files of 2 MiB are 3.2 GiB of mappings: an mmap-based server runs out of address
    // space and reports failed requests; sendfile maps nothing and serves them all.
    let w = Workload::FileServer {
        clients: 8,
        files: 1600,
        file_bytes: 2 * MIB,
        body_bytes: 8 << 10,
        requests: 1600,
        header_bytes: 0,
        header: HeaderMode::SeparateWrite,
    };
    let mapped = go(&w, "mmap-write");
    assert!(mapped.outcome.mmap_failures > 0);
    assert_eq!(mapped.outcome.failed_requests, mapped.outcome.mmap_failures);
    let sf = go(&w, "sendfile");
    assert_eq!(sf.outcome.failed_requests, 0);
    assert_eq!(sf.payload_bytes, 1600 * (8 << 10));
}

#[test]
fn a_buffer_too_big_for_the_address_space_is_an_outcome() {
    // With 1 MiB of user address space, a 2 MiB write buffer cannot be mapped: the sender
    // fails before it starts. That is a simulated failure, so the run reports it (one failed
    // request, no payload) and leaves nothing behind, instead of stopping the program.
    let mut cfg = target();
    cfg.user_space_bytes = 1 << 20;
    let w = Workload::BulkSend {
        total_bytes: 4 * MIB,
        write_size: 2 * MIB,
        source: BulkSource::Memory,
    };
    let r = go_with(&cfg, &w, Strategy::Copy, true);
    assert_eq!(r.outcome.failed_requests, 1);
    assert_eq!(r.payload_bytes, 0);
}

#[test]
fn a_shared_page_is_copied_only_if_written_while_referenced() {
    // The other process writes the page once. While the kernel still references it, the
    // write must copy it exactly once (one COW or loan-break copy, 4096 bytes); after every
    // reference is gone, never. A plain copy never needs to.
    for id in ["cow-send", "page-loan"] {
        for (during, copies) in [(true, 4096), (false, 0)] {
            let w = Workload::SharedPage {
                total_bytes: MIB,
                write_while_referenced: during,
            };
            let r = go(&w, id);
            assert_eq!(
                r.copies.cpu_copy_bytes, copies,
                "{id}, write during transfer: {during}"
            );
        }
    }
    let w = Workload::SharedPage {
        total_bytes: MIB,
        write_while_referenced: true,
    };
    assert_eq!(
        go(&w, "copy").faults.cow + go(&w, "copy").faults.loan_break,
        0
    );
}

#[test]
fn bulk_receive_flips_only_aligned_pages() {
    let mut cfg = wire_bound_world(1_000_000_000, 9000, true);
    cfg.nic.header_split = true;
    let w = |off| Workload::BulkReceive {
        total_bytes: 4 * MIB,
        read_size: 64 << 10,
        buffer_offset: off,
        segment_bytes: 8192,
    };
    let flip = go_with(&cfg, &w(0), Strategy::PageFlip, false);
    assert_eq!(flip.outcome.page_flips, 4 * MIB / 4096);
    assert_eq!(flip.copies.cpu_copy_bytes, 0);
    let off = go_with(&cfg, &w(100), Strategy::PageFlip, false);
    assert_eq!(off.outcome.page_flips, 0);
    assert_eq!(off.copies.cpu_copy_bytes, 4 * MIB);
    let copy = go_with(&cfg, &w(0), Strategy::RecvCopy, false);
    assert_eq!(copy.copies.cpu_copy_bytes, 4 * MIB);
}

#[test]
fn a_strategy_that_does_not_fit_is_an_error_naming_both() {
    let e = bulk(BulkSource::Memory)
        .build(&target(), Strategy::from_id("sendfile").unwrap())
        .err()
        .expect("sendfile cannot send from memory");
    assert_eq!((e.strategy, e.workload), ("sendfile", "bulk-send"));
    assert!(e.to_string().contains("sendfile") && e.to_string().contains("bulk-send"));
    let e = Workload::default_for("stamped-pages")
        .unwrap()
        .check(&Strategy::from_id("sendfile").unwrap())
        .unwrap_err();
    assert!(e.reason.contains("stamp"));
}

#[test]
fn data_path_of_read_write_has_two_copy_edges_and_sendfile_none() {
    // read-write: page cache -> user buffer (read) and user buffer -> socket buffer (write)
    // are CPU copies; sendfile only references and DMAs.
    let file = Workload::BulkSend {
        total_bytes: MIB,
        write_size: 64 << 10,
        source: BulkSource::File {
            file_bytes: MIB,
            cold: false,
        },
    };
    let rw = go(&file, "read-write").data_path;
    assert_eq!(rw.count(PathKind::CpuCopy), 2, "{}", rw.to_text());
    let sf = go(&file, "sendfile").data_path;
    assert_eq!(sf.count(PathKind::CpuCopy), 0, "{}", sf.to_text());
    assert!(sf.to_dot("sendfile").starts_with("digraph"));
}

/// Small instances of every workload.
fn small_workloads() -> Vec<Workload> {
    vec![
        Workload::BulkSend {
            total_bytes: 256 << 10,
            write_size: 20_000,
            source: BulkSource::Memory,
        },
        Workload::BulkSend {
            total_bytes: 256 << 10,
            write_size: 20_000,
            source: BulkSource::File {
                file_bytes: 100_000,
                cold: true,
            },
        },
        Workload::RewriteAfterWrite {
            total_bytes: 256 << 10,
            write_size: 16 << 10,
            rewrite_bytes: 100,
        },
        Workload::StampedPages {
            total_bytes: 256 << 10,
            write_size: 16 << 10,
            stamp_bytes: 16,
        },
        Workload::FileServer {
            clients: 3,
            files: 5,
            file_bytes: 30_000,
            body_bytes: 30_000,
            requests: 12,
            header_bytes: 180,
            header: HeaderMode::Cork,
        },
        Workload::FileMutation {
            total_bytes: 256 << 10,
            write_size: 16 << 10,
            file_bytes: 64 << 10,
            mode: MutationMode::InPlace,
            every: sim::SimDuration::from_micros(300),
        },
        Workload::Straddle {
            total_bytes: 128 << 10,
            map_bytes: 8 << 10,
        },
        Workload::SharedPage {
            total_bytes: 128 << 10,
            write_while_referenced: true,
        },
        Workload::BulkReceive {
            total_bytes: 256 << 10,
            read_size: 10_000,
            buffer_offset: 0,
            segment_bytes: 8192,
        },
    ]
}

#[test]
fn every_strategy_on_every_workload_runs_clean_with_invariants_checked() {
    // run() asserts the world ends clean (no storage, loan, wiring or packet left); the
    // checker runs after every event. Splats are allowed here (file-mutation, straddle).
    let mut cfg = wire_bound_world(1_000_000_000, 9000, true);
    cfg.nic.header_split = true;
    // io-uring-zcrx binds its area to a queue the flow is steered to.
    cfg.nic.flow_steering = true;
    // devmem-tcp binds its dmabuf (62.5 MiB by default) in a peer device's memory.
    cfg.machine.device_memory = Some(crate::machine::DeviceMemoryConfig {
        capacity_bytes: 1 << 30,
        bandwidth: sim::ByteRate::from_bytes_per_sec(25_000_000_000),
    });
    let mut ran = 0;
    for w in small_workloads() {
        for id in STRATEGY_IDS {
            let s = Strategy::from_id(id).unwrap();
            if w.check(&s).is_err() {
                continue;
            }
            let r = run(
                &cfg,
                &w,
                s,
                RunOptions {
                    check_invariants: true,
                    ..RunOptions::default()
                },
            )
            .unwrap();
            assert!(r.payload_bytes > 0, "{id} on {}", w.id());
            ran += 1;
        }
    }
    assert!(ran >= 40, "only {ran} combinations ran");
}

mod props {
    use super::{BulkSource, STRATEGY_IDS, SourceKind, Workload, target};
    use crate::strategy::Strategy as S;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Random small bulk sends, any memory or file strategy, with loss: the run must
        /// finish with invariants intact after every event, every byte delivered exactly
        /// (received = sent = acked) and nothing left behind.
        #[test]
        fn random_small_runs_conserve_bytes(
            total in 1u64..300_000,
            write in 1u64..70_000,
            strategy in 0usize..10,
            from_file in any::<bool>(),
            loss in prop::sample::select(vec![0.0, 0.02]),
            seed in 1u64..1000,
        ) {
            let id = STRATEGY_IDS[strategy];
            let s = S::from_id(id).unwrap();
            let source = if s.source() == SourceKind::File || from_file && s.source() != SourceKind::Memory {
                BulkSource::File { file_bytes: 50_000, cold: seed % 2 == 0 }
            } else {
                BulkSource::Memory
            };
            let w = Workload::BulkSend { total_bytes: total, write_size: write, source };
            prop_assume!(w.check(&s).is_ok());
            let mut cfg = target();
            cfg.link.loss = loss;
            cfg.seed = seed;
            let mut world = w.build(&cfg, s).unwrap();
            world.set_check_invariants(true);
            world.run();
            prop_assert!(world.is_clean());
            prop_assert_eq!(world.written_bytes(), total);
            prop_assert_eq!(world.acked_bytes(), total);
            prop_assert_eq!(world.delivered_bytes(), total);
        }
    }
}

fn narrated(w: &Workload, s: Strategy) -> (RunReport, Vec<String>) {
    use std::cell::RefCell;
    use std::rc::Rc;
    let lines = Rc::new(RefCell::new(Vec::new()));
    let sink = lines.clone();
    let r = run(
        &target(),
        w,
        s,
        RunOptions {
            check_invariants: false,
            narrator: Some(Box::new(move |l: &str| {
                sink.borrow_mut().push(l.to_owned())
            })),
            ..RunOptions::default()
        },
    )
    .unwrap();
    let lines = lines.borrow().clone();
    (r, lines)
}

#[test]
fn narration_explains_loans_breaks_and_splats_without_changing_the_run() {
    // Listening must not change the run: the report is identical with and without a
    // narrator. The lines must name the mechanisms that made the numbers: loans and loan
    // breaks for page-loan under rewrites, and a splat for sendfile under in-place mutation.
    let w = Workload::RewriteAfterWrite {
        total_bytes: MIB,
        write_size: 64 << 10,
        rewrite_bytes: 64 << 10,
    };
    let s = Strategy::from_id("page-loan").unwrap();
    let (r, lines) = narrated(&w, s);
    let quiet = run(&target(), &w, s, RunOptions::default()).unwrap();
    assert_eq!(r, quiet);
    assert!(lines.iter().any(|l| l.contains("uvm_loan: 16 pages")));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("loan breaks") && !l.contains(": 0 loan breaks"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("copy 64.0 KiB") || l.contains("copy 4.0 KiB"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(' ') && l.contains(" us ")),
        "lines are timed"
    );

    let (r, lines) = narrated(
        &mutation(MutationMode::InPlace),
        Strategy::from_id("sendfile").unwrap(),
    );
    assert!(r.integrity.splats > 0);
    assert_eq!(
        lines.iter().filter(|l| l.contains("SPLAT")).count() as u64,
        r.integrity.splats,
        "one line per splat"
    );
}

mod regressions {
    //! Valid scenarios that once stopped a run or panicked (issue "Reliability").
    use super::*;

    #[test]
    fn a_tx_ring_smaller_than_a_chain_linearizes_instead_of_stopping() {
        // 9000-byte segments over 2 KiB clusters are chains of 6 fragments (a header and
        // five pieces); a 4-descriptor ring can never hold one. A driver defragments such a
        // chain into one buffer (m_defrag), so every strategy must deliver all 1 MiB, each
        // segment costing one coalescing copy, and no run may stall.
        let mut cfg = wire_bound_world(1_000_000_000, 9000, true);
        cfg.nic.tx_ring_slots = 4;
        let w = Workload::BulkSend {
            total_bytes: MIB,
            write_size: 64 << 10,
            source: BulkSource::Memory,
        };
        for id in ["copy", "page-loan", "cow-send", "zbuf"] {
            let r = go_with(&cfg, &w, Strategy::from_id(id).unwrap(), true);
            assert_eq!(r.outcome.stalled, None, "{id} stalled");
            assert_eq!(r.payload_bytes, MIB, "{id} delivered everything");
            assert!(
                r.outcome.coalesced_packets > 0,
                "{id} linearized its chains"
            );
        }
    }

    #[test]
    fn a_loan_kva_cap_below_one_chunk_copies_instead_of_sleeping_for_good() {
        // With 4 KiB of kernel address space no 64 KiB loan can ever be mapped, and with
        // nothing loaned no returned loan will ever wake a sleeper: sosend must copy. The
        // run delivers everything (it used to report 0 bytes and a finished run). Only a
        // ragged pass of at most one page still fits the cap and is loaned.
        let w = bulk(BulkSource::Memory);
        let opts = LoanOptions {
            kva_cap_bytes: 4096,
            ..LoanOptions::default()
        };
        let r = go_with(&target(), &w, Strategy::PageLoan(opts), true);
        assert_eq!(r.outcome.stalled, None);
        assert_eq!(r.payload_bytes, 16 * MIB);
        assert!(
            r.copies.cpu_copy_bytes > 15 * MIB,
            "{}",
            r.copies.cpu_copy_bytes
        );
    }

    #[test]
    fn stamps_never_reach_past_a_short_request() {
        // With 8-byte writes the 16-byte stamp of the last request of the file would land
        // past the end of the mapping. The application stamps only the bytes it sends, so
        // every mmap strategy delivers the whole 16 KiB and none panics.
        let w = Workload::StampedPages {
            total_bytes: 16 << 10,
            write_size: 8,
            stamp_bytes: 16,
        };
        for id in ["mmap-write", "mmap-loan", "mmap-sendpage", "copy"] {
            let r = go_with(&target(), &w, Strategy::from_id(id).unwrap(), true);
            assert_eq!(r.outcome.stalled, None, "{id} stalled");
            assert_eq!(r.payload_bytes, 16 << 10, "{id} delivered everything");
        }
    }
}

/// Issue 14: each mechanism as its kernel did it. One test per bullet of "What it must show".
mod as_the_kernels_did_it {
    use super::*;
    use crate::strategy::page_loan::{self, Pass};

    const KIB: u64 = 1 << 10;

    #[test]
    fn loan_passes_follow_sosend_per_pass() {
        // NetBSD 1.6 sosend: each pass loans min(resid, space, SOCK_LOAN_CHUNK) when both
        // resid and space are >= sock_loan_thresh (4096). A round with 66000 B of room: the
        // first pass loans 65536 B (16 aligned pages, 64 KiB of KVA); 464 B are left of the
        // space, under the threshold, so they are copied.
        let o = LoanOptions::default();
        assert_eq!(
            page_loan::passes(o, 1, 0, 66_000, 0),
            vec![
                Pass::Loan {
                    n: 65_536,
                    span: 65_536
                },
                Pass::Copy { n: 464 }
            ]
        );
        // 8192 B starting 2 KiB into a page span 3 pages: 12288 B of KVA.
        assert_eq!(
            page_loan::passes(o, 1, 0x800, 8192, 0),
            vec![Pass::Loan {
                n: 8192,
                span: 12_288
            }]
        );
        // A round with less than the threshold left is copied whole.
        assert_eq!(
            page_loan::passes(o, 1, 0, 4095, 0),
            vec![Pass::Copy { n: 4095 }]
        );
    }

    #[test]
    fn a_loan_past_the_kva_cap_sleeps() {
        // SOMAXKVA = 16 MiB with 16 MiB − 32 KiB already mapped: a 64 KiB pass needs 64 KiB
        // of KVA, so sokvaalloc sleeps (take = 0: the writer waits); a 20000 B pass needs 5
        // pages = 20480 B, which fits. The old model's choice, copying, stays an option.
        let o = LoanOptions::default();
        let used = (16 << 20) - 32 * KIB;
        assert_eq!(page_loan::passes(o, 1, 0, 65_536, used), vec![Pass::Sleep]);
        assert_eq!(page_loan::take(o, 1, 0, 65_536, used), 0);
        assert_eq!(page_loan::take(o, 1, 0, 20_000, used), 20_000);
        let copy = LoanOptions {
            at_kva_cap: KvaCapPolicy::Copy,
            ..o
        };
        assert_eq!(
            page_loan::passes(copy, 1, 0, 65_536, used),
            vec![Pass::Copy { n: 65_536 }]
        );
    }

    #[test]
    fn blocking_at_the_kva_cap_copies_nothing_more() {
        // A 128 KiB KVA cap under a 256 KiB send buffer: at most two 64 KiB loans (32 pages)
        // are mapped at once. Sleeping (NetBSD), the writer waits for the ACK that returns
        // them: no more pages are ever lent than the cap maps, and it copies only ragged
        // passes (see assert_loan_copies_only_ragged_passes; 256 writes). Copying at the cap
        // instead, the other half of the buffer is filled by copies: far more bytes copied.
        let w = bulk(BulkSource::Memory);
        let cap = 128 * KIB;
        let opts = |at_kva_cap| LoanOptions {
            kva_cap_bytes: cap,
            at_kva_cap,
            ..LoanOptions::default()
        };
        let sleep = go_with(
            &target(),
            &w,
            Strategy::PageLoan(opts(KvaCapPolicy::Sleep)),
            false,
        );
        assert_eq!(sleep.payload_bytes, 16 * MIB);
        assert!(sleep.outcome.stalled.is_none());
        assert!(sleep.vm.peak_wired_pages <= cap / 4096);
        assert_loan_copies_only_ragged_passes(&sleep, 256, 0);
        let copy = go_with(
            &target(),
            &w,
            Strategy::PageLoan(opts(KvaCapPolicy::Copy)),
            false,
        );
        assert_eq!(copy.payload_bytes, 16 * MIB);
        assert!(copy.copies.cpu_copy_bytes > 4 * sleep.copies.cpu_copy_bytes.max(MIB));
    }

    #[test]
    fn loans_are_off_with_two_cpus_unless_forced() {
        // NetBSD: `#if defined(SOSEND_NO_LOAN) || defined(MULTIPROCESSOR)` sock_loan_thresh
        // = -1. With cpus = 2 page-loan is plain sosend: all 16 MiB copied, no page lent, no
        // TLB shootdown. Forced on, it loans (each uvm_loan write-protects the pages and
        // shoots down the other CPU's TLB).
        let mut cfg = target();
        cfg.machine.cpus = 2;
        let w = bulk(BulkSource::Memory);
        let mp = go_with(&cfg, &w, Strategy::PageLoan(LoanOptions::default()), false);
        assert_eq!(mp.copies.cpu_copy_bytes, 16 * MIB);
        assert_eq!(mp.vm.pages_loaned, 0);
        let forced = go_with(
            &cfg,
            &w,
            Strategy::PageLoan(LoanOptions {
                on_multiprocessor: true,
                ..LoanOptions::default()
            }),
            false,
        );
        assert!(forced.vm.pages_loaned >= 4000);
        assert!(forced.vm.tlb_shootdowns > 0);
        assert_loan_copies_only_ragged_passes(&forced, 256, 0);
    }

    #[test]
    fn unaligned_freebsd_2002_cow_send_copies_everything() {
        // June 2002 sosend: socow_setup only for a page-aligned user address with a page
        // left; any other pass copies one 2048 B cluster. From 100 B into a page, the address
        // after k clusters is 100 + 2048k mod 4096, never 0: 64 KiB are 32 cluster copies and
        // no page is wired.
        let aligned_only = CowOptions::default();
        let p = cow_send::passes(0x1064, 65_536, aligned_only);
        assert_eq!(p.len(), 32);
        assert!(p.iter().all(|x| *x == cow_send::Pass::Copy(2048)));
        // 2 KiB into a page realigns after one cluster: copy 2048, wire 3 pages, copy the
        // 2048 B left (under a page).
        assert_eq!(
            cow_send::passes(0x1800, 16_384, aligned_only),
            vec![
                cow_send::Pass::Copy(2048),
                cow_send::Pass::Wire,
                cow_send::Pass::Wire,
                cow_send::Pass::Wire,
                cow_send::Pass::Copy(2048)
            ]
        );
        // The later partial-page rule: copy the 3996 B head, wire 15 pages (61440 B), copy
        // the 100 B tail.
        let partial = CowOptions {
            align: CowAlign::PartialPage,
        };
        let p = cow_send::passes(0x1064, 65_536, partial);
        assert_eq!(p.first(), Some(&cow_send::Pass::Copy(3996)));
        assert_eq!(p.iter().filter(|x| **x == cow_send::Pass::Wire).count(), 15);
        assert_eq!(p.last(), Some(&cow_send::Pass::Copy(100)));
        // Aligned: 16 wired pages, nothing copied.
        let p = cow_send::passes(0, 65_536, aligned_only);
        assert!(p.len() == 16 && p.iter().all(|x| *x == cow_send::Pass::Wire));
    }

    #[test]
    fn cow_send_wires_without_a_map_lookup() {
        // socow_setup (2002) finds the page with pmap_extract, not vm_map_lookup: wiring 4096
        // pages adds no VMA lookup over what copy's run makes (the buffer's setup faults).
        let w = bulk(BulkSource::Memory);
        let cow = go(&w, "cow-send");
        let copy = go(&w, "copy");
        assert_eq!(cow.vm.pages_loaned, 4096);
        assert_eq!(cow.vm.vma_lookups, copy.vm.vma_lookups);
    }

    #[test]
    fn a_flip_is_refused_for_a_count_that_is_not_a_page_multiple() {
        // userspaceco flips only when cnt, the bytes this step moves (the smaller of what is
        // left of the read and the mbuf's piece), is a page multiple. A 2048 B read never
        // moves a whole page: 0 flips, all 4 MiB copied. A 64 KiB read flips every page, and
        // each flip is a vm_pgmoveco: one map lookup (vm_map_lookup) per flip at least.
        let mut cfg = wire_bound_world(1_000_000_000, 9000, true);
        cfg.nic.header_split = true;
        let w = |read_size| Workload::BulkReceive {
            total_bytes: 4 * MIB,
            read_size,
            buffer_offset: 0,
            segment_bytes: 8192,
        };
        let short = go_with(&cfg, &w(2048), Strategy::PageFlip, false);
        assert_eq!(short.outcome.page_flips, 0);
        assert_eq!(short.copies.cpu_copy_bytes, 4 * MIB);
        let whole = go_with(&cfg, &w(64 << 10), Strategy::PageFlip, false);
        assert_eq!(whole.outcome.page_flips, 1024);
        assert!(whole.vm.vma_lookups >= 1024);
    }

    /// A Linux target (see `Kernel::linux_target`: the fused copy-and-checksum stands for it
    /// until `WorldConfig` says so) whose NIC lacks scatter-gather.
    fn no_sg() -> WorldConfig {
        let mut cfg = target();
        cfg.fused_copy_checksum = true;
        cfg.nic.scatter_gather = false;
        cfg
    }

    /// A Linux target whose NIC lacks checksum offload.
    fn no_csum() -> WorldConfig {
        let mut cfg = target();
        cfg.fused_copy_checksum = true;
        cfg.nic.checksum_offload = false;
        cfg
    }

    #[test]
    fn sendpage_users_fall_back_without_sg_or_checksum_offload() {
        // Linux 2.4 tcp_sendpage: without NETIF_F_SG or checksum offload it is
        // sock_no_sendpage, a copy of every byte. The 2003 patch and TUX call it like
        // sendfile does. Without checksum offload (SG on): exactly one copy, 16 MiB. On a BSD
        // target (no fused copy here) they stand for a port that references the pages.
        let file = bulk(BulkSource::File {
            file_bytes: 16 * MIB,
            cold: false,
        });
        for s in [
            Strategy::MmapSendpage {
                fixed: false,
                map: MapMode::Once,
            },
            Strategy::KernelServer,
            Strategy::Sendfile {
                linux_fallback: true,
            },
        ] {
            let r = go_with(&no_csum(), &file, s, false);
            assert_eq!(
                r.copies.cpu_copy_bytes,
                16 * MIB,
                "{} without csum",
                r.strategy
            );
            // Without SG: at least the fallback's copy (today the driver copies each packet
            // again; see linux_without_sg_copies_once).
            let r = go_with(&no_sg(), &file, s, false);
            assert!(
                r.copies.cpu_copy_bytes >= 16 * MIB,
                "{} without SG",
                r.strategy
            );
            // With both, no copy at all.
            assert_eq!(go_with(&target(), &file, s, false).copies.cpu_copy_bytes, 0);
        }
        for s in [
            Strategy::MmapSendpage {
                fixed: false,
                map: MapMode::Once,
            },
            Strategy::KernelServer,
        ] {
            let mut bsd = no_csum();
            bsd.fused_copy_checksum = false;
            assert_eq!(go_with(&bsd, &file, s, false).copies.cpu_copy_bytes, 0);
        }
    }

    #[test]
    fn linux_without_sg_copies_once() {
        // Linux 2.4 tcp_sendmsg on a device without NETIF_F_SG builds linear, MSS-sized skbs
        // (select_size) and copies the user's bytes into them once, checksumming on the way
        // (csum_and_copy_from_user); the driver sends each as one buffer. So `copy` moves
        // 16 MiB for 16 MiB, not 32 MiB (a second, driver copy per packet is BSD's m_defrag
        // of a cluster chain). A target is Linux when its stack fuses copy and checksum
        // (World::linux_stack).
        let r = go_with(&no_sg(), &bulk(BulkSource::Memory), Strategy::Copy, false);
        assert_eq!(r.copies.cpu_copy_bytes, 16 * MIB);
    }

    #[test]
    fn zbuf_hands_over_without_a_remap() {
        // VxWorks zbufs live in one flat address space: the hand-over is a pointer passing,
        // no PTE change and no TLB flush. What zbuf pays is producing its data: the
        // application writes all 16 MiB (one bus byte per byte here, no write-allocate) and
        // nothing is copied.
        // The only mapping work is the run's setup (the buffer's mmap), the same as copy's.
        let r = go(&bulk(BulkSource::Memory), "zbuf");
        let copy = go(&bulk(BulkSource::Memory), "copy");
        let ns = |r: &RunReport, a| r.breakdown.cpu_ns.get(a).copied().unwrap_or(0);
        assert_eq!(r.copies.cpu_copy_bytes, 0);
        assert_eq!(ns(&r, "map_unmap"), ns(&copy, "map_unmap"));
        assert_eq!(ns(&r, "tlb"), ns(&copy, "tlb"));
        assert!(r.breakdown.bus_bytes.get("app").copied().unwrap_or(0) >= 16 * MIB);
    }
}

mod fill_each_write {
    use super::*;
    use crate::workload::WorkloadOptions;

    fn run_with(w: &Workload, s: Strategy, fill_each_write: bool) -> RunReport {
        let mut world = w
            .build_with(&target(), s, WorkloadOptions { fill_each_write })
            .unwrap();
        world.run();
        RunReport::from_world(&world, s)
    }

    #[test]
    fn every_memory_strategy_produces_its_data_alike() {
        // 4 MiB from memory in 64 KiB writes. Off, copy writes its 64 KiB buffer once at
        // setup (65536 app bytes) and zbuf writes all 4 MiB into its buffers (plus the same
        // unused setup buffer): 4 MiB + 64 KiB. On, copy writes every request before sending
        // it: 4 MiB more, so both write 4 MiB + 64 KiB; zbuf gets nothing more. No write-allocate
        // here, so app bus bytes = bytes written.
        let w = Workload::BulkSend {
            total_bytes: 4 * MIB,
            write_size: 64 << 10,
            source: BulkSource::Memory,
        };
        let app = |r: &RunReport| r.breakdown.bus_bytes.get("app").copied().unwrap_or(0);
        let copy_off = run_with(&w, Strategy::Copy, false);
        let copy_on = run_with(&w, Strategy::Copy, true);
        let zbuf_off = run_with(&w, Strategy::Zbuf, false);
        let zbuf_on = run_with(&w, Strategy::Zbuf, true);
        assert_eq!(app(&copy_off), 64 << 10);
        assert_eq!(app(&copy_on), 4 * MIB + (64 << 10));
        assert_eq!(app(&zbuf_off), 4 * MIB + (64 << 10));
        assert_eq!(app(&zbuf_on), app(&zbuf_off));
        assert_eq!(copy_on.copies.cpu_copy_bytes, 4 * MIB);
        assert_eq!(copy_on.integrity.splats, 0);
        // The report states the data production: copy, only with the option, builds 4 MiB in
        // its 16 reused buffer pages, 1024 page writes; zbuf always, at least one fresh page
        // per 4 KiB (a chunk that ends mid-page starts the next in a new page), the same with
        // or without the option.
        let built = |r: &RunReport| r.vm.data_pages_built;
        assert_eq!(built(&copy_off), 0);
        assert_eq!(built(&copy_on), 1024);
        assert!(built(&zbuf_off) >= 1024, "{}", built(&zbuf_off));
        assert_eq!(built(&zbuf_on), built(&zbuf_off));
    }

    #[test]
    fn producing_fresh_data_into_a_loaned_buffer_breaks_the_loans() {
        // NetBSD loans the buffer's pages read-only until the NIC is done; an application
        // that writes its next request into the same buffer while they are in flight takes a
        // loan break per loaned page still out (uvm_loanbreak), as rewrite-after-write does.
        // 1 MiB in 64 KiB writes through a 64 KiB socket buffer: the previous write's pages
        // are still out when the next is produced, so some pages break; without the option
        // none do. Data pages built: 1 MiB / 4 KiB = 256.
        let w = Workload::BulkSend {
            total_bytes: MIB,
            write_size: 64 << 10,
            source: BulkSource::Memory,
        };
        let s = Strategy::from_id("page-loan").unwrap();
        let off = run_with(&w, s, false);
        let on = run_with(&w, s, true);
        assert_eq!(off.faults.loan_break, 0);
        assert!(on.faults.loan_break > 0, "{}", on.faults.loan_break);
        assert_eq!(on.vm.data_pages_built, 256);
        assert_eq!(on.integrity.splats, 0);
    }

    #[test]
    fn a_file_source_produces_nothing() {
        // The option is about a buffer in memory: read-write sends from a file (read into a
        // buffer, then written), so it builds no data pages and copies what it copied without
        // the option.
        let w = bulk(BulkSource::File {
            file_bytes: 4 * MIB,
            cold: false,
        });
        let s = Strategy::from_id("read-write").unwrap();
        let off = run_with(&w, s, false);
        let on = run_with(&w, s, true);
        assert_eq!(on.vm.data_pages_built, 0);
        assert_eq!(on.copies.cpu_copy_bytes, off.copies.cpu_copy_bytes);
    }
}

#[test]
fn a_cache_leaves_copy_only_the_first_use_of_each_cluster_to_pay_for() {
    // `copy` sends 1 MiB from one 64 KiB buffer. Its pages become resident as they are
    // faulted in (the zero-fill's stores), before the copy that faulted them is judged, so
    // every copyin finds its source; clusters are recycled last-freed-first, so a cluster
    // misses only the first time its memory is used (for the bytes that use put in it: a
    // cluster ending a write holds less than 2 KiB). At most a socket buffer (256 KiB) and
    // one write (64 KiB) of clusters are live at once: at most 160 units of 2 KiB ever, so
    // the copies move at most 160 × 2048 = 320 KiB over the bus (1 bus byte per missed
    // destination byte on this write-back, no-allocate target) against 2 MiB with no cache,
    // and still copy the whole 1 MiB.
    let w = Workload::BulkSend {
        total_bytes: MIB,
        write_size: 64 << 10,
        source: BulkSource::Memory,
    };
    let mut cached = target();
    cached.llc_bytes = 8 * MIB;
    let hot = go_with(&cached, &w, Strategy::Copy, true);
    let cold = go_with(&target(), &w, Strategy::Copy, true);
    for r in [&hot, &cold] {
        assert_eq!(
            r.copies.cpu_copy_bytes, MIB,
            "the cache saves bus bytes, not copies"
        );
    }
    let (h, c) = (
        hot.breakdown.bus_bytes["copy"],
        cold.breakdown.bus_bytes["copy"],
    );
    assert_eq!(
        c,
        2 * cold.copies.cpu_copy_bytes,
        "no cache: 2 bus bytes per byte"
    );
    assert!(h <= 160 * 2048, "{h} bus bytes with the cache");
    assert!(h > 0, "the first use of each cluster misses");
    // The CPU copies faster too: hits run at the hot 40 GB/s, not the cold 10 GB/s.
    assert!(hot.breakdown.cpu_ns["copy"] < cold.breakdown.cpu_ns["copy"]);
}

#[test]
fn with_no_cache_the_hot_rate_changes_nothing() {
    // llc_bytes = 0 (the 2002 presets): no line is ever resident, so cpu_copy_hot_rate is
    // never used and any value of it gives the same run, byte for byte.
    let w = bulk(BulkSource::Memory);
    let mut other = target();
    other.machine.costs.cpu_copy_hot_rate = sim::ByteRate::from_bytes_per_sec(123_456_789);
    for id in ["copy", "page-loan"] {
        let s = Strategy::from_id(id).unwrap();
        assert_eq!(
            go_with(&target(), &w, s, false),
            go_with(&other, &w, s, false),
            "{id}"
        );
    }
}
