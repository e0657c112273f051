//! Running one strategy on one workload, and what the run reports.
//!
//! The JSON keys of DESIGN section 10 are stable; [`RunReport`] adds a few more (bus bytes per
//! payload byte, an outcome block, a time breakdown), never renaming those.
//!
//! ## Measurement window and bottleneck
//! Rates and utilizations are taken over `[0, T]`, where `T` is when the payload finished
//! moving: when the remote end got the last byte, or when a local reader finished its last
//! `recv()` (as ttcp's receiver measures; the last ACK can wait on a delayed-ACK timer).
//! For the runs zcsim is made for (megabytes and up), start-up and drain are a small share of
//! that window, so it stands for the steady state.
//!
//! The **bottleneck** is the resource with the highest utilization: `memory_bus` (bytes moved
//! over capacity × T), `device_memory` (bytes DMAed into a peer device's memory over its
//! bandwidth × T, on a machine that has one), `wire` (serialization time over T), `disk` and
//! `nic` (busy time over T), and the CPU. A CPU held by a copy that waits for its share of a busy bus is busy but not
//! the limit, so for this decision the CPU counts only its busy time *less* those stalls (the
//! time its byte-moving steps took beyond what its own speed needed): what an infinitely fast
//! bus would have left. `utilization.cpu` reports plain busy time, and
//! `utilization.cpu_bus_stall` the stalls. Utilizations within 0.02 of the highest tie, and
//! ties go to the first of wire, memory bus, device memory, disk, NIC, CPU: the order in which one
//! resource's saturation causes another's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::machine::PerActivity;
use crate::net::LinkKind;
use crate::strategy::{DoesNotApply, Strategy};
use crate::workload::Workload;
use crate::world::{Cause, DataPath, Narrator, World, WorldConfig};

/// What limited a run: a resource, or, when none was busy enough to, the largest stall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bottleneck {
    Wire,
    MemoryBus,
    DeviceMemory,
    Disk,
    Nic,
    Cpu,
    /// No resource reached [`Bottleneck::LIMITS`]; the critical application mostly waited
    /// for this.
    Stall(Cause),
}

impl Serialize for Bottleneck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// In JSON, a string: `wire`, `memory_bus`, `device_memory`, `disk`, `nic`, `cpu`, or
/// `stall:<cause>`.
impl schemars::JsonSchema for Bottleneck {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bottleneck".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(wire|memory_bus|device_memory|disk|nic|cpu|stall:[a-z_]+)$"
        })
    }
}

impl Bottleneck {
    /// A resource at least this busy (after removing its own stalls) limits the run.
    pub const LIMITS: f64 = 0.5;

