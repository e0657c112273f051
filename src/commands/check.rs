//! `zcsim check FILE`: validate a scenario (or experiment) file and summarize it.

use std::process::ExitCode;

use scenarios::Overrides;

use super::{Context, Failure, Outcome};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  zcsim check my-scenario.toml
  zcsim check scenarios/experiments/netbsd-page-loan.toml   # an experiment's [experiment] table too

Exit status 0 when the file is valid, 2 with the file, line, column, field and what is allowed
when it is not.")]
pub struct Args {
    /// The scenario file (TOML) to check: its target, workloads, strategies and options, and
    /// its `[experiment]` table if it has one (what `zcsim reproduce FILE` reads).
    #[arg(value_name = "FILE.toml")]
    pub file: String,
}

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    let file = &a.file;
    let text = scenarios::scenario::read_scenario_file(file)?;
    let s = scenarios::load_str(file, &text, &Overrides::default())?;
    let experiment = if has_experiment(&text) {
        Some(
            scenarios::experiments::parse(&text)
                .map_err(|e| Failure::User(format!("{file}: {e}")))?,
        )
    } else {
        None
    };
    for n in &s.notes {
        super::note(n);
    }
    let out = &mut *cx.out;
    writeln!(out, "{file}: ok")?;
    writeln!(
        out,
        "  target {} ({}), seed {}",
        s.target.name, s.target.description, s.seed
    )?;
    for wr in &s.runs {
        let ids: Vec<&str> = wr.strategies.iter().map(|s| s.id()).collect();
        writeln!(out, "  {}: {}", wr.name, wr.workload.summary())?;
        writeln!(out, "    strategies: {}", ids.join(", "))?;
    }
    if let Some(e) = experiment {
        writeln!(
            out,
            "  experiment: {} (run it with `zcsim reproduce {file}`)",
            e.title
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the file has a top-level `experiment` table (the scenario has already parsed, so
/// this parse succeeds).
fn has_experiment(text: &str) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("experiment"))
}
