//! Frame time of the timeline over a trace of a million events: a whole real run recorded
//! with a large ring, drawn on a 200x60 `TestBackend` zoomed out (every event in view, the
//! worst case) and zoomed in.
//!
//! `cargo bench -p zcsim-tui --bench frame`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scenarios::Overrides;
use tui::{Action, App, RunView, ui};

/// A recorded copy run on embedded-100tx long enough for at least a million trace events.
fn big_app() -> App {
    let sc = scenarios::load_default(&Overrides {
        workload: Some("bulk-send".into()),
        strategies: Some(vec!["copy".into()]),
        sets: vec!["workload.total=128MiB".into()],
        ..Overrides::default()
    })
    .expect("a valid scenario");
    let wr = &sc.runs[0];
    let (report, trace) =
        tui::data::record(&sc.target.world, &wr.workload, wr.strategies[0], 4_000_000);
    let view = RunView::new("copy".into(), report, trace);
    eprintln!(
        "trace: {} events for the cursor, {} spans, {} counter samples",
        view.events.len(),
        view.lanes.iter().map(|l| l.span_count()).sum::<usize>(),
        view.counters
            .values()
            .map(tui::data::Series::len)
            .sum::<usize>()
    );
    assert!(
        view.events.len() >= 1_000_000,
        "the benchmark needs a million events"
    );
    App::new("bench".into(), vec![view]).expect("one run")
}

fn frame(c: &mut Criterion) {
    let mut app = big_app();
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut g = c.benchmark_group("frame");
    g.sample_size(20);
    g.bench_function("1M events, zoomed out", |b| {
        b.iter(|| {
            term.draw(|f| ui::draw(f, black_box(&app))).unwrap();
        })
    });
    for _ in 0..12 {
        app.update(Action::ZoomIn);
    }
    g.bench_function("1M events, zoomed in", |b| {
        b.iter(|| {
            term.draw(|f| ui::draw(f, black_box(&app))).unwrap();
        })
    });
    g.bench_function("1M events, next event (update)", |b| {
        b.iter(|| app.update(black_box(Action::NextEvent)))
    });
    g.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
