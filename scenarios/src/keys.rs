//! The keys a scenario may set: for each, its kind, its allowed range and a one-line doc;
//! target and option keys also say how they land in the model's types (workload parameters
//! are read by their kind's typed spec in [`crate::workloads`]). One table serves files,
//! presets, `--set`, sweeps and `zcsim list`.

use models::net::LinkKind;
use models::world::WorldConfig;
use sim::{ByteRate, SimDuration};

use crate::units::{self, fmt_size};

/// What a key holds and what is allowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Bytes, written with a unit.
    Size {
        min: u64,
        max: u64,
    },
    /// Bytes per second, written with a unit.
    Rate {
        min: u64,
        max: u64,
    },
    /// Nanoseconds, written with a unit.
    Duration {
        min: u64,
        max: u64,
    },
    /// A plain integer.
    Count {
        min: u64,
        max: u64,
    },
    Bool,
    /// A number in `[0, max]`.
    Fraction {
        max: f64,
    },
    /// One of these words.
    Choice(&'static [&'static str]),
    /// One of these sizes, written with a unit.
    Sizes(&'static [u64]),
    /// A power of two in `[min, max]`, a plain integer (ring entries).
    PowerOfTwo {
        min: u64,
        max: u64,
    },
}

/// A checked value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    U64(u64),
    Bool(bool),
    F64(f64),
    Word(&'static str),
}

impl Value {
    pub fn u64(self) -> u64 {
        match self {
            Value::U64(v) => v,
            other => panic!("{other:?} is not an integer quantity"),
        }
    }
    pub fn bool(self) -> bool {
        match self {
            Value::Bool(v) => v,
            other => panic!("{other:?} is not a boolean"),
        }
    }
    pub fn f64(self) -> f64 {
        match self {
            Value::F64(v) => v,
            other => panic!("{other:?} is not a number"),
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            Value::Word(v) => v,
            other => panic!("{other:?} is not a word"),
        }
    }
}

impl Kind {
    /// What the key accepts, in words (for error messages and `zcsim list`).
    pub fn allowed(&self) -> String {
        let rate = |b: u64| format!("{}", ByteRate::from_bytes_per_sec(b.max(1)));
        match *self {
            Kind::Size { min, max } => format!(
                "a size from {} to {} ({})",
                fmt_size(min),
                fmt_size(max),
                units::SIZE_UNITS
            ),
            Kind::Rate { min, max } => format!(
                "a rate from {} to {} ({})",
                rate(min),
                rate(max),
                units::RATE_UNITS
            ),
            Kind::Duration { min, max } => format!(
                "a duration from {} to {} ({})",
                SimDuration::from_nanos(min),
                SimDuration::from_nanos(max),
                units::DURATION_UNITS
            ),
            Kind::Count { min, max } => format!("a whole number from {min} to {max}"),
            Kind::Bool => "true or false".into(),
            Kind::Fraction { max } => format!("a number from 0 to {max}"),
            Kind::Choice(words) => format!("one of {}", words.join(", ")),
            Kind::Sizes(sizes) => format!(
                "one of {}",
                sizes
                    .iter()
                    .map(|&b| fmt_size(b))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Kind::PowerOfTwo { min, max } => {
                format!("a power of two from {min} to {max}")
            }
        }
    }

    /// Checks a TOML value against the kind; the error says what is wrong.
    pub fn check(&self, v: &toml::Value) -> Result<Value, String> {
        let quantity = |parse: fn(&str) -> Result<u64, units::UnitError>, min, max| match v {
            toml::Value::String(s) => {
                let n = parse(s).map_err(|e| e.to_string())?;
                if n < min || n > max {
                    Err("is out of range".to_owned())
                } else {
                    Ok(Value::U64(n))
                }
            }
            toml::Value::Integer(_) | toml::Value::Float(_) => {
                Err("needs a unit: write it as a string such as \"64 KiB\"".to_owned())
            }
            _ => Err("has the wrong type".to_owned()),
        };
        match *self {
            Kind::Size { min, max } => quantity(units::parse_size, min, max),
            Kind::Rate { min, max } => quantity(units::parse_rate, min, max),
            Kind::Duration { min, max } => quantity(units::parse_duration, min, max),
            Kind::Count { min, max } => match v {
                toml::Value::Integer(i) if *i >= 0 && (*i as u64) >= min && (*i as u64) <= max => {
                    Ok(Value::U64(*i as u64))
                }
                toml::Value::Integer(_) => Err("is out of range".to_owned()),
                _ => Err("must be a whole number".to_owned()),
            },
            Kind::Bool => match v {
                toml::Value::Boolean(b) => Ok(Value::Bool(*b)),
                _ => Err("must be true or false".to_owned()),
            },
            Kind::Fraction { max } => {
                let x = match v {
                    toml::Value::Float(f) => *f,
                    toml::Value::Integer(i) => *i as f64,
                    _ => return Err("must be a number".to_owned()),
                };
                if (0.0..=max).contains(&x) {
                    Ok(Value::F64(x))
                } else {
                    Err("is out of range".to_owned())
                }
            }
            Kind::Sizes(sizes) => match quantity(units::parse_size, 0, u64::MAX)? {
                Value::U64(n) if sizes.contains(&n) => Ok(Value::U64(n)),
                _ => Err("is not one of the allowed sizes".to_owned()),
            },
            Kind::PowerOfTwo { min, max } => match v {
                toml::Value::Integer(i) if *i >= 0 && (*i as u64) >= min && (*i as u64) <= max => {
                    let n = *i as u64;
                    if n.is_power_of_two() {
                        Ok(Value::U64(n))
                    } else {
                        Err("is not a power of two".to_owned())
                    }
                }
                toml::Value::Integer(_) => Err("is out of range".to_owned()),
                _ => Err("must be a whole number".to_owned()),
            },
            Kind::Choice(words) => match v {
                toml::Value::String(s) => words
                    .iter()
                    .find(|w| **w == s.as_str())
                    .map(|w| Value::Word(w))
                    .ok_or_else(|| "is not one of the choices".to_owned()),
                _ => Err("must be a word in quotes".to_owned()),
            },
        }
    }
}

/// A settable key.
pub struct Key<T> {
    pub name: &'static str,
    pub kind: Kind,
    pub doc: &'static str,
    pub apply: fn(&mut T, Value),
}

/// A target: the model's world plus the settings strategies read from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub name: String,
    pub description: String,
    pub world: WorldConfig,
    /// Linux's `sendpage` copies when the NIC lacks scatter-gather or checksum offload.
    pub linux_sendpage_fallback: bool,
    /// `link = "loopback"`.
    pub loopback: bool,
    /// `link_rate`, kept apart until [`Target::finish`] builds the link.
    pub link_rate: ByteRate,
    /// `device_memory` and `device_memory_bandwidth`, kept apart until [`Target::finish`]
    /// builds the peer device memory (none when both are 0).
    pub device_memory_bytes: u64,
    pub device_memory_rate: u64,
    /// The preset the target started from, if any.
    pub preset: Option<String>,
    /// Every key's value as written, after the preset and every override (what
    /// [`crate::config`] prints), by key name.
    pub values: std::collections::BTreeMap<String, toml::Value>,
}

