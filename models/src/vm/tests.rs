//! Hand-computed VM tests. Costs come from `testkit::costs()`: trap 500, minor 1000,
//! major 3000, COW 1500, PTE 100, TLB flush 200, VMA hit 20 / level 50, page alloc 400,
//! loan 300 / unloan 200 per page (all ns). On the 1 GB/s bus a copy of N payload bytes alone
//! takes 2N ns and an application write of N bytes (at the 500 MB/s CPU rate) also 2N ns; the
//! disk has 100 us of latency, then 100 MB/s.

use super::*;
use crate::machine::Resident;
use crate::testkit::{self, time_plan};
use sim::SimDuration;

const P: u64 = PAGE_SIZE;

/// An address space with `pages` anonymous pages, all written once (so present, writable).
fn populated(vm: &mut Vm, pages: u64) -> (AsId, u64) {
    let asid = vm.new_address_space();
    let mut plan = Plan::new();
    let addr = vm
        .mmap(asid, MmapRequest::anon(pages * P).writable(), &mut plan)
        .unwrap();
    vm.user_write(asid, addr, pages * P, &mut plan).unwrap();
    vm.check_invariants();
    (asid, addr)
}

#[test]
fn loan_three_pages_then_write_the_second_breaks_one_loan() {
    // Three loaned pages, one user write into the second. Only that page may be copied
    // (exactly 4096 bytes, one loan break); the kernel must keep the original frame with the
    // content as of the loan, and the user must see a new version. If the write went to the
    // loaned frame, the kernel's version would change; if more pages were copied, the copy
    // bytes would be a multiple of 4096 above one page.
    let mut vm = testkit::vm(1);
    let (asid, a) = populated(&mut vm, 3);
    let mut plan = Plan::new();
    let mut lent = Vec::new();
    vm.lend(asid, a, 3 * P, LendKind::Loan, &mut plan, &mut lent)
        .unwrap();
    vm.check_invariants();
    assert_eq!(lent.len(), 3);
    assert_eq!(vm.counters().pages_loaned, 3);
    assert_eq!(vm.counters().peak_wired_pages, 3);

    let mut write = Plan::new();
    vm.user_write(asid, a + P + 10, 100, &mut write).unwrap();
    vm.check_invariants();
    assert_eq!(vm.counters().loan_breaks, 1);
    assert_eq!(write.copy_bytes(), 4096);
    let kernel = lent[1];
    assert_eq!(
        vm.frame(kernel.pfn).version,
        kernel.version,
        "kernel keeps old bytes"
    );
    assert_eq!(vm.frame(kernel.pfn).loans, 1);
    assert!(
        vm.frame(kernel.pfn).mappings.is_empty(),
        "user no longer maps it"
    );
    let user_now = vm.user_version(asid, a + P).unwrap();
    assert_ne!(user_now, kernel.version, "user sees the new bytes");
    // The other two loans are untouched.
    assert_eq!(vm.user_version(asid, a), Some(lent[0].version));
    // Time: trap 500 + find_vma cache hit 20 (lend cached the VMA) + COW service 1500
    // + page alloc 400 + copy 4096 B (8192 ns) + PTE 100 + TLB flush 200 + the app's own
    // 100-byte write at 500 MB/s (200 ns) = 11112 ns.
    assert_eq!(time_plan(&write).as_nanos(), 11_112);
}

#[test]
fn after_the_loan_ends_a_write_costs_only_the_cheap_fault() {
    // Once every loan is returned, the pages are still write-protected; the next write must
    // take the write-enable fault (trap + find_vma hit + PTE + TLB flush) and copy nothing.
    // A page whose loan had been broken must be freed when its loan ends (the kernel held
    // the last reference).
    let mut vm = testkit::vm(1);
    let (asid, a) = populated(&mut vm, 3);
    let mut plan = Plan::new();
    let mut lent = Vec::new();
    vm.lend(asid, a, 3 * P, LendKind::Loan, &mut plan, &mut lent)
        .unwrap();
    vm.user_write(asid, a + P, 1, &mut plan).unwrap(); // breaks page 1's loan
    for page in &lent {
        vm.end_lend(page.pfn, LendKind::Loan, &mut plan);
        vm.check_invariants();
    }
    assert_eq!(
        vm.frame(lent[1].pfn).kind,
        FrameKind::Free,
        "broken loan's frame freed"
    );
    assert_eq!(vm.counters().lent_pages, 0);

    let mut write = Plan::new();
    vm.user_write(asid, a, 10, &mut write).unwrap();
    vm.check_invariants();
    assert_eq!(write.copy_bytes(), 0);
    assert_eq!(vm.counters().write_enable_faults, 1);
    assert_eq!(vm.counters().loan_breaks, 1, "no new loan break");
    // trap 500 + find_vma hit 20 + PTE 100 + TLB 200 + 10-byte app write (20 ns) = 840 ns.
    assert_eq!(time_plan(&write).as_nanos(), 840);
    // A second write to the same page is free of faults.
    let mut again = Plan::new();
    vm.user_write(asid, a, 10, &mut again).unwrap();
    assert_eq!(again.fixed_cpu(), SimDuration::ZERO);
}

