//! The application state and the one place it changes: [`App::update`].

use std::time::{Duration, Instant};

use models::world::FrameState;

use crate::action::{Action, JUMP_KINDS};
use crate::data::RunView;
use crate::load::{Loader, Msg};

/// Longest one [`Action::Load`] waits for the recorder when it has nothing ready.
const LOAD_WAIT: Duration = Duration::from_millis(20);

/// Longest one [`Action::Load`] spends taking batches: it takes all that is ready unless
/// that takes longer, so a key press waits at most about this long. What a run ends with
/// does not depend on how many batches each Load took.
const LOAD_BUDGET: Duration = Duration::from_millis(30);

/// Which panel has the focus (Tab cycles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panel {
    Timeline,
    Detail,
    Frames,
}

/// What `]` and `[` jump to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Jump {
    /// Events of kind [`JUMP_KINDS`]`[i]`.
    Kind(usize),
    /// Events whose kind, label or narration contains this text (any case).
    Text(String),
}

/// Most events one playback step advances.
pub const MAX_SPEED: u32 = 4096;

/// Everything on screen, derived from the runs and the user's actions.
#[derive(Debug)]
pub struct App {
    pub runs: Vec<RunView>,
    /// What is being shown ("bulk-send on embedded-100tx").
    pub title: String,
    pub selected: usize,
    /// The strategy picked before the current one: compare mode shows it below.
    pub previous: Option<usize>,
    pub compare: bool,
    /// The visible time window, ns.
    pub view_start: u64,
    pub view_span: u64,
    /// Index of the cursor's event in the selected run.
    pub cursor: usize,
    pub panel: Panel,
    pub playing: bool,
    pub help: bool,
    pub quit: bool,
    /// Terminal size, as last reported.
    pub size: (u16, u16),
    /// Every frame's state at the cursor's time (recomputed when the cursor moves).
    pub frames_at_cursor: Vec<FrameState>,
    /// What `]` and `[` jump to.
    pub jump: Jump,
    /// The search being typed, while it is.
    pub search: Option<String>,
    /// Events one playback step advances (1, 2, 4, ... [`MAX_SPEED`]).
    pub speed: u32,
    /// A one-time message for the footer (a jump that found nothing), cleared by the next
    /// action.
    pub message: Option<String>,
    /// The runs still being recorded, if any: [`Action::Load`] takes what is ready.
    pub loading: Option<Loader>,
    /// The cursor and the window have not been moved: while runs are recorded, the cursor
    /// stays on the first event and the window shows everything recorded so far, as
    /// [`App::new`] would show the finished runs.
    follow: bool,
    /// Most messages one [`Action::Load`] takes (besides its time budget); unbounded but for
    /// tests that need a frame drawn from an exact part of a run.
    batches_per_load: usize,
}

/// [`App::new`] was given no run: there is nothing to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoRuns;

impl std::fmt::Display for NoRuns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no run to show: the timeline needs at least one strategy")
    }
}

impl std::error::Error for NoRuns {}

/// The narrowest window a zoom may reach, ns.
const MIN_SPAN: u64 = 100;

impl App {
    /// The timeline over `runs`, the first selected; at least one run is needed, and every
    /// index into `runs` stays below its length from then on.
    pub fn new(title: String, runs: Vec<RunView>) -> Result<Self, NoRuns> {
        if runs.is_empty() {
            return Err(NoRuns);
        }
        let span = runs.iter().map(|r| r.end).max().unwrap_or(1);
        let mut app = App {
            runs,
            title,
            selected: 0,
            previous: None,
            compare: false,
            view_start: 0,
            view_span: span,
            cursor: 0,
            panel: Panel::Timeline,
            playing: false,
            help: false,
            quit: false,
            size: (80, 24),
            frames_at_cursor: Vec::new(),
            jump: Jump::Kind(0),
            search: None,
            speed: 1,
            message: None,
            loading: None,
            follow: true,
            batches_per_load: usize::MAX,
        };
        app.refresh_frames();
        Ok(app)
    }

    /// The timeline over the runs `loader` is recording: empty at first, filled in by each
    /// [`Action::Load`]; once every run is recorded (and if nothing was moved meanwhile), it
    /// is what [`App::new`] shows for the finished runs.
    pub fn recording(title: String, loader: Loader) -> Result<Self, NoRuns> {
        let runs = loader
            .names
            .iter()
            .map(|n| RunView::recording(n.clone(), loader.capacity))
            .collect();
        let mut app = App::new(title, runs)?;
        app.loading = Some(loader);
        Ok(app)
    }

