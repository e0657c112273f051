//! # zcsim's scenarios
//!
//! Turns a scenario file (or the built-in default) plus command-line overrides into a
//! validated [`Scenario`]: a target (a preset, inline parameters, or a preset with
//! overrides), workloads and the strategies to run on each, and a seed. Every user mistake
//! becomes a [`ScenarioError`] naming the file, line and column (or the flag), the field, the
//! value and what is allowed. It must not know about terminals or how results are printed.
//!
//! | module | what it holds |
//! |---|---|
//! | [`units`] | exact parsing of sizes, rates and durations written with units |
//! | [`keys`] | every settable key: kind, range, doc, and where it lands in the model |
//! | [`scenario`] | reading (size-limited), overlaying (preset → file → flags) and resolving a scenario |
//! | [`workloads`] | one typed spec per workload kind, resolved by field name, contradictions refused |
//! | [`presets`] | the four target presets of DESIGN section 8 |
//! | [`experiments`] | the eight claims of DESIGN section 9 as scenario files |
//! | [`experiments_modern`], [`experiments_receive`] | the checks of the modern send and receive chapters |
//! | [`config`] | the effective configuration, printed as a scenario file or embedded in reports |
//! | [`error`] | [`ScenarioError`] and where a value came from |

// Scenario errors are cold (a user's mistake ends the program) and a flat struct keeps every
// field in reach of the CLI and tests; boxing them would buy nothing.
#![allow(clippy::result_large_err)]

pub mod config;
pub mod error;
pub mod experiments;
pub mod experiments_modern;
pub mod experiments_receive;
pub mod keys;
pub mod presets;
pub mod scenario;
pub mod units;
pub mod workloads;

pub use error::{Origin, ScenarioError};
pub use keys::{Options, Target};
pub use scenario::{Overrides, Scenario, WorkloadRun, load_default, load_file, load_str};