impl Target {
    /// Builds the link from `link` and `link_rate`, and the peer device memory from its two
    /// keys, once every key is applied.
    pub fn finish(&mut self) {
        // Both or neither: one without the other is refused once the target is built.
        let both = self.device_memory_bytes > 0 && self.device_memory_rate > 0;
        self.world.machine.device_memory = both.then(|| models::machine::DeviceMemoryConfig {
            capacity_bytes: self.device_memory_bytes,
            bandwidth: ByteRate::from_bytes_per_sec(self.device_memory_rate),
        });
        self.world.link.kind = if self.loopback {
            LinkKind::Loopback
        } else {
            LinkKind::Ethernet {
                rate: self.link_rate,
            }
        };
    }
}

const NS_1S: u64 = 1_000_000_000;
const COST: Kind = Kind::Duration { min: 0, max: NS_1S };
const MBPS: u64 = 1_000_000;
const CPU_RATE: Kind = Kind::Rate {
    min: MBPS,
    max: 1_000_000 * MBPS,
};

macro_rules! cost {
    ($name:literal, $doc:literal, $($field:ident).+) => {
        Key {
            name: $name,
            kind: COST,
            doc: $doc,
            apply: |t: &mut Target, v| t.world.$($field).+ = v.u64(),
        }
    };
}