#[test]
fn private_cow_page_shared_by_fork_is_copied_once() {
    // After fork both spaces map one frame COW. The child's write must copy (the frame has two
    // users); then the parent is the frame's only user, so its write must reuse the page
    // without a copy, and the child's second write must not fault at all.
    let mut vm = testkit::vm(1);
    let (parent, a) = populated(&mut vm, 1);
    let mut plan = Plan::new();
    let child = vm.fork(parent, &mut plan);
    vm.check_invariants();
    let shared = vm.space(parent).pte(a / P).unwrap().pfn;
    assert_eq!(vm.space(child).pte(a / P).unwrap().pfn, shared);

    let mut w1 = Plan::new();
    vm.user_write(child, a, 8, &mut w1).unwrap();
    let mut w2 = Plan::new();
    vm.user_write(parent, a, 8, &mut w2).unwrap();
    let mut w3 = Plan::new();
    vm.user_write(child, a, 8, &mut w3).unwrap();
    vm.check_invariants();
    assert_eq!(vm.counters().cow_faults, 1);
    assert_eq!(w1.copy_bytes(), 4096);
    assert_eq!(w2.copy_bytes() + w3.copy_bytes(), 0);
    assert_eq!(
        vm.space(parent).pte(a / P).unwrap().pfn,
        shared,
        "parent kept it"
    );
    assert_ne!(vm.space(child).pte(a / P).unwrap().pfn, shared);
    assert_eq!(
        w3.fixed_cpu(),
        SimDuration::ZERO,
        "child's page is its own now"
    );
}

fn map_file(vm: &mut Vm, pages: u64, warm: bool) -> (AsId, u64) {
    let file = vm.create_file(pages * P);
    if warm {
        vm.warm_file(file);
    }
    let asid = vm.new_address_space();
    let mut plan = Plan::new();
    let a = vm
        .mmap(asid, MmapRequest::file(file, pages * P), &mut plan)
        .unwrap();
    (asid, a)
}

fn read_pages(vm: &mut Vm, asid: AsId, a: u64, pages: u64) -> Plan {
    let mut plan = Plan::new();
    for i in 0..pages {
        vm.touch(asid, a + i * P, Access::Read, &mut plan).unwrap();
        vm.check_invariants();
    }
    plan
}

#[test]
fn reading_a_new_mapping_faults_minor_when_warm() {
    // Two pages already in the page cache: each first touch is a minor fault and nothing
    // reaches the disk. Time: page 0 = trap 500 + find_vma miss, 1 VMA (1 level, 50) + minor
    // 1000 + PTE 100 = 1650; page 1 the same with a cache hit (20) = 1620; total 3270 ns.
    let mut vm = testkit::vm(1);
    let (asid, a) = map_file(&mut vm, 2, true);
    let plan = read_pages(&mut vm, asid, a, 2);
    assert_eq!(vm.counters().minor_faults, 2);
    assert_eq!(vm.counters().major_faults, 0);
    assert!(
        !plan
            .steps()
            .iter()
            .any(|s| matches!(s, Step::DiskRead { .. }))
    );
    assert_eq!(time_plan(&plan).as_nanos(), 3_270);
}

#[test]
fn reading_a_new_mapping_faults_major_and_dmas_from_disk_when_cold() {
    // The same two pages, cold: each is a major fault with a page allocation and a disk read
    // (100 us latency, then 4096 B at 100 MB/s = 40960 ns of DMA over the bus). Time: page 0 =
    // 500 + 50 + 3000 + 400 + 140960 + 100 = 145010; page 1 = 145010 - 30 (cache hit) =
    // 144980; total 289990 ns, and 8192 DMA bytes crossed the bus.
    let mut vm = testkit::vm(1);
    let (asid, a) = map_file(&mut vm, 2, false);
    let plan = read_pages(&mut vm, asid, a, 2);
    assert_eq!(vm.counters().major_faults, 2);
    assert_eq!(vm.counters().minor_faults, 0);
    let mut m = crate::machine::Machine::new(testkit::machine_config(1));
    let mut q = sim::EventQueue::new();
    let mut notices = Vec::new();
    m.submit(
        &mut q,
        crate::machine::ThreadId(1),
        crate::machine::Priority::User,
        plan,
        &mut notices,
    );
    testkit::drive(&mut m, &mut q, &mut notices);
    assert_eq!(q.now().as_nanos(), 289_990);
    assert_eq!(m.stats().dma_bytes, 8192);
    // The CPU was free during both disk waits: busy only for the fixed costs.
    assert_eq!(m.cpu_busy_ns(), 2 * (500 + 3000 + 400 + 100) + 50 + 20);
}

