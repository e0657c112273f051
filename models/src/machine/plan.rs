//! Plans: the steps a piece of kernel or application work is made of, which the machine runs
//! on a CPU and the bus.

use sim::SimDuration;

use super::Activity;

/// One unit of work in a [`Plan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Hold the CPU for a fixed time.
    Cpu {
        activity: Activity,
        duration: SimDuration,
    },
    /// A CPU copy of `payload_bytes`: CPU held, bus bytes for what the last-level cache
    /// misses (see [`Resident`]; `payload × copy_bus_factor` when nothing is resident) capped
    /// at the CPU's copy speed. Counted as a copy in the report. `fused_checksum` copies
    /// compute the checksum on the way (same bus traffic).
    Copy {
        payload_bytes: u64,
        fused_checksum: bool,
        resident: Resident,
    },
    /// A checksum pass: CPU held, one bus byte per byte.
    Checksum { bytes: u64 },
    /// Zero-filling: CPU held, one bus byte per byte.
    Zero { bytes: u64 },
    /// The application writing its own memory: CPU held, one bus byte per byte.
    AppWrite { bytes: u64 },
    /// The application reading its own memory and adding it up (LMbench's `bread()`): CPU
    /// held, one bus byte per byte, at most at the CPU's checksum rate (the same load-and-add
    /// loop, without the carries).
    AppRead { bytes: u64 },
    /// Encrypting `bytes` into a new buffer (software kTLS): CPU held, bus bytes as a copy
    /// (read the plaintext, write the ciphertext), capped at the CPU's crypto speed.
    Encrypt { bytes: u64 },
    /// Read from disk into memory: the thread waits (CPU free) for the latency, then the
    /// disk DMAs the bytes over the bus at most at its rate.
    DiskRead { bytes: u64 },
}

/// How many of a copy's payload bytes found their source, their destination or both in the
/// last-level cache when the copy was planned (the VM's [`Llc`](crate::vm::Llc) decides;
/// the machine knows no pages). A byte with both resident moves no bus bytes and runs at the
/// hot copy rate; any other byte runs at the cold copy rate and moves one bus byte if its
/// source missed and `copy_bus_factor - 1` if its destination missed (the write-allocate
/// read and the write-back, or the write alone). All zeros: a cold copy, as on a machine
/// without a cache model.
///
/// Invariant: `both + src_only + dst_only <= payload_bytes` of the step that holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resident {
    pub both: u64,
    pub src_only: u64,
    pub dst_only: u64,
}

impl Resident {
    /// Bus bytes a copy of `payload` with this residency moves, at `factor` bus bytes per
    /// byte of a cold copy.
    pub fn bus_bytes(&self, payload: u64, factor: u64) -> u64 {
        assert!(
            self.both + self.src_only + self.dst_only <= payload,
            "residency {self:?} covers more than the copy's {payload} bytes"
        );
        let cold = payload - self.both;
        let src_miss = cold - self.src_only;
        let dst_miss = cold - self.dst_only;
        src_miss + dst_miss * (factor - 1)
    }
}

/// A sequence of steps produced by model operations, run in order by one thread. Each piece
/// of kernel work builds its own plan and hands it to [`Machine::submit`](super::Machine::submit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    steps: Vec<Step>,
}

impl Plan {
    pub fn new() -> Self {
        Plan::default()
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The steps, for the machine to run in place.
    pub(crate) fn into_steps(self) -> Vec<Step> {
        self.steps
    }

    /// An empty plan over `storage`'s allocation (the machine's pool keeps it cleared).
    pub(crate) fn reusing(storage: Vec<Step>) -> Self {
        debug_assert!(storage.is_empty(), "a pooled plan still holds steps");
        Plan { steps: storage }
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn clear(&mut self) {
        self.steps.clear();
    }

    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Fixed CPU time; zero durations are dropped.
    pub fn cpu(&mut self, activity: Activity, ns: u64) {
        if ns > 0 {
            self.steps.push(Step::Cpu {
                activity,
                duration: SimDuration::from_nanos(ns),
            });
        }
    }

    /// A copy whose source and destination the cache model does not know: all cold.
    pub fn copy(&mut self, payload_bytes: u64) {
        self.steps.push(Step::Copy {
            payload_bytes,
            fused_checksum: false,
            resident: Resident::default(),
        });
    }

    /// Sum of fixed CPU time in the plan (bus steps excluded), for tests and narration.
    pub fn fixed_cpu(&self) -> SimDuration {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Cpu { duration, .. } => *duration,
                _ => SimDuration::ZERO,
            })
            .sum()
    }

    /// Payload bytes copied by the plan's copy steps.
    pub fn copy_bytes(&self) -> u64 {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Copy { payload_bytes, .. } => *payload_bytes,
                _ => 0,
            })
            .sum()
    }
}
