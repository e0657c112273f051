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
    // Recorded as `zcsim tui` records: streamed by the loader, the screen taking batches
    // until every run is done. The snapshots below are the loaded views.
    let jobs = wr
        .strategies
        .iter()
        .map(|st| tui::Job::new(&sc.target.world, &wr.workload, *st))
        .collect();
    let mut app = App::recording(
        format!("{} on {}", wr.workload.id(), sc.target.name),
        tui::Loader::start(jobs, 100_000),
    )
    .expect("at least one run");
    load_all(&mut app);
    app
}

/// Takes batches until every run is recorded.
fn load_all(app: &mut App) {
    while app.loading.is_some() {
        app.update(Action::Load);
    }
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

#[test]
fn jump_reaches_the_first_loan_break_in_one_press() {
    // page-loan under rewrite-after-write breaks loans; `]` with the default kind (loan
    // break) must land on the first one, the same event stepping one at a time reaches, and
    // `[` from there finds none before it (the footer says so).
    let mut app = app_for(&[], Some(&["page-loan"]), "rewrite-after-write");
    let first = app
        .run()
        .events
        .iter()
        .position(|e| e.kind == "loan break")
        .expect("a loan break in the trace");
    assert!(first > 20, "stepping would take {first} presses");
    app.update(Action::JumpNext);
    assert_eq!(app.cursor, first);
    let s = screen(&app, 120, 40);
    assert!(s.contains("loan break"), "{s}");
    insta::assert_snapshot!("jump_loan_break_120x40", s);
    app.update(Action::JumpPrev);
    assert_eq!(app.cursor, first, "nothing before the first");
    assert!(screen(&app, 120, 40).contains("no loan break before the cursor"));
    // `k` picks the next kind: COW fault, which page-loan never takes.
    app.update(Action::CycleJumpKind);
    assert_eq!(app.jump_label(), "COW fault");
    app.update(Action::JumpNext);
    assert_eq!(app.cursor, first);
}

#[test]
fn zero_copy_completions_have_their_own_lane() {
    // msg-zerocopy on server-2024: every completion the kernel queues on the error queue is
    // an instant on the "completions" lane (the error queue, or the CQ), drawn there as Z (and E for each
    // recvmsg(MSG_ERRQUEUE) read), apart from the events row. If completions went to the
    // events lane only, the completion-queue row would be blank.
    let app = app_for(
        &["target.preset=server-2024"],
        Some(&["msg-zerocopy"]),
        "bulk-send",
    );
    let s = screen(&app, 120, 40);
    let row = s
        .lines()
        .find(|l| l.contains("│completions"))
        .unwrap_or_else(|| panic!("a completion-queue lane:\n{s}"));
    assert!(row.contains('Z'), "{row}");
    insta::assert_snapshot!("msg_zerocopy_120x40", s);
}

#[test]
fn search_finds_event_text_and_repeats() {
    // Typing `/loan break` and Enter moves to the first event whose text holds it (the
    // kind, label or narration); `]` then goes on to the next match, never backwards.
    let mut app = app_for(&[], Some(&["page-loan"]), "rewrite-after-write");
    app.update(Action::StartSearch);
    for c in "LOAN BREAK".chars() {
        app.update(Action::SearchInput(c));
    }
    assert!(screen(&app, 120, 40).contains("/LOAN BREAK"));
    app.update(Action::SearchSubmit);
    let matches = |app: &App, i: usize| {
        let e = app.run().events.get(i).expect("an event");
        let text = format!(
            "{} {} {}",
            e.kind,
            e.label,
            app.run().note(e.detail).unwrap_or("")
        );
        text.to_lowercase().contains("loan break")
    };
    let first = app.cursor;
    assert!(matches(&app, first));
    assert!(
        (0..first).all(|i| !matches(&app, i)),
        "it is the first match"
    );
    app.update(Action::JumpNext);
    assert!(app.cursor > first && matches(&app, app.cursor));
    // A search for nothing that exists leaves the cursor and says so.
    let at = app.cursor;
    app.update(Action::StartSearch);
    for c in "zzzz".chars() {
        app.update(Action::SearchInput(c));
    }
    app.update(Action::SearchSubmit);
    assert_eq!(app.cursor, at);
    assert!(screen(&app, 120, 40).contains("no \"zzzz\" after the cursor"));
}

#[test]
fn totals_stay_right_when_old_records_are_dropped() {
    // With room for only 3000 records, the trace drops the run's start; the "so far" totals
    // at every kept event must still be what a complete trace says at that time (they were
    // 0 before the first kept sample).
    let o = Overrides {
        workload: Some("bulk-send".into()),
        strategies: Some(vec!["copy".into()]),
        sets: vec!["workload.total=256KiB".into()],
        ..Overrides::default()
    };
    let sc = scenarios::load_default(&o).unwrap();
    let wr = &sc.runs[0];
    let view = |n| {
        let (r, t) = tui::data::record(&sc.target.world, &wr.workload, wr.strategies[0], n);
        RunView::new("copy".into(), r, t)
    };
    let (short, full) = (view(3000), view(10_000_000));
    assert!(short.dropped > 0 && full.dropped == 0);
    for e in short.events.iter().step_by(97) {
        for series in models::world::TOTALS {
            assert_eq!(
                short.counter_at(series, e.time),
                full.counter_at(series, e.time),
                "{series} at {} ns",
                e.time
            );
        }
    }
}

#[test]
fn the_streamed_view_is_the_ring_view_when_records_are_dropped() {
    // The same run kept to its newest 3000 records two ways: recorded whole into the
    // trace's ring (`zcsim tui` before the loader), and streamed in batches of 256 into the
    // loader's columns, which drop the oldest records in bulk now and then. Every event
    // (with its narration line), every lane's spans, every counter sample (with the one
    // carried over from before the cut), the frame log and the end must match: dropping
    // late and in bulk keeps what a ring keeps, whatever the batches.
    let sc = scenarios::load_default(&Overrides {
        workload: Some("bulk-send".into()),
        strategies: Some(vec!["page-loan".into()]),
        sets: vec!["workload.total=256KiB".into()],
        ..Overrides::default()
    })
    .unwrap();
    let wr = &sc.runs[0];
    let st = wr.strategies[0];
    let (r, t) = tui::data::record(&sc.target.world, &wr.workload, st, 3000);
    let ring = RunView::new("page-loan".into(), r, t);
    let mut app = App::recording(
        "t".into(),
        tui::Loader::start_with(
            vec![tui::Job::new(&sc.target.world, &wr.workload, st)],
            3000,
            256,
            2,
        ),
    )
    .unwrap();
    load_all(&mut app);
    let streamed = &app.runs[0];
    assert!(ring.dropped > 0, "the run makes more than 3000 records");
    assert_eq!(streamed.dropped, ring.dropped);
    assert_eq!(streamed.end, ring.end);
    assert_eq!(streamed.events.len(), ring.events.len());
    for (a, b) in streamed.events.iter().zip(ring.events.iter()) {
        assert_eq!(
            (a.time, a.end, a.lane, a.kind, a.label),
            (b.time, b.end, b.lane, b.kind, b.label)
        );
        assert_eq!(streamed.note(a.detail), ring.note(b.detail), "{a:?}");
    }
    assert_eq!(streamed.lanes.len(), ring.lanes.len());
    for (a, b) in streamed.lanes.iter().zip(&ring.lanes) {
        assert_eq!((&a.name, a.longest), (&b.name, b.longest));
        let spans = |l: &tui::data::Lane, v: &RunView| {
            l.visible(0, u64::MAX)
                .map(|s| (s.start, s.end, v.events.kind_name(s.kind)))
                .collect::<Vec<_>>()
        };
        assert_eq!(spans(a, streamed), spans(b, &ring), "{}", a.name);
    }
    let counters = |v: &RunView| {
        v.counters
            .iter()
            .map(|(k, s)| (*k, s.samples().collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    };
    assert_eq!(counters(streamed), counters(&ring));
    assert_eq!(streamed.frames, ring.frames);
    assert_eq!(streamed.frame_count, ring.frame_count);
    assert!(!ring.frames.is_empty(), "page-loan lends frames");
}

#[test]
fn the_first_frame_is_drawn_while_the_run_is_recorded() {
    // The loader sends batches of at most 64 records through a queue of one, and each Load
    // here takes exactly one message: the first frame drawn with any event holds at most 64
    // records, while the run makes thousands, and the run's last message (its report) has
    // not been taken. The frame says it is still recording and shows fewer events than the
    // finished run has, so it was drawn from part of the run, however fast the worker ran.
    let sc = scenarios::load_default(&Overrides {
        workload: Some("bulk-send".into()),
        strategies: Some(vec!["copy".into()]),
        sets: vec!["workload.total=256KiB".into()],
        ..Overrides::default()
    })
    .unwrap();
    let wr = &sc.runs[0];
    let job = tui::Job::new(&sc.target.world, &wr.workload, wr.strategies[0]);
    let mut app = App::recording(
        "t".into(),
        tui::Loader::start_with(vec![job], 100_000, 64, 1),
    )
    .unwrap()
    .with_batches_per_load(1);
    while app.run().events.is_empty() {
        app.update(Action::Load);
    }
    let first = screen(&app, 120, 40);
    let footer = first.lines().nth(39).unwrap();
    let shown = app.run().recorded_events();
    assert!(
        footer.contains(&format!("recording… {shown} events, t = ")),
        "{footer}"
    );
    load_all(&mut app);
    let total = app.run().recorded_events();
    assert!(shown < total, "first frame {shown} events, run {total}");
    assert!(!screen(&app, 120, 40).contains("recording…"));
}

#[test]
fn a_receive_run_shows_its_receive_report() {
    // Issue 17: tcp-zerocopy-receive at MTU 4168 over IPv6 (4096-byte MSS) on server-2024,
    // whose NIC splits headers: every segment's payload fills one page, so each of the
    // 256 KiB / 4 KiB = 64 pages is mapped, none flipped, nothing falls back and nothing is
    // copied. The "so far" panel must say so, with the CPU cost per MiB.
    let app = app_for(
        &[
            "target.preset=server-2024",
            "target.mtu_bytes=4168",
            "target.ipv6=true",
        ],
        Some(&["tcp-zerocopy-receive"]),
        "bulk-receive",
    );
    let s = screen(&app, 160, 48);
    let text: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("receive: 0 flipped, 64 mapped"), "{s}");
    assert!(text.contains("0 fallbacks, 0 B copied"), "{s}");
    assert!(text.contains("us/MiB"), "{s}");
    insta::assert_snapshot!("tcp_zerocopy_receive_160x48", s);
}

#[test]
fn footer_and_help_fit_a_60_by_15_terminal() {
    // At 60x15 the footer keeps `? help` and `q quit`, and the help says what it leaves out
    // instead of cutting lines off silently.
    let mut app = default_app();
    let s = screen(&app, 60, 15);
    let footer = s.lines().nth(14).unwrap();
    assert!(
        footer.contains("? help") && footer.contains("q quit"),
        "{s}"
    );
    app.update(Action::ToggleHelp);
    let s = screen(&app, 60, 15);
    assert!(s.contains("more: a taller terminal shows them"), "{s}");
    insta::assert_snapshot!("help_60x15", s);
}

#[test]
fn playback_speed_doubles_and_halves() {
    // `>` doubles the events per step and `<` halves them, within 1 and the maximum; a tick
    // moves the cursor by that many events.
    let mut app = default_app();
    play(
        &mut app,
        &[Action::Faster, Action::Faster, Action::TogglePlay],
    );
    assert_eq!(app.speed, 4);
    app.update(Action::Tick);
    assert_eq!(app.cursor, 4);
    play(&mut app, &[Action::Slower; 5]);
    assert_eq!(app.speed, 1);
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
        Just(Action::JumpNext),
        Just(Action::JumpPrev),
        Just(Action::CycleJumpKind),
        Just(Action::StartSearch),
        prop::char::range('a', 'z').prop_map(Action::SearchInput),
        Just(Action::SearchBackspace),
        Just(Action::SearchSubmit),
        Just(Action::SearchCancel),
        Just(Action::Faster),
        Just(Action::Slower),
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
    static RUNS: OnceLock<(String, Vec<RunView>)> = OnceLock::new();
    let (title, runs) = RUNS.get_or_init(|| {
        let app = app_for(
            &["workload.total=64KiB"],
            Some(&["copy", "page-loan"]),
            "bulk-send",
        );
        (app.title.clone(), app.runs)
    });
    App::new(title.clone(), runs.clone()).expect("two runs")
}
