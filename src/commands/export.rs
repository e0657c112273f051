//! `zcsim export --chrome FILE`: every (workload, strategy) run of the scenario as one
//! process of a Chrome Trace Event file, for Perfetto or `chrome://tracing`.
//!
//! The file is written as the run goes: the run streams its records through a bounded
//! channel to the writer, so memory does not grow with the trace (a 256 MiB bulk send
//! writes gigabytes of JSON in a few megabytes of memory).

use std::process::ExitCode;

use std::collections::BTreeMap;
use std::sync::mpsc;

use sim::{ChromeTraceWriter, LaneId, SimTime, TraceRecord, TraceSink};

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
    /// Most records written per run, 1 to 100000000: the first ones (of the --from/--to
    /// window); how many were left out is reported.
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

/// What of a run's trace goes in the file: the records of `[from, to)` (spans that overlap
/// it; instants, counter samples and flows (both ends) in it), at most `max` of them, the
/// first ones; and each counter's last sample before the window (its value when the window
/// opens), given at the end. It sees each record once, as the run makes it.
struct Window {
    from: u64,
    to: u64,
    max: usize,
    kept: usize,
    /// Records in the window beyond `max`.
    left_out: u64,
    before: BTreeMap<&'static str, TraceRecord>,
}

impl Window {
    fn new(from: u64, to: u64, max: usize) -> Window {
        Window {
            from,
            to,
            max,
            kept: 0,
            left_out: 0,
            before: BTreeMap::new(),
        }
    }

    /// `r` if it goes in the file now.
    fn admit(&mut self, r: TraceRecord) -> Option<TraceRecord> {
        let (from, to) = (self.from, self.to);
        let inside = |t: SimTime| (from..to).contains(&t.as_nanos());
        let wanted = match &r {
            TraceRecord::Span(sp) => sp.end.as_nanos() > from && sp.start.as_nanos() < to,
            TraceRecord::Instant(i) => inside(i.at),
            TraceRecord::Counter(c) if c.at.as_nanos() < from => {
                self.before.insert(c.series, r);
                return None;
            }
            TraceRecord::Counter(c) => inside(c.at),
            TraceRecord::Flow(f) => inside(f.from.at) && inside(f.to.at),
        };
        if !wanted {
            return None;
        }
        if self.kept == self.max {
            self.left_out += 1;
            return None;
        }
        self.kept += 1;
        Some(r)
    }
}

/// What the simulating thread hands the writing one.
enum Item {
    Lane(LaneId, String),
    Note(u64, String),
    Record(TraceRecord),
}

/// A trace sink that passes everything on through a bounded channel: the run waits while
/// the writer catches up, so no more than [`IN_FLIGHT`] items are ever held.
struct Channel(mpsc::SyncSender<Item>);

/// Items the channel holds at most.
const IN_FLIGHT: usize = 4096;

impl TraceSink for Channel {
    // A send fails only once the writer has gone (it stopped at a write error, which it
    // reports): the run then finishes untraced.
    fn declare_lane(&mut self, lane: LaneId, name: &str) {
        let _ = self.0.send(Item::Lane(lane, name.to_owned()));
    }
    fn record(&mut self, record: TraceRecord) {
        let _ = self.0.send(Item::Record(record));
    }
    fn note(&mut self, id: u64, line: &str) {
        let _ = self.0.send(Item::Note(id, line.to_owned()));
    }
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
            w.begin_process(pid, &format!("{} on {}", st.id(), wr.name));
            let job = Job::of(&s, wr, *st);
            let runner = cx.runner;
            let mut window = Window::new(from, to, max_records);
            // The run makes the trace on one thread while this one writes it: the file
            // grows as the run goes, and memory holds only what is in the channel.
            let report = std::thread::scope(|scope| {
                let (tx, rx) = mpsc::sync_channel(IN_FLIGHT);
                let run = scope.spawn(move || runner.streamed(&job, Box::new(Channel(tx))));
                for item in rx {
                    match item {
                        Item::Lane(lane, name) => w.declare_lane(lane, &name),
                        Item::Note(id, line) => w.note(id, &line),
                        Item::Record(r) => {
                            if let Some(r) = window.admit(r) {
                                w.record(r);
                            }
                        }
                    }
                }
                run.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            for r in std::mem::take(&mut window.before).into_values() {
                w.record(r);
            }
            note(&format!(
                "{} on {}: {} events, {} trace records{}",
                st.id(),
                wr.name,
                report.events,
                window.kept,
                if window.left_out > 0 {
                    format!(
                        " (the {} after those left out: raise --max-records, or choose a stretch with --from and --to)",
                        window.left_out
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

#[cfg(test)]
mod tests {
    use super::*;
    use sim::trace::{Counter, Instant};

    fn instant(ns: u64) -> TraceRecord {
        TraceRecord::Instant(Instant {
            lane: LaneId(0),
            at: SimTime::from_nanos(ns),
            kind: "ack",
            label: "".into(),
            detail: 0,
        })
    }

    fn counter(ns: u64, value: f64) -> TraceRecord {
        TraceRecord::Counter(Counter {
            series: "faults",
            at: SimTime::from_nanos(ns),
            value,
        })
    }

    #[test]
    fn the_window_keeps_the_first_records_in_it_and_counts_the_rest() {
        // Window [10, 20) ns, at most 2 records: instants at 5 and 25 are outside; of those
        // at 10, 12 and 14 the first two go in and the third is counted as left out. The
        // counter samples before 10 leave only the last (value 2) to open the window.
        let mut w = Window::new(10, 20, 2);
        let kept: Vec<bool> = [
            counter(1, 1.0),
            counter(3, 2.0),
            instant(5),
            instant(10),
            instant(12),
            instant(14),
            instant(25),
        ]
        .into_iter()
        .map(|r| w.admit(r).is_some())
        .collect();
        assert_eq!(kept, [false, false, false, true, true, false, false]);
        assert_eq!((w.kept, w.left_out), (2, 1));
        assert_eq!(
            w.before.into_values().collect::<Vec<_>>(),
            [counter(3, 2.0)]
        );
    }
}