/// Every target key. A preset sets them all; a scenario may override any.
pub fn target_keys() -> Vec<Key<Target>> {
    vec![
        Key {
            name: "cpus",
            kind: Kind::Count { min: 1, max: 64 },
            doc: "CPUs; above one, write-protecting a page costs a TLB shootdown",
            apply: |t, v| t.world.machine.cpus = v.u64() as u32,
        },
        Key {
            name: "memory_bus",
            kind: Kind::Rate {
                min: MBPS,
                max: 10_000_000 * MBPS,
            },
            doc: "capacity of the one memory bus every copy, checksum and DMA shares",
            apply: |t, v| t.world.machine.memory_bus = ByteRate::from_bytes_per_sec(v.u64()),
        },
        Key {
            name: "device_memory",
            kind: Kind::Size {
                min: 0,
                max: 1 << 50,
            },
            doc: "a peer PCIe device's memory (a GPU's) the NIC can DMA into without the memory bus, for devmem TCP's dmabuf (0: none)",
            apply: |t, v| t.device_memory_bytes = v.u64(),
        },
        Key {
            name: "device_memory_bandwidth",
            kind: Kind::Rate {
                min: 0,
                max: 10_000_000 * MBPS,
            },
            doc: "what DMA into the peer device's memory sustains, shared by all of it: its PCIe link (0 with device_memory = 0)",
            apply: |t, v| t.device_memory_rate = v.u64(),
        },
        Key {
            name: "write_allocate",
            kind: Kind::Bool,
            doc: "caches allocate on write, so a copy moves 3 bus bytes per byte instead of 2",
            apply: |t, v| t.world.machine.costs.write_allocate = v.bool(),
        },
        Key {
            name: "cpu_copy_rate",
            kind: CPU_RATE,
            doc: "payload a CPU copies per second on an idle bus",
            apply: |t, v| {
                t.world.machine.costs.cpu_copy_rate = ByteRate::from_bytes_per_sec(v.u64())
            },
        },
        Key {
            name: "cpu_copy_hot_rate",
            kind: CPU_RATE,
            doc: "payload a CPU copies per second when source and destination are both in the last-level cache (no bus bytes; used only with llc_bytes > 0)",
            apply: |t, v| {
                t.world.machine.costs.cpu_copy_hot_rate = ByteRate::from_bytes_per_sec(v.u64())
            },
        },
        Key {
            name: "llc_bytes",
            kind: Kind::Size {
                min: 0,
                max: 1 << 40,
            },
            doc: "last-level cache a copy may find its data in, LRU by page (0 = none: every copy cold, as on the 2002 boards)",
            apply: |t, v| t.world.llc_bytes = v.u64(),
        },
        Key {
            name: "cpu_checksum_rate",
            kind: CPU_RATE,
            doc: "bytes a CPU checksums per second on an idle bus",
            apply: |t, v| {
                t.world.machine.costs.cpu_checksum_rate = ByteRate::from_bytes_per_sec(v.u64())
            },
        },
        Key {
            name: "cpu_zero_rate",
            kind: CPU_RATE,
            doc: "bytes a CPU zero-fills per second on an idle bus",
            apply: |t, v| {
                t.world.machine.costs.cpu_zero_rate = ByteRate::from_bytes_per_sec(v.u64())
            },
        },
        Key {
            name: "cpu_crypto_rate",
            kind: CPU_RATE,
            doc: "payload a CPU encrypts per second (AES-GCM, software kTLS) on an idle bus",
            apply: |t, v| {
                t.world.machine.costs.cpu_crypto_rate = ByteRate::from_bytes_per_sec(v.u64())
            },
        },
        cost!(
            "syscall",
            "system call entry and exit",
            machine.costs.syscall_ns
        ),
        cost!(
            "context_switch",
            "switching processes on a CPU",
            machine.costs.context_switch_ns
        ),
        cost!(
            "ipi",
            "an inter-processor interrupt waking an idle CPU for a woken thread",
            machine.costs.ipi_ns
        ),
        cost!(
            "trap",
            "entering the kernel on a page fault",
            machine.costs.trap_ns
        ),
        cost!(
            "minor_fault",
            "servicing a minor fault (page cached)",
            machine.costs.minor_fault_ns
        ),
        cost!(
            "major_fault",
            "servicing a major fault, besides the disk read",
            machine.costs.major_fault_ns
        ),
        cost!(
            "cow_fault",
            "servicing a COW or loan-break fault, besides the copy",
            machine.costs.cow_fault_ns
        ),
        cost!(
            "pte_update",
            "writing one page-table entry",
            machine.costs.pte_update_ns
        ),
        cost!(
            "tlb_flush",
            "flushing the local TLB",
            machine.costs.tlb_flush_ns
        ),
        cost!(
            "tlb_shootdown",
            "a TLB shootdown, per other CPU",
            machine.costs.tlb_shootdown_per_cpu_ns
        ),
        cost!(
            "vma_cache_hit",
            "find_vma answered by the lookup cache",
            machine.costs.vma_cache_hit_ns
        ),
        cost!(
            "vma_per_level",
            "find_vma, per level of the VMA tree",
            machine.costs.vma_per_level_ns
        ),
        cost!("mmap", "mmap, fixed part", machine.costs.mmap_ns),
        cost!(
            "mmap_per_page",
            "mmap, per page mapped",
            machine.costs.mmap_per_page_ns
        ),
        cost!("munmap", "munmap, fixed part", machine.costs.munmap_ns),
        cost!(
            "munmap_per_page",
            "munmap, per present page torn down",
            machine.costs.munmap_per_page_ns
        ),
        cost!(
            "loan_per_page",
            "loaning or wiring one page (uvm_loan, vm_page_wire)",
            machine.costs.loan_per_page_ns
        ),
        cost!(
            "unloan_per_page",
            "returning one loaned or wired page",
            machine.costs.unloan_per_page_ns
        ),
        cost!(
            "page_alloc",
            "allocating a physical page",
            machine.costs.page_alloc_ns
        ),
        Key {
            name: "disk_latency",
            kind: Kind::Duration {
                min: 0,
                max: 10 * NS_1S,
            },
            doc: "from disk request to first byte",
            apply: |t, v| t.world.machine.disk.latency_ns = v.u64(),
        },
        Key {
            name: "disk_rate",
            kind: Kind::Rate {
                min: 1000,
                max: 1_000_000 * MBPS,
            },
            doc: "disk media rate, also the cap on its DMA",
            apply: |t, v| t.world.machine.disk.rate = ByteRate::from_bytes_per_sec(v.u64()),
        },
        Key {
            name: "user_space",
            kind: Kind::Size {
                min: 1 << 20,
                max: 1 << 47,
            },
            doc: "size of a user address space (3 GiB on a 32-bit target)",
            apply: |t, v| t.world.user_space_bytes = v.u64(),
        },
        Key {
            name: "read_ahead",
            kind: Kind::Size {
                min: 0,
                max: 16 << 20,
            },
            doc: "bytes one page-cache miss reads from disk at once: the missing page and the uncached pages after it (0 or 4 KiB: the page alone)",
            apply: |t, v| t.world.read_ahead_bytes = v.u64(),
        },
        Key {
            name: "fault_around_bytes",
            // Linux caps it at one page table's reach (PTRS_PER_PTE pages, 2 MiB).
            kind: Kind::Size {
                min: 0,
                max: 2 << 20,
            },
            doc: "a read fault on a file mapping also maps the cached pages of this aligned window, rounded down to a power of two pages (Linux fault_around_bytes: 64 KiB since 3.15; 0 = one page per fault, Linux 2.4)",
            apply: |t, v| t.world.fault_around_bytes = v.u64(),
        },
        Key {
            name: "link",
            kind: Kind::Choice(&["ethernet", "loopback"]),
            doc: "an Ethernet link to an ideal peer, or loopback to a local reader",
            apply: |t, v| t.loopback = v.word() == "loopback",
        },
        Key {
            name: "link_rate",
            kind: Kind::Rate {
                min: 125_000,
                max: 200_000 * MBPS,
            },
            doc: "Ethernet line rate (100 Mb/s, 1 Gb/s, 100 Gb/s); unused on loopback",
            apply: |t, v| t.link_rate = ByteRate::from_bytes_per_sec(v.u64()),
        },
        Key {
            name: "mtu_bytes",
            kind: Kind::Count {
                min: 576,
                max: 65_536,
            },
            doc: "IP MTU (1500 standard, 9000 jumbo, 16436 Linux loopback)",
            apply: |t, v| t.world.link.mtu_bytes = v.u64(),
        },
        Key {
            name: "tcp_timestamps",
            kind: Kind::Bool,
            doc: "RFC 1323 timestamps: 12 more header bytes per segment",
            apply: |t, v| t.world.link.tcp_timestamps = v.bool(),
        },
        Key {
            name: "ipv6",
            kind: Kind::Bool,
            doc: "the connection runs over IPv6: 60 header bytes per segment before options instead of 40",
            apply: |t, v| t.world.link.ipv6 = v.bool(),
        },
        Key {
            name: "rtt",
            kind: Kind::Duration {
                min: 0,
                max: 10 * NS_1S,
            },
            doc: "round trip besides serialization",
            apply: |t, v| t.world.link.rtt = SimDuration::from_nanos(v.u64()),
        },
        Key {
            name: "loss",
            kind: Kind::Fraction { max: 0.5 },
            doc: "probability a data segment is lost",
            apply: |t, v| t.world.link.loss = v.f64(),
        },
        Key {
            name: "tx_ring_slots",
            kind: Kind::Count {
                min: 1,
                max: 65_536,
            },
            doc: "TX descriptors (a packet takes one per fragment)",
            apply: |t, v| t.world.nic.tx_ring_slots = v.u64() as u32,
        },
        Key {
            name: "rx_ring_slots",
            kind: Kind::Count {
                min: 1,
                max: 65_536,
            },
            doc: "RX descriptors",
            apply: |t, v| t.world.nic.rx_ring_slots = v.u64() as u32,
        },
        Key {
            name: "dma_rate",
            kind: Kind::Rate {
                min: MBPS,
                max: 1_000_000 * MBPS,
            },
            doc: "the NIC DMA engine's own cap (32-bit/33 MHz PCI: 132 MB/s)",
            apply: |t, v| t.world.nic.dma_rate = Some(ByteRate::from_bytes_per_sec(v.u64())),
        },
        Key {
            name: "scatter_gather",
            kind: Kind::Bool,
            doc: "the NIC DMAs a packet from several fragments",
            apply: |t, v| t.world.nic.scatter_gather = v.bool(),
        },
        Key {
            name: "max_frags",
            kind: Kind::Count { min: 1, max: 256 },
            doc: "fragments a packet may have, header included",
            apply: |t, v| t.world.nic.max_frags = v.u64() as u32,
        },
        Key {
            name: "checksum_offload",
            kind: Kind::Bool,
            doc: "the NIC computes TCP checksums",
            apply: |t, v| t.world.nic.checksum_offload = v.bool(),
        },
        Key {
            name: "header_split",
            kind: Kind::Bool,
            doc: "received payload lands page-aligned in its own page",
            apply: |t, v| t.world.nic.header_split = v.bool(),
        },
        Key {
            name: "tx_coalesce",
            kind: Kind::Count { min: 1, max: 4096 },
            doc: "TX completions per interrupt",
            apply: |t, v| t.world.nic.tx_coalesce = v.u64() as u32,
        },
        Key {
            name: "tso",
            kind: Kind::Bool,
            doc: "TCP segmentation offload: the stack hands the NIC super-packets of up to 64 KiB, the NIC cuts the MSS frames",
            apply: |t, v| t.world.nic.tso = v.bool(),
        },
        Key {
            name: "gro",
            kind: Kind::Bool,
            doc: "receive coalescing (GRO/LRO): tcp_input runs once per merged skb of up to 64 KiB of in-order frames",
            apply: |t, v| t.world.nic.gro = v.bool(),
        },
        Key {
            name: "flow_steering",
            kind: Kind::Bool,
            doc: "ntuple flow steering: a flow can be bound to one RX queue (io_uring zero-copy receive needs it)",
            apply: |t, v| t.world.nic.flow_steering = v.bool(),
        },
        Key {
            name: "page_pool",
            kind: Kind::Bool,
            doc: "the driver refills its RX ring from a page pool: a recycled page instead of a page allocation",
            apply: |t, v| t.world.nic.page_pool = v.bool(),
        },
        Key {
            name: "send_buffer",
            kind: Kind::Size {
                min: 4 << 10,
                max: 1 << 30,
            },
            doc: "socket send buffer high-water mark",
            apply: |t, v| t.world.tcp.send_buffer_bytes = v.u64(),
        },
        Key {
            name: "recv_buffer",
            kind: Kind::Size {
                min: 4 << 10,
                max: 1 << 30,
            },
            doc: "socket receive buffer high-water mark",
            apply: |t, v| t.world.tcp.recv_buffer_bytes = v.u64(),
        },
        Key {
            name: "window",
            kind: Kind::Size {
                min: 1 << 10,
                max: 1 << 30,
            },
            doc: "the peer's advertised window",
            apply: |t, v| t.world.tcp.window_bytes = v.u64(),
        },
        Key {
            name: "ack_every",
            kind: Kind::Count { min: 1, max: 64 },
            doc: "the receiver ACKs every this many segments",
            apply: |t, v| t.world.tcp.ack_every = v.u64() as u32,
        },
        Key {
            name: "delayed_ack",
            kind: Kind::Duration { min: 0, max: NS_1S },
            doc: "longest an odd segment waits for its ACK",
            apply: |t, v| t.world.tcp.delayed_ack = SimDuration::from_nanos(v.u64()),
        },
        Key {
            name: "rto",
            kind: Kind::Duration {
                min: 1_000,
                max: 60 * NS_1S,
            },
            doc: "the smallest retransmission timeout (the timer follows the measured round trip above it, doubling per expiry)",
            apply: |t, v| t.world.tcp.rto = SimDuration::from_nanos(v.u64()),
        },
        Key {
            name: "initial_window",
            kind: Kind::Count { min: 1, max: 64 },
            doc: "the congestion window at the start, in segments (2 in 2002, RFC 2581; 10 in current Linux)",
            apply: |t, v| t.world.tcp.initial_window_segments = v.u64() as u32,
        },
        Key {
            name: "congestion_control",
            kind: Kind::Bool,
            doc: "slow start, congestion avoidance and fast recovery; off, only the peer's window limits the sender",
            apply: |t, v| t.world.tcp.congestion_control = v.bool(),
        },
        Key {
            name: "tcp_nodelay",
            kind: Kind::Bool,
            doc: "TCP_NODELAY: short segments leave at once, no Nagle",
            apply: |t, v| t.world.tcp.nodelay = v.bool(),
        },
        Key {
            name: "nagle",
            kind: Kind::Choice(&["bsd", "minshall"]),
            doc: "Nagle's rule without TCP_NODELAY: bsd holds a short segment while anything is unacknowledged (4.4BSD tcp_output); minshall only while an earlier short segment is (Linux tcp_minshall_check)",
            apply: |t, v| {
                t.world.tcp.nagle = match v.word() {
                    "minshall" => models::net::tcp::NagleRule::Minshall,
                    _ => models::net::tcp::NagleRule::Bsd,
                }
            },
        },
        cost!(
            "tcp_output_per_segment",
            "tcp_output per segment",
            stack.tcp_output_per_segment_ns
        ),
        cost!(
            "tcp_input_per_segment",
            "tcp_input per data segment",
            stack.tcp_input_per_segment_ns
        ),
        cost!("tcp_ack", "processing one ACK", stack.tcp_ack_ns),
        cost!(
            "driver_per_frag",
            "driver work per TX descriptor",
            stack.driver_per_frag_ns
        ),
        cost!("interrupt", "interrupt entry and exit", stack.interrupt_ns),
        cost!(
            "tx_complete_per_packet",
            "TX completion work per packet",
            stack.tx_complete_per_packet_ns
        ),
        cost!(
            "mbuf",
            "allocating or freeing an mbuf or cluster",
            stack.mbuf_ns
        ),
        cost!(
            "socket_per_chunk",
            "socket-layer work per send or receive chunk",
            stack.socket_per_chunk_ns
        ),
        Key {
            name: "fused_copy_checksum",
            kind: Kind::Bool,
            doc: "the checksum is computed during the copy (Linux csum_and_copy_from_user)",
            apply: |t, v| t.world.fused_copy_checksum = v.bool(),
        },
        Key {
            name: "linux_sendpage_fallback",
            kind: Kind::Bool,
            doc: "sendpage copies when the NIC lacks scatter-gather or checksum offload (Linux)",
            apply: |t, v| t.linux_sendpage_fallback = v.bool(),
        },
    ]
}

