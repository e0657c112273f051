//! The machine: CPUs that run one piece of work at a time, one memory bus, a disk.
//!
//! Model operations (a fault, a `copyin`, a loan) do not take time themselves: they change
//! state and append [`Step`]s to a [`Plan`]. The [`Machine`] runs a plan on a CPU in simulated
//! time: a [`Step::Cpu`] holds the CPU for a fixed time; a byte-moving step ([`Step::Copy`],
//! [`Step::Checksum`], [`Step::Zero`]) holds the CPU *and* moves bytes over the memory bus,
//! which every CPU step and every DMA share as one [`FluidResource`]; a [`Step::DiskRead`]
//! blocks the thread (not the CPU) for the disk's latency and then DMAs over the bus. So a copy
//! on an idle bus runs at the CPU's copy speed, and on a busy one at its fair share.
//!
//! A machine may also have a peer device's memory (a GPU's, [`DeviceMemoryConfig`]): a second
//! [`FluidResource`] with its own bandwidth that only device DMA writes into
//! ([`Machine::start_split_dma`], a NIC putting a frame's headers in host memory and its
//! payload in the device's). Those bytes never cross the memory bus; no CPU step touches them.
//!
//! A copy whose bytes the VM's last-level cache holds ([`Resident`]) moves no bus bytes for
//! them and runs them at the hot copy rate (`cpu_copy_hot_rate`); the misses' bus bytes are
//! spread over the whole copy, so alone it takes the hits' time plus the misses' time at the
//! cold rate. A copy that hits entirely holds the CPU for a fixed time and no bus. Only copies
//! read the cache: checksums, zeroing, the application's own reads and writes, encryption and
//! DMA move their bus bytes whatever it holds.
//!
//! ## Bus bytes per payload byte (DESIGN section 3)
//! | step | bus bytes | CPU held |
//! |---|---|---|
//! | copy (`memcpy`, `copyin`, `copyout`), with or without fused checksum | 2, or 3 if the caches write-allocate; less what the last-level cache holds ([`Resident`]) | yes |
//! | checksum pass | 1 | yes |
//! | page zeroing | 1 | yes |
//! | DMA (disk, NIC) | 1 | no |
//!
//! ## Scheduling
//! Threads submit plans with a [`Priority`]. Kernel work (softnet, interrupt handlers) waits
//! in one FIFO per class that every CPU serves first, as if interrupts were spread across the
//! CPUs. User threads (processes, and kernel threads such as TUX's workers, registered with
//! [`Machine::set_kernel_thread`]) wait in a FIFO run queue *per CPU*:
//! - A waking thread goes back to the CPU it last ran on if that CPU is idle, else to any idle
//!   CPU (a migration, counted), else to its last CPU's queue: the shape of Linux's
//!   `select_task_rq_fair` / `select_idle_sibling` (kernel/sched/fair.c) and of FreeBSD ULE's
//!   `sched_pickcpu` (sys/kern/sched_ule.c), without their cache-topology and load heuristics.
//!   The IPI stands for Linux's `ttwu_queue_wakelist` / `smp_send_reschedule`
//!   (kernel/sched/core.c).
//! - A wake-up that puts a thread on an idle CPU other than the waker's sends that CPU an
//!   inter-processor interrupt (`ipi`), which it handles before the thread runs (counted).
//! - A CPU whose own queue is empty takes the oldest thread of the longest other queue that
//!   waits behind another process (idle balancing, a migration); a thread waiting only for
//!   kernel work raised on its own CPU stays.
//! - A thread keeps its CPU from step to step until its plan ends, unless kernel work of a
//!   higher class is waiting, in which case it yields between steps and resumes first.
//! - A plan is one system call's work, so the time slice is one system call: a thread that
//!   submits again goes behind the threads already waiting on its CPU. A real scheduler lets a
//!   thread that never sleeps run for a 10-100 ms slice; the threads here sleep in almost every
//!   call, and a woken reader or writer preempts at the next return to user mode in both 4.4BSD
//!   (its sleep priority beats `PUSER`) and Linux (wake-up preemption), which a one-call slice
//!   approximates. No priorities among user threads, no cache-affinity cost for a migration.

mod costs;
mod plan;

pub use costs::{Activity, CostTable, DeviceMemoryConfig, DiskConfig, MachineConfig, PerActivity};
pub use plan::{Plan, Resident, Step};

use std::collections::{BTreeMap, VecDeque};

use sim::{ByteRate, CancelToken, EventQueue, FluidResource, SimDuration, SimTime, TransferId};

/// Plans' storages kept for reuse, at most: a few are all that is in flight at once, and a
/// burst must not be kept forever.
const SPARE_PLANS: usize = 64;

/// A thread of control that runs plans: an application process, a kernel thread, an
/// interrupt handler. Ids are assigned by whoever owns the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(pub u32);

/// Where a thread's plan is ([`Machine::thread_state`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ThreadState {
    Running,
    Ready,
    Disk,
    #[default]
    Idle,
}

/// Scheduling class; higher runs first and makes lower ones yield between steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    User = 0,
    Kernel = 1,
    Interrupt = 2,
}

/// The machine's own events; the owner's event type wraps them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineEvent {
    /// A CPU's fixed-time step ended.
    CpuStepDone { cpu: u32 },
    /// The bus's earliest transfer may have finished.
    BusWake,
    /// A disk request's latency elapsed; its DMA starts now.
    DiskReady { thread: ThreadId },
    /// The device memory's earliest transfer may have finished.
    DeviceWake,
}

/// Which way a device DMA moves bytes, with the owner's id for the transfer: a transmit DMA
/// reads memory, a receive DMA writes it. Ordered transmit first, then by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DmaTag {
    Tx(u64),
    Rx(u64),
    /// The NIC reading a frame an AF_XDP application put on TX, by UMEM chunk.
    XskTx(u64),
}

/// What the machine tells its owner after handling an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The thread's plan ran to its end.
    PlanDone(ThreadId),
    /// A device DMA started with [`Machine::start_dma`] finished.
    DmaDone { tag: DmaTag },
}

/// One transfer on the bus.
#[derive(Clone, Copy, Debug)]
struct BusUse {
    user: BusUser,
    activity: Activity,
    bytes: u64,
    cap: Option<ByteRate>,
    started: SimTime,
    /// The payload of a CPU copy, counted when it ends (0 for any other transfer).
    copy_payload: u64,
}

/// What the machine did, as a trace sees it. Logged only while
/// [`Machine::set_logging`] is on, and drained with [`Machine::drain_log`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MachineLog {
    /// A CPU ran one step of a thread's plan.
    Step {
        cpu: u32,
        thread: ThreadId,
        activity: Activity,
        start: SimTime,
        end: SimTime,
    },
    /// A transfer crossed the bus.
    Bus {
        activity: Activity,
        bytes: u64,
        start: SimTime,
        end: SimTime,
    },
    /// A disk read, latency included.
    Disk { start: SimTime, end: SimTime },
    /// The bus's allocated share of its capacity changed.
    BusLevel { at: SimTime, utilization: f64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BusUser {
    Cpu(u32),
    Disk(ThreadId),
    Dma { tag: DmaTag },
}

#[derive(Clone, Debug)]
struct Job {
    thread: ThreadId,
    priority: Priority,
    /// Kernel work raised by a CPU's own work runs on that CPU (a softirq runs where it was
    /// raised); `None` for work from a device, which any CPU takes.
    cpu: Option<u32>,
    steps: VecDeque<Step>,
}

#[derive(Clone, Debug, Default)]
struct Cpu {
    running: Option<Job>,
    /// User-class threads waiting for this CPU, FIFO.
    queue: VecDeque<Job>,
    /// The user thread whose plan just ended here, while its owner handles the completion:
    /// the CPU stays its own until [`Machine::settle`], so a thread that goes on to its next
    /// system call keeps its CPU rather than losing it to whatever was dispatched first.
    held: Option<ThreadId>,
    /// The user thread that last ran here: another one starting pays a context switch.
    last_user: Option<ThreadId>,
    /// When the current step began holding the CPU.
    step_started: SimTime,
    step_activity: Option<Activity>,
    busy_ns: u64,
}

/// Counters the report reads; all monotone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineStats {
    /// CPU copies completed and the payload bytes they moved.
    pub cpu_copy_ops: u64,
    pub cpu_copy_bytes: u64,
    /// Device DMA bytes (disk and NIC) completed, into host or device memory.
    pub dma_bytes: u64,
    /// Of those, the bytes DMAed into the peer device's memory (never on the memory bus).
    pub device_bytes: u64,
    /// CPU time by activity, summed over CPUs, ns.
    pub cpu_ns: PerActivity,
    /// Bus bytes by activity.
    pub bus_bytes: PerActivity,
    /// Time the disk spent serving reads (latency and transfer), ns.
    pub disk_busy_ns: u64,
    /// Time CPUs spent in byte-moving steps beyond what their own speed needed: waiting
    /// for their share of a busy bus, ns.
    pub cpu_bus_stall_ns: u64,
    /// Switches from one user thread to another on a CPU (each charged `context_switch`).
    pub context_switches: u64,
    /// Wake-ups that interrupted another, idle CPU (each charged `ipi` on that CPU).
    pub ipis: u64,
    /// User threads that ran on a CPU other than the one they last ran on.
    pub migrations: u64,
}

