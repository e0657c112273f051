//! # zcsim's interactive timeline
//!
//! A ratatui timeline over a recorded trace and report. It reads reports and traces only;
//! it never reaches into model internals, and playback pacing lives here, never in the engine.
