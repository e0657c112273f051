//! What the machine is made of and what its work costs: activities, the cost table, the
//! disk, the machine configuration.

use sim::ByteRate;

/// What a CPU or the bus spent time or bytes on; the report's breakdown keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Activity {
    /// Syscall entry and exit, context switches.
    Syscall,
    /// CPU copies of payload (`copyin`, `copyout`, `memcpy`, COW and loan-break copies).
    Copy,
    /// Checksum passes over payload.
    Checksum,
    /// Zero-filling fresh anonymous pages.
    Zero,
    /// Fault entry and service (not the copy a COW fault does, which is `Copy`).
    Fault,
    /// `find_vma`.
    VmaLookup,
    /// `mmap`, `munmap`, PTE teardown.
    MapUnmap,
    /// Loan, unloan, wire, unwire and the write-protection they need.
    Loan,
    /// TLB flushes and shootdowns.
    Tlb,
    /// Protocol processing (TCP/IP, socket buffer, driver).
    Protocol,
    /// Interrupt handlers.
    Interrupt,
    /// The application's own work (filling or rewriting its buffer).
    App,
    /// Device DMA (bus only; no CPU).
    Dma,
    /// Encrypting payload on the CPU (software kTLS).
    Crypto,
}

impl Activity {
    pub const ALL: [Activity; 14] = [
        Activity::Syscall,
        Activity::Copy,
        Activity::Checksum,
        Activity::Zero,
        Activity::Fault,
        Activity::VmaLookup,
        Activity::MapUnmap,
        Activity::Loan,
        Activity::Tlb,
        Activity::Protocol,
        Activity::Interrupt,
        Activity::App,
        Activity::Dma,
        Activity::Crypto,
    ];

    /// Stable snake_case name, used as a report key.
    pub fn name(self) -> &'static str {
        match self {
            Activity::Syscall => "syscall",
            Activity::Copy => "copy",
            Activity::Checksum => "checksum",
            Activity::Zero => "zero",
            Activity::Fault => "fault",
            Activity::VmaLookup => "vma_lookup",
            Activity::MapUnmap => "map_unmap",
            Activity::Loan => "loan",
            Activity::Tlb => "tlb",
            Activity::Protocol => "protocol",
            Activity::Interrupt => "interrupt",
            Activity::App => "app",
            Activity::Dma => "dma",
            Activity::Crypto => "crypto",
        }
    }
}

/// A counter per [`Activity`], in a dense array: the machine adds to it on every step, so
/// it is indexed by the activity's discriminant rather than looked up in a map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerActivity([u64; Activity::ALL.len()]);

impl PerActivity {
    pub fn add(&mut self, activity: Activity, v: u64) {
        self.0[activity as usize] += v;
    }

