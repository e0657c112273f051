//! Round-number costs and a tiny driver, so tests can compute expected times by hand.

use sim::{ByteRate, EventQueue, SimDuration, SimTime};

use crate::net::{LinkConfig, LinkKind, NicConfig, StackCosts, TcpConfig};
use crate::world::WorldConfig;

use crate::machine::{
    CostTable, DiskConfig, Machine, MachineConfig, MachineEvent, Notice, Plan, Priority, ThreadId,
};
use crate::vm::{Vm, VmConfig};

/// 1 GB/s: one byte per nanosecond, so bus arithmetic reads directly in ns.
pub const BUS_BPS: u64 = 1_000_000_000;

pub fn costs() -> CostTable {
    CostTable {
        syscall_ns: 1_000,
        context_switch_ns: 2_000,
        ipi_ns: 700,
        trap_ns: 500,
        minor_fault_ns: 1_000,
        major_fault_ns: 3_000,
        cow_fault_ns: 1_500,
        pte_update_ns: 100,
        tlb_flush_ns: 200,
        tlb_shootdown_per_cpu_ns: 1_000,
        vma_cache_hit_ns: 20,
        vma_per_level_ns: 50,
        mmap_ns: 2_000,
        mmap_per_page_ns: 10,
        munmap_ns: 1_500,
        munmap_per_page_ns: 50,
        loan_per_page_ns: 300,
        unloan_per_page_ns: 200,
        page_alloc_ns: 400,
        // A copy moves 2 bus bytes per payload byte, so 500 MB/s of payload is 1 GB/s on the
        // bus: alone on an idle bus a copy of N bytes takes exactly 2N ns.
        cpu_copy_rate: ByteRate::from_bytes_per_sec(500_000_000),
        // Four times the cold rate, as on current x86: a hot 4 KiB copy takes 2048 ns.
        cpu_copy_hot_rate: ByteRate::from_bytes_per_sec(2_000_000_000),
        cpu_checksum_rate: ByteRate::from_bytes_per_sec(1_000_000_000),
        cpu_zero_rate: ByteRate::from_bytes_per_sec(1_000_000_000),
        cpu_crypto_rate: ByteRate::from_bytes_per_sec(250_000_000),
        write_allocate: false,
    }
}

pub fn machine_config(cpus: u32) -> MachineConfig {
    MachineConfig {
        cpus,
        memory_bus: ByteRate::from_bytes_per_sec(BUS_BPS),
        costs: costs(),
        disk: DiskConfig {
            latency_ns: 100_000,
            rate: ByteRate::from_bytes_per_sec(100_000_000),
        },
        device_memory: None,
    }
}

pub fn vm(cpus: u32) -> Vm {
    Vm::new(vm_config(cpus))
}

/// The test VM's configuration: round-number costs, 3 GiB, no fault-around.
pub fn vm_config(cpus: u32) -> VmConfig {
    VmConfig {
        costs: costs(),
        cpus,
        user_space_bytes: 3 << 30,
        read_ahead_bytes: 0,
        fault_around_bytes: 0,
        llc_bytes: 0,
    }
}

/// Runs `plan` alone as one user thread on a fresh machine and returns how long it took.
pub fn time_plan(plan: &Plan) -> SimDuration {
    let mut m = Machine::new(machine_config(1));
    let mut q: EventQueue<MachineEvent> = EventQueue::new();
    let mut notices = Vec::new();
    m.submit(
        &mut q,
        ThreadId(0),
        Priority::User,
        plan.clone(),
        &mut notices,
    );
    drive(&mut m, &mut q, &mut notices);
    assert_eq!(notices, vec![Notice::PlanDone(ThreadId(0))]);
    q.now().duration_since(SimTime::ZERO)
}

/// Runs the machine until nothing is pending, checking its invariants after every event.
pub fn drive(m: &mut Machine, q: &mut EventQueue<MachineEvent>, notices: &mut Vec<Notice>) {
    while let Some((_, ev)) = q.pop() {
        m.handle(q, ev, notices);
        m.settle(q);
        m.check_invariants();
    }
    assert!(m.is_idle(), "machine left work behind");
}

/// A world on an Ethernet link of `rate_bits` bits/s and `mtu`, with a bus so fast and costs so
/// small that only the wire limits it (unless a test changes that).
pub fn wire_bound_world(rate_bits: u64, mtu: u64, timestamps: bool) -> WorldConfig {
    let mut machine = machine_config(1);
    machine.memory_bus = ByteRate::from_bytes_per_sec(20_000_000_000);
    machine.costs.cpu_copy_rate = ByteRate::from_bytes_per_sec(10_000_000_000);
    machine.costs.cpu_copy_hot_rate = ByteRate::from_bytes_per_sec(40_000_000_000);
    machine.costs.cpu_checksum_rate = ByteRate::from_bytes_per_sec(10_000_000_000);
    WorldConfig {
        machine,
        link: LinkConfig {
            kind: LinkKind::Ethernet {
                rate: ByteRate::from_bits_per_sec(rate_bits),
            },
            mtu_bytes: mtu,
            tcp_timestamps: timestamps,
            ipv6: false,
            rtt: SimDuration::from_micros(100),
            loss: 0.0,
        },
        nic: NicConfig {
            tx_ring_slots: 256,
            rx_ring_slots: 256,
            dma_rate: Some(ByteRate::from_bytes_per_sec(132_000_000)),
            scatter_gather: true,
            max_frags: 8,
            checksum_offload: true,
            header_split: false,
            tx_coalesce: 4,
            tso: false,
            gro: false,
            flow_steering: false,
            page_pool: false,
        },
        tcp: TcpConfig {
            send_buffer_bytes: 256 << 10,
            recv_buffer_bytes: 256 << 10,
            window_bytes: 256 << 10,
            ack_every: 2,
            delayed_ack: SimDuration::from_micros(200),
            rto: SimDuration::from_millis(10),
            initial_window_segments: 2,
            congestion_control: true,
            nodelay: false,
            nagle: Default::default(),
        },
        stack: StackCosts {
            tcp_output_per_segment_ns: 500,
            tcp_input_per_segment_ns: 500,
            tcp_ack_ns: 300,
            driver_per_frag_ns: 100,
            interrupt_ns: 1_000,
            tx_complete_per_packet_ns: 100,
            mbuf_ns: 50,
            socket_per_chunk_ns: 200,
        },
        fused_copy_checksum: false,
        user_space_bytes: 3 << 30,
        read_ahead_bytes: 0,
        fault_around_bytes: 0,
        llc_bytes: 0,
        seed: 1,
    }
}
