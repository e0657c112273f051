//! Whole screens on a fixed-size `TestBackend`, driven by scripted actions, checked with
//! insta; and random actions at random sizes, which must never panic.

use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scenarios::Overrides;
use tui::{Action, App, RunView, ui};

/// The default scenario's memory workload, shortened so the snapshots stay small.
fn default_app() -> App {
    app_for(&[], None, "bulk-send")
}

fn app_for(sets: &[&str], strategies: Option<&[&str]>, workload: &str) -> App {
    let mut o = Overrides {
        sets: sets.iter().map(|s| s.to_string()).collect(),
        workload: Some(workload.into()),
        ..Overrides::default()
    };
    o.sets.push("workload.total=256KiB".into());
    o.strategies = strategies.map(|s| s.iter().map(|x| x.to_string()).collect());
    let sc = scenarios::load_default(&o).expect("a valid scenario");
    let wr = &sc.runs[0];
    let runs = wr
        .strategies
        .iter()
        .map(|st| {
            let (r, t) = tui::data::record(&sc.target.world, &wr.workload, *st, 100_000);
            RunView::new(st.id().to_owned(), r, t)
        })
        .collect();
    App::new(format!("{} on {}", wr.workload.id(), sc.target.name), runs).expect("at least one run")
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    format!("{}", t.backend())
}

fn play(app: &mut App, actions: &[Action]) {
    for a in actions {
        app.update(*a);
    }
}

#[test]
fn initial_view() {
    // The whole run in view, the cursor on the first event, the detail panel narrating it.
    let app = default_app();
    insta::assert_snapshot!("initial_120x40", screen(&app, 120, 40));
    insta::assert_snapshot!("initial_80x24", screen(&app, 80, 24));
}

#[test]
fn after_zoom() {
    let mut app = default_app();
    play(
        &mut app,
        &[Action::NextEvent; 40]
            .iter()
            .chain(&[Action::ZoomIn; 4])
            .copied()
            .collect::<Vec<_>>(),
    );
    insta::assert_snapshot!("zoomed_120x40", screen(&app, 120, 40));
    insta::assert_snapshot!("zoomed_80x24", screen(&app, 80, 24));
}

#[test]
fn cursor_on_a_cow_fault() {
    // cow-send under rewrite-after-write: step the cursor until it sits on a COW fault; the
    // detail panel must then narrate the fault (the application's write and its copies).
    let mut app = app_for(&[], Some(&["cow-send"]), "rewrite-after-write");
    let mut steps = 0;
    while app.run().events.get(app.cursor).map(|e| e.kind) != Some("cow fault") {
        app.update(Action::NextEvent);
        steps += 1;
        assert!(steps < 100_000, "no COW fault in the trace");
    }
    app.update(Action::ZoomIn);
    let s = screen(&app, 120, 40);
    assert!(s.contains("cow fault"), "{s}");
    assert!(s.contains("COW faults"), "the narration explains it: {s}");
    insta::assert_snapshot!("cow_fault_120x40", s);
    insta::assert_snapshot!("cow_fault_80x24", screen(&app, 80, 24));
}

#[test]
fn help_overlay() {
    let mut app = default_app();
    app.update(Action::ToggleHelp);
    let s = screen(&app, 120, 40);
    for b in tui::KEYMAP {
        let keys = tui::action::keys_label(b);
        assert!(
            s.contains(&format!("{keys}  {}", b.what)),
            "help lists `{keys}`: {s}"
        );
    }
    insta::assert_snapshot!("help_120x40", s);
    insta::assert_snapshot!("help_80x24", screen(&app, 80, 24));
}

#[test]
fn compare_mode() {
    // Pick copy then page-loan: compare shows page-loan above and copy below, one time axis.
    let mut app = default_app();
    play(&mut app, &[Action::Pick(1), Action::ToggleCompare]);
    let s = screen(&app, 120, 40);
    assert!(s.contains("┌ page-loan") && s.contains("┌ copy"), "{s}");
    insta::assert_snapshot!("compare_120x40", s);
    insta::assert_snapshot!("compare_80x24", screen(&app, 80, 24));
}

#[test]
fn smallest_terminal() {
    let app = default_app();
    insta::assert_snapshot!("tiny_20x8", screen(&app, 20, 8));
    assert!(screen(&app, 19, 8).contains("too small"));
}

fn any_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::PanLeft),
        Just(Action::PanRight),
        Just(Action::ZoomIn),
        Just(Action::ZoomOut),
        Just(Action::NextEvent),
        Just(Action::PrevEvent),
        Just(Action::NextSameKind),
        Just(Action::PrevSameKind),
        Just(Action::First),
        Just(Action::Last),
        Just(Action::NextPanel),
        (0usize..12).prop_map(Action::Pick),
        Just(Action::ToggleCompare),
        Just(Action::TogglePlay),
        Just(Action::ToggleHelp),
        Just(Action::Tick),
        (0u16..300, 0u16..120).prop_map(|(w, h)| Action::Resize(w, h)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever the user presses, at whatever size, drawing never panics and the cursor
    /// stays on an event.
    #[test]
    fn random_actions_and_sizes_never_panic(
        actions in prop::collection::vec(any_action(), 0..60),
        w in 1u16..200,
        h in 1u16..70,
    ) {
        let mut app = small_app();
        for a in actions {
            app.update(a);
            let _ = screen(&app, w, h);
        }
        prop_assert!(app.cursor < app.run().events.len().max(1));
    }
}

fn small_app() -> App {
    use std::sync::OnceLock;
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        app_for(
            &["workload.total=64KiB"],
            Some(&["copy", "page-loan"]),
            "bulk-send",
        )
    })
    .clone()
}
