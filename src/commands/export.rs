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
  zcsim export --chrome - --from 10ms --to 12ms | gzip > window.json.gz
  # then open trace.json in https://ui.perfetto.dev or chrome://tracing")]
pub struct Args {
    /// The file to write, or `-` for standard output.
    #[arg(long, value_name = "FILE.json")]
    pub chrome: String,
    /// Most records kept per run, and narration lines, 1 to 100000000 (older ones are
    /// dropped, and the count is reported).
    #[arg(long, default_value_t = 2_000_000)]
    pub max_records: usize,
    /// Keep only what happens from this simulated time on (with a unit: 10ms); counters keep
    /// their value at that time.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Keep only what happens before this simulated time (with a unit: 20ms).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

/// A `--from`/`--to` time in ns.
fn time_flag(flag: &str, v: Option<&str>) -> Result<Option<u64>, Failure> {
    v.map(|t| {
        scenarios::units::parse_duration(t).map_err(|e| {
            flag_error(
                flag,
                t,
                &e.to_string(),
                "a simulated time with a unit: ns, us, ms, s (e.g. 10ms)",
            )
        })
    })
    .transpose()
}

/// The records of `[from, to)`: spans that overlap it, instants, counter samples and flows
/// (both ends) in it, and each counter's last sample before it (its value when the window
/// opens).
fn window(records: Vec<sim::TraceRecord>, from: u64, to: u64) -> Vec<sim::TraceRecord> {
    use sim::TraceRecord as R;
    let mut before: std::collections::BTreeMap<&'static str, sim::TraceRecord> =
        std::collections::BTreeMap::new();
    let mut kept = Vec::new();
    for r in records {
        match &r {
            R::Span(sp) if sp.end.as_nanos() > from && sp.start.as_nanos() < to => kept.push(r),
            R::Instant(i) if (from..to).contains(&i.at.as_nanos()) => kept.push(r),
            R::Counter(c) if c.at.as_nanos() < from => {
                before.insert(c.series, r);
            }
            R::Counter(c) if c.at.as_nanos() < to => kept.push(r),
            R::Flow(f)
                if [f.from.at, f.to.at]
                    .iter()
                    .all(|t| (from..to).contains(&t.as_nanos())) =>
            {
                kept.push(r)
            }
            _ => {}
        }
    }
    before.into_values().chain(kept).collect()
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
    let from = time_flag("--from", a.from.as_deref())?.unwrap_or(0);
    let to = time_flag("--to", a.to.as_deref())?.unwrap_or(u64::MAX);
    if from >= to {
        return Err(flag_error(
            "--to",
            a.to.as_deref().unwrap_or(""),
            "is not after --from",
            "a time later than --from",
        ));
    }
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
            let (report, trace) = cx.runner.traced(&Job::of(&s, wr, *st), max_records);
            w.begin_process(pid, &format!("{} on {}", st.id(), wr.name));
            w.set_notes(trace.notes);
            let records = window(trace.records, from, to);
            let recorded = records.len();
            for (i, name) in trace.lanes.iter().enumerate() {
                w.declare_lane(LaneId(i as u32), name);
            }
            for r in records {
                w.record(r);
            }
            note(&format!(
                "{} on {}: {} events, {recorded} trace records{}",
                st.id(),
                wr.name,
                report.events,
                if trace.dropped > 0 {
                    format!(
                        " ({} oldest records and {} narration lines dropped: raise --max-records)",
                        trace.dropped, trace.notes_dropped
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