    pub fn name(self) -> &'static str {
        match self {
            Bottleneck::Wire => "wire",
            Bottleneck::MemoryBus => "memory_bus",
            Bottleneck::DeviceMemory => "device_memory",
            Bottleneck::Disk => "disk",
            Bottleneck::Nic => "nic",
            Bottleneck::Cpu => "cpu",
            Bottleneck::Stall(c) => c.stall_name(),
        }
    }

    /// The resource that limits (the tie rule of [`Bottleneck::pick`]) if one is at least
    /// [`Bottleneck::LIMITS`] busy; else the largest stall of `account` (running and the
    /// bus are resources, not stalls).
    pub fn decide(utilizations: &[(Bottleneck, f64)], account: &[(Cause, u64)]) -> Bottleneck {
        let busiest = utilizations
            .iter()
            .map(|u| u.1)
            .fold(f64::NEG_INFINITY, f64::max);
        if busiest >= Self::LIMITS {
            return Self::pick(utilizations);
        }
        let stall = account
            .iter()
            .filter(|(c, ns)| *c != Cause::Cpu && *ns > 0)
            .max_by_key(|(c, ns)| (*ns, std::cmp::Reverse(*c)));
        match stall {
            Some((c, _)) => Bottleneck::Stall(*c),
            None if utilizations.is_empty() => Bottleneck::Stall(Cause::Idle),
            None => Self::pick(utilizations),
        }
    }

    /// Applies the tie rule of the module docs to `(resource, utilization)` pairs.
    pub fn pick(utilizations: &[(Bottleneck, f64)]) -> Bottleneck {
        const TIE: f64 = 0.02;
        let max = utilizations
            .iter()
            .map(|u| u.1)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut tied: Vec<Bottleneck> = utilizations
            .iter()
            .filter(|u| u.1 >= max - TIE)
            .map(|u| u.0)
            .collect();
        tied.sort();
        tied[0]
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Copies {
    /// CPU copies of payload (copyin, copyout, COW and loan-break copies, driver coalescing).
    pub cpu_copy_ops: u64,
    pub cpu_copy_bytes: u64,
    /// Device DMA (disk and NIC), counted apart: no strategy can remove it.
    pub dma_bytes: u64,
    /// Every byte that crossed the memory bus.
    pub bus_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Faults {
    /// Minor faults, the cheap write-enable faults after a loan included.
    pub minor: u64,
    pub major: u64,
    pub cow: u64,
    pub loan_break: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VmReport {
    pub vma_lookups: u64,
    pub tlb_shootdowns: u64,
    pub mmaps: u64,
    pub munmaps: u64,
    /// Pages loaned (NetBSD) or COW-wired (FreeBSD) for the kernel.
    pub pages_loaned: u64,
    pub peak_wired_pages: u64,
    /// Times a loaning writer slept for kernel address space (NetBSD `SOMAXKVA`).
    pub kva_waits: u64,
    /// Pages an application built its data in before sending them (`zbuf`, or any memory
    /// strategy with `fill_each_write`): the data production the comparison includes.
    pub data_pages_built: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetReport {
    pub syscalls: u64,
    pub segments: u64,
    pub packets: u64,
    pub mbufs: u64,
    pub clusters: u64,
    pub interrupts: u64,
    /// Segments sent again (fast retransmits, NewReno partial ACKs and timeouts).
    pub retransmits: u64,
    /// Retransmissions started by three duplicate ACKs.
    pub fast_retransmits: u64,
    /// Retransmission timer expiries.
    pub rto_timeouts: u64,
    /// ACKs sent because a read opened the window or emptied the buffer.
    pub window_updates: u64,
    /// Frames that waited for RX descriptors.
    pub rx_ring_full: u64,
}

/// The scheduler's work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SchedReport {
    /// A CPU switching from one user thread to another (each charged `context_switch`).
    pub context_switches: u64,
    /// Blocked applications woken by socket events.
    pub wakeups: u64,
    /// Wake-ups that interrupted another, idle CPU (each charged `ipi`).
    pub ipis: u64,
    /// Threads that ran on a CPU other than the one they last ran on.
    pub migrations: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Integrity {
    /// Pages whose content when the NIC (or a coalescing copy) read them differed from what
    /// the send promised.
    pub splats: u64,
    pub corrupt_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Utilization {
    pub cpu: f64,
    pub memory_bus: f64,
    pub wire: f64,
    pub disk: f64,
    pub nic: f64,
    /// Share of CPU time spent waiting for the bus inside copies and checksum passes.
    pub cpu_bus_stall: f64,
    /// Bytes DMAed into the peer device's memory over its bandwidth × T (0 without one).
    #[serde(default)]
    pub device_memory: f64,
}

/// Simulated failures and notable events: outcomes, not errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    /// Requests that failed because an `mmap` did not fit the address space.
    pub failed_requests: u64,
    pub mmap_failures: u64,
    pub retransmits: u64,
    /// ACKs that waited for the receiver's delayed-ACK timer.
    pub delayed_acks: u64,
    /// Times a writer waited for socket-buffer space.
    pub send_blocks: u64,
    /// Packets the driver copied into a bounce buffer.
    pub coalesced_packets: u64,
    pub page_flips: u64,
    pub flip_fallbacks: u64,
    /// Set when the run stopped making progress before its work was done: what everyone was
    /// waiting for, in words. Absent for a run that finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stalled: Option<String>,
}

/// The receive side of a run that received from the network (`bulk-receive`): how the
/// payload reached the reader.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReceiveReport {
    /// Pages moved into the reader without a copy: flipped (FreeBSD `vm_pgmoveco`) or
    /// mapped (`TCP_ZEROCOPY_RECEIVE`).
    pub pages_flipped: u64,
    pub pages_mapped: u64,
    /// Completions handing the reader payload where the NIC put it: io_uring zero-copy
    /// receive's CQEs, devmem TCP's `SCM_DEVMEM_DMABUF` cmsgs (one token each).
    pub completions: u64,
    /// Copies a zero-copy receive made of data its path could not take (a page it could not
    /// flip, a straggler that fills no page, a page that landed outside an exhausted area),
    /// and their payload bytes.
    pub fallbacks: u64,
    pub fallback_bytes: u64,
    /// Payload bytes copied to the reader, fallbacks included.
    pub copied_bytes: u64,
    /// Received pages that found the zero-copy area with no free chunk.
    pub area_exhausted_pages: u64,
    /// Payload bytes the NIC DMAed into a peer device's memory (devmem TCP): bytes the host
    /// memory bus never carried.
    #[serde(default)]
    pub device_bytes: u64,
    /// Received frames that waited in the NIC because the devmem TCP binding had no free
    /// buffer for their payload (the kernel would drop them).
    #[serde(default)]
    pub device_buffer_waits: u64,
    /// CPU time, all CPUs, per MiB received, microseconds (`tcp_mmap`'s "usec per MB").
    pub cpu_us_per_mib: f64,
    /// Frames an AF_XDP socket lost (absent when none): every one, then by cause: FILL
    /// empty (`rx_fill_ring_empty_descs`), RX ring full (`rx_ring_full`), no free hardware
    /// descriptor (the NIC's `rx_missed`).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub frames_dropped: u64,
    #[serde(skip_serializing_if = "is_zero", default)]
    pub fill_ring_empty_drops: u64,
    #[serde(skip_serializing_if = "is_zero", default)]
    pub rx_ring_full_drops: u64,
    #[serde(skip_serializing_if = "is_zero", default)]
    pub nic_ring_full_drops: u64,
    /// UMEM chunks the application put on FILL while they were on TX: the NIC may overwrite
    /// a frame it is still sending (absent when none).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub chunk_corruptions: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where CPU time and bus bytes went, by activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Breakdown {
    #[serde(deserialize_with = "de::activities")]
    pub cpu_ns: BTreeMap<&'static str, u64>,
    #[serde(deserialize_with = "de::activities")]
    pub bus_bytes: BTreeMap<&'static str, u64>,
}

/// One strategy's run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunReport {
    #[serde(deserialize_with = "de::strategy")]
    pub strategy: &'static str,
    pub payload_bytes: u64,
    pub sim_time_ns: u64,
    pub throughput_bytes_per_sec: f64,
    pub bottleneck: Bottleneck,
    pub copies: Copies,
    pub faults: Faults,
    pub vm: VmReport,
    pub net: NetReport,
    pub sched: SchedReport,
    pub integrity: Integrity,
    pub utilization: Utilization,
    /// The figure that decides who wins on a bandwidth-limited target.
    pub bus_bytes_per_payload_byte: f64,
    pub outcome: Outcome,
    pub breakdown: Breakdown,
    /// Events the engine handled.
    pub events: u64,
    /// The critical application's time by what it was doing or waiting for, ns, over the
    /// measurement window: `cpu`, `bus` (stalled on the bus inside copies), `cpu_wait`,
    /// `disk`, `wire`, `nic`, `send_buffer`, `zero_window`, `nagle`, `delayed_ack`, `rto`,
    /// `idle` (see `world::account`).
    #[serde(deserialize_with = "de::stalls")]
    pub stalls: BTreeMap<&'static str, u64>,
    /// Zero-copy sends and their completions (`msg-zerocopy`, `io-uring-send-zc`); absent
    /// when the run made none.
    #[serde(skip_serializing_if = "crate::strategy::ZcCounters::is_empty", default)]
    pub zerocopy: crate::strategy::ZcCounters,
    /// The receive side; absent for a run that received nothing from the network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive: Option<ReceiveReport>,
    /// Not in the JSON: a report read back (a sweep's partial result) has an empty one.
    #[serde(skip)]
    pub data_path: DataPath,
}

/// Every strategy's run of one workload on one target.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub seed: u64,
    pub target: String,
    pub workload: String,
    pub runs: Vec<RunReport>,
}

/// Reading a report back (`zcsim merge` joins sweeps' partial results): names become the
/// model's own `&'static str`s, and a name the model does not know is an error.
mod de {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde::de::{Deserializer, Error};

    use super::Bottleneck;
    use crate::machine::Activity;
    use crate::world::Cause;

    fn known<E: Error>(
        s: &str,
        names: impl IntoIterator<Item = &'static str>,
    ) -> Result<&'static str, E> {
        names
            .into_iter()
            .find(|n| *n == s)
            .ok_or_else(|| E::custom(format!("unknown name `{s}`")))
    }

    fn map<'de, D: Deserializer<'de>>(
        d: D,
        names: &[&'static str],
    ) -> Result<BTreeMap<&'static str, u64>, D::Error> {
        BTreeMap::<String, u64>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| Ok((known(&k, names.iter().copied())?, v)))
            .collect()
    }

    pub fn strategy<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        let s = String::deserialize(d)?;
        crate::strategy::Strategy::from_id(&s)
            .map(|st| st.id())
            .map_err(D::Error::custom)
    }

    pub fn activities<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<&'static str, u64>, D::Error> {
        map(d, &Activity::ALL.map(Activity::name))
    }

    /// The stall names: every cause, with the CPU's time split into `cpu` and `bus`.
    pub fn stalls<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<&'static str, u64>, D::Error> {
        let mut names = Cause::ALL.map(Cause::name).to_vec();
        names.push("bus");
        map(d, &names)
    }

    impl<'de> Deserialize<'de> for Bottleneck {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = String::deserialize(d)?;
            [
                Bottleneck::Wire,
                Bottleneck::MemoryBus,
                Bottleneck::DeviceMemory,
                Bottleneck::Disk,
                Bottleneck::Nic,
                Bottleneck::Cpu,
            ]
            .into_iter()
            .chain(Cause::ALL.map(Bottleneck::Stall))
            .find(|b| b.name() == s)
            .ok_or_else(|| D::Error::custom(format!("unknown bottleneck `{s}`")))
        }
    }
}

