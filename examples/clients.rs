//! What connections cost the simulator: a file server with one client against one with many
//! (default 1000), `sendfile` on `server-2024`, with as many requests each that both runs
//! handle about the same number of events. Prints each run's wall time per event and their
//! ratio against the goal (at most 1.5x: per-event work must not grow with the number of
//! connections, only the state kept for them).
//!
//! `cargo run --release --example clients`
//! `cargo run --release --example clients -- --clients 5000`

use std::time::Instant;

use clap::Parser;
use models::report::{RunOptions, RunReport, run};
use models::strategy::{HeaderMode, Strategy};
use models::workload::Workload;
use scenarios::Overrides;

#[derive(Parser)]
struct Args {
    /// Client connections of the many-client run.
    #[arg(long, default_value_t = 1000)]
    clients: u32,
    /// Responses each run sends.
    #[arg(long, default_value_t = 20_000)]
    requests: u64,
    /// Strategy id.
    #[arg(long, default_value = "sendfile")]
    strategy: String,
}

/// Runs the file server with `clients` connections; returns the report and wall ns per event.
fn serve(a: &Args, clients: u32) -> (RunReport, f64) {
    let sc = scenarios::load_default(&Overrides {
        preset: Some("server-2024".to_owned()),
        ..Overrides::default()
    })
    .expect("a known preset");
    let w = Workload::FileServer {
        clients,
        files: 64,
        file_bytes: 256 << 10,
        body_bytes: 256 << 10,
        requests: a.requests,
        header_bytes: 200,
        header: HeaderMode::SeparateWrite,
    };
    let strategy = Strategy::from_id(&a.strategy).expect("a known strategy");
    let wall = Instant::now();
    let r = run(&sc.target.world, &w, strategy, RunOptions::default()).expect("applies");
    let ns = wall.elapsed().as_nanos() as f64 / r.events as f64;
    (r, ns)
}

fn main() {
    let a = Args::parse();
    // Warm up allocator and caches so the first measured run is not the slower one.
    serve(&a, 1);
    let (one, one_ns) = serve(&a, 1);
    let (many, many_ns) = serve(&a, a.clients);
    for (n, r, ns) in [(1, &one, one_ns), (a.clients, &many, many_ns)] {
        println!(
            "{n:>5} client(s): {} events, {ns:.0} ns of wall time per event, simulated {:.0} MB/s",
            r.events,
            r.throughput_bytes_per_sec / 1e6
        );
    }
    println!(
        "{} clients cost {:.2}x one client per event (goal: at most 1.5x)",
        a.clients,
        many_ns / one_ns
    );
}