    /// The same app, taking at most `n` messages per [`Action::Load`]: what a frame shows
    /// then depends on the run, not on how fast the recorder ran meanwhile.
    pub fn with_batches_per_load(mut self, n: usize) -> Self {
        self.batches_per_load = n.max(1);
        self
    }

    /// Takes what the recorder has ready, keeping the cursor on its event (or, until the
    /// user moves, on the first event with everything in view).
    fn load(&mut self) {
        let Some(loader) = &mut self.loading else {
            return;
        };
        let at = self.runs[self.selected].events.place(self.cursor);
        let started = Instant::now();
        let mut next = loader.wait_next(LOAD_WAIT);
        let mut taken = 0;
        while let Some(m) = next {
            taken += 1;
            next = if started.elapsed() < LOAD_BUDGET && taken < self.batches_per_load {
                loader.try_next()
            } else {
                None
            };
            match m {
                Msg::Batch(b) => {
                    let run = &mut self.runs[b.run];
                    run.declare_lanes(&b.lanes);
                    for (id, line) in &b.notes {
                        run.add_note(*id, line);
                    }
                    run.add(b.records);
                    run.add_frames(b.frames, b.frame_count);
                }
                Msg::Done {
                    run,
                    report,
                    now,
                    frame_count,
                } => {
                    let r = &mut self.runs[run];
                    r.add_frames([], frame_count);
                    r.finish(*report, now);
                }
            }
        }
        if self
            .runs
            .iter()
            .all(|r| r.status == crate::data::Status::Done)
        {
            self.loading = None;
        }
        if self.follow {
            self.cursor = 0;
            self.view_start = 0;
            self.view_span = self.end();
        } else if let Some(at) = at {
            self.cursor = self.run().events.find(at);
        }
        self.cursor = self.cursor.min(self.run().events.len().saturating_sub(1));
        self.refresh_frames();
    }

    pub fn run(&self) -> &RunView {
        &self.runs[self.selected]
    }

    /// The run shown below in compare mode.
    pub fn compared(&self) -> Option<&RunView> {
        self.compare
            .then(|| self.previous.map(|p| &self.runs[p]))
            .flatten()
    }

    /// The time of the cursor's event (0 when the run recorded nothing).
    pub fn cursor_time(&self) -> u64 {
        self.run().events.get(self.cursor).map_or(0, |e| e.time)
    }

    fn end(&self) -> u64 {
        self.runs.iter().map(|r| r.end).max().unwrap_or(1)
    }

    /// How the footer names what `]` and `[` jump to.
    pub fn jump_label(&self) -> String {
        match &self.jump {
            Jump::Kind(i) => JUMP_KINDS[*i % JUMP_KINDS.len()].1.to_owned(),
            Jump::Text(t) => format!("\"{t}\""),
        }
    }

    /// Whether event `i` of the selected run is what `]` and `[` look for.
    fn is_target(&self, i: usize) -> bool {
        let run = self.run();
        let Some(e) = run.events.get(i) else {
            return false;
        };
        match &self.jump {
            Jump::Kind(k) => e.kind == JUMP_KINDS[*k % JUMP_KINDS.len()].0,
            Jump::Text(t) => {
                let t = t.to_lowercase();
                e.kind.to_lowercase().contains(&t)
                    || e.label.to_lowercase().contains(&t)
                    || run
                        .note(e.detail)
                        .is_some_and(|n| n.to_lowercase().contains(&t))
            }
        }
    }

    /// Moves to the next (or previous) target after (before) the cursor, or says there is
    /// none.
    fn jump_to(&mut self, forward: bool, from: usize) {
        let n = self.run().events.len();
        let found = if forward {
            (from..n).find(|&i| self.is_target(i))
        } else {
            (0..from.min(n)).rev().find(|&i| self.is_target(i))
        };
        match found {
            Some(i) => self.move_cursor(i),
            None => {
                self.message = Some(format!(
                    "no {} {} the cursor",
                    self.jump_label(),
                    if forward { "after" } else { "before" }
                ))
            }
        }
    }

    /// Applies one action. Nothing else changes the state.
    pub fn update(&mut self, action: Action) {
        if action == Action::Load {
            self.load();
            return;
        }
        let before = (self.cursor, self.view_start, self.view_span, self.selected);
        self.apply(action);
        if before != (self.cursor, self.view_start, self.view_span, self.selected) {
            self.follow = false;
        }
    }