/// How a run is driven. The default checks every invariant after every event in debug builds
/// (release builds skip the check unless asked), narrates nothing and records no trace.
pub struct RunOptions {
    /// Check every invariant after every event (slow; on by default in debug builds).
    pub check_invariants: bool,
    /// Receives one plain-language line per narrated event.
    pub narrator: Option<Narrator>,
    /// Record a trace of at most this many records (the TUI).
    pub trace_records: Option<usize>,
    /// Hand every trace record and narration line to this sink as the run makes them,
    /// keeping none (`zcsim export`). Takes precedence over `trace_records`.
    pub trace_stream: Option<Box<dyn sim::TraceSink + Send>>,
    /// Called with the payload bytes moved since its last call, as the run goes (a progress
    /// bar); the run is then driven in slices of simulated time, with the same result.
    pub progress: Option<Box<dyn Fn(u64) + Send>>,
    /// Workload options that apply to every strategy alike (`fill_each_write`).
    pub workload: crate::workload::WorkloadOptions,
    /// Deliberately break an invariant after the first event, so tests can prove that a
    /// command really runs the checker. Never set it for a real run.
    #[doc(hidden)]
    pub inject_invariant_bug: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            check_invariants: cfg!(debug_assertions),
            narrator: None,
            trace_records: None,
            trace_stream: None,
            progress: None,
            workload: crate::workload::WorkloadOptions::default(),
            inject_invariant_bug: false,
        }
    }
}

