//! One module per subcommand. Each holds its clap arguments (`Args`) and an `execute` that
//! writes its result to `out` and reports how the process should end.
//!
//! | module | command |
//! |---|---|
//! | [`compare`] | every strategy (or those named) on the scenario's workloads |
//! | [`run`] | one strategy, optionally narrated |
//! | [`sweep`] | one parameter over many values |
//! | [`merge`] | a sharded sweep's partial results, joined |
//! | [`reproduce`] | the seeds' claims as experiments with verdicts |
//! | [`check`] | validate and summarize a scenario file |
//! | [`config`] | the effective configuration, as a scenario file |
//! | [`list`] | strategies, workloads, presets |
//! | [`explain`] | a strategy's origin and steps, or its data-path graph |
//! | [`export`] | a Chrome trace for Perfetto |
//! | [`tui`] | the interactive timeline |
//! | [`quiz`] | homework problems with computed answers |
//! | [`calibrate`], [`validate`] | measure this machine; the model against it (Linux) |
//!
//! Every command that simulates goes through [`crate::runner::Runner`], which carries the
//! options every run shares (invariant checking, progress on a terminal).

pub mod calibrate;
pub mod check;
pub mod compare;
pub mod config;
pub mod explain;
pub mod export;
pub mod list;
pub mod merge;
pub mod quiz;
pub mod reproduce;
pub mod run;
pub mod sweep;
pub mod tui;
pub mod validate;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use models::report::Report;
use scenarios::{Overrides, Scenario, ScenarioError};

use crate::output;
use crate::runner::Runner;

/// What every command gets: where results go and how runs are made.
pub struct Context<'a> {
    pub out: &'a mut dyn Write,
    pub runner: Runner,
}

/// Why a command did not end normally.
#[derive(Debug)]
pub enum Failure {
    /// A user's mistake: printed as `error: ...`, exit 2.
    User(String),
    /// Standard output was closed by its reader (`zcsim list workloads | head -1`): nothing
    /// is printed, exit [`CLOSED_PIPE`].
    ClosedPipe,
    /// Writing the results failed for another reason (a full disk): exit 1.
    Output(io::Error),
}

/// Exit status when standard output's reader went away: 128 + SIGPIPE, what a shell reports
/// for a process that SIGPIPE ended, so `set -o pipefail` scripts see the usual value.
pub const CLOSED_PIPE: u8 = 141;

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::ClosedPipe
        } else {
            Failure::Output(e)
        }
    }
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Self {
        Failure::User(render_error(&e))
    }
}

/// A scenario error as printed: its line, and the file's line with a caret under the place.
pub fn render_error(e: &ScenarioError) -> String {
    e.render()
}

