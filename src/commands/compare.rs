//! `zcsim compare` (and `zcsim` with no command): every strategy, or those named, on the
//! scenario's workloads, side by side.

use std::process::ExitCode;

use super::{Context, Format, Outcome, ScenarioArgs, print_reports};

#[derive(clap::Args, Debug, Default)]
pub struct Args {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
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
