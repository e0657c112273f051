//! # zcsim's interactive timeline
//!
//! A ratatui timeline over recorded runs: a lane per CPU, the memory bus, the NIC's DMA
//! engines, the wire, the disk and the events (ACKs, loans, loan breaks, splats), a cursor on
//! one event whose detail panel narrates it, running totals as of the cursor, and the
//! page-frame map at that instant. It reads reports and traces only, never model internals;
//! playback pacing lives here, never in the engine.
//!
//! | module | what it holds |
//! |---|---|
//! | [`data`] | a run indexed for drawing ([`data::RunView`]) |
//! | [`action`] | [`Action`] and the keymap |
//! | [`app`] | [`App`]: the state, changed only by [`App::update`] |
//! | [`ui`] | drawing, which reads the state and never changes it (layout drawn in its docs) |

pub mod action;
pub mod app;
pub mod data;
pub mod ui;

use std::io;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyEventKind};

pub use action::{Action, action_for};
pub use app::App;
pub use data::RunView;

/// How often playback advances the cursor by one event.
const PLAY_STEP: Duration = Duration::from_millis(60);

/// Runs the timeline until the user quits. The terminal is restored on quit, on error, and
/// (through ratatui's panic hook) on panic.
pub fn run(mut app: App) -> io::Result<()> {
    let mut terminal = ratatui::init();
    let result = (|| -> io::Result<()> {
        let size = terminal.size()?;
        app.update(Action::Resize(size.width, size.height));
        while !app.quit {
            terminal.draw(|f| ui::draw(f, &app))?;
            let wait = if app.playing {
                PLAY_STEP
            } else {
                Duration::from_secs(1)
            };
            if event::poll(wait)? {
                match event::read()? {
                    Event::Key(k) if k.kind == KeyEventKind::Press => {
                        if let Some(a) = action_for(k) {
                            app.update(a);
                        }
                    }
                    Event::Resize(w, h) => app.update(Action::Resize(w, h)),
                    _ => {}
                }
            } else {
                app.update(Action::Tick);
            }
        }
        Ok(())
    })();
    ratatui::restore();
    result
}