#[test]
fn a_cache_miss_reads_the_read_ahead_window_in_one_disk_request() {
    // read_ahead 128 KiB = 32 pages. A 40-page cold file: the miss on page 0 reads pages
    // 0..32 in one 131072-byte disk read (32 page allocations, one DiskRead step); page 5 is
    // then a hit that costs nothing; the miss on page 32 reads only the 8 pages left before
    // the end of the file. Once page 50 of a bigger file is cached, a miss on page 45 stops
    // there: 5 pages.
    let mut vm = Vm::new(VmConfig {
        read_ahead_bytes: 128 << 10,
        ..testkit::vm_config(1)
    });
    let disk_reads = |plan: &Plan| -> Vec<u64> {
        plan.steps()
            .iter()
            .filter_map(|s| match s {
                Step::DiskRead { bytes } => Some(*bytes),
                _ => None,
            })
            .collect()
    };
    let f = vm.create_file(40 * PAGE_SIZE);
    let mut plan = Plan::new();
    vm.cache_page(f, 0, &mut plan);
    assert_eq!(disk_reads(&plan), vec![32 * PAGE_SIZE]);
    assert!((0..32).all(|i| vm.cached(f, i).is_some()) && vm.cached(f, 32).is_none());
    let mut hit = Plan::new();
    vm.cache_page(f, 5, &mut hit);
    assert!(hit.is_empty(), "a read-ahead page is a free hit");
    let mut plan = Plan::new();
    vm.cache_page(f, 32, &mut plan);
    assert_eq!(disk_reads(&plan), vec![8 * PAGE_SIZE]);
    assert_eq!(vm.counters().cache_misses, 2);
    let g = vm.create_file(100 * PAGE_SIZE);
    vm.cache_page(g, 50, &mut Plan::new());
    let mut plan = Plan::new();
    vm.cache_page(g, 45, &mut plan);
    assert_eq!(disk_reads(&plan), vec![5 * PAGE_SIZE]);
    vm.check_invariants();
}

#[test]
fn find_vma_costs_follow_tree_depth_and_the_cache() {
    // One VMA: a miss walks 1 level (50 ns), then the cache answers (20 ns). 1000 VMAs: a miss
    // walks ⌊log₂ 1000⌋ + 1 = 10 levels (500 ns). Every lookup is counted.
    let mut vm = testkit::vm(1);
    let asid = vm.new_address_space();
    let mut plan = Plan::new();
    let a = vm
        .mmap(asid, MmapRequest::anon(P).writable(), &mut plan)
        .unwrap();
    let mut p1 = Plan::new();
    assert!(vm.find_vma(asid, a, &mut p1).is_some());
    assert_eq!(p1.fixed_cpu().as_nanos(), 50);
    let mut p2 = Plan::new();
    vm.find_vma(asid, a + 100, &mut p2);
    assert_eq!(p2.fixed_cpu().as_nanos(), 20);

    let mut vm = testkit::vm(1);
    let asid = vm.new_address_space();
    let mut addrs = Vec::new();
    for _ in 0..1000 {
        addrs.push(
            vm.mmap(asid, MmapRequest::anon(P).writable(), &mut plan)
                .unwrap(),
        );
    }
    let mut p3 = Plan::new();
    let v = vm.find_vma(asid, addrs[500] + 8, &mut p3).unwrap();
    assert_eq!(v.start, addrs[500]);
    assert_eq!(p3.fixed_cpu().as_nanos(), 500);
    let mut p4 = Plan::new();
    vm.find_vma(asid, addrs[500], &mut p4);
    assert_eq!(p4.fixed_cpu().as_nanos(), 20);
    assert_eq!(vm.counters().vma_lookups, 2);
    assert_eq!(vm.counters().vma_cache_hits, 1);
    assert_eq!(tree_depth(1), 1);
    assert_eq!(tree_depth(1000), 10);
    assert_eq!(tree_depth(1024), 11);
}

#[test]
fn mmaps_beyond_three_gib_fail_as_an_outcome_and_leak_nothing() {
    // Page 0 is never mapped, so two 1 GiB mappings fit in 3 GiB but a third cannot; the
    // failure must be an Err value (not a panic), counted, and leave no VMA behind. A smaller
    // mapping still fits in what is left; unmapping everything returns the space to empty.
    let mut vm = testkit::vm(1);
    let asid = vm.new_address_space();
    let mut plan = Plan::new();
    let gib = 1u64 << 30;
    let a = vm
        .mmap(asid, MmapRequest::anon(gib).writable(), &mut plan)
        .unwrap();
    let b = vm
        .mmap(asid, MmapRequest::anon(gib).writable(), &mut plan)
        .unwrap();
    let err = vm
        .mmap(asid, MmapRequest::anon(gib).writable(), &mut plan)
        .unwrap_err();
    assert_eq!(
        err,
        MmapError::NoSpace {
            len_bytes: gib,
            mapped_bytes: 2 * gib
        }
    );
    assert_eq!(vm.counters().mmap_failures, 1);
    assert_eq!(vm.space(asid).vma_count(), 2);
    let c = vm
        .mmap(asid, MmapRequest::anon(gib / 2).writable(), &mut plan)
        .unwrap();
    vm.user_write(asid, c, 2 * P, &mut plan).unwrap();
    vm.check_invariants();
    for addr in [a, b, c] {
        vm.munmap(asid, addr, &mut plan);
    }
    vm.check_invariants();
    assert_eq!(vm.space(asid).mapped_bytes(), 0);
    assert_eq!(
        vm.frames().live(),
        0,
        "the two touched anonymous pages were freed"
    );
    assert_eq!(vm.counters().mmaps, 3);
    assert_eq!(vm.counters().munmaps, 3);
}