/// What the scheduler remembers of a thread between plans.
#[derive(Clone, Copy, Debug, Default)]
struct ThreadInfo {
    /// The CPU it last ran on.
    last_cpu: Option<u32>,
    /// A kernel thread scheduled like a process: it neither pays nor causes a context switch
    /// (it borrows the address space it finds, as Linux's lazy TLB mode does).
    kernel: bool,
    /// Where its plan is, kept at every move so that asking costs nothing; the invariant
    /// check recomputes it from the CPUs, the queues and the disk.
    state: ThreadState,
}

impl MachineStats {
    pub fn total_bus_bytes(&self) -> u64 {
        self.bus_bytes.total()
    }
}

/// CPUs, the memory bus and the disk, running plans. See the module docs.
///
/// Invariants ([`Machine::check_invariants`]): a thread is in at most one place (running on
/// one CPU, waiting, blocked on the disk, or idle); every bus transfer belongs to exactly one
/// user, and a CPU with a bus step in progress owns exactly one; the bus's own invariants hold;
/// every transfer into device memory belongs to one DMA, and a split DMA is pending only
/// while a part of it still moves.
pub struct Machine {
    config: MachineConfig,
    cpus: Vec<Cpu>,
    /// Waiting kernel work, FIFO per class: index 0 [`Priority::Kernel`], 1
    /// [`Priority::Interrupt`]. User threads wait in their CPU's queue.
    kernel_ready: [VecDeque<Job>; 2],
    /// Per thread, indexed by `ThreadId`.
    info: Vec<ThreadInfo>,
    /// The CPU whose work is waking threads now (see [`Machine::set_waker`]).
    waker: Option<u32>,
    blocked: BTreeMap<ThreadId, Job>,
    /// When each blocked thread's disk read began.
    disk_started: BTreeMap<ThreadId, SimTime>,
    bus: FluidResource,
    /// The peer device's memory ([`MachineConfig::device_memory`]): a second shared resource
    /// that only device DMA uses, apart from the memory bus.
    device: Option<FluidResource>,
    /// The DMA each transfer into device memory belongs to, and its bytes, in transfer order.
    device_users: Vec<(TransferId, DmaTag, u64)>,
    device_wake: Option<CancelToken>,
    /// Split DMAs (part to host memory, part to device memory) with parts still moving:
    /// their `DmaDone` waits for the last part.
    split_pending: BTreeMap<DmaTag, u32>,
    /// Who each bus transfer belongs to and what for, in transfer order (ids only grow, so
    /// a new one goes at the end). A handful at a time: one per CPU step and device DMA.
    bus_users: Vec<(TransferId, BusUse)>,
    /// Step queues of finished jobs, handed out as the next plans' storage
    /// ([`Machine::spare_plan`]) so that steady state does not allocate. Capped at
    /// [`SPARE_PLANS`]: plans built elsewhere come back here too.
    spare_steps: Vec<VecDeque<Step>>,
    /// What happened, for traces; `None` unless logging is on.
    log: Option<Vec<MachineLog>>,
    bus_wake: Option<CancelToken>,
    finished: Vec<TransferId>,
    stats: MachineStats,
}

impl Machine {
    /// Panics on zero CPUs (scenario validation rejects it first).
    pub fn new(config: MachineConfig) -> Self {
        assert!(config.cpus >= 1, "a machine needs at least one CPU");
        Machine {
            cpus: vec![Cpu::default(); config.cpus as usize],
            kernel_ready: Default::default(),
            info: Vec::new(),
            waker: None,
            blocked: BTreeMap::new(),
            disk_started: BTreeMap::new(),
            bus: FluidResource::new(config.memory_bus),
            device: config
                .device_memory
                .map(|d| FluidResource::new(d.bandwidth)),
            device_users: Vec::new(),
            device_wake: None,
            split_pending: BTreeMap::new(),
            bus_users: Vec::new(),
            spare_steps: Vec::new(),
            log: None,
            bus_wake: None,
            finished: Vec::new(),
            stats: MachineStats::default(),
            config,
        }
    }

    pub fn config(&self) -> &MachineConfig {
        &self.config
    }

    pub fn costs(&self) -> &CostTable {
        &self.config.costs
    }

    pub fn stats(&self) -> &MachineStats {
        &self.stats
    }

    pub fn bus(&self) -> &FluidResource {
        &self.bus
    }

    pub fn cpu_count(&self) -> u32 {
        self.cpus.len() as u32
    }

    /// Total CPU busy time over all CPUs, ns.
    pub fn cpu_busy_ns(&self) -> u64 {
        self.cpus.iter().map(|c| c.busy_ns).sum()
    }

    /// Whether nothing is running, waiting, blocked or on the bus.
    pub fn is_idle(&self) -> bool {
        self.cpus
            .iter()
            .all(|c| c.running.is_none() && c.queue.is_empty())
            && self.kernel_ready.iter().all(VecDeque::is_empty)
            && self.blocked.is_empty()
            && self.bus.active_count() == 0
            && self.device.as_ref().is_none_or(|d| d.active_count() == 0)
    }

    /// Where `thread`'s plan is: on a CPU, waiting for one, blocked on the disk, or nowhere.
    pub fn thread_state(&self, thread: ThreadId) -> ThreadState {
        self.info
            .get(thread.0 as usize)
            .map_or(ThreadState::Idle, |i| i.state)
    }

    /// Where `thread` is, found by looking everywhere: what [`Machine::thread_state`] must
    /// agree with.
    fn find_thread(&self, thread: ThreadId) -> ThreadState {
        if self
            .cpus
            .iter()
            .any(|c| c.running.as_ref().is_some_and(|j| j.thread == thread))
        {
            ThreadState::Running
        } else if self.blocked.contains_key(&thread) {
            ThreadState::Disk
        } else if self.waiting().any(|j| j.thread == thread) {
            ThreadState::Ready
        } else {
            ThreadState::Idle
        }
    }

    /// Whether `thread` has a plan running, waiting or blocked.
    pub fn is_busy(&self, thread: ThreadId) -> bool {
        self.thread_state(thread) != ThreadState::Idle
    }

    fn set_state(&mut self, thread: ThreadId, state: ThreadState) {
        self.info(thread).state = state;
    }

    /// A finished job's step queue goes back to the pool, and its thread is idle.
    fn retire(&mut self, job: Job) {
        debug_assert!(job.steps.is_empty(), "retiring a job with steps left");
        self.set_state(job.thread, ThreadState::Idle);
        self.keep_steps(job.steps);
    }

    fn keep_steps(&mut self, mut steps: VecDeque<Step>) {
        if self.spare_steps.len() < SPARE_PLANS && steps.capacity() > 0 {
            steps.clear();
            self.spare_steps.push(steps);
        }
    }

