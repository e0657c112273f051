//! `zcsim`: the command line. Until the strategy comparison lands (issue "Scenario files,
//! presets, and the `zcsim` command line"), it runs the engine's PHOLD benchmark and prints
//! its figures, so a fresh checkout has something real to run.

use std::time::Instant;

use sim::phold::{PholdConfig, run};

fn main() {
    let cfg = PholdConfig {
        events: 2_000_000,
        ..PholdConfig::default()
    };
    let wall = Instant::now();
    let out = run(&cfg);
    let secs = wall.elapsed().as_secs_f64();
    println!(
        "zcsim {}: engine self-test (PHOLD)",
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "  {} LPs, {} events, remote {}, seed {}: simulated {} in {secs:.3} s",
        cfg.lps, out.events, cfg.remote, cfg.seed, out.final_time
    );
    println!("  checksum={}", out.checksum);
    println!(
        "  events_per_sec={}",
        (out.events as f64 / secs.max(1e-9)) as u64
    );
}
