//! `zcsim export --chrome FILE`: every (workload, strategy) run of the scenario as one
//! process of a Chrome Trace Event file, for Perfetto or `chrome://tracing`.

use std::process::ExitCode;

use sim::{ChromeTraceWriter, LaneId, TraceSink};

use super::{Context, Failure, Outcome, ScenarioArgs, flag_error, note};
use crate::runner::Job;

/// Most trace records `--max-records` may keep per run.
pub const MAX_RECORDS: usize = 100_000_000;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  zcsim export --chrome trace.json --strategies copy,page-loan --set workload.total=1MiB
  # then open trace.json in https://ui.perfetto.dev or chrome://tracing")]
pub struct Args {
    /// The file to write, or `-` for standard output.
    #[arg(long, value_name = "FILE.json")]
    pub chrome: String,
    /// Most records kept per run, 1 to 100000000 (older ones are dropped, and the count is
    /// reported).
    #[arg(long, default_value_t = 2_000_000)]
    pub max_records: usize,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

/// Checks `--max-records` before any work.
pub fn check_max_records(n: usize) -> Result<usize, Failure> {
    if n == 0 || n > MAX_RECORDS {
        return Err(flag_error(
            "--max-records",
            &n.to_string(),
            "out of range",
            &format!("1 to {MAX_RECORDS}"),
        ));
    }
    Ok(n)
}

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    let max_records = check_max_records(a.max_records)?;
    let s = a.scenario.load()?;
    let path = &a.chrome;
    let io_err =
        |e: std::io::Error| Failure::User(format!("--chrome {}: {e}", super::shorten(path)));
    // `-` is standard output, as for most Unix tools.
    let sink: Box<dyn std::io::Write + '_> = if path == "-" {
        Box::new(&mut *cx.out)
    } else {
        let file = std::fs::File::create(path).map_err(|e| {
            Failure::User(format!(
                "--chrome {}: cannot create: {e}",
                super::shorten(path)
            ))
        })?;
        Box::new(std::io::BufWriter::new(file))
    };
    let mut w = ChromeTraceWriter::new(sink).map_err(io_err)?;
    let mut pid = 1;
    for wr in &s.runs {
        for st in &wr.strategies {
            let (report, trace) = cx
                .runner
                .traced(&Job::of(&s, &wr.workload, *st), max_records);
            w.begin_process(pid, &format!("{} on {}", st.id(), wr.name));
            let recorded = trace.records.len();
            for (i, name) in trace.lanes.iter().enumerate() {
                w.declare_lane(LaneId(i as u32), name);
            }
            for r in trace.records {
                w.record(r);
            }
            note(&format!(
                "{} on {}: {} events, {recorded} trace records{}",
                st.id(),
                wr.workload.id(),
                report.events,
                if trace.dropped > 0 {
                    format!(
                        " ({} oldest records dropped: raise --max-records)",
                        trace.dropped
                    )
                } else {
                    String::new()
                }
            ));
            pid += 1;
        }
    }
    w.finish().map_err(io_err)?;
    let wrote = if path == "-" {
        "wrote the trace to standard output".to_owned()
    } else {
        format!("wrote {path}")
    };
    note(&format!(
        "{wrote}: open it at https://ui.perfetto.dev (Open trace file) or chrome://tracing"
    ));
    Ok(ExitCode::SUCCESS)
}