/// A finished run: its report, and its trace if one was asked for.
pub struct Finished {
    pub report: RunReport,
    pub trace: Option<crate::world::Trace>,
}

/// Builds the workload for `strategy` on `target`, runs it to the end, and reports.
pub fn run(
    target: &WorldConfig,
    workload: &Workload,
    strategy: Strategy,
    opts: RunOptions,
) -> Result<RunReport, DoesNotApply> {
    simulate(target, workload, strategy, opts).map(|f| f.report)
}

/// The one path every run takes: build, run to the end (or to a stall, reported as an
/// outcome), report, and hand back the trace if `opts` asked for one.
pub fn simulate(
    target: &WorldConfig,
    workload: &Workload,
    strategy: Strategy,
    opts: RunOptions,
) -> Result<Finished, DoesNotApply> {
    let mut world = workload.build_with(target, strategy, opts.workload)?;
    world.set_check_invariants(opts.check_invariants);
    if let Some(n) = opts.narrator {
        world.set_narrator(n);
    }
    if let Some(sink) = opts.trace_stream {
        world.stream_trace(sink);
    } else if let Some(capacity) = opts.trace_records {
        world.enable_trace(capacity);
    }
    if opts.inject_invariant_bug {
        world.inject_invariant_bug();
    }
    if let Some(moved) = &opts.progress {
        run_in_slices(&mut world, moved.as_ref());
    }
    world.run();
    let report = RunReport::from_world(&world, strategy);
    let trace = world.take_trace();
    Ok(Finished { report, trace })
}