/// `" (did you mean `x`?)"` when `word` is a likely typo of one of `known`, else nothing.
pub fn did_you_mean(word: &str, known: &[&str]) -> String {
    scenarios::error::closest(word, known.iter().copied())
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// A strategy id that names no strategy: the model's message and a likely intended id.
pub fn unknown_strategy(id: &str) -> Result<models::strategy::Strategy, Failure> {
    models::strategy::Strategy::from_id(id).map_err(|e| {
        Failure::User(format!(
            "{e}{}",
            did_you_mean(id, &models::strategy::STRATEGY_IDS)
        ))
    })
}

/// What a command's `execute` returns.
pub type Outcome = Result<ExitCode, Failure>;

/// The longest value an error message quotes in full.
const QUOTE_MAX: usize = 60;

/// `value`, cut to [`QUOTE_MAX`] characters with a count of what was left out, so a 50 MB
/// argument is not echoed back.
pub fn shorten(value: &str) -> String {
    if value.chars().count() <= QUOTE_MAX {
        return value.to_owned();
    }
    let head: String = value.chars().take(QUOTE_MAX).collect();
    format!("{head}... ({} more bytes)", value.len() - head.len())
}

/// A flag's mistake: `--flag value: problem; allowed: what`, exit 2.
pub fn flag_error(flag: &str, value: &str, problem: &str, allowed: &str) -> Failure {
    Failure::User(format!(
        "{flag} {}: {problem}; allowed: {allowed}",
        shorten(value)
    ))
}

/// Prints what the user should know that is not an error. A closed standard error is no
/// reason to stop.
pub fn note(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}

/// The scenario flags most commands share.
#[derive(Args, Debug, Default, Clone)]
pub struct ScenarioArgs {
    /// A target preset (replaces the scenario's).
    #[arg(long, conflicts_with = "scenario")]
    pub preset: Option<String>,
    /// A scenario file (TOML); default: the built-in default scenario.
    #[arg(long)]
    pub scenario: Option<String>,
    /// Only this workload kind (its default parameters if the scenario has none).
    #[arg(long)]
    pub workload: Option<String>,
    /// Comma-separated strategy ids.
    #[arg(long, value_delimiter = ',')]
    pub strategies: Option<Vec<String>>,
    /// Override a scenario field: --set target.memory_bus=40MB/s (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Root seed.
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
}

impl ScenarioArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            preset: self.preset.clone(),
            workload: self.workload.clone(),
            strategies: self.strategies.clone(),
            seed: self.seed,
            sets: self.sets.clone(),
        }
    }

    /// Loads the scenario with `extra` `--set`s after the user's, printing its notes only
    /// when `notes` is set (a sweep loads once per point).
    pub fn load_with(&self, extra: &[String], notes: bool) -> Result<Scenario, Failure> {
        let mut o = self.overrides();
        o.sets.extend_from_slice(extra);
        let s = match &self.scenario {
            Some(path) => scenarios::load_file(path, &o)?,
            None => scenarios::load_default(&o)?,
        };
        if notes {
            for n in &s.notes {
                note(n);
            }
        }
        Ok(s)
    }

    /// Loads the scenario and prints its notes.
    pub fn load(&self) -> Result<Scenario, Failure> {
        self.load_with(&[], true)
    }
}

/// The target keys whose values differ from the preset's, as `key = value (preset: value)`.
pub fn overrides(s: &Scenario) -> Vec<String> {
    let Some(preset) = s
        .target
        .preset
        .as_deref()
        .and_then(scenarios::presets::text)
        .and_then(|t| toml::from_str::<toml::Table>(t).ok())
    else {
        return Vec::new();
    };
    s.target
        .values
        .iter()
        .filter_map(|(k, v)| match preset.get(k) {
            Some(p) if p == v => None,
            Some(p) => Some(format!("{k} = {v} (preset: {p})")),
            None => Some(format!("{k} = {v}")),
        })
        .collect()
}

/// A workload as a title says it: its summary, after its name when the scenario gave it one
/// (a default name, kind and index, would only repeat the kind).
pub fn workload_title(wr: &scenarios::WorkloadRun) -> String {
    let default = wr
        .name
        .strip_prefix(wr.workload.id())
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|i| i.bytes().all(|b| b.is_ascii_digit()));
    if default {
        wr.workload.summary()
    } else {
        format!("{}: {}", wr.name, wr.workload.summary())
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
}

/// Reports of a scenario's workloads in the chosen format; `command` names the command in
/// the JSON document.
pub fn print_reports(
    out: &mut dyn Write,
    command: &'static str,
    s: &Scenario,
    reports: &[Report],
    format: Format,
    breakdown: bool,
) -> io::Result<()> {
    match format {
        Format::Json => write!(out, "{}", output::json(command, s, reports)),
        Format::Csv => {
            for r in reports {
                for run in &r.runs {
                    if let Some(why) = &run.outcome.stalled {
                        note(&format!(
                            "warning: {} on {} {}",
                            run.strategy,
                            r.workload,
                            output::stalled_line(why)
                        ));
                    }
                }
            }
            write!(out, "{}", output::csv(s, reports))
        }
        Format::Table => {
            let changed = overrides(s);
            if !changed.is_empty() {
                writeln!(
                    out,
                    "target {} with {} (`zcsim config` with the same flags prints every value)\n",
                    s.target.preset.as_deref().unwrap_or("custom"),
                    changed.join(", ")
                )?;
            }
            for (i, (r, wr)) in reports.iter().zip(&s.runs).enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                let describe = workload_title(wr);
                write!(out, "{}", output::table(r, &describe, breakdown))?;
            }
            Ok(())
        }
    }
}
