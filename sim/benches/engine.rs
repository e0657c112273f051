//! Engine benchmarks: the event queue on the classic *hold* model (pop the earliest event,
//! push one a random delay later, population constant), ours against `std`'s `BinaryHeap`
//! doing the same work; full PHOLD; and the fluid resource's start/complete cycle.
//!
//! `cargo bench -p zcsim-sim`

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sim::phold::{PholdConfig, run};
use sim::queue::{PendingSet, QuaternaryHeap, RadixHeap};
use sim::rng::{RngStreams, exp_duration};
use sim::{ByteRate, EventQueue, FluidResource, SimDuration, SimTime};

const HOLD_OPS: u64 = 100_000;

/// Pre-drawn delays so both queues see identical work and the RNG is not measured.
fn delays(n: usize) -> Vec<SimDuration> {
    let mut rng = RngStreams::new(1).stream(0);
    (0..n)
        .map(|_| exp_duration(&mut rng, SimDuration::from_micros(1)))
        .collect()
}

/// The hold model on one of the engine's pending sets: `n` events, then pop-and-push.
fn hold_on<S: PendingSet<u32>>(mut q: EventQueue<u32, S>, n: usize, ds: &[SimDuration]) -> SimTime {
    for i in 0..n {
        q.schedule_at(SimTime::from_nanos(ds[i % ds.len()].as_nanos()), i as u32);
    }
    for d in ds {
        let (now, e) = q.pop().unwrap();
        q.schedule_at(now + *d, e);
    }
    q.now()
}

fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("hold");
    g.throughput(Throughput::Elements(HOLD_OPS));
    let ds = delays(HOLD_OPS as usize);
    for population in [8usize, 64, 1024, 65_536] {
        g.bench_with_input(
            BenchmarkId::new("EventQueue-tiered", population),
            &population,
            |b, &n| b.iter(|| black_box(hold_on(EventQueue::<u32>::new(), n, &ds))),
        );
        g.bench_with_input(
            BenchmarkId::new("EventQueue-radix", population),
            &population,
            |b, &n| {
                b.iter(|| black_box(hold_on(EventQueue::<u32, RadixHeap<u32>>::over(), n, &ds)))
            },
        );
        g.bench_with_input(
            BenchmarkId::new("EventQueue-4ary", population),
            &population,
            |b, &n| {
                b.iter(|| {
                    black_box(hold_on(
                        EventQueue::<u32, QuaternaryHeap<u32>>::over(),
                        n,
                        &ds,
                    ))
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("std-BinaryHeap", population),
            &population,
            |b, &n| {
                b.iter(|| {
                    let mut q = BinaryHeap::with_capacity(n);
                    let mut seq = 0u64;
                    for i in 0..n {
                        q.push(Reverse((ds[i % ds.len()].as_nanos(), seq, i as u32)));
                        seq += 1;
                    }
                    let mut now = 0;
                    for d in &ds {
                        let Reverse((t, _, e)) = q.pop().unwrap();
                        now = t;
                        q.push(Reverse((t + d.as_nanos(), seq, e)));
                        seq += 1;
                    }
                    black_box(now)
                })
            },
        );
    }
    g.finish();
}

fn phold(c: &mut Criterion) {
    let mut g = c.benchmark_group("phold");
    let cfg = PholdConfig {
        events: 200_000,
        ..PholdConfig::default()
    };
    g.throughput(Throughput::Elements(cfg.events));
    g.bench_function("lps1024-remote0.9", |b| b.iter(|| black_box(run(&cfg))));
    g.finish();
}

/// Each step starts a transfer and completes the earliest, with `k` transfers in flight: the
/// cost of one rate recomputation at that concurrency.
fn fluid(c: &mut Criterion) {
    let mut g = c.benchmark_group("fluid");
    const STEPS: u64 = 10_000;
    g.throughput(Throughput::Elements(STEPS));
    for k in [1usize, 4, 16] {
        g.bench_with_input(BenchmarkId::new("start-complete", k), &k, |b, &k| {
            b.iter(|| {
                let mut r = FluidResource::new(ByteRate::from_bytes_per_sec(400_000_000));
                let cap = Some(ByteRate::from_bytes_per_sec(150_000_000));
                let mut now = SimTime::ZERO;
                let mut done = Vec::new();
                for i in 0..k {
                    r.start(
                        now,
                        4096 + i as u64 * 512,
                        if i % 2 == 0 { cap } else { None },
                    );
                }
                for i in 0..STEPS {
                    now = r.next_completion().unwrap();
                    r.complete_due(now, &mut done);
                    for _ in done.drain(..) {
                        r.start(
                            now,
                            4096 + (i % 7) * 512,
                            if i % 2 == 0 { cap } else { None },
                        );
                    }
                }
                black_box(r.bytes_transferred())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, hold, phold, fluid);
criterion_main!(benches);