/// Simulated time per slice of a run driven for progress while events keep coming; an idle
/// slice doubles the next, so a quiet stretch (or an empty queue) is crossed in a few dozen
/// steps.
const SLICE_NS: u64 = 1_000_000;

/// Runs `world` in slices of simulated time, calling `moved` with the payload bytes moved
/// in each. Events run in the same order as in one go, so the result is the same.
fn run_in_slices(world: &mut World, moved: &dyn Fn(u64)) {
    let (mut limit, mut slice, mut reported) = (0u64, SLICE_NS, 0u64);
    while limit < u64::MAX && world.stalled().is_none() {
        limit = limit.saturating_add(slice);
        let before = world.events_handled();
        world.run_until(sim::SimTime::from_nanos(limit));
        let done = world.acked_bytes() + world.incoming_received_bytes() + world.consumed_bytes();
        if done > reported {
            moved(done - reported);
            reported = done;
        }
        slice = if world.events_handled() == before {
            slice.saturating_mul(2)
        } else {
            SLICE_NS
        };
    }
}

impl RunReport {
    pub fn from_world(w: &World, strategy: Strategy) -> RunReport {
        let m = w.machine().stats();
        let vm = w.vm().counters();
        let n = w.net_counters();
        let exts = w.ext_table().counters();
        let t = w.payload_done_at().as_nanos().max(1);
        let payload = w.acked_bytes() + w.incoming_received_bytes() + w.consumed_bytes();
        let cfg = w.config();
        let cpus = u64::from(cfg.machine.cpus);
        let ratio = |busy: u64, over: u64| (busy as f64 / over as f64).min(1.0);
        let bus_bytes = m.total_bus_bytes();
        let utilization = Utilization {
            cpu: ratio(w.machine().cpu_busy_ns(), cpus * t),
            memory_bus: (bus_bytes as f64
                / (cfg.machine.memory_bus.bytes_per_sec() as f64 * t as f64 / 1e9))
                .min(1.0),
            wire: match cfg.link.kind {
                LinkKind::Ethernet { .. } => ratio(w.wire_busy_ns(), t),
                LinkKind::Loopback => 0.0,
            },
            disk: ratio(m.disk_busy_ns, t),
            nic: ratio(w.nic_dma_busy_ns(), t),
            cpu_bus_stall: ratio(m.cpu_bus_stall_ns, cpus * t),
            device_memory: cfg.machine.device_memory.map_or(0.0, |d| {
                (m.device_bytes as f64 / (d.bandwidth.bytes_per_sec() as f64 * t as f64 / 1e9))
                    .min(1.0)
            }),
        };
        let cpu_own = ratio(
            w.machine().cpu_busy_ns().saturating_sub(m.cpu_bus_stall_ns),
            cpus * t,
        );
        let account = w.time_account();
        let xsk = w.xsk_counters().unwrap_or_default();
        let moved_nothing = payload == 0;
        let resources = [
            (Bottleneck::Wire, utilization.wire),
            (Bottleneck::MemoryBus, utilization.memory_bus),
            (Bottleneck::DeviceMemory, utilization.device_memory),
            (Bottleneck::Disk, utilization.disk),
            (Bottleneck::Nic, utilization.nic),
            (Bottleneck::Cpu, cpu_own),
        ];
        // A run that moved nothing has no measurement window: no resource can be judged.
        let judged: &[(Bottleneck, f64)] = if moved_nothing { &[] } else { &resources };
        let bottleneck = Bottleneck::decide(judged, &account);
        // The bus's share of the critical application's CPU time: the machine's stall ratio.
        let stall_ratio = m.cpu_bus_stall_ns as f64 / w.machine().cpu_busy_ns().max(1) as f64;
        let mut stalls: BTreeMap<&'static str, u64> = BTreeMap::new();
        for (cause, ns) in &account {
            if *cause == Cause::Cpu {
                let bus = (*ns as f64 * stall_ratio).round() as u64;
                stalls.insert("bus", bus);
                stalls.insert("cpu", ns - bus);
            } else {
                stalls.insert(cause.name(), *ns);
            }
        }
        let by_name = |per: &PerActivity| {
            per.iter()
                .filter(|(_, v)| *v > 0)
                .map(|(a, v)| (a.name(), v))
                .collect()
        };
        RunReport {
            strategy: strategy.id(),
            payload_bytes: payload,
            sim_time_ns: t,
            throughput_bytes_per_sec: payload as f64 / (t as f64 / 1e9),
            bottleneck,
            copies: Copies {
                cpu_copy_ops: m.cpu_copy_ops,
                cpu_copy_bytes: m.cpu_copy_bytes,
                dma_bytes: m.dma_bytes,
                bus_bytes,
            },
            faults: Faults {
                minor: vm.minor_faults + vm.write_enable_faults,
                major: vm.major_faults,
                cow: vm.cow_faults,
                loan_break: vm.loan_breaks,
            },
            vm: VmReport {
                vma_lookups: vm.vma_lookups,
                tlb_shootdowns: vm.tlb_shootdowns,
                mmaps: vm.mmaps,
                munmaps: vm.munmaps,
                pages_loaned: vm.pages_loaned + vm.pages_wired,
                peak_wired_pages: vm.peak_wired_pages,
                kva_waits: vm.kva_waits,
                data_pages_built: vm.data_pages_built,
            },
            net: NetReport {
                syscalls: w.syscalls(),
                segments: n.segments,
                packets: n.packets,
                mbufs: exts.mbufs,
                clusters: exts.clusters,
                interrupts: n.interrupts,
                retransmits: n.retransmits,
                fast_retransmits: n.fast_retransmits,
                rto_timeouts: n.rto_timeouts,
                window_updates: n.window_updates,
                rx_ring_full: n.rx_ring_full,
            },
            sched: SchedReport {
                context_switches: m.context_switches,
                wakeups: w.wakeups(),
                ipis: m.ipis,
                migrations: m.migrations,
            },
            integrity: Integrity {
                splats: n.splats,
                corrupt_bytes: n.corrupt_bytes,
            },
            utilization,
            bus_bytes_per_payload_byte: bus_bytes as f64 / payload.max(1) as f64,
            outcome: Outcome {
                stalled: w.stalled().map(str::to_owned),
                failed_requests: w.failed_requests(),
                mmap_failures: vm.mmap_failures,
                retransmits: n.retransmits,
                delayed_acks: n.delayed_acks,
                send_blocks: n.send_blocks,
                coalesced_packets: n.coalesced_packets,
                page_flips: n.page_flips,
                flip_fallbacks: n.flip_fallbacks,
            },
            breakdown: Breakdown {
                cpu_ns: by_name(&m.cpu_ns),
                bus_bytes: by_name(&m.bus_bytes),
            },
            events: w.events_handled(),
            zerocopy: w.zc_counters().clone(),
            receive: (w.incoming_received_bytes() > 0).then(|| ReceiveReport {
                pages_flipped: n.page_flips,
                pages_mapped: n.pages_mapped,
                // An AF_XDP RX descriptor hands the reader a frame where it lies, as a CQE.
                completions: n.rx_completions + xsk.rx_descs,
                fallbacks: n.flip_fallbacks + n.rx_fallbacks,
                fallback_bytes: n.rx_fallback_bytes,
                copied_bytes: n.rx_copied_bytes,
                area_exhausted_pages: w.rx_area_exhausted_pages(),
                device_bytes: m.device_bytes,
                device_buffer_waits: w.rx_device_buffer_waits(),
                cpu_us_per_mib: w.machine().cpu_busy_ns() as f64
                    / 1e3
                    / (w.incoming_received_bytes() as f64 / (1u64 << 20) as f64),
                frames_dropped: xsk.dropped(),
                fill_ring_empty_drops: xsk.fill_empty_drops,
                rx_ring_full_drops: xsk.rx_full_drops,
                nic_ring_full_drops: xsk.nic_full_drops,
                chunk_corruptions: xsk.corruptions,
            }),
            stalls,
            data_path: w.data_path(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_every_design_key() {
        // DESIGN section 10 lists these keys as stable: each must be present, with the
        // nesting it gives, whatever else the report adds.
        let w = crate::workload::Workload::default_for("bulk-send").unwrap();
        let cfg = crate::testkit::wire_bound_world(100_000_000, 1500, true);
        let r = run(&cfg, &w, Strategy::Copy, RunOptions::default()).unwrap();
        let report = Report {
            seed: 1,
            target: "test".into(),
            workload: w.id().into(),
            runs: vec![r],
        };
        let v: serde_json::Value = serde_json::to_value(&report).unwrap();
        for k in ["seed", "target", "workload", "runs"] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        let run = &v["runs"][0];
        let flat = [
            "strategy",
            "payload_bytes",
            "sim_time_ns",
            "throughput_bytes_per_sec",
            "bottleneck",
        ];
        for k in flat {
            assert!(run.get(k).is_some(), "missing runs[].{k}");
        }
        let nested: [(&str, &[&str]); 7] = [
            (
                "copies",
                &["cpu_copy_ops", "cpu_copy_bytes", "dma_bytes", "bus_bytes"],
            ),
            ("faults", &["minor", "major", "cow", "loan_break"]),
            (
                "vm",
                &[
                    "vma_lookups",
                    "tlb_shootdowns",
                    "mmaps",
                    "munmaps",
                    "pages_loaned",
                    "peak_wired_pages",
                ],
            ),
            (
                "net",
                &[
                    "syscalls",
                    "segments",
                    "packets",
                    "mbufs",
                    "clusters",
                    "interrupts",
                ],
            ),
            ("integrity", &["splats", "corrupt_bytes"]),
            ("utilization", &["cpu", "memory_bus", "wire"]),
            ("breakdown", &["cpu_ns", "bus_bytes"]),
        ];
        for (obj, keys) in nested {
            for k in keys {
                assert!(run[obj].get(k).is_some(), "missing runs[].{obj}.{k}");
            }
        }
        assert_eq!(run["bottleneck"], "wire");
        assert_eq!(run["strategy"], "copy");
    }

    #[test]
    fn tie_rule_prefers_the_cause() {
        // CPU 1.0 and bus 0.99 tie (within 0.02): the bus is the cause, so it wins. A clear
        // leader wins outright.
        use Bottleneck::*;
        assert_eq!(
            Bottleneck::pick(&[(Cpu, 1.0), (MemoryBus, 0.99), (Wire, 0.5)]),
            MemoryBus
        );
        assert_eq!(
            Bottleneck::pick(&[(Cpu, 0.6), (MemoryBus, 0.5), (Wire, 0.98)]),
            Wire
        );
        assert_eq!(
            Bottleneck::pick(&[(Cpu, 0.9), (MemoryBus, 0.5), (Wire, 0.6)]),
            Cpu
        );
    }

    #[test]
    fn a_run_no_resource_limits_is_judged_by_its_largest_stall() {
        // Nothing reaches half its capacity: the verdict is the largest stall, running
        // excluded. The same account with the wire 60% busy names the wire.
        use Bottleneck::*;
        let account = [
            (Cause::Cpu, 900),
            (Cause::DelayedAck, 500),
            (Cause::Nagle, 300),
            (Cause::Wire, 100),
        ];
        assert_eq!(
            Bottleneck::decide(&[(Wire, 0.14), (MemoryBus, 0.03), (Cpu, 0.02)], &account),
            Stall(Cause::DelayedAck)
        );
        assert_eq!(Stall(Cause::DelayedAck).name(), "stall:delayed_ack");
        assert_eq!(
            Bottleneck::decide(&[(Wire, 0.6), (MemoryBus, 0.03), (Cpu, 0.02)], &account),
            Wire
        );
    }
}
