//! How soon `zcsim tui` shows a big run, and what holding it costs: the TUI's loading code
//! ([`tui::Loader`], [`tui::Action::Load`]) driven on a 120x40 `TestBackend` as the event
//! loop drives it (take what is ready, draw every 250 ms), for a bulk-send from memory
//! on the default target, every applicable strategy unless `--strategies` names some.
//!
//! `cargo run --release --example tui_load -- --total 256MiB`
//! `cargo run --release --example tui_load -- --total 256MiB --strategies copy`
//!
//! Prints the time to the first frame that shows recorded events (goal: under 1 s), the time
//! until every run is loaded, and the process's peak resident memory (`VmHWM` in
//! `/proc/self/status`; run one configuration per process so the peaks are comparable),
//! against the path before the loader: recording each whole run into the trace's ring, then
//! indexing it, before the first frame.

use std::time::Instant;

use clap::Parser;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scenarios::Overrides;
use tui::{Action, App, Job, LOAD_REDRAW, Loader, ui};

#[derive(Parser)]
struct Args {
    /// Bytes to send, with a unit.
    #[arg(long, default_value = "256MiB")]
    total: String,
    /// Strategy ids, comma-separated (default: every one that applies).
    #[arg(long, value_delimiter = ',')]
    strategies: Option<Vec<String>>,
    /// Most records kept per run (`zcsim tui --max-records`).
    #[arg(long, default_value_t = 1_000_000)]
    max_records: usize,
}

/// The path before the loader, measured on this machine at commit f739087 with the same
/// bulk-send of 256 MiB and 1 000 000 records per run: (strategies, seconds to the first
/// frame, peak resident KiB).
const BEFORE: [(&str, f64, u64); 2] = [("copy", 2.01, 390_988), ("all 7", 21.75, 2_243_512)];

#[path = "common/rss.rs"]
mod rss;
use rss::peak_rss_kib;

fn main() {
    let a = Args::parse();
    let sc = scenarios::load_default(&Overrides {
        workload: Some("bulk-send".into()),
        strategies: a.strategies.clone(),
        sets: vec![format!("workload.total={}", a.total)],
        ..Overrides::default()
    })
    .expect("a valid scenario");
    let wr = &sc.runs[0];
    let jobs: Vec<Job> = wr
        .strategies
        .iter()
        .map(|st| Job {
            options: wr.options,
            ..Job::new(&sc.target.world, &wr.workload, *st)
        })
        .collect();
    let n = jobs.len();
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("a test terminal");
    let wall = Instant::now();
    let mut app = App::recording("load".into(), Loader::start(jobs, a.max_records))
        .expect("at least one strategy");
    let mut first = None;
    let mut frames = 0u32;
    // As `tui::run` does: take what is ready (waiting a moment for the recorder when
    // nothing is), and draw every LOAD_REDRAW, at once when the first events arrive, and at
    // the end.
    let mut drawn_at = Instant::now();
    while app.loading.is_some() {
        app.update(Action::Load);
        let first_events = first.is_none() && !app.run().events.is_empty();
        if first_events || app.loading.is_none() || drawn_at.elapsed() >= LOAD_REDRAW {
            term.draw(|f| ui::draw(f, &app)).expect("a frame");
            drawn_at = Instant::now();
            frames += 1;
        }
        if first_events {
            first = Some((wall.elapsed().as_secs_f64(), app.run().events.len()));
        }
    }
    let loaded = wall.elapsed().as_secs_f64();
    let peak = peak_rss_kib().unwrap_or(0);
    let (first_s, first_events) = first.expect("the runs record events");
    println!(
        "bulk-send of {} on {}, {n} strategies ({}), at most {} records each",
        a.total,
        sc.target.name,
        wr.strategies
            .iter()
            .map(|s| s.id())
            .collect::<Vec<_>>()
            .join(", "),
        a.max_records
    );
    println!(
        "first frame with events after {first_s:.3} s ({first_events} events shown; goal: under 1 s)"
    );
    for r in &app.runs {
        println!(
            "  {}: {} events recorded, {} kept, {} records dropped",
            r.name,
            r.recorded_events(),
            r.events.len(),
            r.dropped
        );
    }
    println!("fully loaded after {loaded:.2} s ({frames} frames drawn meanwhile)");
    println!("peak memory {:.0} MiB", peak as f64 / 1024.0);
    for (which, secs, kib) in BEFORE {
        println!(
            "before the loader ({which}): first frame after {secs:.2} s, peak memory {:.0} MiB",
            kib as f64 / 1024.0
        );
    }
    println!("first_frame_s={first_s:.3}");
    println!("loaded_s={loaded:.2}");
    println!("peak_rss_kib={peak}");
}
