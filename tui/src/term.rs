//! The terminal around the timeline: set up, restored on every way out (quit, Ctrl-C, error,
//! panic, SIGTERM, SIGHUP, SIGINT), and the event loop that turns keys into actions.
//!
//! Raw mode turns Ctrl-C into a key, which the keymap maps to [`Action::Quit`]. Signals from
//! outside (a closed terminal sends SIGHUP, `kill` sends SIGTERM) only set a flag through
//! `signal-hook`, nothing else is safe in a handler; the loop looks at the flag at least
//! every [`SIGNAL_CHECK`], restores the terminal and reports the signal, so the caller can
//! end with the status a shell expects. Panics go through ratatui's panic hook, which
//! restores the terminal before the message is printed.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyEventKind};

use crate::action::{Action, action_for, search_action_for};
use crate::app::App;
use crate::ui;

/// How often playback advances the cursor by one event.
const PLAY_STEP: Duration = Duration::from_millis(60);

/// Longest wait for a key before looking for a signal.
const SIGNAL_CHECK: Duration = Duration::from_millis(200);

/// How often the screen is redrawn for what the recorder has added (a key press redraws at
/// once): drawing everything recorded so far costs about as much as taking it in, and the
/// recorder waits for the screen.
pub const LOAD_REDRAW: Duration = Duration::from_millis(250);

/// How the timeline ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The user quit (`q`, `Esc`, Ctrl-C).
    Quit,
    /// This signal arrived (SIGTERM, SIGHUP or SIGINT); the terminal has been restored.
    Signal(i32),
}

/// Signals that end the timeline, and the last one that arrived (0: none).
struct Signals {
    arrived: Arc<AtomicUsize>,
    #[cfg(unix)]
    ids: Vec<signal_hook::SigId>,
}

impl Signals {
    fn register() -> io::Result<Signals> {
        let arrived = Arc::new(AtomicUsize::new(0));
        #[cfg(unix)]
        {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            let mut ids = Vec::new();
            for sig in [SIGTERM, SIGHUP, SIGINT] {
                ids.push(signal_hook::flag::register_usize(
                    sig,
                    Arc::clone(&arrived),
                    sig as usize,
                )?);
            }
            Ok(Signals { arrived, ids })
        }
        #[cfg(not(unix))]
        Ok(Signals { arrived })
    }

    fn arrived(&self) -> Option<i32> {
        match self.arrived.load(Ordering::Relaxed) {
            0 => None,
            sig => Some(sig as i32),
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        #[cfg(unix)]
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Runs the timeline until the user quits or a signal arrives. The terminal is restored on
/// quit, on a signal, on error, and (through ratatui's panic hook) on panic.
pub fn run(mut app: App) -> io::Result<Ended> {
    let signals = Signals::register()?;
    let mut terminal = ratatui::init();
    let result = (|| -> io::Result<Ended> {
        let size = terminal.size()?;
        app.update(Action::Resize(size.width, size.height));
        let mut dirty = true;
        let (mut drawn_at, mut played_at) = (Instant::now(), Instant::now());
        loop {
            if let Some(sig) = signals.arrived() {
                return Ok(Ended::Signal(sig));
            }
            if app.quit {
                return Ok(Ended::Quit);
            }
            if dirty {
                terminal.draw(|f| ui::draw(f, &app))?;
                drawn_at = Instant::now();
                dirty = false;
            }
            // While runs are recorded, each turn takes what is ready (waiting a moment for
            // the recorder when nothing is) and then reads the keys without waiting.
            let wait = if app.loading.is_some() {
                let empty = app.run().events.is_empty();
                app.update(Action::Load);
                // The first events and the end are drawn at once, the rest now and then.
                dirty |= app.loading.is_none()
                    || (empty && !app.run().events.is_empty())
                    || drawn_at.elapsed() >= LOAD_REDRAW;
                Duration::ZERO
            } else if app.playing {
                PLAY_STEP.saturating_sub(played_at.elapsed())
            } else {
                SIGNAL_CHECK
            };
            if event::poll(wait)? {
                match event::read()? {
                    Event::Key(k) if k.kind == KeyEventKind::Press => {
                        let a = if app.search.is_some() {
                            search_action_for(k)
                        } else {
                            action_for(k)
                        };
                        if let Some(a) = a {
                            app.update(a);
                            dirty = true;
                        }
                    }
                    Event::Resize(w, h) => {
                        app.update(Action::Resize(w, h));
                        dirty = true;
                    }
                    _ => {}
                }
            } else if app.playing && played_at.elapsed() >= PLAY_STEP {
                app.update(Action::Tick);
                played_at = Instant::now();
                dirty = true;
            }
        }
    })();
    ratatui::restore();
    drop(signals);
    result
}