#[test]
fn straddling_mappings_can_be_placed_back_to_back() {
    // Miller's straddle needs two files mapped at adjacent addresses; MAP_FIXED placement
    // into a taken range must fail instead of overlapping.
    let mut vm = testkit::vm(1);
    let f1 = vm.create_file(2 * P);
    let f2 = vm.create_file(2 * P);
    let asid = vm.new_address_space();
    let mut plan = Plan::new();
    let a = vm
        .mmap(asid, MmapRequest::file(f1, 2 * P).shared(), &mut plan)
        .unwrap();
    let b = vm
        .mmap(
            asid,
            MmapRequest::file(f2, 2 * P).shared().at(a + 2 * P),
            &mut plan,
        )
        .unwrap();
    assert_eq!(b, a + 2 * P);
    assert_eq!(
        vm.mmap(asid, MmapRequest::file(f2, P).shared().at(a + P), &mut plan),
        Err(MmapError::Overlap { addr: a + P })
    );
    vm.check_invariants();
}

#[test]
fn shared_page_is_copied_only_when_written_while_lent() {
    // FreeBSD thread: a MAP_SHARED file page mapped by two processes, wired for a zero-copy
    // send. A write while wired copies once, and both processes see the new page (the object
    // moved to the copy); the kernel keeps the original. After unwiring, the other process's
    // write copies nothing. Without a lend, writes never copy.
    let mut vm = testkit::vm(1);
    let file = vm.create_file(P);
    vm.warm_file(file);
    let req = MmapRequest::file(file, P).writable().shared();
    let mut plan = Plan::new();
    let p1 = vm.new_address_space();
    let p2 = vm.new_address_space();
    let a1 = vm.mmap(p1, req, &mut plan).unwrap();
    let a2 = vm.mmap(p2, req, &mut plan).unwrap();
    vm.user_write(p1, a1, 8, &mut plan).unwrap();
    vm.touch(p2, a2, Access::Read, &mut plan).unwrap();
    assert_eq!(
        vm.counters().cow_faults,
        0,
        "shared writes never copy unlent"
    );

    let mut lent = Vec::new();
    vm.lend(p1, a1, P, LendKind::CowWire, &mut plan, &mut lent)
        .unwrap();
    let mut w = Plan::new();
    vm.user_write(p2, a2, 8, &mut w).unwrap();
    vm.check_invariants();
    assert_eq!(w.copy_bytes(), 4096);
    assert_eq!(vm.counters().cow_faults, 1);
    let now_cached = vm.cached(file, 0).unwrap();
    assert_ne!(now_cached, lent[0].pfn, "the object moved to the copy");
    assert_eq!(vm.space(p1).pte(a1 / P).unwrap().pfn, now_cached);
    assert_eq!(vm.space(p2).pte(a2 / P).unwrap().pfn, now_cached);
    assert_eq!(vm.frame(lent[0].pfn).version, lent[0].version);

    vm.end_lend(lent[0].pfn, LendKind::CowWire, &mut plan);
    let mut w2 = Plan::new();
    vm.user_write(p1, a1, 8, &mut w2).unwrap();
    vm.check_invariants();
    assert_eq!(w2.copy_bytes(), 0);
    assert_eq!(vm.counters().cow_faults, 1);
    assert_eq!(
        vm.frames().live(),
        1,
        "the wired original was freed at unwire"
    );
}

#[test]
fn lending_on_a_multiprocessor_costs_a_shootdown() {
    // Write-protecting a mapped page must shoot down the other CPUs' TLBs: on 4 CPUs that is
    // 3 × 1000 ns on top of the local flush, and it is counted; on 1 CPU it is not.
    let lend_cost = |cpus| {
        let mut vm = testkit::vm(cpus);
        let (asid, a) = populated(&mut vm, 2);
        let mut plan = Plan::new();
        vm.lend(asid, a, 2 * P, LendKind::Loan, &mut plan, &mut Vec::new())
            .unwrap();
        (plan.fixed_cpu().as_nanos(), vm.counters().tlb_shootdowns)
    };
    // find_vma hit 20 + 2 × loan 300 + 2 PTEs × 100 + flush 200 = 1020 ns on one CPU.
    assert_eq!(lend_cost(1), (1020, 0));
    assert_eq!(lend_cost(4), (1020 + 3000, 1));
}

#[test]
fn file_mutation_in_place_changes_the_frame_rename_does_not() {
    // In place, the cached frame a sender references gets new bytes (a new version); with a
    // rename, the sender's frame keeps its bytes and survives until its reference is dropped.
    let mut vm = testkit::vm(1);
    let file = vm.create_file(P);
    vm.warm_file(file);
    let pfn = vm.cached(file, 0).unwrap();
    let v0 = vm.frame(pfn).version;
    vm.kernel_ref(pfn);
    let mut plan = Plan::new();
    vm.write_file_in_place(file, 0, 100, &mut plan);
    assert_ne!(vm.frame(pfn).version, v0);
    let v1 = vm.frame(pfn).version;
    let new = vm.replace_file(file, &mut plan);
    vm.check_invariants();
    assert_eq!(vm.frame(pfn).version, v1);
    assert_eq!(vm.frame(pfn).kind, FrameKind::Kernel);
    assert_ne!(vm.cached(new, 0), Some(pfn));
    assert_eq!(vm.cached(file, 0), None);
    vm.kernel_unref(pfn);
    assert_eq!(vm.frame(pfn).kind, FrameKind::Free);
    vm.check_invariants();
}