    /// An empty plan, over the storage of a finished job's steps when there is one.
    pub fn spare_plan(&mut self) -> Plan {
        // An empty queue turns back into a vector without moving anything.
        Plan::reusing(self.spare_steps.pop().map(Vec::from).unwrap_or_default())
    }

    /// Keeps the storage of a plan that was not submitted for [`Machine::spare_plan`].
    pub fn recycle_plan(&mut self, plan: Plan) {
        self.keep_steps(plan.into_steps().into());
    }

    /// Plans' storages pooled for reuse.
    pub fn spare_plans_held(&self) -> usize {
        self.spare_steps.len()
    }

    /// Every job waiting for a CPU.
    fn waiting(&self) -> impl Iterator<Item = &Job> {
        self.kernel_ready
            .iter()
            .flatten()
            .chain(self.cpus.iter().flat_map(|c| c.queue.iter()))
    }

    fn info(&mut self, thread: ThreadId) -> &mut ThreadInfo {
        let i = thread.0 as usize;
        if self.info.len() <= i {
            self.info.resize(i + 1, ThreadInfo::default());
        }
        &mut self.info[i]
    }

    /// Marks `thread` a kernel thread scheduled like a process (TUX's workers): it neither
    /// pays nor causes a context switch, borrowing the address space it finds.
    pub fn set_kernel_thread(&mut self, thread: ThreadId) {
        self.info(thread).kernel = true;
    }

    /// The CPU `thread` last ran on, if it ran.
    pub fn last_cpu(&self, thread: ThreadId) -> Option<u32> {
        self.info.get(thread.0 as usize).and_then(|i| i.last_cpu)
    }

    /// Says which CPU's work submits the plans that follow (the CPU a finished plan ran on,
    /// while its owner handles the completion), or `None` for a device or timer event. A
    /// wake-up onto another, idle CPU then costs an IPI. Returns the previous waker.
    pub fn set_waker(&mut self, cpu: Option<u32>) -> Option<u32> {
        std::mem::replace(&mut self.waker, cpu)
    }

    /// Queues `plan` to run as `thread`, taking its storage (it comes back through
    /// [`Machine::spare_plan`] when the job ends). An empty plan completes at once
    /// (`PlanDone` is pushed to `notices`). Panics if the thread already has a plan: a thread
    /// does one thing at a time, and submitting twice is a model bug.
    pub fn submit<E: From<MachineEvent>>(
        &mut self,
        q: &mut EventQueue<E>,
        thread: ThreadId,
        priority: Priority,
        plan: Plan,
        notices: &mut Vec<Notice>,
    ) {
        assert!(
            !self.is_busy(thread),
            "{thread:?} submitted a plan while one is in progress"
        );
        if plan.is_empty() {
            notices.push(Notice::PlanDone(thread));
            self.recycle_plan(plan);
            return;
        }
        // The plan's vector becomes the job's queue in place: nothing is copied.
        let steps = VecDeque::from(plan.into_steps());
        let job = Job {
            thread,
            priority,
            cpu: (priority != Priority::User).then_some(self.waker).flatten(),
            steps,
        };
        self.set_state(thread, ThreadState::Ready);
        match priority {
            Priority::User => self.wake(job),
            _ => self.kernel_ready[priority as usize - 1].push_back(job),
        }
        self.dispatch(q, notices);
    }

    /// Queues a user thread's job on the CPU the scheduler picks (module docs), with the IPI
    /// the wake-up needs.
    fn wake(&mut self, mut job: Job) {
        let last = self.info(job.thread).last_cpu;
        if let Some(l) = last
            && self.cpus[l as usize].held == Some(job.thread)
        {
            // Still on its CPU: it runs on, behind any thread already waiting there.
            let c = &mut self.cpus[l as usize];
            c.held = None;
            c.queue.push_back(job);
            return;
        }
        let idle = |c: &Cpu| c.running.is_none() && c.queue.is_empty() && c.held.is_none();
        let cpu = match last {
            Some(l) if idle(&self.cpus[l as usize]) => l as usize,
            _ => match self.cpus.iter().position(idle) {
                Some(c) => c,
                None => last.map_or_else(
                    || {
                        // A thread that never ran: the shortest queue, lowest CPU first.
                        let shortest = self
                            .cpus
                            .iter()
                            .enumerate()
                            .min_by_key(|(_, c)| c.queue.len());
                        shortest.map_or(0, |(i, _)| i)
                    },
                    |l| l as usize,
                ),
            },
        };
        let c = &self.cpus[cpu];
        if self.waker.is_some_and(|w| w as usize != cpu) && c.running.is_none() {
            self.stats.ipis += 1;
            let ns = self.config.costs.ipi_ns;
            if ns > 0 {
                job.steps.push_front(Step::Cpu {
                    activity: Activity::Interrupt,
                    duration: SimDuration::from_nanos(ns),
                });
            }
        }
        self.cpus[cpu].queue.push_back(job);
    }

    /// Starts a device DMA of `bytes` over the bus at most at `cap` (the engine's burst rate).
    /// `Notice::DmaDone { tag }` follows when the last byte has moved.
    pub fn start_dma<E: From<MachineEvent>>(
        &mut self,
        q: &mut EventQueue<E>,
        bytes: u64,
        cap: Option<ByteRate>,
        tag: DmaTag,
    ) {
        let now = q.now();
        let id = self.bus.start(now, bytes, cap);
        self.add_bus_user(
            id,
            BusUse {
                user: BusUser::Dma { tag },
                activity: Activity::Dma,
                bytes,
                cap,
                started: now,
                copy_payload: 0,
            },
        );
        self.reschedule_bus(q);
    }

    /// Starts a device DMA that writes `host_bytes` into host memory (over the bus) and
    /// `device_bytes` into the peer device's memory (over its own link, not the bus), at most
    /// at `cap` each: a NIC splitting a frame's headers from its payload. One
    /// `Notice::DmaDone { tag }` follows when both parts have moved. Panics if the machine has
    /// no device memory (the strategy that needs it is refused first).
    pub fn start_split_dma<E: From<MachineEvent>>(
        &mut self,
        q: &mut EventQueue<E>,
        host_bytes: u64,
        device_bytes: u64,
        cap: Option<ByteRate>,
        tag: DmaTag,
    ) {
        let now = q.now();
        let parts = u32::from(host_bytes > 0) + u32::from(device_bytes > 0);
        assert!(parts > 0, "a DMA moves bytes");
        let prev = self.split_pending.insert(tag, parts);
        assert!(prev.is_none(), "{tag:?} is already moving");
        if device_bytes > 0 {
            let dev = self
                .device
                .as_mut()
                .expect("a DMA into device memory needs a machine with device memory");
            let id = dev.start(now, device_bytes, cap);
            self.device_users.push((id, tag, device_bytes));
            self.reschedule_device(q);
        }
        if host_bytes > 0 {
            self.start_dma(q, host_bytes, cap, tag);
        }
    }

    /// A part of a device DMA finished: the DMA is done when it was its last part.
    fn dma_part_done(&mut self, tag: DmaTag, notices: &mut Vec<Notice>) {
        if let Some(left) = self.split_pending.get_mut(&tag) {
            *left -= 1;
            if *left > 0 {
                return;
            }
            self.split_pending.remove(&tag);
        }
        notices.push(Notice::DmaDone { tag });
    }

    fn reschedule_device<E: From<MachineEvent>>(&mut self, q: &mut EventQueue<E>) {
        if let Some(tok) = self.device_wake.take() {
            q.cancel(tok);
        }
        if let Some(at) = self
            .device
            .as_ref()
            .and_then(FluidResource::next_completion)
        {
            self.device_wake = Some(q.schedule_cancellable_at(at, MachineEvent::DeviceWake.into()));
        }
    }

