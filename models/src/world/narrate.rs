//! Narration: one plain-language line per significant event, for `run --verbose` and the
//! trace. Each line is written where its event happens; this file holds the sink and the
//! words for plans and threads that every event shares.

use std::collections::BTreeMap;

use sim::SimDuration;

use super::path::human_bytes;
use super::{Cont, FIRST_APP_THREAD, IRQ, Narrator, SOFTNET, World, WorldConfig};
use crate::machine::{Activity, Plan, Step, ThreadId};

/// `n` and the noun, singular or plural as `n` asks ("1 page", "2 pages").
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A thread's name in narration and traces.
pub(super) fn thread_name(t: ThreadId) -> String {
    match t {
        SOFTNET => "softnet".to_owned(),
        IRQ => "interrupt".to_owned(),
        ThreadId(n) => format!("app {}", n - FIRST_APP_THREAD),
    }
}

impl Cont {
    /// What the work is for, in words.
    pub(super) fn describe(&self) -> &'static str {
        match self {
            Cont::AppStarted { .. } => "sets up its memory",
            Cont::AppWorked { .. } => "works",
            Cont::ChunkReady { .. } => "moves a chunk into the socket buffer",
            Cont::AppOutput { .. } => "runs tcp_output after sosend",
            Cont::Received { .. } => "recv()s",
            Cont::Consumed { .. } => "reads and sums its data",
            Cont::Output { .. } => "runs tcp_output",
            Cont::AckDone { .. } => "takes the receive interrupt and processes an ACK",
            Cont::TxReclaimed { .. } => "reclaims TX descriptors and frees sent mbufs",
            Cont::RxDelivered { .. } => "takes the receive interrupt and runs tcp_input",
            Cont::LoopbackDelivered { .. } => "runs tcp_input for a looped-back segment",
            Cont::XskPolled { .. } => {
                "polls a raw frame through the XDP program to the AF_XDP socket"
            }
            Cont::XskBound { .. } => "registers its UMEM and rings and binds its AF_XDP socket",
            Cont::XskReceived { .. } => "takes frames off its AF_XDP RX ring",
        }
    }
}

/// A plan in words: its fixed CPU time by activity, and what it moves, by kind of step.
pub(super) fn describe_plan(plan: &Plan, cfg: &WorldConfig) -> String {
    let mut fixed: BTreeMap<Activity, u64> = BTreeMap::new();
    // (what, why) -> (steps, bytes), in first-seen order.
    let mut moves: Vec<(&'static str, u64, u64)> = Vec::new();
    let mut add = |what: &'static str, bytes: u64| match moves.iter_mut().find(|m| m.0 == what) {
        Some(m) => {
            m.1 += 1;
            m.2 += bytes;
        }
        None => moves.push((what, 1, bytes)),
    };
    // Copy bytes whose source and destination were both in the last-level cache.
    let mut hits = 0;
    for step in plan.steps() {
        if let Step::Copy { resident, .. } = step {
            hits += resident.both;
        }
        match *step {
            Step::Cpu { activity, duration } => {
                *fixed.entry(activity).or_default() += duration.as_nanos();
            }
            Step::Copy { payload_bytes, .. } => add("copy", payload_bytes),
            Step::Checksum { bytes } => add("checksum", bytes),
            Step::Zero { bytes } => add("zero-fill", bytes),
            Step::AppWrite { bytes } => add("app write", bytes),
            Step::AppRead { bytes } => add("app read", bytes),
            Step::DiskRead { bytes } => add("disk read", bytes),
            Step::Encrypt { bytes } => add("encrypt", bytes),
        }
    }
    let costs = &cfg.machine.costs;
    let mut out: Vec<String> = fixed
        .iter()
        .map(|(a, ns)| format!("{} {}", a.name(), SimDuration::from_nanos(*ns)))
        .collect();
    for (what, n, bytes) in moves {
        let times = if n > 1 {
            format!(" in {n} steps")
        } else {
            String::new()
        };
        let how = match what {
            "copy" if hits > 0 => format!(
                " ({} found in the cache at most at {}; the rest {} bus bytes per byte, at most {} for the CPU)",
                human_bytes(hits),
                costs.cpu_copy_hot_rate,
                costs.copy_bus_factor(),
                costs.cpu_copy_rate
            ),
            "copy" => format!(
                " ({} bus bytes per byte, at most {} for the CPU)",
                costs.copy_bus_factor(),
                costs.cpu_copy_rate
            ),
            "disk read" => format!(
                " ({} latency each, then DMA)",
                SimDuration::from_nanos(cfg.machine.disk.latency_ns)
            ),
            _ => String::new(),
        };
        out.push(format!("{what} {}{times}{how}", human_bytes(bytes)));
    }
    out.join(", ")
}

impl World {
    /// Sends one plain-language line per narrated event to `f` (`run --verbose`).
    pub fn set_narrator(&mut self, f: Narrator) {
        self.narrator = Some(f);
    }

    /// Whether a narrator or a trace is listening; check before formatting a line.
    pub(super) fn narrating(&self) -> bool {
        self.narrator.is_some() || self.tracer.is_some()
    }

    /// Tells the narrator, and keeps the line in the trace. Returns the line's id in the trace
    /// (0 when not tracing), for records to point at.
    pub(super) fn narrate(&mut self, line: std::fmt::Arguments<'_>) -> u64 {
        let now = self.now();
        let text = format!("{:>12}  {line}", now.to_string());
        if let Some(f) = &mut self.narrator {
            f(&text);
        }
        self.trace_note(text)
    }
}