/// Keys a preset or `[target]` table may hold besides the parameters.
pub const TARGET_META: [&str; 3] = ["preset", "name", "description"];

/// Upper bound of every byte total a workload moves (`total`, `file_size`, `body`).
pub const BIG: u64 = 1 << 40;

fn size(min: u64, max: u64) -> Kind {
    Kind::Size { min, max }
}

/// A workload parameter: its name, what it accepts and what it means. Unlike a target key it
/// has no `apply`: each workload kind's typed spec in [`crate::workloads`] reads its own
/// fields, so no key's meaning depends on another key applied before it.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub doc: &'static str,
}

const fn param(name: &'static str, kind: Kind, doc: &'static str) -> Param {
    Param { name, kind, doc }
}

const TOTAL: Param = param("total", Kind::Size { min: 1, max: BIG }, "bytes to move");
const WRITE_SIZE: Param = param(
    "write_size",
    Kind::Size {
        min: 1,
        max: 1 << 30,
    },
    "bytes per write()",
);

const FILL_EACH_WRITE: Param = param(
    "fill_each_write",
    Kind::Bool,
    "the application writes every byte of each request just before sending it, as a zbuf application must (default: false, a buffer filled once); memory sources only",
);

/// The parameters of one workload kind (besides `kind`), in the order `zcsim list` shows
/// them; empty for an unknown kind.
pub fn workload_keys(kind: &str) -> Vec<Param> {
    match kind {
        "bulk-send" => vec![
            TOTAL,
            WRITE_SIZE,
            param(
                "source",
                Kind::Choice(&["memory", "file"]),
                "a reused buffer or a file (default: file if file_size or cold is given, else memory)",
            ),
            param(
                "file_size",
                size(1, BIG),
                "size of the file, source = \"file\" only (sending cycles over it; default: total, at most 64 MiB)",
            ),
            param(
                "cold",
                Kind::Bool,
                "the file is not in the page cache, source = \"file\" only (default: false)",
            ),
            FILL_EACH_WRITE,
        ],
        "rewrite-after-write" => vec![
            TOTAL,
            WRITE_SIZE,
            param(
                "rewrite",
                size(1, 1 << 30),
                "bytes overwritten after each write()",
            ),
            FILL_EACH_WRITE,
        ],
        "stamped-pages" => vec![
            TOTAL,
            WRITE_SIZE,
            param("stamp", size(1, 4096), "bytes stamped into each page"),
        ],
        "file-server" => vec![
            param(
                "clients",
                Kind::Count {
                    min: 1,
                    max: 10_000,
                },
                "client connections",
            ),
            param(
                "files",
                Kind::Count {
                    min: 1,
                    max: 1_000_000,
                },
                "distinct files",
            ),
            param("file_size", size(1, BIG), "size of each file"),
            param("body", size(1, BIG), "bytes of each response body"),
            param(
                "requests",
                Kind::Count {
                    min: 1,
                    max: 100_000_000,
                },
                "responses to send",
            ),
            param("header", size(0, 64 << 10), "bytes of each response header"),
            param(
                "header_mode",
                Kind::Choice(&["separate-write", "cork", "header-iovec"]),
                "how the header goes out",
            ),
        ],
        "file-mutation" => vec![
            TOTAL,
            WRITE_SIZE,
            param("file_size", size(4096, BIG), "size of the file"),
            param(
                "mode",
                Kind::Choice(&["in-place", "rename"]),
                "how the file changes",
            ),
            param(
                "every",
                Kind::Duration {
                    min: 1_000,
                    max: 60 * NS_1S,
                },
                "how often it changes",
            ),
        ],
        "straddle" => vec![
            TOTAL,
            param(
                "map_size",
                size(4096, 1 << 30),
                "bytes of each of the two mappings",
            ),
        ],
        "shared-page" => vec![
            TOTAL,
            param(
                "write_while_referenced",
                Kind::Bool,
                "the other process writes while the kernel holds the page",
            ),
        ],
        "bulk-receive" => vec![
            TOTAL,
            param("read_size", size(1, 1 << 30), "bytes per recv()"),
            param(
                "buffer_offset",
                size(0, 4095),
                "buffer start past a page boundary",
            ),
            param(
                "segment",
                size(1, 65_536),
                "payload per segment the peer sends (af-xdp: bytes per raw frame, Ethernet header on, FCS off; read_size does not apply there)",
            ),
        ],
        "file-read" => vec![
            TOTAL,
            param(
                "file_size",
                size(4096, BIG),
                "size of the cached file (reading cycles over it)",
            ),
            param(
                "read_size",
                size(1, 1 << 30),
                "bytes per read() (read) or per request's pass (mmap-read)",
            ),
        ],
        _ => Vec::new(),
    }
}