#[test]
fn a_two_page_copy_sharing_the_bus_with_dma_takes_the_fluid_time() {
    use crate::machine::{Machine, Notice, Priority, ThreadId};
    // Bus 1 GB/s. A two-page copy moves 16384 bus bytes, alone in 16384 ns. With an uncapped
    // DMA of 8192 bytes starting at the same instant, each gets 500 MB/s: the DMA ends at
    // 16384 ns, the copy has then moved 8192 of its bytes and does the other 8192 alone at
    // 1 GB/s: it ends at 24576 ns. With the DMA capped at 100 MB/s (a PCI engine), the copy
    // gets 900 MB/s: 16384 / 0.9 = 18204.4 -> 18205 ns (rounded up), the DMA at 81920 ns.
    for (cap, copy_end, dma_end) in [
        (None, 24_576, 16_384),
        (
            Some(sim::ByteRate::from_bytes_per_sec(100_000_000)),
            18_205,
            81_920,
        ),
    ] {
        let mut m = Machine::new(testkit::machine_config(1));
        let mut q = sim::EventQueue::new();
        let mut notices = Vec::new();
        let mut plan = Plan::new();
        plan.copy(2 * P);
        m.start_dma(&mut q, 2 * P, cap, crate::machine::DmaTag::Tx(7));
        m.submit(&mut q, ThreadId(0), Priority::User, plan, &mut notices);
        let mut ends = Vec::new();
        while let Some((now, ev)) = q.pop() {
            m.handle(&mut q, ev, &mut notices);
            m.settle(&mut q);
            m.check_invariants();
            ends.extend(notices.drain(..).map(|n| (n, now.as_nanos())));
        }
        ends.sort_by_key(|e| e.1);
        let copy = ends.iter().find(|e| e.0 == Notice::PlanDone(ThreadId(0)));
        let dma = ends.iter().find(|e| {
            e.0 == Notice::DmaDone {
                tag: crate::machine::DmaTag::Tx(7),
            }
        });
        assert_eq!(copy.map(|e| e.1), Some(copy_end), "copy, DMA cap {cap:?}");
        assert_eq!(dma.map(|e| e.1), Some(dma_end), "DMA, cap {cap:?}");
        assert_eq!(m.stats().cpu_copy_bytes, 2 * P);
        assert_eq!(m.stats().total_bus_bytes(), 4 * P + 2 * P);
    }
}

/// Planted violations: each test breaks exactly one invariant by hand and checks that
/// `check_invariants` names it. If the checker lost a rule, its test would stop panicking.
mod planted {
    use super::*;

    fn world() -> (Vm, AsId, u64) {
        let mut vm = testkit::vm(1);
        let (asid, a) = populated(&mut vm, 2);
        (vm, asid, a)
    }

    fn pfn_at(vm: &Vm, asid: AsId, a: u64) -> Pfn {
        vm.space(asid).pte(a / P).unwrap().pfn
    }

    // The incremental check (run after every event) must catch what the full check catches
    // when the state is broken through the VM's own methods: each test below breaks one
    // invariant after a clean full check and expects `check_changed` alone to name it.

    #[test]
    #[should_panic(expected = "more loans/wirings than kernel references")]
    fn incremental_check_sees_a_changed_frame() {
        let (mut vm, asid, a) = world();
        vm.set_incremental_checks(true);
        let pfn = pfn_at(&vm, asid, a);
        vm.frames.get_mut(pfn).loans = 1;
        vm.check_changed();
    }

    #[test]
    #[should_panic(expected = "is mapped writable")]
    fn incremental_check_sees_a_changed_pte() {
        let (mut vm, asid, a) = world();
        let mut plan = Plan::new();
        vm.lend(asid, a, P, LendKind::Loan, &mut plan, &mut Vec::new())
            .unwrap();
        vm.set_incremental_checks(true);
        vm.pte_mut(asid, a / P).writable = true;
        vm.check_changed();
    }

    #[test]
    #[should_panic(expected = "outside every VMA")]
    fn incremental_check_sees_a_new_pte() {
        let (mut vm, asid, a) = world();
        vm.set_incremental_checks(true);
        let pfn = pfn_at(&vm, asid, a);
        vm.map(asid, 0x0007_0000, pfn, false, false);
        vm.check_changed();
    }

    #[test]
    #[should_panic(expected = "lent-page count drifted")]
    fn incremental_check_counts_lent_pages() {
        let (mut vm, _, _) = world();
        vm.set_incremental_checks(true);
        vm.counters.lent_pages += 1;
        vm.check_changed();
    }

    #[test]
    fn incremental_check_passes_a_clean_lend_and_unmap() {
        // The same operations a run does, checked incrementally after each: no false alarm,
        // and the full check agrees at the end.
        let (mut vm, asid, a) = world();
        vm.set_incremental_checks(true);
        let mut plan = Plan::new();
        let mut lent = Vec::new();
        vm.lend(asid, a, P, LendKind::Loan, &mut plan, &mut lent)
            .unwrap();
        vm.check_changed();
        vm.munmap(asid, a, &mut plan);
        vm.check_changed();
        for p in lent {
            vm.end_lend(p.pfn, LendKind::Loan, &mut plan);
        }
        vm.check_changed();
        vm.check_invariants();
    }

