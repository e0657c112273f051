//! `zcsim tui`: the interactive timeline on the scenario's first workload, a traced run per
//! strategy (every one that applies, or those named; 1-9 switch between them).

use std::io::IsTerminal;
use std::process::ExitCode;

use super::{Context, Failure, Outcome, ScenarioArgs};
use crate::runner::Job;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  zcsim tui
  zcsim tui --strategies copy,page-loan --set workload.total=1MiB
  zcsim tui --preset gige-2002 --workload bulk-receive

Keys: ? shows them all; q or Ctrl-C quits.")]
pub struct Args {
    /// Most records kept per run, and narration lines, 1 to 100000000.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_records: usize,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    let max_records = super::export::check_max_records(a.max_records)?;
    let s = a.scenario.load()?;
    // Checked before the terminal: a scenario with nothing to show is the user's mistake
    // whatever the output, never an index out of bounds.
    let Some(wr) = s.runs.first() else {
        return Err(Failure::User(
            "the scenario has no workload to show on the timeline".into(),
        ));
    };
    if wr.strategies.is_empty() {
        return Err(Failure::User(format!(
            "strategies: none to show for the first workload ({}); allowed: one or more of {}",
            wr.workload.id(),
            scenarios::scenario::applicable(&wr.workload).join(", ")
        )));
    }
    if !std::io::stdout().is_terminal() {
        return Err(Failure::User(
            "zcsim tui needs a terminal on standard output".into(),
        ));
    }
    // The runs are recorded on a worker thread while the timeline is on screen: it shows
    // the first records at once and fills in (the footer says how far recording has got).
    let jobs = wr
        .strategies
        .iter()
        .map(|st| {
            let job = Job::of(&s, wr, *st);
            tui::Job {
                name: st.id().to_owned(),
                world: job.world,
                workload: job.workload,
                options: job.options,
                strategy: job.strategy,
                check_invariants: cx.runner.check_invariants,
                inject_invariant_bug: cx.runner.inject_invariant_bug,
            }
        })
        .collect();
    let title = format!(
        "{}: {} on {}",
        wr.name,
        wr.workload.summary(),
        s.target.name
    );
    let app = tui::App::recording(title, tui::Loader::start(jobs, max_records))
        .map_err(|e| Failure::User(format!("the timeline: {e}")))?;
    match tui::run(app).map_err(|e| Failure::User(format!("terminal: {e}")))? {
        tui::Ended::Quit => Ok(ExitCode::SUCCESS),
        // The terminal is restored; end with the status a shell expects of that signal.
        tui::Ended::Signal(sig) => Ok(ExitCode::from(128u8.saturating_add(sig as u8))),
    }
}
