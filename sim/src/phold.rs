//! PHOLD, the standard synthetic benchmark for discrete-event engines (Fujimoto, 1990).
//!
//! `lps` logical processes each start with one event. Handling an event at LP `i` draws
//! `u ∈ [0,1)` from `i`'s own stream: with probability `remote` the next event goes to a
//! uniformly chosen LP, else back to `i`, at `now + lookahead + Exp(mean)`. The population of
//! pending events stays at `lps`, so the run measures the queue and the dispatch loop.
//! It lives in the engine crate so the example, the benchmark and the determinism tests run the
//! very same model.

use crate::queue::{EventQueue, RadixHeap};
use crate::rng::{Fnv1a, RngStreams, SimRng, below, exp_duration, unit_f64};
use crate::time::{SimDuration, SimTime};

/// Where the LPs' random draws come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Draws {
    /// Each LP draws from its own stream (the PHOLD convention: an LP's trajectory does not
    /// depend on how the others interleave). 1024 ChaCha8 states are about 330 KiB, which
    /// the run walks in event order.
    #[default]
    PerLp,
    /// Every LP draws from stream 0, in event order: exactly the draws of [`run_bare`], so
    /// the engine and the bare loop make the same trajectory and end with the same checksum.
    /// The LPs' own streams are still created, untouched (only `Lp`'s count and last time
    /// are), which keeps one loop for both.
    Shared,
}

/// PHOLD parameters. [`PholdConfig::default`] is the configuration the README quotes.
#[derive(Clone, Debug, PartialEq)]
pub struct PholdConfig {
    /// Logical processes (and pending events).
    pub lps: u32,
    /// Events to handle before stopping.
    pub events: u64,
    /// Probability that an event's successor goes to a random LP.
    pub remote: f64,
    /// Mean of the exponential part of the delay.
    pub mean: SimDuration,
    /// Fixed minimum delay.
    pub lookahead: SimDuration,
    pub seed: u64,
    /// Which streams [`run`] draws from ([`run_bare`] always shares one).
    pub draws: Draws,
}

impl Default for PholdConfig {
    fn default() -> Self {
        PholdConfig {
            lps: 1024,
            events: 10_000_000,
            remote: 0.9,
            mean: SimDuration::from_micros(1),
            lookahead: SimDuration::from_nanos(100),
            seed: 1,
            draws: Draws::PerLp,
        }
    }
}

/// What a run ends in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PholdOutcome {
    pub events: u64,
    pub final_time: SimTime,
    /// FNV-1a over every LP's event count and last event time, then the final time: any
    /// change in which event went where, or when, changes it.
    pub checksum: u64,
}

struct Lp {
    rng: SimRng,
    handled: u64,
    last: SimTime,
}

/// Runs PHOLD to `cfg.events` handled events. Panics if `cfg.lps` is zero.
pub fn run(cfg: &PholdConfig) -> PholdOutcome {
    // One copy of the loop per source of draws, so neither pays a branch per draw.
    match cfg.draws {
        Draws::PerLp => run_drawing::<false>(cfg),
        Draws::Shared => run_drawing::<true>(cfg),
    }
}

fn run_drawing<const SHARED: bool>(cfg: &PholdConfig) -> PholdOutcome {
    assert!(cfg.lps > 0, "PHOLD needs at least one LP");
    let streams = RngStreams::new(cfg.seed);
    let mut lps: Vec<Lp> = (0..cfg.lps)
        .map(|i| Lp {
            rng: streams.stream(i as u64),
            handled: 0,
            last: SimTime::ZERO,
        })
        .collect();
    // Stream 0 is also LP 0's, as in `run_bare`; a shared run never touches the LPs' own.
    let mut shared = streams.stream(0);
    // One event per LP is pending throughout (1024 by default), far above the tiered set's
    // small tier: the radix heap it would move them to, without the tier test on every
    // push and pop (callgrind: 400 vs 375 instructions per event).
    let mut queue: EventQueue<u32, RadixHeap<u32>> = EventQueue::over();
    for (i, lp) in lps.iter_mut().enumerate() {
        let rng = if SHARED { &mut shared } else { &mut lp.rng };
        let at = SimTime::ZERO + cfg.lookahead + exp_duration(rng, cfg.mean);
        queue.schedule_at(at, i as u32);
    }
    let mut handled = 0;
    while handled < cfg.events {
        let Some((now, target)) = queue.pop() else {
            break;
        };
        let lp = &mut lps[target as usize];
        lp.handled += 1;
        lp.last = now;
        let rng = if SHARED { &mut shared } else { &mut lp.rng };
        let next = if unit_f64(rng) < cfg.remote {
            below(rng, cfg.lps as u64) as u32
        } else {
            target
        };
        let delay = cfg.lookahead + exp_duration(rng, cfg.mean);
        queue.schedule_at(now + delay, next);
        handled += 1;
    }
    let final_time = queue.now();
    let mut h = Fnv1a::new();
    for lp in &lps {
        h = h.write_u64(lp.handled).write_u64(lp.last.as_nanos());
    }
    PholdOutcome {
        events: handled,
        final_time,
        checksum: h.write_u64(final_time.as_nanos()).finish(),
    }
}