/// Scenario-wide strategy options (`[options]`), each defaulting to its kernel's default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    pub loan: models::strategy::LoanOptions,
    /// FreeBSD COW send.
    pub cow: models::strategy::CowOptions,
    /// `mmap-sendpage` with the straddle bug fixed.
    pub sendpage_fixed: bool,
    /// `msg-zerocopy`: the application's buffers, error-queue polling, waiting, memlock.
    pub zerocopy: models::strategy::ZcOptions,
    /// `io-uring-send-zc`: registered buffers, batching, waiting for each notification.
    pub send_zc: models::strategy::UringZcOptions,
    /// `splice`, `vmsplice-gift`: bytes the pipe holds (16 pages, `PIPE_DEF_BUFFERS`).
    pub pipe_bytes: u64,
    /// `sendfile-ktls`: who encrypts, and `TLS_TX_ZEROCOPY_RO`.
    pub ktls: models::strategy::KtlsOptions,
    /// The mmap strategies: map each file once, or each request's pages.
    pub map: models::strategy::MapMode,
    /// `tcp-zerocopy-receive`: the copy buffer passed with each call.
    pub tcp_zc: models::strategy::TcpZcOptions,
    /// `io-uring-zcrx`: the registered area and the refill batch.
    pub zcrx: models::strategy::ZcrxOptions,
    /// `af-xdp`: the mode, the UMEM, the rings, the batch and the reuse bug.
    pub xsk: models::strategy::XskOptions,
    /// `devmem-tcp`: the dmabuf binding and the token-return batch.
    pub devmem: models::strategy::DevmemOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            loan: Default::default(),
            cow: Default::default(),
            sendpage_fixed: false,
            zerocopy: Default::default(),
            send_zc: Default::default(),
            pipe_bytes: models::strategy::DEFAULT_PIPE_BYTES,
            ktls: Default::default(),
            map: Default::default(),
            tcp_zc: Default::default(),
            zcrx: Default::default(),
            xsk: Default::default(),
            devmem: Default::default(),
        }
    }
}