    #[test]
    #[should_panic(expected = "is still referenced")]
    fn free_frame_with_a_reference() {
        let (mut vm, asid, a) = world();
        let mut plan = Plan::new();
        let pfn = pfn_at(&vm, asid, a);
        vm.munmap(asid, a, &mut plan);
        vm.frames.get_mut(pfn).kernel_refs = 1;
        vm.check_invariants();
    }

    #[test]
    #[should_panic(expected = "leaked")]
    fn live_frame_with_no_reference() {
        let (mut vm, asid, a) = world();
        let pfn = vm.unmap(asid, a / P);
        let _ = pfn; // unmapped but not freed
        vm.check_invariants();
    }

    #[test]
    #[should_panic(expected = "more loans/wirings than kernel references")]
    fn loan_without_reference() {
        let (mut vm, asid, a) = world();
        let pfn = pfn_at(&vm, asid, a);
        vm.frames.get_mut(pfn).loans = 1;
        vm.check_invariants();
    }

    #[test]
    #[should_panic(expected = "is mapped writable")]
    fn lent_page_mapped_writable() {
        let (mut vm, asid, a) = world();
        let mut plan = Plan::new();
        vm.lend(asid, a, P, LendKind::Loan, &mut plan, &mut Vec::new())
            .unwrap();
        vm.pte_mut(asid, a / P).writable = true;
        vm.check_invariants();
    }

    #[test]
    #[should_panic(expected = "outside every VMA")]
    fn pte_outside_any_vma() {
        let (mut vm, asid, a) = world();
        let pfn = pfn_at(&vm, asid, a);
        vm.map(asid, 0x0007_0000, pfn, false, false);
        vm.check_invariants();
    }

    #[test]
    #[should_panic(expected = "points at free")]
    fn pte_to_a_free_frame() {
        let (mut vm, asid, a) = world();
        let pfn = pfn_at(&vm, asid, a);
        let space = &mut vm.spaces[asid.0 as usize];
        space.ptes.remove(&(a / P));
        vm.frames.get_mut(pfn).mappings.clear();
        vm.frames.free_if_unreferenced(pfn);
        vm.spaces[asid.0 as usize].ptes.insert(
            a / P,
            Pte {
                pfn,
                writable: true,
                cow: false,
                dirty: false,
                lend_protected: false,
            },
        );
        vm.check_invariants();
    }

    #[test]
    #[should_panic(expected = "reverse-maps")]
    fn reverse_map_disagrees_with_pte() {
        let (mut vm, asid, a) = world();
        let other = pfn_at(&vm, asid, a + P);
        vm.pte_mut(asid, a / P).pfn = other;
        vm.check_invariants();
    }

    #[test]
    #[should_panic(expected = "no kernel reference")]
    fn reference_count_going_negative() {
        let (mut vm, asid, a) = world();
        let pfn = pfn_at(&vm, asid, a);
        vm.kernel_unref(pfn);
    }

    #[test]
    #[should_panic(expected = "not loaned")]
    fn loan_count_going_negative() {
        let (mut vm, asid, a) = world();
        let mut plan = Plan::new();
        let pfn = pfn_at(&vm, asid, a);
        vm.end_lend(pfn, LendKind::Loan, &mut plan);
    }

    #[test]
    #[should_panic(expected = "the cache disagrees")]
    fn page_cache_disagrees_with_frame() {
        let mut vm = testkit::vm(1);
        let f = vm.create_file(2 * P);
        vm.warm_file(f);
        let p0 = vm.cached(f, 0).unwrap();
        vm.page_cache.remove(&(f, 0));
        let _ = p0;
        vm.check_invariants();
    }

    #[test]
    #[should_panic(expected = "VMAs overlap")]
    fn overlapping_vmas() {
        let (mut vm, asid, a) = world();
        let mut v = *vm.space(asid).vma_at(a).unwrap();
        v.start += P;
        v.end += P;
        vm.spaces[asid.0 as usize].vmas.insert(v.start, v);
        vm.check_invariants();
    }

    #[test]
    #[should_panic(expected = "lent-page count drifted")]
    fn lent_count_drift() {
        let (mut vm, _, _) = world();
        vm.counters.lent_pages = 5;
        vm.check_invariants();
    }
}

