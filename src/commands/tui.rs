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
    // Recording shows a progress bar (after a moment); indexing a large trace takes seconds
    // too, so each step is named on standard error before the screen takes over.
    let n = wr.strategies.len();
    let runs = wr
        .strategies
        .iter()
        .enumerate()
        .map(|(i, st)| {
            super::note(&format!("recording {} ({}/{n})...", st.id(), i + 1));
            let (report, trace) = cx.runner.traced(&Job::of(&s, wr, *st), max_records);
            super::note(&format!(
                "indexing {} trace records of {}...",
                trace.records.len(),
                st.id()
            ));
            tui::RunView::new(st.id().to_owned(), report, trace)
        })
        .collect();
    let title = format!(
        "{}: {} on {}",
        wr.name,
        wr.workload.summary(),
        s.target.name
    );
    let app =
        tui::App::new(title, runs).map_err(|e| Failure::User(format!("the timeline: {e}")))?;
    match tui::run(app).map_err(|e| Failure::User(format!("terminal: {e}")))? {
        tui::Ended::Quit => Ok(ExitCode::SUCCESS),
        // The terminal is restored; end with the status a shell expects of that signal.
        tui::Ended::Signal(sig) => Ok(ExitCode::from(128u8.saturating_add(sig as u8))),
    }
}