    fn apply(&mut self, action: Action) {
        let end = self.end();
        let events = self.run().events.len();
        if !matches!(action, Action::Tick | Action::Resize(..)) {
            self.message = None;
        }
        match action {
            Action::PanLeft => self.view_start = self.view_start.saturating_sub(self.view_span / 4),
            Action::PanRight => {
                self.view_start = (self.view_start + self.view_span / 4)
                    .min(end.saturating_sub(self.view_span / 2));
            }
            Action::ZoomIn => {
                let center = self.cursor_time();
                self.view_span = (self.view_span / 2).max(MIN_SPAN);
                self.view_start = center.saturating_sub(self.view_span / 2);
            }
            Action::ZoomOut => {
                let center = self.view_start + self.view_span / 2;
                self.view_span = (self.view_span * 2).min(end.max(MIN_SPAN));
                self.view_start = center
                    .saturating_sub(self.view_span / 2)
                    .min(end.saturating_sub(self.view_span));
            }
            Action::NextEvent => self.move_cursor(self.cursor.saturating_add(1)),
            Action::PrevEvent => self.move_cursor(self.cursor.saturating_sub(1)),
            Action::NextSameKind | Action::PrevSameKind => {
                let ev = &self.run().events;
                if self.cursor < ev.len() {
                    let kind = ev.kind_id(self.cursor);
                    let found = if action == Action::NextSameKind {
                        (self.cursor + 1..ev.len()).find(|&i| ev.kind_id(i) == kind)
                    } else {
                        (0..self.cursor).rev().find(|&i| ev.kind_id(i) == kind)
                    };
                    if let Some(i) = found {
                        self.move_cursor(i);
                    }
                }
            }
            Action::First => self.move_cursor(0),
            Action::Last => self.move_cursor(events.saturating_sub(1)),
            Action::NextPanel => {
                self.panel = match self.panel {
                    Panel::Timeline => Panel::Detail,
                    Panel::Detail => Panel::Frames,
                    Panel::Frames => Panel::Timeline,
                }
            }
            Action::Pick(n) => {
                if n < self.runs.len() && n != self.selected {
                    let t = self.cursor_time();
                    self.previous = Some(self.selected);
                    self.selected = n;
                    let ev = &self.run().events;
                    let i = ev.first_at(t).min(ev.len().saturating_sub(1));
                    self.move_cursor(i);
                }
            }
            Action::ToggleCompare => {
                if self.runs.len() > 1 {
                    self.compare = !self.compare;
                    if self.previous.is_none() {
                        self.previous = Some((self.selected + 1) % self.runs.len());
                    }
                }
            }
            Action::TogglePlay => self.playing = !self.playing,
            Action::ToggleHelp => self.help = !self.help,
            Action::Quit => self.quit = true,
            Action::JumpNext => self.jump_to(true, self.cursor + 1),
            Action::JumpPrev => self.jump_to(false, self.cursor),
            Action::CycleJumpKind => {
                self.jump = Jump::Kind(match self.jump {
                    Jump::Kind(i) => (i + 1) % JUMP_KINDS.len(),
                    Jump::Text(_) => 0,
                });
            }
            Action::StartSearch => self.search = Some(String::new()),
            Action::SearchInput(c) => {
                if let Some(s) = &mut self.search
                    && s.chars().count() < 60
                {
                    s.push(c);
                }
            }
            Action::SearchBackspace => {
                if let Some(s) = &mut self.search {
                    s.pop();
                }
            }
            Action::SearchCancel => self.search = None,
            Action::SearchSubmit => {
                if let Some(s) = self.search.take()
                    && !s.is_empty()
                {
                    self.jump = Jump::Text(s);
                    // The cursor's own event counts: a search finds what is under it too.
                    self.jump_to(true, self.cursor);
                }
            }
            Action::Faster => self.speed = (self.speed * 2).min(MAX_SPEED),
            Action::Slower => self.speed = (self.speed / 2).max(1),
            Action::Tick => {
                if self.playing {
                    if self.cursor + 1 >= events {
                        self.playing = false;
                    } else {
                        self.move_cursor(self.cursor + self.speed as usize);
                    }
                }
            }
            Action::Resize(w, h) => self.size = (w, h),
            Action::Load => unreachable!("update takes it"),
        }
    }

    /// Moves the cursor (clamped) and keeps it in view.
    fn move_cursor(&mut self, i: usize) {
        let n = self.run().events.len();
        self.cursor = i.min(n.saturating_sub(1));
        let t = self.cursor_time();
        if t < self.view_start || t >= self.view_start + self.view_span {
            self.view_start = t.saturating_sub(self.view_span / 4);
        }
        self.refresh_frames();
    }

    fn refresh_frames(&mut self) {
        self.frames_at_cursor = self.run().frames_at(self.cursor_time());
    }
}