    /// Handles one of the machine's events, appending what the owner must know to `notices`.
    /// The owner handles them, then calls [`Machine::settle`].
    pub fn handle<E: From<MachineEvent>>(
        &mut self,
        q: &mut EventQueue<E>,
        event: MachineEvent,
        notices: &mut Vec<Notice>,
    ) {
        let now = q.now();
        match event {
            MachineEvent::CpuStepDone { cpu } => {
                // A copy whose bytes were all cache-resident ran as a fixed-time step.
                let job = self.cpus[cpu as usize].running.as_ref();
                if let Some(Step::Copy { payload_bytes, .. }) = job.and_then(|j| j.steps.front()) {
                    self.stats.cpu_copy_ops += 1;
                    self.stats.cpu_copy_bytes += payload_bytes;
                }
                self.end_cpu_step(cpu, now);
                self.advance_cpu(q, cpu, notices);
            }
            MachineEvent::BusWake => {
                self.bus_wake = None;
                let mut finished = std::mem::take(&mut self.finished);
                self.bus.complete_due(now, &mut finished);
                for id in finished.drain(..) {
                    let BusUse {
                        user,
                        activity,
                        bytes,
                        cap,
                        started,
                        copy_payload,
                    } = self.remove_bus_user(id);
                    self.stats.bus_bytes.add(activity, bytes);
                    if let Some(log) = &mut self.log {
                        log.push(MachineLog::Bus {
                            activity,
                            bytes,
                            start: started,
                            end: now,
                        });
                    }
                    match user {
                        BusUser::Cpu(cpu) => {
                            let took = now.duration_since(self.cpus[cpu as usize].step_started);
                            let alone = cap.expect("CPU steps are capped").time_for(bytes);
                            self.stats.cpu_bus_stall_ns += took.saturating_sub(alone).as_nanos();
                            if activity == Activity::Copy {
                                self.stats.cpu_copy_ops += 1;
                                self.stats.cpu_copy_bytes += copy_payload;
                            }
                            self.end_cpu_step(cpu, now);
                            self.advance_cpu(q, cpu, notices);
                        }
                        BusUser::Disk(thread) => {
                            self.stats.dma_bytes += bytes;
                            let began = self.disk_started.remove(&thread).expect("read began");
                            self.stats.disk_busy_ns += now.duration_since(began).as_nanos();
                            if let Some(log) = &mut self.log {
                                log.push(MachineLog::Disk {
                                    start: began,
                                    end: now,
                                });
                            }
                            let job = self.blocked.remove(&thread).expect("disk reader blocked");
                            if job.steps.is_empty() {
                                self.retire(job);
                                notices.push(Notice::PlanDone(thread));
                            } else {
                                self.requeue_front(job);
                            }
                        }
                        BusUser::Dma { tag } => {
                            self.stats.dma_bytes += bytes;
                            self.dma_part_done(tag, notices);
                        }
                    }
                }
                self.finished = finished;
                self.reschedule_bus(q);
            }
            MachineEvent::DeviceWake => {
                self.device_wake = None;
                let mut finished = std::mem::take(&mut self.finished);
                self.device
                    .as_mut()
                    .expect("only a machine with device memory wakes it")
                    .complete_due(now, &mut finished);
                for id in finished.drain(..) {
                    let i = self
                        .device_users
                        .iter()
                        .position(|(t, ..)| *t == id)
                        .expect("every device-memory transfer has a DMA");
                    let (_, tag, bytes) = self.device_users.remove(i);
                    self.stats.dma_bytes += bytes;
                    self.stats.device_bytes += bytes;
                    self.dma_part_done(tag, notices);
                }
                self.finished = finished;
                self.reschedule_device(q);
            }
            MachineEvent::DiskReady { thread } => {
                let bytes = match self.blocked[&thread].steps.front() {
                    Some(Step::DiskRead { bytes }) => *bytes,
                    other => panic!("{thread:?} blocked on the disk at {other:?}"),
                };
                self.blocked
                    .get_mut(&thread)
                    .expect("checked above")
                    .steps
                    .pop_front();
                let cap = Some(self.config.disk.rate);
                let id = self.bus.start(now, bytes, cap);
                self.add_bus_user(
                    id,
                    BusUse {
                        user: BusUser::Disk(thread),
                        activity: Activity::Dma,
                        bytes,
                        cap,
                        started: now,
                        copy_payload: 0,
                    },
                );
                self.reschedule_bus(q);
            }
        }
    }

    /// After the owner has handled an event's notices: CPUs held for threads that did not go
    /// on to another plan are free, and every free CPU takes waiting work.
    pub fn settle<E: From<MachineEvent>>(&mut self, q: &mut EventQueue<E>) {
        let mut free = false;
        for c in &mut self.cpus {
            c.held = None;
            free |= c.running.is_none();
        }
        if !free {
            // The common case mid-plan: every CPU still runs, so no dispatch could start
            // anything.
            return;
        }
        let mut none = Vec::new();
        self.dispatch(q, &mut none);
        debug_assert!(none.is_empty(), "dispatching finishes no plan");
    }

    /// Puts waiting threads on free CPUs.
    fn dispatch<E: From<MachineEvent>>(
        &mut self,
        q: &mut EventQueue<E>,
        notices: &mut Vec<Notice>,
    ) {
        for cpu in 0..self.cpus.len() {
            if self.cpus[cpu].running.is_some() || self.cpus[cpu].held.is_some() {
                continue;
            }
            let job = match self.take_kernel_work(cpu as u32) {
                Some(job) => Some(job),
                None => self.cpus[cpu].queue.pop_front().or_else(|| self.steal(cpu)),
            };
            let Some(mut job) = job else { continue };
            if job.priority == Priority::User {
                self.switch_to(cpu, &mut job);
            }
            let info = self.info(job.thread);
            info.last_cpu = Some(cpu as u32);
            info.state = ThreadState::Running;
            self.cpus[cpu].running = Some(job);
            self.start_step(q, cpu as u32, notices);
        }
    }

    /// The oldest kernel work of the highest class that `cpu` may run.
    fn take_kernel_work(&mut self, cpu: u32) -> Option<Job> {
        self.kernel_ready.iter_mut().rev().find_map(|q| {
            let i = q.iter().position(|j| j.cpu.is_none_or(|c| c == cpu))?;
            q.remove(i)
        })
    }

    /// Whether kernel work of a class above `priority` waits for `cpu`.
    fn kernel_work_waits(&self, cpu: u32, priority: Priority) -> bool {
        let above = &self.kernel_ready[priority as usize..];
        // Checked after every step: most of the time nothing waits at all.
        !above.iter().all(VecDeque::is_empty)
            && above
                .iter()
                .flatten()
                .any(|j| j.cpu.is_none_or(|c| c == cpu))
    }

