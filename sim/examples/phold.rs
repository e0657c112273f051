//! PHOLD on the zcsim engine: prints the run's figures, then exactly two closing lines,
//! `checksum=<u64>` and `events_per_sec=<integer>`.
//!
//! `cargo run --release -p zcsim-sim --example phold -- --lps 1024 --events 10000000`

use std::time::Instant;

use clap::Parser;
use sim::phold::{PholdConfig, run, run_bare};

/// The PHOLD discrete-event benchmark.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Logical processes (each starts with one event).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    lps: u32,
    /// Events to handle.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Probability an event's successor goes to a random LP, in [0, 1].
    #[arg(long, default_value_t = 0.9, value_parser = probability)]
    remote: f64,
    /// Root seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also run the same PHOLD on a bare `BinaryHeap` + one-ChaCha8 loop and print the ratio.
    #[arg(long)]
    compare_bare: bool,
}

fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability in [0, 1]"))
    }
}

fn main() {
    let args = Args::parse();
    let cfg = PholdConfig {
        lps: args.lps,
        events: args.events,
        remote: args.remote,
        seed: args.seed,
        ..PholdConfig::default()
    };
    let wall = Instant::now();
    let out = run(&cfg);
    let secs = wall.elapsed().as_secs_f64();
    println!(
        "phold: lps={} events={} remote={} mean={} lookahead={} seed={}",
        cfg.lps, out.events, cfg.remote, cfg.mean, cfg.lookahead, cfg.seed
    );
    println!(
        "simulated time {} in {:.3} s of wall time",
        out.final_time, secs
    );
    let rate = out.events as f64 / secs.max(1e-9);
    if args.compare_bare {
        let wall = Instant::now();
        let bare = run_bare(&cfg);
        let bare_secs = wall.elapsed().as_secs_f64();
        let bare_rate = bare.events as f64 / bare_secs.max(1e-9);
        println!(
            "bare BinaryHeap + one ChaCha8 loop: {:.2} M events/s; zcsim engine {:.2} M events/s = {:.2}x the bare loop (goal: 1.2x)",
            bare_rate / 1e6,
            rate / 1e6,
            rate / bare_rate
        );
    }
    println!("checksum={}", out.checksum);
    println!("events_per_sec={}", rate as u64);
}
