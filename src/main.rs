//! `zcsim`: compare zero-copy strategies on a simulated machine.
//!
//! `main` parses the command line and hands it to one module per subcommand
//! ([`commands`]); every simulation goes through [`runner::Runner`]; [`output`] prints
//! reports.
//!
//! Exit codes:
//! - 0: success (a simulated failure, such as an `mmap` that does not fit or a run that
//!   stalled, is an outcome in the report, still 0);
//! - 1: a command whose verdict failed (`reproduce`), or output that could not be written;
//! - 2: a user's mistake (a bad scenario, flag or name), printed to stderr with where, which
//!   field, the value and what is allowed;
//! - 141 (128 + SIGPIPE): standard output's reader went away (`zcsim list | head -1`);
//!   nothing more is printed;
//! - 129 or 143 (128 + the signal): `zcsim tui` ended by SIGHUP or SIGTERM, after restoring
//!   the terminal;
//! - 101: a bug, such as a broken model invariant (the panic message names it).

mod commands;
#[cfg(all(feature = "host", target_os = "linux"))]
mod host;
mod output;
mod quiz;
mod runner;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::{CLOSED_PIPE, Context, Failure};

/// Simulate the 2000-2003 zero-copy argument: copies, faults, and where the bandwidth went.
#[derive(Parser, Debug)]
#[command(name = "zcsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Check every model invariant after every event, in release builds too (debug builds
    /// always check). Slow; a broken invariant ends the run with a panic naming it.
    #[arg(long, global = true)]
    check_invariants: bool,
    /// Tests only: break one invariant after the first event of every run, to prove the
    /// command runs the checker.
    #[arg(long, global = true, hide = true)]
    debug_inject_invariant_bug: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run every strategy (or those named) on the scenario's workloads and compare them.
    Compare(commands::compare::Args),
    /// Run one strategy; --verbose narrates every event.
    Run(commands::run::Args),
    /// List strategies, workloads (with their parameters) or presets (with their keys).
    List(commands::list::Args),
    /// Explain a strategy: where it comes from, its steps, its in-flight semantics.
    Explain(commands::explain::Args),
    /// Check a scenario file and summarize it.
    Check(commands::check::Args),
    /// Open the interactive timeline on the scenario's first workload (every strategy that
    /// applies, or those named; 1-9 switch between them).
    Tui(commands::tui::Args),
    /// Record runs and write them as a Chrome Trace Event file for Perfetto or chrome://tracing.
    Export(commands::export::Args),
    /// Run the seeds' claims (DESIGN section 9) as experiments; exit 1 if any fails.
    Reproduce(commands::reproduce::Args),
    /// Sweep one parameter and compare the strategies at every point.
    Sweep(commands::sweep::Args),
    /// Join the partial results of `zcsim sweep --shard K/N` into what the whole sweep prints.
    Merge(commands::merge::Args),
    /// Homework problems from a seed (-s); -c prints answers computed by running the model.
    Quiz(commands::quiz::Args),
    /// Print the effective configuration (preset, file and overrides resolved) as a scenario
    /// file that --scenario loads back.
    Config(commands::config::Args),
    /// Measure this machine (Linux) and write a target preset: zcsim calibrate --out host.toml
    Calibrate(commands::calibrate::Args),
    /// Run the real strategies over loopback and the model on a calibrated preset; compare.
    Validate(commands::validate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut cx = Context {
        out: &mut out,
        runner: runner::Runner::new(cli.check_invariants, cli.debug_inject_invariant_bug),
    };
    let command = cli
        .command
        .unwrap_or_else(|| Command::Compare(commands::compare::Args::default()));
    let result = match command {
        Command::Compare(a) => commands::compare::execute(&mut cx, a),
        Command::Run(a) => commands::run::execute(&mut cx, a),
        Command::List(a) => commands::list::execute(&mut cx, a),
        Command::Explain(a) => commands::explain::execute(&mut cx, a),
        Command::Check(a) => commands::check::execute(&mut cx, a),
        Command::Tui(a) => commands::tui::execute(&mut cx, a),
        Command::Export(a) => commands::export::execute(&mut cx, a),
        Command::Reproduce(a) => commands::reproduce::execute(&mut cx, a),
        Command::Sweep(a) => commands::sweep::execute(&mut cx, a),
        Command::Merge(a) => commands::merge::execute(&mut cx, a),
        Command::Quiz(a) => commands::quiz::execute(&mut cx, a),
        Command::Config(a) => commands::config::execute(&mut cx, a),
        Command::Calibrate(a) => commands::calibrate::execute(&mut cx, a),
        Command::Validate(a) => commands::validate::execute(&mut cx, a),
    }
    .and_then(|code| {
        cx.out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(Failure::User(msg)) => {
            commands::note(&format!("error: {msg}"));
            ExitCode::from(2)
        }
        Err(Failure::ClosedPipe) => ExitCode::from(CLOSED_PIPE),
        Err(Failure::Output(e)) => {
            commands::note(&format!("error: writing the output: {e}"));
            ExitCode::from(1)
        }
    }
}