pub fn option_keys() -> Vec<Key<Options>> {
    vec![
        Key {
            name: "loan_threshold",
            kind: size(1, 1 << 30),
            doc: "page-loan: writes at least this long are loaned (4 KiB; 8 KiB later)",
            apply: |o, v| o.loan.threshold_bytes = v.u64(),
        },
        Key {
            name: "loan_chunk",
            kind: size(4096, 1 << 30),
            doc: "page-loan: sosend_loan chunk size (64 KiB)",
            apply: |o, v| o.loan.chunk_bytes = v.u64(),
        },
        Key {
            name: "loan_kva_cap",
            kind: size(4096, 1 << 40),
            doc: "page-loan: kernel address space for loaned pages (16 MiB)",
            apply: |o, v| o.loan.kva_cap_bytes = v.u64(),
        },
        Key {
            name: "loan_at_kva_cap",
            kind: Kind::Choice(&["sleep", "copy"]),
            doc: "page-loan: at the SOMAXKVA cap, sleep until loans return (NetBSD) or copy the pass",
            apply: |o, v| {
                o.loan.at_kva_cap = match v.word() {
                    "copy" => models::strategy::KvaCapPolicy::Copy,
                    _ => models::strategy::KvaCapPolicy::Sleep,
                }
            },
        },
        Key {
            name: "loan_on_multiprocessor",
            kind: Kind::Bool,
            doc: "page-loan: loan on a multiprocessor kernel too (NetBSD 1.6 turns loaning off there)",
            apply: |o, v| o.loan.on_multiprocessor = v.bool(),
        },
        Key {
            name: "cow_align",
            kind: Kind::Choice(&["aligned-only", "partial-page"]),
            doc: "cow-send: take the COW branch only from a page-aligned address (June 2002) or copy the ragged head and wire the rest (later)",
            apply: |o, v| {
                o.cow.align = match v.word() {
                    "partial-page" => models::strategy::CowAlign::PartialPage,
                    _ => models::strategy::CowAlign::AlignedOnly,
                }
            },
        },
        Key {
            name: "sendpage_fixed",
            kind: Kind::Bool,
            doc: "mmap-sendpage looks up every VMA a write spans (Miller's bug fixed)",
            apply: |o, v| o.sendpage_fixed = v.bool(),
        },
        Key {
            name: "zerocopy_buffers",
            kind: Kind::Count { min: 1, max: 4096 },
            doc: "msg-zerocopy, io-uring-send-zc: buffers of one write each the application cycles over, reusing one only after its completion (8)",
            apply: |o, v| {
                o.zerocopy.buffers = v.u64();
                o.send_zc.buffers = v.u64();
            },
        },
        Key {
            name: "zerocopy_poll_every",
            kind: Kind::Count {
                min: 1,
                max: 1 << 20,
            },
            doc: "msg-zerocopy: read the error queue (recvmsg(MSG_ERRQUEUE) until EAGAIN) after every this many sends (1)",
            apply: |o, v| o.zerocopy.poll_every = v.u64(),
        },
        Key {
            name: "zerocopy_wait",
            kind: Kind::Bool,
            doc: "msg-zerocopy: wait for each send's completion before going on, so a rewrite is safe (false)",
            apply: |o, v| o.zerocopy.wait_completion = v.bool(),
        },
        Key {
            name: "zerocopy_memlock",
            kind: size(4096, 1 << 40),
            doc: "msg-zerocopy, io-uring-send-zc (plain buffers): RLIMIT_MEMLOCK the pinned pages are charged against, ENOBUFS past it (8 MiB)",
            apply: |o, v| {
                o.zerocopy.memlock_bytes = v.u64();
                o.send_zc.memlock_bytes = v.u64();
            },
        },
        Key {
            name: "pipe_size",
            kind: size(4096, 1 << 20),
            doc: "splice, vmsplice-gift: bytes the pipe holds, moved per splice pair (64 KiB: 16 buffers; F_SETPIPE_SZ up to pipe-max-size, 1 MiB)",
            apply: |o, v| o.pipe_bytes = v.u64(),
        },
        Key {
            name: "tls_mode",
            kind: Kind::Choice(&["software", "nic-offload"]),
            doc: "sendfile-ktls: the CPU encrypts (TLS_SW) or the NIC does (TLS_HW) (software)",
            apply: |o, v| {
                o.ktls.mode = match v.word() {
                    "nic-offload" => models::strategy::TlsMode::NicOffload,
                    _ => models::strategy::TlsMode::Software,
                }
            },
        },
        Key {
            name: "tls_zerocopy_ro",
            kind: Kind::Bool,
            doc: "sendfile-ktls: TLS_TX_ZEROCOPY_RO, NIC offload sends the page cache without the in-kernel copy (false)",
            apply: |o, v| o.ktls.zerocopy_ro = v.bool(),
        },
        Key {
            name: "send_zc_fixed_buffers",
            kind: Kind::Bool,
            doc: "io-uring-send-zc: send from registered buffers, no per-send pin or page refcount (true)",
            apply: |o, v| o.send_zc.fixed_buffers = v.bool(),
        },
        Key {
            name: "send_zc_batch",
            kind: Kind::Count { min: 1, max: 4096 },
            doc: "io-uring-send-zc: SQEs submitted per io_uring_enter (1)",
            apply: |o, v| o.send_zc.batch = v.u64(),
        },
        Key {
            name: "map",
            kind: Kind::Choice(&["once", "per-request"]),
            doc: "mmap-write, mmap-loan, mmap-sendpage, mmap-read: mmap each file once and keep it (once), or mmap, use and munmap each request's pages (per-request: syscalls, VMA setup, a fault per fault-around window, PTE teardown, a TLB flush) (once)",
            apply: |o, v| {
                o.map = models::strategy::MapMode::ALL
                    .into_iter()
                    .find(|m| m.id() == v.word())
                    .expect("checked against the choices")
            },
        },
        Key {
            name: "send_zc_wait_each",
            kind: Kind::Bool,
            doc: "io-uring-send-zc: wait for each notification CQE before the next send, the anti-pattern (false)",
            apply: |o, v| o.send_zc.wait_each = v.bool(),
        },
        Key {
            name: "tcp_zc_copybuf",
            kind: size(0, 1 << 30),
            doc: "tcp-zerocopy-receive: copy buffer passed with each TCP_ZEROCOPY_RECEIVE (copybuf_len); stragglers up to it are copied in the same call (0: read() them, as tcp_mmap.c does)",
            apply: |o, v| o.tcp_zc.copybuf_bytes = v.u64(),
        },
        Key {
            name: "zcrx_area",
            kind: size(4096, 1 << 34),
            doc: "io-uring-zcrx: bytes of memory registered as the receive area, whole 4 KiB pages (32 MiB: iou-zcrx.c's 8192 pages)",
            apply: |o, v| o.zcrx.area_bytes = v.u64(),
        },
        Key {
            name: "zcrx_refill_batch",
            kind: Kind::Count {
                min: 1,
                max: 32_768,
            },
            doc: "io-uring-zcrx: chunks the application returns through the refill ring at a time, at most the area's chunks (1: iou-zcrx.c returns each as it reads it)",
            apply: |o, v| o.zcrx.refill_batch = v.u64(),
        },
        Key {
            name: "xsk_mode",
            kind: Kind::Choice(&["zerocopy", "copy"]),
            doc: "af-xdp: the NIC DMAs into UMEM chunks (zerocopy, XDP_ZEROCOPY) or into a driver buffer the kernel copies from (copy, XDP_COPY) (zerocopy)",
            apply: |o, v| {
                o.xsk.mode = models::strategy::XskMode::ALL
                    .into_iter()
                    .find(|m| m.id() == v.word())
                    .expect("checked against the choices")
            },
        },
        Key {
            name: "xsk_chunk_size",
            kind: Kind::Sizes(&models::strategy::CHUNK_SIZES),
            doc: "af-xdp: bytes per UMEM chunk, a power of two from 2 KiB to the page (aligned mode) (4 KiB)",
            apply: |o, v| o.xsk.chunk_bytes = v.u64(),
        },
        Key {
            name: "xsk_umem_chunks",
            kind: Kind::Count {
                min: 1,
                max: 1 << 20,
            },
            doc: "af-xdp: chunks in the UMEM (4096: xdpsock's NUM_FRAMES)",
            apply: |o, v| o.xsk.umem_chunks = v.u64(),
        },
        Key {
            name: "xsk_fill_ring",
            kind: RING,
            doc: "af-xdp: FILL ring entries (4096: xdpsock's XSK_RING_PROD__DEFAULT_NUM_DESCS * 2)",
            apply: |o, v| o.xsk.fill_ring = v.u64(),
        },
        Key {
            name: "xsk_rx_ring",
            kind: RING,
            doc: "af-xdp: RX ring entries (2048)",
            apply: |o, v| o.xsk.rx_ring = v.u64(),
        },
        Key {
            name: "xsk_tx_ring",
            kind: RING,
            doc: "af-xdp: TX ring entries (2048)",
            apply: |o, v| o.xsk.tx_ring = v.u64(),
        },
        Key {
            name: "xsk_comp_ring",
            kind: RING,
            doc: "af-xdp: COMPLETION ring entries (2048)",
            apply: |o, v| o.xsk.comp_ring = v.u64(),
        },
        Key {
            name: "xsk_batch",
            kind: Kind::Count { min: 1, max: 4096 },
            doc: "af-xdp: RX descriptors the application takes per poll() before putting their chunks back on FILL (64: xdpsock's BATCH_SIZE)",
            apply: |o, v| o.xsk.batch = v.u64(),
        },
        Key {
            name: "xsk_reuse_bug",
            kind: Kind::Bool,
            doc: "af-xdp: the application forwards each frame on TX and re-posts its chunk to FILL at once, the FILL/TX hazard, reported as corruption (false)",
            apply: |o, v| o.xsk.reuse_bug = v.bool(),
        },
        Key {
            name: "devmem_binding",
            kind: size(64 << 10, 1 << 40),
            doc: "devmem-tcp: bytes of device memory bound to the RX queue as the dmabuf, whole 4 KiB pages, at most the target's device_memory (62.5 MiB: ncdevmem.c's 16000 pages)",
            apply: |o, v| o.devmem.binding_bytes = v.u64(),
        },
        Key {
            name: "devmem_dontneed_batch",
            kind: Kind::Count {
                min: 1,
                max: models::strategy::MAX_DONTNEED_TOKENS,
            },
            doc: "devmem-tcp: most tokens per setsockopt(SO_DEVMEM_DONTNEED), at most 128, the kernel's MAX_DONTNEED_TOKENS; each recvmsg's tokens are returned after it, so more than one read's frags changes nothing (1: ncdevmem.c returns each as it reads it)",
            apply: |o, v| o.devmem.dontneed_batch = v.u64(),
        },
    ]
}

/// Entries of an AF_XDP ring: a power of two (`xsk_init_queue`), at most 2^20 here.
const RING: Kind = Kind::PowerOfTwo {
    min: 1,
    max: 1 << 20,
};
