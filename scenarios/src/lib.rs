//! # zcsim's scenarios
//!
//! Turns a scenario file or a preset name into a validated scenario, then into a model
//! `World`. It owns the TOML schema, unit parsing, validation errors with file positions, and
//! the target presets; it must not know about terminals or command-line flags.
