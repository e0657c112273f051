//! Per-request mapping and the file-read workload (issue 15 items 4 and 5), checked from
//! first principles. Costs are `testkit::costs()`: syscall 1000, trap 500, minor fault 1000,
//! PTE write 100, TLB flush 200, find_vma 50 per tree level (one VMA: one level), mmap 2000 +
//! 10 per page, munmap 1500 + 50 per present page (all ns); `wire_bound_world` has one CPU
//! (no shootdowns), no write-allocate, and CPU copy and checksum rates of 10 GB/s.

use super::*;
use crate::report::{RunOptions, RunReport, run};
use crate::testkit::wire_bound_world;
use crate::workload::{BulkSource, Workload};
use crate::world::WorldConfig;

const MIB: u64 = 1 << 20;
const KIB: u64 = 1 << 10;

fn go(cfg: &WorldConfig, w: &Workload, s: Strategy) -> RunReport {
    let r = run(
        cfg,
        w,
        s,
        RunOptions {
            check_invariants: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert!(r.outcome.stalled.is_none(), "{} stalled", r.strategy);
    assert_eq!(r.integrity.splats, 0);
    r
}

/// 100 Mb/s Ethernet (unused by file-read) with `fault_around` bytes of fault-around.
fn target(fault_around: u64) -> WorldConfig {
    WorldConfig {
        fault_around_bytes: fault_around,
        ..wire_bound_world(100_000_000, 1500, true)
    }
}

/// 4 MiB read from a cached 1 MiB file in 64 KiB requests: 64 requests, 4 passes.
fn file_read() -> Workload {
    Workload::FileRead {
        total_bytes: 4 * MIB,
        file_bytes: MIB,
        read_size: 64 * KIB,
    }
}

fn cpu(r: &RunReport, activity: &str) -> u64 {
    r.breakdown.cpu_ns.get(activity).copied().unwrap_or(0)
}

const PER_REQUEST: MapMode = MapMode::PerRequest;

#[test]
fn read_copies_every_byte_once_and_faults_only_at_warm_up() {
    // read() copies each request out of the page cache (one copyout per call) and the
    // application sums it: 64 copies of 64 KiB = 4 MiB copied, 64 syscalls. The only faults
    // are the buffer's 16 pages, zero-filled when the application first writes it at setup;
    // no request faults. Bus: setup zero-fills and writes the 64 KiB buffer (1 bus byte per
    // byte each, no write-allocate), then each byte is copied (2 bus bytes) and summed (1):
    // 2 x 64 KiB + 3 x 4 MiB = 131,072 + 12,582,912 = 12,713,984.
    let r = go(&target(0), &file_read(), Strategy::Read);
    assert_eq!(r.payload_bytes, 4 * MIB);
    assert_eq!(r.copies.cpu_copy_ops, 64);
    assert_eq!(r.copies.cpu_copy_bytes, 4 * MIB);
    assert_eq!(r.faults.minor, 16);
    assert_eq!(r.net.syscalls, 64);
    assert_eq!(r.copies.dma_bytes, 0);
    assert_eq!(r.copies.bus_bytes, 12_713_984);
}

#[test]
fn mmap_read_once_copies_nothing_and_faults_each_page_once() {
    // Mapped once (one mmap syscall), the 256 pages of the file fault once each on the first
    // pass (no fault-around) and never again: 256 minor faults for 4 passes, no copy, and the
    // bus carries only the sum, one byte per byte: 4 MiB.
    let r = go(
        &target(0),
        &file_read(),
        Strategy::MmapRead { map: MapMode::Once },
    );
    assert_eq!(r.payload_bytes, 4 * MIB);
    assert_eq!(r.copies.cpu_copy_bytes, 0);
    assert_eq!(r.faults.minor, 256);
    assert_eq!((r.vm.mmaps, r.vm.munmaps, r.net.syscalls), (1, 0, 1));
    assert_eq!(r.copies.bus_bytes, 4 * MIB);
}

#[test]
fn mmap_read_once_with_fault_around_faults_once_per_window() {
    // With 64 KiB of fault-around a fault maps a 16-page window. The file's mapping starts at
    // page 1 (the lowest hole), not on a 16-page boundary, and Linux aligns the window to the
    // address but not before the VMA: [1, 17), then [16, 32) (15 new pages), then 14 aligned
    // windows up to page 256, then page 256 alone at the VMA's end: 1 + 1 + 14 + 1 = 17 faults,
    // where an aligned mapping would take 256 / 16 = 16.
    let r = go(
        &target(64 * KIB),
        &file_read(),
        Strategy::MmapRead { map: MapMode::Once },
    );
    assert_eq!(r.faults.minor, 17);
    assert_eq!(r.copies.cpu_copy_bytes, 0);
}

#[test]
fn mmap_read_per_request_pays_map_faults_teardown_and_flush_each_time() {
    // Each of the 64 requests maps its 16 pages (at page 1 every time: the previous mapping
    // is gone), sums them and unmaps them. With 64 KiB of fault-around the request's first
    // touch maps all 16 pages: faults = pages / fault-around pages = 16 / 16 = 1 per request.
    // Per request: 2 syscalls (mmap, munmap) = 2000; mmap 2000 + 16 x 10 and munmap 1500 +
    // 16 x 50 = 4460; the fault: trap 500 + minor 1000 + 16 PTE writes 1600 = 3100 (Fault),
    // find_vma 50 (the new VMA is not in the lookup cache); one TLB flush 200.
    let r = go(
        &target(64 * KIB),
        &file_read(),
        Strategy::MmapRead { map: PER_REQUEST },
    );
    assert_eq!(r.payload_bytes, 4 * MIB);
    assert_eq!(r.faults.minor, 64);
    assert_eq!((r.vm.mmaps, r.vm.munmaps, r.net.syscalls), (64, 64, 128));
    assert_eq!(cpu(&r, "syscall"), 64 * 2_000);
    assert_eq!(cpu(&r, "map_unmap"), 64 * 4_460);
    assert_eq!(cpu(&r, "fault"), 64 * 3_100);
    assert_eq!(cpu(&r, "vma_lookup"), 64 * 50);
    assert_eq!(cpu(&r, "tlb"), 64 * 200);
    assert_eq!(r.copies.cpu_copy_bytes, 0);

    // Without fault-around (Linux 2.4) each page is its own fault: 16 per request, each
    // trap 500 + minor 1000 + 1 PTE write 100 = 1600, find_vma 50 for the first and a cache
    // hit of 20 for the other 15 = 350 per request.
    let r = go(
        &target(0),
        &file_read(),
        Strategy::MmapRead { map: PER_REQUEST },
    );
    assert_eq!(r.faults.minor, 64 * 16);
    assert_eq!(cpu(&r, "fault"), 64 * 16 * 1_600);
    assert_eq!(cpu(&r, "vma_lookup"), 64 * 350);
    assert_eq!(cpu(&r, "map_unmap"), 64 * 4_460);
}

#[test]
fn mmap_write_per_request_maps_and_unmaps_around_each_write() {
    // 2 MiB from a cached 1 MiB file in 64 KiB writes: 32 requests. Mapped once, each of the
    // 256 pages faults once (no fault-around) and the second pass faults nothing: 256 faults,
    // 1 mmap + 32 writes = 33 syscalls. Per request the 16 pages of every write fault anew:
    // 512 faults, and each request is mmap, write, munmap: 96 syscalls, 32 mmaps and 32
    // munmaps of 16 present pages each (2000 + 160 + 1500 + 800 = 4460 ns), one TLB flush
    // (200 ns) each. The copies are the same 2 MiB either way.
    let w = Workload::BulkSend {
        total_bytes: 2 * MIB,
        write_size: 64 * KIB,
        source: BulkSource::File {
            file_bytes: MIB,
            cold: false,
        },
    };
    let once = go(&target(0), &w, Strategy::MmapWrite { map: MapMode::Once });
    assert_eq!(once.faults.minor, 256);
    assert_eq!(
        (once.vm.mmaps, once.vm.munmaps, once.net.syscalls),
        (1, 0, 33)
    );
    let each = go(&target(0), &w, Strategy::MmapWrite { map: PER_REQUEST });
    assert_eq!(each.faults.minor, 512);
    assert_eq!(
        (each.vm.mmaps, each.vm.munmaps, each.net.syscalls),
        (32, 32, 96)
    );
    assert_eq!(cpu(&each, "map_unmap"), 32 * 4_460);
    assert_eq!(cpu(&each, "tlb"), 32 * 200);
    assert_eq!(each.copies.cpu_copy_bytes, once.copies.cpu_copy_bytes);
    assert_eq!(each.payload_bytes, 2 * MIB);
}

#[test]
fn loaning_and_sendpage_rooms_unmap_while_the_kernel_holds_the_pages() {
    // mmap-loan lends the mapped page-cache pages and mmap-sendpage references them; with
    // map = per-request the mapping goes away before the ACK returns them. The kernel's
    // reference is to the page, not the mapping: every byte arrives intact (no splat), every
    // request's mapping is unmapped, and the invariants hold after every event.
    let w = Workload::BulkSend {
        total_bytes: MIB,
        write_size: 64 * KIB,
        source: BulkSource::File {
            file_bytes: MIB,
            cold: false,
        },
    };
    for s in [
        Strategy::MmapLoan {
            loan: LoanOptions::default(),
            map: PER_REQUEST,
        },
        Strategy::MmapSendpage {
            fixed: false,
            map: PER_REQUEST,
        },
    ] {
        let r = go(&target(64 * KIB), &w, s);
        assert_eq!(r.payload_bytes, MIB, "{}", r.strategy);
        assert_eq!((r.vm.mmaps, r.vm.munmaps), (16, 16), "{}", r.strategy);
    }
}

#[test]
fn file_read_takes_only_the_local_readers_and_they_take_only_it() {
    // read and mmap-read have no socket; every other strategy has one (or receives).
    for id in STRATEGY_IDS {
        let s = Strategy::from_id(id).unwrap();
        let local = matches!(s, Strategy::Read | Strategy::MmapRead { .. });
        assert_eq!(file_read().check(&s).is_ok(), local, "{id}");
        let bulk = Workload::default_for("bulk-send").unwrap();
        if local {
            assert!(bulk.check(&s).is_err(), "{id}");
        }
    }
}

#[test]
fn the_straddle_maps_both_files_for_each_request() {
    // Per request, Miller's two adjacent mappings are made by each request and unmapped
    // after it: 4 MiB in writes spanning two 32 KiB mappings is 64 requests, each 2 mmaps and
    // 2 munmaps (4 syscalls) around its write (1): 128 mmaps, 128 munmaps, 320 syscalls. The
    // bug still reads the first file for the whole write, and the fix still does not.
    let w = Workload::default_for("straddle").unwrap();
    let s = |fixed| Strategy::MmapSendpage {
        fixed,
        map: PER_REQUEST,
    };
    let fixed = go(&target(0), &w, s(true));
    assert_eq!((fixed.vm.mmaps, fixed.vm.munmaps), (128, 128));
    assert_eq!(fixed.net.syscalls, 320);
    let buggy = run(&target(0), &w, s(false), RunOptions::default()).unwrap();
    assert!(buggy.integrity.corrupt_bytes > 0);
}