#[test]
fn a_flip_is_a_whole_vm_pgmoveco() {
    // FreeBSD 2002 vm_pgmoveco: look the map entry up, remove the user's old page from the
    // pmap and free it, insert the kernel's page (vm_page_insert into the object, pmap_enter)
    // and flush the TLB entry. By hand with testkit's costs: PTE removal 100 + free 400 +
    // insert 400 + PTE 100 + TLB flush 200 = 1200 ns besides one map lookup (the old model
    // charged only the PTE write and the flush, 300 ns). The old page is freed: the frame
    // count is unchanged by the flip (one kernel page in, one user page out).
    let mut vm = testkit::vm(1);
    let (asid, a) = populated(&mut vm, 1);
    let mut setup = Plan::new();
    let pfn = vm.alloc_kernel_page(&mut setup);
    vm.device_wrote(pfn);
    let frames_before = vm.frames().live();
    let lookups = vm.counters().vma_lookups;
    let mut plan = Plan::new();
    vm.flip_page_in(asid, a, pfn, &mut plan).unwrap();
    vm.check_invariants();
    let lookup_ns: u64 = plan
        .steps()
        .iter()
        .map(|s| match s {
            crate::machine::Step::Cpu {
                activity: crate::machine::Activity::VmaLookup,
                duration,
            } => duration.as_nanos(),
            _ => 0,
        })
        .sum();
    assert_eq!(vm.counters().vma_lookups, lookups + 1);
    assert!(lookup_ns > 0, "the map entry is looked up");
    assert_eq!(plan.fixed_cpu().as_nanos() - lookup_ns, 1200);
    assert_eq!(vm.frames().live(), frames_before - 1);
    assert_eq!(vm.user_version(asid, a), Some(vm.frame(pfn).version));
}

/// A VM with Linux's fault-around window of `bytes`.
fn vm_with_fault_around(bytes: u64) -> Vm {
    Vm::new(VmConfig {
        fault_around_bytes: bytes,
        ..testkit::vm_config(1)
    })
}

/// Maps `pages` of a new file (warm if `warm`) read-only at `addr`.
fn map_file_at(vm: &mut Vm, pages: u64, warm: bool, addr: u64) -> AsId {
    let file = vm.create_file(pages * P);
    if warm {
        vm.warm_file(file);
    }
    let asid = vm.new_address_space();
    let req = MmapRequest::file(file, pages * P).at(addr);
    vm.mmap(asid, req, &mut Plan::new()).unwrap();
    asid
}

#[test]
fn fault_around_maps_each_aligned_window_in_one_fault() {
    // 64 cached pages mapped at 1 MiB (page 256, a multiple of 16): with 64 KiB of
    // fault-around each read fault maps its whole aligned 16-page window, so touching every
    // page faults 64 / 16 = 4 times and 60 pages come in as neighbours. Time: each fault is a
    // trap (500), find_vma (50 the first time, a cache hit of 20 after), the minor fault
    // (1000) and 16 PTE writes (1600): 3150 + 3 x 3120 = 12510 ns.
    let mut vm = vm_with_fault_around(64 << 10);
    let asid = map_file_at(&mut vm, 64, true, 256 * P);
    let plan = read_pages(&mut vm, asid, 256 * P, 64);
    assert_eq!(vm.counters().minor_faults, 4);
    assert_eq!(vm.counters().fault_around_pages, 60);
    assert_eq!(vm.space(asid).ptes.len(), 64);
    assert_eq!(time_plan(&plan).as_nanos(), 12_510);
}

#[test]
fn fault_around_windows_are_clipped_at_the_vma_start_and_end() {
    // 32 pages mapped at page 1. Linux aligns the window to the virtual address but never
    // starts it before the VMA: the fault at page 1 maps [1, 17); the one at page 17 gets the
    // aligned window [16, 32), 15 of them new; the one at page 32 gets [32, 48) cut at the
    // VMA's end, page 33: one page. 3 faults, not 32 / 16 = 2; 15 + 14 neighbours.
    let mut vm = vm_with_fault_around(64 << 10);
    let (asid, a) = map_file(&mut vm, 32, true);
    assert_eq!(a, P, "the lowest hole starts at page 1");
    read_pages(&mut vm, asid, a, 32);
    assert_eq!(vm.counters().minor_faults, 3);
    assert_eq!(vm.counters().fault_around_pages, 29);
}

#[test]
fn fault_around_maps_only_cached_pages_and_only_on_reads() {
    // filemap_map_pages maps pages already in the cache: on a cold file each page is its own
    // major fault and no neighbour comes in.
    let mut vm = vm_with_fault_around(64 << 10);
    let asid = map_file_at(&mut vm, 4, false, 256 * P);
    read_pages(&mut vm, asid, 256 * P, 4);
    assert_eq!(vm.counters().major_faults, 4);
    assert_eq!(vm.counters().fault_around_pages, 0);
    // A write fault (do_cow_fault) maps just its page, even on a warm file.
    let mut vm = vm_with_fault_around(64 << 10);
    let file = vm.create_file(16 * P);
    vm.warm_file(file);
    let asid = vm.new_address_space();
    let req = MmapRequest::file(file, 16 * P).writable().at(256 * P);
    vm.mmap(asid, req, &mut Plan::new()).unwrap();
    vm.user_write(asid, 256 * P, 1, &mut Plan::new()).unwrap();
    assert_eq!(vm.counters().fault_around_pages, 0);
    assert_eq!(vm.space(asid).ptes.len(), 1);
}

#[test]
fn fault_around_window_is_a_power_of_two_pages() {
    // Linux rounds fault_around_bytes down to a power of two pages (96 KiB -> 16 pages); 0 and
    // one page both mean one page per fault.
    assert_eq!(vm_with_fault_around(96 << 10).fault_around_pages(), 16);
    assert_eq!(vm_with_fault_around(P).fault_around_pages(), 1);
    assert_eq!(vm_with_fault_around(0).fault_around_pages(), 1);
}