    /// Every activity with its count, in [`Activity::ALL`] order, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (Activity, u64)> + '_ {
        Activity::ALL.iter().map(|&a| (a, self.0[a as usize]))
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl std::ops::Index<Activity> for PerActivity {
    type Output = u64;
    fn index(&self, a: Activity) -> &u64 {
        &self.0[a as usize]
    }
}

/// Fixed costs of kernel operations and the CPU's byte-moving speeds. Presets fill it from
/// the seeds' hardware; tests build it directly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostTable {
    /// Syscall entry plus exit (trap into the kernel and return), ns.
    pub syscall_ns: u64,
    /// Switching between two processes on one CPU, ns.
    pub context_switch_ns: u64,
    /// An inter-processor interrupt that wakes an idle CPU to run a woken thread: what the
    /// woken CPU spends handling it before the thread runs, ns.
    pub ipi_ns: u64,
    /// Entering the kernel on a page fault (the trap, before any service), ns.
    pub trap_ns: u64,
    /// Servicing a minor fault: page found in the cache, PTE installed (not the trap), ns.
    pub minor_fault_ns: u64,
    /// Servicing a major fault, excluding the disk read itself (not the trap), ns.
    pub major_fault_ns: u64,
    /// Servicing a COW or loan-break fault, excluding the page copy (not the trap), ns.
    pub cow_fault_ns: u64,
    /// Writing or changing one PTE, ns.
    pub pte_update_ns: u64,
    /// Flushing the local TLB (or one entry of it), ns.
    pub tlb_flush_ns: u64,
    /// A TLB shootdown, per remote CPU interrupted (IPI and wait), ns.
    pub tlb_shootdown_per_cpu_ns: u64,
    /// `find_vma` answered by the one-entry lookup cache, ns.
    pub vma_cache_hit_ns: u64,
    /// `find_vma` cost per level of the VMA tree walked, ns.
    pub vma_per_level_ns: u64,
    /// `mmap`: fixed cost (VMA allocation and insertion), ns.
    pub mmap_ns: u64,
    /// `mmap`: per page of the mapping (object setup), ns.
    pub mmap_per_page_ns: u64,
    /// `munmap`: fixed cost, ns.
    pub munmap_ns: u64,
    /// `munmap`: per present page torn down, ns.
    pub munmap_per_page_ns: u64,
    /// Loaning or wiring one page for the kernel (`uvm_loan`, `vm_page_wire`), ns.
    pub loan_per_page_ns: u64,
    /// Returning one loaned or wired page (`uvm_unloan`, `vm_page_unwire`), ns.
    pub unloan_per_page_ns: u64,
    /// Allocating one physical page, ns.
    pub page_alloc_ns: u64,
    /// Payload bytes per second one CPU copies when the bus is idle and the data miss the
    /// last-level cache (the cold rate).
    pub cpu_copy_rate: ByteRate,
    /// Payload bytes per second one CPU copies when source and destination are both in the
    /// last-level cache (the hot rate; no bus bytes). Used only with a cache
    /// (`VmConfig::llc_bytes` > 0).
    pub cpu_copy_hot_rate: ByteRate,
    /// Bytes per second one CPU checksums when the bus is idle.
    pub cpu_checksum_rate: ByteRate,
    /// Bytes per second one CPU zero-fills when the bus is idle.
    pub cpu_zero_rate: ByteRate,
    /// Payload bytes per second one CPU encrypts (AES-GCM, kTLS) when the bus is idle; the
    /// pass reads the plaintext and writes the ciphertext, as a copy does.
    pub cpu_crypto_rate: ByteRate,
    /// The caches allocate a line on write, so a copy reads the destination too: 3 bus
    /// bytes per payload byte instead of 2.
    pub write_allocate: bool,
}

impl CostTable {
    /// Bus bytes one payload byte of CPU copy costs (2, or 3 with write-allocate).
    pub fn copy_bus_factor(&self) -> u64 {
        if self.write_allocate { 3 } else { 2 }
    }

    /// Bus bytes one byte stored to memory costs (zeroing a page, the application writing
    /// its buffer): 1, or 2 with write-allocate (the line is read before it is written).
    pub fn write_bus_factor(&self) -> u64 {
        if self.write_allocate { 2 } else { 1 }
    }
}

/// The disk behind the page cache.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskConfig {
    /// Time from request to first byte (seek, rotation, controller), ns.
    pub latency_ns: u64,
    /// Media rate; also the cap on its DMA into memory.
    pub rate: ByteRate,
}

/// A second memory on another PCI device (a GPU's, reached through its BAR), which a NIC's
/// DMA can write peer to peer without crossing the host memory bus: what a `dmabuf` of
/// devmem TCP lives in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceMemoryConfig {
    /// Bytes of it a `dmabuf` can be carved from.
    pub capacity_bytes: u64,
    /// What DMA into it can sustain: the narrowest link on the way (the device's PCIe link),
    /// shared by every transfer into it.
    pub bandwidth: ByteRate,
}

/// What the machine is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineConfig {
    /// Number of CPUs (≥ 1).
    pub cpus: u32,
    /// Capacity of the one memory bus.
    pub memory_bus: ByteRate,
    pub costs: CostTable,
    pub disk: DiskConfig,
    /// A peer device's memory, if the machine has one.
    pub device_memory: Option<DeviceMemoryConfig>,
}
