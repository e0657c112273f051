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
//! | [`action`] | [`Action`] and [`KEYMAP`], the one table of key bindings (help and footer are written from it) |
//! | [`app`] | [`App`]: the state, changed only by [`App::update`] |
//! | [`data`] | a run indexed for drawing in compact columns ([`RunView`]) |
//! | [`load`] | recording runs on a worker thread while the timeline is on screen ([`Loader`]) |
//! | [`term`] | the terminal and the event loop: [`run`], restoring the terminal on quit, Ctrl-C, error, panic and signals |
//! | [`ui`] | drawing, which reads the state and never changes it (layout drawn in its docs) |

pub mod action;
pub mod app;
pub mod data;
pub mod load;
pub mod term;
pub mod ui;

pub use action::{Action, JUMP_KINDS, KEYMAP, action_for, search_action_for};
pub use app::{App, NoRuns};
pub use data::RunView;
pub use load::{Job, Loader};
pub use term::{Ended, LOAD_REDRAW, run};
