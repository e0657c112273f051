//! `zcsim run STRATEGY`: one strategy on the scenario's workloads it applies to; `--verbose`
//! narrates every event on standard output as the run goes.

use std::io::Write;
use std::process::ExitCode;

use models::report::Report;
use models::strategy::{SourceKind, Strategy};
use scenarios::Scenario;

use super::{CLOSED_PIPE, Context, Failure, Format, Outcome, ScenarioArgs, print_reports};
use crate::runner::Job;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  zcsim run page-loan                                   # on the default workloads it applies to
  zcsim run page-loan --verbose --set workload.total=128KiB | less
  zcsim run page-flip --preset gige-2002                # a receive strategy: bulk-receive
  zcsim run sendfile --preset pc-2003 --workload file-server --format json")]
pub struct Args {
    /// A strategy id (see `zcsim list strategies`).
    pub strategy: String,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// table (for reading), json (one document with the configuration; see
    /// docs/report-schema.md) or csv (one row per run, the same columns for every command).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print one plain-language line per event as the run goes.
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn execute(cx: &mut Context, mut a: Args) -> Outcome {
    let strategy = super::unknown_strategy(&a.strategy)?;
    if let Some(ids) = &a.scenario.strategies {
        return Err(super::flag_error(
            "--strategies",
            &ids.join(","),
            &format!(
                "`zcsim run {}` runs one strategy, named before the flags",
                a.strategy
            ),
            "no --strategies with run; to run several, use `zcsim compare --strategies`",
        ));
    }
    a.scenario.strategies = Some(vec![a.strategy.clone()]);
    let s = load_for_strategy(&a.scenario, strategy)?;
    let mut reports = Vec::new();
    for wr in &s.runs {
        let mut runs = Vec::new();
        for st in &wr.strategies {
            let job = Job::of(&s, wr, *st);
            runs.push(if a.verbose {
                cx.runner.narrated(&job, Box::new(narrate))
            } else {
                cx.runner.run(&job)
            });
        }
        reports.push(Report {
            seed: s.seed,
            target: s.target.name.clone(),
            workload: wr.workload.id().to_owned(),
            runs,
        });
    }
    print_reports(cx.out, "run", &s, &reports, a.format, false)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes one narration line to standard output. The narration streams from inside the
/// model while the run goes, so a reader that has gone away (`| head -1`) ends the process
/// at once, quietly, with the same status as any closed pipe: nothing is left to say.
fn narrate(line: &str) {
    if let Err(e) = writeln!(std::io::stdout(), "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(CLOSED_PIPE.into());
        }
        super::note(&format!("error: writing the narration: {e}"));
        std::process::exit(1);
    }
}

/// The scenario for `zcsim run STRATEGY`: workloads the strategy does not apply to are
/// dropped from the default scenario (which mixes sources); an explicit one must fit.
fn load_for_strategy(a: &ScenarioArgs, s: Strategy) -> Result<Scenario, Failure> {
    if a.scenario.is_some() || a.workload.is_some() {
        return a.load();
    }
    let mut o = a.overrides();
    // Receiving and local file reads have their own workloads, which the default mixes lack.
    let own = match s.source() {
        SourceKind::Receive => Some("bulk-receive"),
        SourceKind::LocalFile => Some("file-read"),
        SourceKind::Memory | SourceKind::File => None,
    };
    if let Some(kind) = own {
        o.workload = Some(kind.into());
        return Ok(scenarios::load_default(&o)?);
    }
    o.strategies = None;
    let mut sc = scenarios::load_default(&o)?;
    sc.runs.retain(|wr| wr.workload.check(&s).is_ok());
    for wr in &mut sc.runs {
        wr.strategies.retain(|x| x.id() == s.id());
    }
    Ok(sc)
}