/// A VM with a last-level cache of `pages` pages.
fn vm_with_llc(pages: u64) -> Vm {
    Vm::new(VmConfig {
        llc_bytes: pages * P,
        ..testkit::vm_config(1)
    })
}

/// The copy steps of `plan`: (payload, residency).
fn copies(plan: &Plan) -> Vec<(u64, Resident)> {
    plan.steps()
        .iter()
        .filter_map(|s| match *s {
            Step::Copy {
                payload_bytes,
                resident,
                ..
            } => Some((payload_bytes, resident)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_reused_buffer_copied_into_recycled_kernel_memory_hits_the_second_time() {
    // A written 2-page buffer is resident (the application's stores brought it in). The first
    // copyin into kernel units 0-3 finds the source only: 8192 B src_only, which on the test
    // machine (2 bus bytes per cold byte) is 8192 bus bytes and 8192 / 500 MB/s = 16384 ns.
    // The second copyin of the same buffer into the same units (recycled) finds both: 0 bus
    // bytes, 8192 / 2 GB/s = 4096 ns. Without a cache both copies are cold: 16384 bus bytes,
    // 16384 ns each.
    let units: Vec<Seg> = (0..4).map(|u| (Some(Line::Kbuf(u)), 2048)).collect();
    let mut results = Vec::new();
    for mut vm in [vm_with_llc(64), testkit::vm(1)] {
        let (asid, a) = populated(&mut vm, 2);
        for _ in 0..2 {
            let mut plan = Plan::new();
            vm.copyin(asid, a, 2 * P, &units, false, &mut plan).unwrap();
            vm.check_invariants();
            let (_, r) = copies(&plan)[0];
            results.push((r, r.bus_bytes(2 * P, 2), time_plan(&plan).as_nanos()));
        }
    }
    let src_only = Resident {
        src_only: 8192,
        ..Resident::default()
    };
    let hit = Resident {
        both: 8192,
        ..Resident::default()
    };
    let cold = Resident::default();
    assert_eq!(
        results,
        vec![
            (src_only, 8192, 16_384),
            (hit, 0, 4096),
            (cold, 16_384, 16_384),
            (cold, 16_384, 16_384)
        ]
    );
}

#[test]
fn a_buffer_larger_than_the_cache_misses_every_time_it_is_cycled() {
    // A 3-page cache, a 4-page buffer read in order, twice: under LRU each page is evicted
    // before it comes round again (page 0 goes when page 3 arrives, and so on), so the second
    // pass finds nothing, unlike a 4-page cache, where it finds every page. The destination is
    // untracked memory, so a found page counts as src_only.
    for (cache_pages, second_pass_hits) in [(3, 0), (4, 4 * P)] {
        let mut vm = vm_with_llc(cache_pages);
        let asid = vm.new_address_space();
        let mut plan = Plan::new();
        let a = vm
            .mmap(asid, MmapRequest::anon(4 * P).writable(), &mut plan)
            .unwrap();
        // Fault the pages in without leaving them resident: the zero-fill touches them, so
        // take them out as a device write would.
        vm.user_write(asid, a, 4 * P, &mut plan).unwrap();
        for (line, _) in vm.user_segs(asid, a, 4 * P) {
            vm.llc_invalidate(line.unwrap());
        }
        let mut hits = Vec::new();
        for _ in 0..2 {
            let mut pass = 0;
            for page in 0..4 {
                let mut plan = Plan::new();
                vm.copyin(asid, a + page * P, P, &[(None, P)], false, &mut plan)
                    .unwrap();
                pass += copies(&plan)[0].1.src_only;
            }
            hits.push(pass);
        }
        vm.check_invariants();
        assert_eq!(hits, vec![0, second_pass_hits], "{cache_pages}-page cache");
    }
}

#[test]
fn a_disk_read_into_a_recycled_frame_is_cold() {
    // A cached file page is copied out (now resident), then the file is dropped and a new
    // one's page read from disk lands in the same frame (the free list is LIFO): its copy
    // must miss, because the disk's DMA overwrote what the cache held.
    let mut vm = vm_with_llc(64);
    let asid = vm.new_address_space();
    let mut plan = Plan::new();
    let buf = vm
        .mmap(asid, MmapRequest::anon(P).writable(), &mut plan)
        .unwrap();
    let f1 = vm.create_file(P);
    let src = vm.cache_segs(f1, 0, P, &mut plan);
    vm.copyout_from(asid, buf, &src, &mut plan).unwrap();
    let old = src[0].0.unwrap();
    assert!(vm.llc().is_resident(old));
    vm.replace_file(f1, &mut plan);
    let f2 = vm.create_file(P);
    let mut read = Plan::new();
    let src2 = vm.cache_segs(f2, 0, P, &mut read);
    vm.copyout_from(asid, buf, &src2, &mut read).unwrap();
    vm.check_invariants();
    let (_, r) = copies(&read)[0];
    assert_eq!(
        r.src_only + r.both,
        0,
        "the source was read from disk: cold"
    );
}