    /// Idle balancing: the oldest job of the longest other queue, for an idle `cpu`.
    fn steal(&mut self, cpu: usize) -> Option<Job> {
        let (from, _) = self
            .cpus
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                // Only from behind another process: a thread waiting out a softirq raised on
                // its own CPU resumes there (in a real kernel it is still running).
                *i != cpu
                    && !c.queue.is_empty()
                    && c.running
                        .as_ref()
                        .is_some_and(|j| j.priority == Priority::User)
            })
            .max_by_key(|(i, c)| (c.queue.len(), std::cmp::Reverse(*i)))?;
        self.cpus[from].queue.pop_front()
    }

    /// Puts a job that was running (preempted, or back from the disk) at the head of its
    /// queue: its last CPU's for a user thread, its class's for kernel work.
    fn requeue_front(&mut self, job: Job) {
        self.set_state(job.thread, ThreadState::Ready);
        match job.priority {
            Priority::User => {
                let cpu = self.info(job.thread).last_cpu.unwrap_or(0) as usize;
                self.cpus[cpu].queue.push_front(job);
            }
            p => self.kernel_ready[p as usize - 1].push_front(job),
        }
    }

    /// The scheduler puts a user thread on `cpu`. If another user thread ran there last, the
    /// switch (`context_switch`: saving and loading registers, the address space, cold
    /// caches) runs first as part of the job. Kernel threads and interrupts run in whatever
    /// context they find (a software interrupt), so they neither pay nor cause a switch; a
    /// thread resuming where nothing else ran pays nothing.
    ///
    /// A kernel thread scheduled like a process pays nothing and leaves `last_user` alone.
    /// A user thread starting on a CPU it did not last run on is a migration.
    fn switch_to(&mut self, cpu: usize, job: &mut Job) {
        let info = *self.info(job.thread);
        if info.last_cpu.is_some_and(|l| l as usize != cpu) {
            self.stats.migrations += 1;
        }
        if info.kernel {
            return;
        }
        let c = &mut self.cpus[cpu];
        let switch = c.last_user.is_some_and(|t| t != job.thread);
        c.last_user = Some(job.thread);
        if switch {
            self.stats.context_switches += 1;
            let ns = self.config.costs.context_switch_ns;
            if ns > 0 {
                job.steps.push_front(Step::Cpu {
                    activity: Activity::Syscall,
                    duration: SimDuration::from_nanos(ns),
                });
            }
        }
    }

    /// After a step: yield to a higher-priority waiter, finish the plan, or start the next step.
    fn advance_cpu<E: From<MachineEvent>>(
        &mut self,
        q: &mut EventQueue<E>,
        cpu: u32,
        notices: &mut Vec<Notice>,
    ) {
        let c = &mut self.cpus[cpu as usize];
        let job = c.running.as_mut().expect("a step ended on an idle CPU");
        job.steps.pop_front();
        if job.steps.is_empty() {
            let thread = job.thread;
            if job.priority == Priority::User {
                c.held = Some(thread);
            }
            let job = c.running.take().expect("checked");
            self.retire(job);
            notices.push(Notice::PlanDone(thread));
            return; // settle() fills the CPU
        }
        let prio = job.priority;
        if self.kernel_work_waits(cpu, prio) {
            let job = self.cpus[cpu as usize].running.take().expect("checked");
            self.requeue_front(job);
            return;
        }
        self.start_step(q, cpu, notices);
    }

    fn start_step<E: From<MachineEvent>>(
        &mut self,
        q: &mut EventQueue<E>,
        cpu: u32,
        notices: &mut Vec<Notice>,
    ) {
        let now = q.now();
        let costs = &self.config.costs;
        let c = &mut self.cpus[cpu as usize];
        let job = c.running.as_ref().expect("start_step on an idle CPU");
        let step = *job.steps.front().expect("a running job has a step");
        let bus = |activity, bus_bytes: u64, cap: ByteRate, factor: u64| {
            (
                activity,
                bus_bytes,
                ByteRate::from_bytes_per_sec(cap.bytes_per_sec() * factor),
            )
        };
        let mut copy_payload = 0;
        let (activity, bus_bytes, cap) = match step {
            Step::Cpu { activity, duration } => {
                c.step_started = now;
                c.step_activity = Some(activity);
                q.schedule_at(now + duration, MachineEvent::CpuStepDone { cpu }.into());
                return;
            }
            Step::DiskRead { .. } => {
                let job = c.running.take().expect("checked");
                let thread = job.thread;
                self.blocked.insert(thread, job);
                self.set_state(thread, ThreadState::Disk);
                self.disk_started.insert(thread, now);
                q.schedule_at(
                    now + SimDuration::from_nanos(self.config.disk.latency_ns),
                    MachineEvent::DiskReady { thread }.into(),
                );
                self.dispatch(q, notices);
                return;
            }
            Step::Copy {
                payload_bytes,
                resident,
                ..
            } => {
                let f = costs.copy_bus_factor();
                copy_payload = payload_bytes;
                if resident == Resident::default() {
                    bus(Activity::Copy, payload_bytes * f, costs.cpu_copy_rate, f)
                } else {
                    let hot = costs.cpu_copy_hot_rate.time_for(resident.both);
                    let cold = costs.cpu_copy_rate.time_for(payload_bytes - resident.both);
                    let bus_bytes = resident.bus_bytes(payload_bytes, f);
                    if bus_bytes == 0 {
                        // Every byte hit: the CPU alone, at the hot rate.
                        c.step_started = now;
                        c.step_activity = Some(Activity::Copy);
                        q.schedule_at(now + hot, MachineEvent::CpuStepDone { cpu }.into());
                        return;
                    }
                    // The misses' bus bytes spread over the whole copy, so that alone it
                    // takes the hits' time at the hot rate plus the misses' at the cold rate.
                    let ns = (hot + cold).as_nanos().max(1);
                    let rate = u128::from(bus_bytes) * 1_000_000_000 / u128::from(ns);
                    let rate = u64::try_from(rate).unwrap_or(u64::MAX).max(1);
                    (
                        Activity::Copy,
                        bus_bytes,
                        ByteRate::from_bytes_per_sec(rate),
                    )
                }
            }
            Step::Checksum { bytes } => bus(Activity::Checksum, bytes, costs.cpu_checksum_rate, 1),
            // A store-only pass: one bus byte per byte, two under write-allocate caches, which
            // read each line before writing it.
            Step::Zero { bytes } => {
                let f = costs.write_bus_factor();
                bus(Activity::Zero, bytes * f, costs.cpu_zero_rate, f)
            }
            Step::AppWrite { bytes } => {
                let f = costs.write_bus_factor();
                bus(Activity::App, bytes * f, costs.cpu_copy_rate, f)
            }
            Step::AppRead { bytes } => bus(Activity::App, bytes, costs.cpu_checksum_rate, 1),
            Step::Encrypt { bytes } => {
                let f = costs.copy_bus_factor();
                bus(Activity::Crypto, bytes * f, costs.cpu_crypto_rate, f)
            }
        };
        c.step_started = now;
        c.step_activity = Some(activity);
        let id = self.bus.start(now, bus_bytes, Some(cap));
        self.add_bus_user(
            id,
            BusUse {
                user: BusUser::Cpu(cpu),
                activity,
                bytes: bus_bytes,
                cap: Some(cap),
                started: now,
                copy_payload,
            },
        );
        self.reschedule_bus(q);
    }

    fn end_cpu_step(&mut self, cpu: u32, now: SimTime) {
        let c = &mut self.cpus[cpu as usize];
        let ns = now.duration_since(c.step_started).as_nanos();
        c.busy_ns += ns;
        let activity = c.step_activity.take().expect("a step was running");
        self.stats.cpu_ns.add(activity, ns);
        if let Some(log) = &mut self.log {
            log.push(MachineLog::Step {
                cpu,
                thread: c.running.as_ref().expect("a step was running").thread,
                activity,
                start: c.step_started,
                end: now,
            });
        }
    }

    /// Starts or stops logging what the machine does, for traces.
    pub fn set_logging(&mut self, on: bool) {
        self.log = on.then(Vec::new);
    }

    /// Takes what was logged since the last call (nothing if logging is off).
    pub fn drain_log(&mut self, out: &mut Vec<MachineLog>) {
        if let Some(log) = &mut self.log {
            out.append(log);
        }
    }

    fn add_bus_user(&mut self, id: TransferId, user: BusUse) {
        debug_assert!(
            self.bus_users.last().is_none_or(|(last, _)| *last < id),
            "transfer ids only grow"
        );
        self.bus_users.push((id, user));
    }

    fn remove_bus_user(&mut self, id: TransferId) -> BusUse {
        let i = self
            .bus_users
            .iter()
            .position(|(t, _)| *t == id)
            .expect("every bus transfer has a user");
        self.bus_users.remove(i).1
    }

    fn reschedule_bus<E: From<MachineEvent>>(&mut self, q: &mut EventQueue<E>) {
        if let Some(tok) = self.bus_wake.take() {
            q.cancel(tok);
        }
        if let Some(log) = &mut self.log {
            log.push(MachineLog::BusLevel {
                at: q.now(),
                utilization: self.bus.allocated_bytes_per_sec() as f64
                    / self.bus.capacity().bytes_per_sec() as f64,
            });
        }
        if let Some(at) = self.bus.next_completion() {
            self.bus_wake = Some(q.schedule_cancellable_at(at, MachineEvent::BusWake.into()));
        }
    }

    /// Panics with a message if an invariant of the type docs does not hold.
    pub fn check_invariants(&self) {
        self.bus.check_invariants();
        if let Some(dev) = &self.device {
            dev.check_invariants();
            assert_eq!(
                dev.active_count(),
                self.device_users.len(),
                "device-memory transfers and their DMAs disagree"
            );
        } else {
            assert!(
                self.device_users.is_empty(),
                "DMA into absent device memory"
            );
        }
        assert!(
            self.split_pending.values().all(|n| *n > 0),
            "a finished split DMA is still pending"
        );
        assert_eq!(
            self.bus.active_count(),
            self.bus_users.len(),
            "bus transfers and their users disagree"
        );
        let mut seen = std::collections::BTreeSet::new();
        let running = self.cpus.iter().filter_map(|c| c.running.as_ref());
        for (class, queue) in self.kernel_ready.iter().enumerate() {
            for job in queue {
                assert_eq!(
                    job.priority as usize,
                    class + 1,
                    "{:?} waits in the wrong class",
                    job.thread
                );
            }
        }
        for (cpu, c) in self.cpus.iter().enumerate() {
            assert!(c.held.is_none(), "cpu{cpu} is still held after settle");
            for job in &c.queue {
                assert_eq!(
                    job.priority,
                    Priority::User,
                    "kernel work {:?} waits in cpu{cpu}'s user queue",
                    job.thread
                );
            }
        }
        for job in running.chain(self.waiting()).chain(self.blocked.values()) {
            assert!(seen.insert(job.thread), "{:?} is in two places", job.thread);
            assert!(
                !job.steps.is_empty(),
                "{:?} holds an empty plan",
                job.thread
            );
        }
        for (i, info) in self.info.iter().enumerate() {
            let thread = ThreadId(i as u32);
            assert_eq!(
                info.state,
                self.find_thread(thread),
                "{thread:?}'s recorded state is not where it is"
            );
        }
        for (cpu, c) in self.cpus.iter().enumerate() {
            let on_bus = self
                .bus_users
                .iter()
                .filter(|(_, u)| u.user == BusUser::Cpu(cpu as u32))
                .count();
            assert!(on_bus <= 1, "cpu{cpu} has {on_bus} bus transfers");
            if on_bus == 1 {
                assert!(c.running.is_some(), "idle cpu{cpu} owns a bus transfer");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{self, drive};

    fn plan(steps: &[Step]) -> Plan {
        let mut p = Plan::new();
        for s in steps {
            p.push(*s);
        }
        p
    }

    fn cpu(ns: u64) -> Step {
        Step::Cpu {
            activity: Activity::Protocol,
            duration: SimDuration::from_nanos(ns),
        }
    }

    /// Submits each (thread, priority, plan, at) and records when each plan finishes.
    fn run(cpus: u32, jobs: &[(u32, Priority, Plan)]) -> (Vec<(u32, u64)>, Machine) {
        let mut m = Machine::new(testkit::machine_config(cpus));
        let mut q: EventQueue<MachineEvent> = EventQueue::new();
        let mut notices = Vec::new();
        let mut done = Vec::new();
        for (t, prio, p) in jobs {
            m.submit(&mut q, ThreadId(*t), *prio, p.clone(), &mut notices);
        }
        while let Some((now, ev)) = q.pop() {
            m.handle(&mut q, ev, &mut notices);
            m.settle(&mut q);
            m.check_invariants();
            for n in notices.drain(..) {
                if let Notice::PlanDone(ThreadId(t)) = n {
                    done.push((t, now.as_nanos()));
                }
            }
        }
        drive(&mut m, &mut q, &mut notices);
        (done, m)
    }

    #[test]
    fn one_cpu_runs_plans_one_after_another() {
        // Two 1000 ns user plans on one CPU cannot overlap: FIFO gives 1000, then the switch
        // to thread 2 (2000 ns) and its 1000: 4000. The switch is CPU time, not protocol.
        let (done, m) = run(
            1,
            &[
                (1, Priority::User, plan(&[cpu(1000)])),
                (2, Priority::User, plan(&[cpu(1000)])),
            ],
        );
        assert_eq!(done, vec![(1, 1000), (2, 4000)]);
        assert_eq!(m.stats().context_switches, 1);
        assert_eq!(m.cpu_busy_ns(), 4000);
        assert_eq!(m.stats().cpu_ns[Activity::Protocol], 2000);
    }

    #[test]
    fn a_split_dma_keeps_its_device_part_off_the_bus_and_finishes_once() {
        // 86 header bytes go to host memory over the 1 GB/s bus (86 ns) and 4096 payload
        // bytes to a device memory of 4.096 GB/s (1000 ns), both started at 0: one DmaDone,
        // at 1000 ns when the later part ends. The bus carried the 86 bytes only; the device
        // memory the 4096; DMA bytes count both.
        let mut cfg = testkit::machine_config(1);
        cfg.device_memory = Some(DeviceMemoryConfig {
            capacity_bytes: 1 << 30,
            bandwidth: ByteRate::from_bytes_per_sec(4_096_000_000),
        });
        let mut m = Machine::new(cfg);
        let mut q: EventQueue<MachineEvent> = EventQueue::new();
        let mut notices = Vec::new();
        let tag = DmaTag::Rx(7);
        m.start_split_dma(&mut q, 86, 4096, None, tag);
        let mut done = Vec::new();
        while let Some((now, ev)) = q.pop() {
            m.handle(&mut q, ev, &mut notices);
            m.settle(&mut q);
            m.check_invariants();
            for n in notices.drain(..) {
                done.push((n, now.as_nanos()));
            }
        }
        assert_eq!(done, vec![(Notice::DmaDone { tag }, 1000)]);
        assert_eq!(m.stats().total_bus_bytes(), 86);
        assert_eq!(m.stats().device_bytes, 4096);
        assert_eq!(m.stats().dma_bytes, 86 + 4096);
        assert!(m.is_idle());
    }

    #[test]
    fn two_cpus_run_in_parallel_but_share_the_bus() {
        // Two copies of 4096 B on two CPUs: alone each takes 8192 ns (bus 1 GB/s, CPU cap
        // 1 GB/s of bus bytes). Together they split the bus and both end at 16384 ns: the
        // second CPU bought no speed, because the bus is the bottleneck.
        let copy = plan(&[Step::Copy {
            payload_bytes: 4096,
            fused_checksum: false,
            resident: Resident::default(),
        }]);
        let (done, m) = run(
            2,
            &[(1, Priority::User, copy.clone()), (2, Priority::User, copy)],
        );
        assert_eq!(done, vec![(1, 16_384), (2, 16_384)]);
        assert_eq!(m.stats().cpu_copy_ops, 2);
        assert_eq!(m.stats().bus_bytes[Activity::Copy], 4 * 4096);
    }

    #[test]
    fn an_interrupt_preempts_between_steps() {
        // A user plan of two 1000 ns steps starts first; an interrupt plan is queued at t=0
        // too, after it. The user thread yields after its first step (t=1000), the handler
        // runs to 1500, and the user's second step ends at 2500. Without the yield, the
        // handler would end at 2500 and the user at 2000.
        let (done, _) = run(
            1,
            &[
                (1, Priority::User, plan(&[cpu(1000), cpu(1000)])),
                (9, Priority::Interrupt, plan(&[cpu(500)])),
            ],
        );
        assert_eq!(done, vec![(9, 1500), (1, 2500)]);
    }

    #[test]
    fn a_disk_wait_frees_the_cpu() {
        // Thread 1 reads 1000 B from disk (latency 100 us, then 10 us of DMA at 100 MB/s);
        // thread 2's 5000 ns of CPU work runs meanwhile, after a 2000 ns context switch, and
        // ends at 7000, not after the read. Thread 1's last 10 ns follow the read and a
        // switch back: 110_000 + 2000 + 10.
        let (done, m) = run(
            1,
            &[
                (
                    1,
                    Priority::User,
                    plan(&[Step::DiskRead { bytes: 1000 }, cpu(10)]),
                ),
                (2, Priority::User, plan(&[cpu(5000)])),
            ],
        );
        assert_eq!(done, vec![(2, 7000), (1, 112_010)]);
        assert_eq!(m.stats().dma_bytes, 1000);
    }

    #[test]
    fn write_allocate_makes_copies_cost_three_bus_bytes() {
        // With write-allocate caches a copy also reads the destination: 4096 B of payload is
        // 12288 bus bytes; at a CPU cap of 3 × 500 MB/s and a 1 GB/s bus it takes 12288 ns.
        let mut cfg = testkit::machine_config(1);
        cfg.costs.write_allocate = true;
        let mut m = Machine::new(cfg);
        let mut q: EventQueue<MachineEvent> = EventQueue::new();
        let mut notices = Vec::new();
        let mut p = Plan::new();
        p.copy(4096);
        m.submit(&mut q, ThreadId(0), Priority::User, p.clone(), &mut notices);
        drive(&mut m, &mut q, &mut notices);
        assert_eq!(q.now().as_nanos(), 12_288);
        assert_eq!(m.stats().cpu_copy_bytes, 4096);
        assert_eq!(m.stats().total_bus_bytes(), 12_288);
    }

    /// Runs one copy step of `payload` bytes with `resident` alone on a one-CPU test machine
    /// (bus 1 GB/s, cold copies 500 MB/s, hot 2 GB/s); returns (ns, bus bytes, machine).
    fn run_copy(payload: u64, resident: Resident, write_allocate: bool) -> (u64, u64, Machine) {
        let mut cfg = testkit::machine_config(1);
        cfg.costs.write_allocate = write_allocate;
        let mut m = Machine::new(cfg);
        let mut q: EventQueue<MachineEvent> = EventQueue::new();
        let mut notices = Vec::new();
        let p = plan(&[Step::Copy {
            payload_bytes: payload,
            fused_checksum: false,
            resident,
        }]);
        m.submit(&mut q, ThreadId(0), Priority::User, p.clone(), &mut notices);
        drive(&mut m, &mut q, &mut notices);
        let bus = m.stats().total_bus_bytes();
        (q.now().as_nanos(), bus, m)
    }

    #[test]
    fn a_copy_that_hits_entirely_moves_no_bus_bytes_and_runs_at_the_hot_rate() {
        // 4096 B with source and destination resident: 4096 / 2 GB/s = 2048 ns of CPU, no
        // bus byte, still one copy of 4096 B in the report.
        let hit = Resident {
            both: 4096,
            ..Resident::default()
        };
        let (ns, bus, m) = run_copy(4096, hit, true);
        assert_eq!((ns, bus), (2048, 0));
        assert_eq!(m.stats().cpu_copy_ops, 1);
        assert_eq!(m.stats().cpu_copy_bytes, 4096);
        assert_eq!(m.stats().cpu_ns[Activity::Copy], 2048);
    }

    #[test]
    fn a_copy_half_hit_moves_bus_bytes_for_the_missing_half_only() {
        // 8192 B, the first 4096 with both sides resident, the rest with neither; 2 bus bytes
        // per cold byte (no write-allocate). Bus: 4096 × 2 = 8192 B. Alone it takes the hits
        // at 2 GB/s (2048 ns) plus the misses at 500 MB/s (8192 ns) = 10240 ns: its cap,
        // 8192 B / 10240 ns = 800 MB/s, is under the 1 GB/s bus, so nothing slows it.
        let half = Resident {
            both: 4096,
            ..Resident::default()
        };
        let (ns, bus, m) = run_copy(8192, half, false);
        assert_eq!((ns, bus), (10_240, 8192));
        assert_eq!(m.stats().cpu_copy_bytes, 8192, "the whole copy counts once");
        assert_eq!(m.stats().cpu_copy_ops, 1);
    }

    #[test]
    fn a_hot_source_saves_its_read_and_a_hot_destination_its_write() {
        // Write-allocate, 3 bus bytes per cold byte (read the source, read the destination's
        // line, write it back). 4096 B with only the source resident: 2 × 4096 = 8192 bus
        // bytes; with only the destination resident: 1 × 4096 = 4096. Either runs at the cold
        // rate (4096 / 500 MB/s = 8192 ns), which the bus (1 GB/s) allows.
        let src = Resident {
            src_only: 4096,
            ..Resident::default()
        };
        let dst = Resident {
            dst_only: 4096,
            ..Resident::default()
        };
        assert_eq!(run_copy(4096, src, true).1, 8192);
        assert_eq!(run_copy(4096, dst, true).1, 4096);
        assert_eq!(run_copy(4096, src, true).0, 8192);
        assert_eq!(run_copy(4096, dst, true).0, 8192);
    }

    #[test]
    fn write_allocate_doubles_the_bus_bytes_of_zeroing_and_app_writes() {
        // A write-allocate cache reads each line before the store, so a store-only pass moves
        // 2 bus bytes per byte: zeroing 4096 B and the application writing 4096 B are 8192 bus
        // bytes each, 16384 in all; without write-allocate 4096 each, 8192 in all.
        for (wa, bus) in [(false, 8192), (true, 16_384)] {
            let mut cfg = testkit::machine_config(1);
            cfg.costs.write_allocate = wa;
            let mut m = Machine::new(cfg);
            let mut q: EventQueue<MachineEvent> = EventQueue::new();
            let mut notices = Vec::new();
            let mut p = Plan::new();
            p.push(Step::Zero { bytes: 4096 });
            p.push(Step::AppWrite { bytes: 4096 });
            m.submit(&mut q, ThreadId(0), Priority::User, p.clone(), &mut notices);
            drive(&mut m, &mut q, &mut notices);
            assert_eq!(m.stats().total_bus_bytes(), bus, "write_allocate = {wa}");
        }
    }

    #[test]
    fn a_checksum_pass_and_a_dma_share_the_bus_fluidly() {
        // Bus 1 GB/s. A 6000-byte checksum pass (1 bus byte per byte, CPU cap 1 GB/s) and a
        // 2000-byte DMA capped at 200 MB/s start together. Water-filling gives the DMA its
        // 200 MB/s and the pass the other 800 MB/s: the DMA ends at 2000 / 0.2 = 10000 ns,
        // by which time the pass (8000 bytes' worth at 800 MB/s) already ended at
        // 6000 / 0.8 = 7500 ns.
        let mut m = Machine::new(testkit::machine_config(1));
        let mut q: EventQueue<MachineEvent> = EventQueue::new();
        let mut notices = Vec::new();
        m.start_dma(
            &mut q,
            2000,
            Some(ByteRate::from_bytes_per_sec(200_000_000)),
            DmaTag::Tx(1),
        );
        m.submit(
            &mut q,
            ThreadId(0),
            Priority::Kernel,
            plan(&[Step::Checksum { bytes: 6000 }]),
            &mut notices,
        );
        let mut ends = Vec::new();
        while let Some((now, ev)) = q.pop() {
            m.handle(&mut q, ev, &mut notices);
            m.settle(&mut q);
            ends.extend(notices.drain(..).map(|n| (n, now.as_nanos())));
        }
        assert_eq!(
            ends,
            vec![
                (Notice::PlanDone(ThreadId(0)), 7_500),
                (Notice::DmaDone { tag: DmaTag::Tx(1) }, 10_000)
            ]
        );
        assert_eq!(m.stats().bus_bytes[Activity::Checksum], 6000);
        assert_eq!(m.stats().dma_bytes, 2000);
    }

    #[test]
    fn per_activity_counters_land_under_their_own_activity() {
        // PerActivity indexes by discriminant and reports in ALL order: if ALL and the enum
        // disagreed, a count added under one activity would be read back under another.
        for (i, a) in Activity::ALL.iter().enumerate() {
            assert_eq!(*a as usize, i, "{a:?} is out of order in Activity::ALL");
            let mut per = PerActivity::default();
            per.add(*a, 7);
            assert_eq!(per[*a], 7);
            assert_eq!(per.iter().filter(|(_, v)| *v > 0).count(), 1);
        }
    }

    #[test]
    #[should_panic(expected = "while one is in progress")]
    fn a_thread_does_one_thing_at_a_time() {
        let mut m = Machine::new(testkit::machine_config(1));
        let mut q: EventQueue<MachineEvent> = EventQueue::new();
        let mut n = Vec::new();
        let p = plan(&[cpu(10)]);
        m.submit(&mut q, ThreadId(0), Priority::User, p.clone(), &mut n);
        m.submit(&mut q, ThreadId(0), Priority::User, p.clone(), &mut n);
    }

    #[test]
    fn a_switch_between_user_threads_is_charged_and_a_lone_thread_pays_nothing() {
        // One CPU. Thread 1 runs, blocks and wakes with only kernel work run in between: no
        // switch (softnet is not a process). Thread 2 then runs (a switch), and thread 1
        // again, as a writer woken after its reader ran (a second switch): two in all.
        let mut m = Machine::new(testkit::machine_config(1));
        let mut q: EventQueue<MachineEvent> = EventQueue::new();
        let mut n = Vec::new();
        for (t, prio) in [
            (1, Priority::User),
            (0, Priority::Kernel),
            (1, Priority::User),
            (2, Priority::User),
            (1, Priority::User),
        ] {
            m.submit(&mut q, ThreadId(t), prio, plan(&[cpu(1000)]), &mut n);
            drive(&mut m, &mut q, &mut n);
        }
        assert_eq!(m.stats().context_switches, 2, "1 -> 2 and 2 -> 1 only");
    }

    /// Drives `m`, calling `on_done(m, q, thread, cpu)` for each finished plan before the
    /// machine settles, as the world does; returns (thread, end ns) per plan.
    fn drive_owner(
        m: &mut Machine,
        q: &mut EventQueue<MachineEvent>,
        mut on_done: impl FnMut(&mut Machine, &mut EventQueue<MachineEvent>, ThreadId),
    ) -> Vec<(u32, u64)> {
        let mut notices = Vec::new();
        let mut done = Vec::new();
        while let Some((now, ev)) = q.pop() {
            m.handle(q, ev, &mut notices);
            for n in std::mem::take(&mut notices) {
                if let Notice::PlanDone(t) = n {
                    done.push((t.0, now.as_nanos()));
                    let before = m.set_waker(m.last_cpu(t));
                    on_done(m, q, t);
                    m.set_waker(before);
                }
            }
            m.settle(q);
            m.check_invariants();
        }
        done
    }

    #[test]
    fn a_wake_onto_another_idle_cpu_costs_an_ipi_and_a_local_one_does_not() {
        // Two CPUs: thread 1 runs on cpu0, thread 2 on cpu1. When 1's plan ends, it wakes 2
        // (now idle on cpu1) from cpu0: an IPI (700 ns in the test costs) runs on cpu1 first,
        // so 2's 1000 ns plan ends at 1000 + 700 + 1000 = 2700. When 2's plan ends it wakes
        // itself again from its own cpu1: no IPI, ending 1000 ns later at 3700.
        let mut m = Machine::new(testkit::machine_config(2));
        let mut q: EventQueue<MachineEvent> = EventQueue::new();
        let mut n = Vec::new();
        m.submit(
            &mut q,
            ThreadId(1),
            Priority::User,
            plan(&[cpu(1000)]),
            &mut n,
        );
        m.submit(
            &mut q,
            ThreadId(2),
            Priority::User,
            plan(&[cpu(500)]),
            &mut n,
        );
        let mut rounds = 0;
        let done = drive_owner(&mut m, &mut q, |m, q, t| {
            let mut n = Vec::new();
            if t == ThreadId(1) || (t == ThreadId(2) && rounds == 1) {
                rounds += 1;
                m.submit(q, ThreadId(2), Priority::User, plan(&[cpu(1000)]), &mut n);
            }
        });
        assert_eq!(done, vec![(2, 500), (1, 1000), (2, 2700), (2, 3700)]);
        assert_eq!((m.stats().ipis, m.stats().migrations), (1, 0));
    }

    #[test]
    fn a_thread_that_goes_on_keeps_its_cpu_and_its_softirq_runs_there_first() {
        // Two CPUs, cpu1 idle. Thread 1's plan ends on cpu0; handling it raises kernel work
        // (a softirq, 300 ns) and thread 1 goes on to its next call (1000 ns). The softirq
        // runs on cpu0 where it was raised, then thread 1 resumes there: nothing migrates to
        // the idle cpu1, no switch, and thread 1 ends at 1000 + 300 + 1000 = 2300.
        let mut m = Machine::new(testkit::machine_config(2));
        let mut q: EventQueue<MachineEvent> = EventQueue::new();
        let mut n = Vec::new();
        m.submit(
            &mut q,
            ThreadId(1),
            Priority::User,
            plan(&[cpu(1000)]),
            &mut n,
        );
        let mut first = true;
        let done = drive_owner(&mut m, &mut q, |m, q, t| {
            let mut n = Vec::new();
            if t == ThreadId(1) && std::mem::take(&mut first) {
                m.submit(q, ThreadId(0), Priority::Kernel, plan(&[cpu(300)]), &mut n);
                m.submit(q, ThreadId(1), Priority::User, plan(&[cpu(1000)]), &mut n);
            }
        });
        assert_eq!(done, vec![(1, 1000), (0, 1300), (1, 2300)]);
        let s = m.stats();
        assert_eq!((s.migrations, s.context_switches, s.ipis), (0, 0, 0));
    }

    #[test]
    fn an_idle_cpu_takes_a_thread_waiting_behind_another_process() {
        // Two CPUs busy with threads 1 and 2 (1000 ns each); thread 3 waits on cpu0's queue
        // behind thread 1 (it never ran: shortest queue, lowest CPU). Thread 2 ends first at
        // 500 ns, and cpu1 pulls thread 3 rather than idle: 3 ends at 500 + 2000 (switch from
        // 2) + 1000 = 3500, one switch, no migration (3 had no CPU before).
        let mut m = Machine::new(testkit::machine_config(2));
        let mut q: EventQueue<MachineEvent> = EventQueue::new();
        let mut n = Vec::new();
        m.submit(
            &mut q,
            ThreadId(1),
            Priority::User,
            plan(&[cpu(1000)]),
            &mut n,
        );
        m.submit(
            &mut q,
            ThreadId(2),
            Priority::User,
            plan(&[cpu(500)]),
            &mut n,
        );
        m.submit(
            &mut q,
            ThreadId(3),
            Priority::User,
            plan(&[cpu(1000)]),
            &mut n,
        );
        let done = drive_owner(&mut m, &mut q, |_, _, _| {});
        assert_eq!(done, vec![(2, 500), (1, 1000), (3, 3500)]);
        assert_eq!(m.stats().context_switches, 1);
    }

    #[test]
    fn a_kernel_thread_neither_pays_nor_causes_a_switch() {
        // One CPU: user thread 1, kernel thread 5 (TUX's worker), user thread 1 again. Kernel
        // threads borrow the address space they find, so 1 -> 5 -> 1 costs no switch; with 5
        // an ordinary process the same sequence costs two.
        for (kernel, switches) in [(true, 0), (false, 2)] {
            let mut m = Machine::new(testkit::machine_config(1));
            if kernel {
                m.set_kernel_thread(ThreadId(5));
            }
            let mut q: EventQueue<MachineEvent> = EventQueue::new();
            let mut n = Vec::new();
            for t in [1, 5, 1] {
                m.submit(
                    &mut q,
                    ThreadId(t),
                    Priority::User,
                    plan(&[cpu(1000)]),
                    &mut n,
                );
                drive(&mut m, &mut q, &mut n);
            }
            assert_eq!(
                m.stats().context_switches,
                switches,
                "kernel thread: {kernel}"
            );
        }
    }
}
