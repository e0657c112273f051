//! `zcsim compare` (and `zcsim` with no command): every strategy, or those named, on the
//! scenario's workloads, side by side.

use std::process::ExitCode;

use super::{Context, Format, Outcome, ScenarioArgs, print_reports};

#[derive(clap::Args, Debug, Default)]
#[command(after_help = "\
Examples:
  zcsim compare                                        # the default scenario (also plain `zcsim`)
  zcsim compare --strategies copy,page-loan --set target.memory_bus=40MB/s
  zcsim compare --preset gige-2002 --workload file-server --breakdown
  zcsim compare --scenario my.toml --format json > report.json
  zcsim compare --format csv > runs.csv

`zcsim config` with the same flags prints every value the comparison ran with.")]
pub struct Args {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// table (for reading), json (one document with the configuration; see
    /// docs/report-schema.md) or csv (one row per run, the same columns for every command).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also show where CPU time and bus bytes went, by activity.
    #[arg(long)]
    pub breakdown: bool,
}

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    let s = a.scenario.load()?;
    let reports = cx.runner.scenario(&s, 0);
    print_reports(cx.out, "compare", &s, &reports, a.format, a.breakdown)?;
    Ok(ExitCode::SUCCESS)
}
