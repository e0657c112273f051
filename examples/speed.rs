//! Speed and memory of one run: bulk-send from memory with `copy` on a preset (default
//! `server-2024`), printing events per second and the process's peak resident memory.
//!
//! `cargo run --release --example speed -- --total 1GiB`
//! `cargo run --release --example speed -- --total 8GiB`
//!
//! Peak memory is read from `/proc/self/status` (`VmHWM`); run each size in its own process,
//! as above, so the peaks are comparable.

use std::time::Instant;

use clap::Parser;
use models::report::{RunOptions, run};
use models::strategy::Strategy;
use models::workload::{BulkSource, Workload};
use scenarios::Overrides;

#[derive(Parser)]
struct Args {
    /// Bytes to send, with a unit.
    #[arg(long, default_value = "1GiB")]
    total: String,
    /// Target preset.
    #[arg(long, default_value = "server-2024")]
    preset: String,
    /// Strategy id.
    #[arg(long, default_value = "copy")]
    strategy: String,
    /// Runs of the model and of the bare loop, interleaved; the best of each is reported (a
    /// shared machine's noise only slows a run down).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
}

#[path = "common/rss.rs"]
mod rss;
use rss::peak_rss_kib;

fn main() {
    let a = Args::parse();
    let total = scenarios::units::parse_size(&a.total).expect("--total needs a size such as 1GiB");
    let sc = scenarios::load_default(&Overrides {
        preset: Some(a.preset.clone()),
        ..Overrides::default()
    })
    .expect("a known preset");
    let strategy = Strategy::from_id(&a.strategy).expect("a known strategy");
    let w = Workload::BulkSend {
        total_bytes: total,
        write_size: 64 << 10,
        source: BulkSource::Memory,
    };
    // The reference in the same run: PHOLD on a bare BinaryHeap + ChaCha8 loop, as many
    // events.
    let (mut secs, mut bare_rate, mut report) = (f64::MAX, 0f64, None);
    for _ in 0..a.repeat {
        let wall = Instant::now();
        let r = run(&sc.target.world, &w, strategy, RunOptions::default()).expect("applies");
        secs = secs.min(wall.elapsed().as_secs_f64());
        let bare_cfg = sim::phold::PholdConfig {
            events: r.events,
            ..sim::phold::PholdConfig::default()
        };
        let wall = Instant::now();
        let bare = sim::phold::run_bare(&bare_cfg);
        bare_rate = bare_rate.max(bare.events as f64 / wall.elapsed().as_secs_f64());
        report = Some(r);
    }
    let r = report.expect("at least one run");
    println!(
        "{} on {}: {} bytes, {} events in {secs:.2} s of wall time (best of {})",
        a.strategy, a.preset, r.payload_bytes, r.events, a.repeat
    );
    println!(
        "simulated throughput {:.1} MB/s",
        r.throughput_bytes_per_sec / 1e6
    );
    let rate = r.events as f64 / secs;
    println!(
        "model {:.2} M events/s against a bare BinaryHeap loop's {:.2} M events/s: {:.2}x (goal: 0.8x)",
        rate / 1e6,
        bare_rate / 1e6,
        rate / bare_rate
    );
    println!("events_per_sec={}", rate as u64);
    println!("peak_rss_kib={}", peak_rss_kib().unwrap_or(0));
}