/// The same PHOLD on a bare loop: `std::collections::BinaryHeap` of `(time, seq, lp)` and one
/// ChaCha8 stream shared by every LP, with the same draws per event ([`unit_f64`], [`below`],
/// [`exp_duration`]). What a simulation engine should beat: the `phold` example's
/// `--compare-bare` runs both and prints the ratio. [`run`] with [`Draws::Shared`] does
/// exactly this work (same checksum); with [`Draws::PerLp`] its checksum differs but is just
/// as deterministic.
pub fn run_bare(cfg: &PholdConfig) -> PholdOutcome {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    assert!(cfg.lps > 0, "PHOLD needs at least one LP");
    let mut rng = RngStreams::new(cfg.seed).stream(0);
    let mut handled_by = vec![0u64; cfg.lps as usize];
    let mut last = vec![0u64; cfg.lps as usize];
    let mut heap = BinaryHeap::with_capacity(cfg.lps as usize);
    let mut seq = 0u64;
    let (lookahead, mean) = (cfg.lookahead.as_nanos(), cfg.mean);
    for i in 0..cfg.lps {
        let at = lookahead + exp_duration(&mut rng, mean).as_nanos();
        heap.push(Reverse((at, seq, i)));
        seq += 1;
    }
    let mut handled = 0;
    let mut now = 0;
    while handled < cfg.events {
        let Some(Reverse((at, _, target))) = heap.pop() else {
            break;
        };
        now = at;
        handled_by[target as usize] += 1;
        last[target as usize] = at;
        let next = if unit_f64(&mut rng) < cfg.remote {
            below(&mut rng, cfg.lps as u64) as u32
        } else {
            target
        };
        let delay = lookahead + exp_duration(&mut rng, mean).as_nanos();
        heap.push(Reverse((now + delay, seq, next)));
        seq += 1;
        handled += 1;
    }
    let mut h = Fnv1a::new();
    for (n, t) in handled_by.iter().zip(&last) {
        h = h.write_u64(*n).write_u64(*t);
    }
    PholdOutcome {
        events: handled,
        final_time: SimTime::from_nanos(now),
        checksum: h.write_u64(now).finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> PholdConfig {
        PholdConfig {
            lps: 64,
            events: 50_000,
            seed,
            ..PholdConfig::default()
        }
    }

    #[test]
    fn same_seed_same_checksum_other_seed_other_checksum() {
        // The checksum folds every LP's count and last time: equal checksums for equal seeds
        // means the whole trajectory repeated; a different seed must move it.
        let a = run(&small(1));
        let b = run(&small(1));
        let c = run(&small(2));
        assert_eq!(a, b);
        assert_ne!(a.checksum, c.checksum);
        assert_eq!(a.events, 50_000);
    }

    #[test]
    fn mean_delay_sets_the_clock() {
        // Each LP's chain advances by lookahead + Exp(mean) = 1.1 us on average and 64 chains
        // run side by side, so 50k events take about 50k/64 × 1.1 us ≈ 859 us. A wrong
        // delay formula (say, a missing lookahead or mean in ms) lands far outside ±10%.
        let out = run(&small(3));
        let expect_ns = 50_000.0 / 64.0 * 1100.0;
        let got = out.final_time.as_nanos() as f64;
        assert!((got / expect_ns - 1.0).abs() < 0.1, "final time {got} ns");
    }

    #[test]
    fn the_bare_loop_models_the_same_clock() {
        // The bare loop draws from one shared stream, so its trajectory differs, but it is the
        // same model: its clock after 50k events agrees with the engine's within 5% (both near
        // 859 us, see above), and it repeats itself for a seed.
        let engine = run(&small(5));
        let bare = run_bare(&small(5));
        assert_eq!(bare, run_bare(&small(5)));
        let ratio = bare.final_time.as_nanos() as f64 / engine.final_time.as_nanos() as f64;
        assert!((ratio - 1.0).abs() < 0.05, "bare/engine clock {ratio}");
    }

    #[test]
    fn shared_draws_are_the_bare_loops_work_exactly() {
        // With one shared stream the engine makes the bare loop's draws in the bare loop's
        // order; if its queue delivered any event in a different order (ties included), an
        // LP's count or last time, and so the checksum, would differ.
        let cfg = PholdConfig {
            draws: Draws::Shared,
            ..small(6)
        };
        assert_eq!(run(&cfg), run_bare(&cfg));
        // And the default's streams per LP really are other draws: the equality above is
        // Draws::Shared's doing, not a checksum that ignores the trajectory.
        assert_ne!(run(&small(6)).checksum, run_bare(&small(6)).checksum);
    }

    #[test]
    fn the_remote_probability_steers_events() {
        // With remote = 0 every LP only ever schedules itself; with 0.9 most events move.
        // Same seed, so if the branch were not wired both runs would follow the same
        // trajectory and end with the same checksum.
        let home = run(&PholdConfig {
            remote: 0.0,
            ..small(4)
        });
        let roaming = run(&small(4));
        assert_eq!(home.events, 50_000);
        assert_ne!(home.checksum, roaming.checksum);
    }
}
