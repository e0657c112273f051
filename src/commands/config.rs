//! `zcsim config`: the effective configuration of a scenario with its overrides, printed as
//! a scenario file (every target value after the preset and every `--set`, every option,
//! every workload parameter with its default, the strategies and the seed). Fed back with
//! `--scenario`, it runs the same scenario: the report is the same byte for byte.

use std::process::ExitCode;

use scenarios::config::Config;

use super::{Context, Outcome, ScenarioArgs};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  zcsim config                                   # the default scenario, every value shown
  zcsim config --preset gige-2002 --set target.mtu_bytes=1500 > mine.toml
  zcsim compare --scenario mine.toml             # runs exactly what was printed
  zcsim config --scenario scenarios/experiments/laight-thorpe.toml")]
pub struct Args {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    let s = a.scenario.load()?;
    write!(cx.out, "{}", Config::of(&s).to_toml())?;
    Ok(ExitCode::SUCCESS)
}
