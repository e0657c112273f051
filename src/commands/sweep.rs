//! `zcsim sweep`: one parameter over a list or a range of values, every strategy at every
//! point, each point a separate deterministic run on a thread pool; a table, JSON or CSV, and
//! an SVG plot of any report metric.
//!
//! Everything the user typed is checked before the first run: the parameter and its values
//! ([`points`]), `--steps` and `--threads` against their bounds, the metric against the
//! report's keys, the plot's path, and the scenario at every point.
//!
//! `--shard K/N` runs one slice of the points and prints a partial result instead
//! ([`shard`]); `zcsim merge` prints from the partials what [`Output`] prints here.

pub(crate) mod plot;
pub mod points;
pub mod shard;

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use models::report::{Report, RunReport};
use models::strategy::Strategy;
use models::workload::{BulkSource, Workload};
use serde::{Deserialize, Serialize};

use super::{Context, Failure, Format, Outcome, ScenarioArgs, flag_error, note, shorten};
use crate::output;
use crate::runner::{Job, MAX_THREADS, world_of};
pub use points::Points;
use shard::{Identity, Partial, PartialRow, Shard};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  zcsim sweep --param target.memory_bus --range 15MB/s..60MB/s --steps 10 \\
      --workload bulk-send --strategies copy,page-loan --plot bus.svg
  zcsim sweep --param workload.rewrite --values 1KiB,4KiB,16KiB --workload rewrite-after-write
  zcsim sweep --param target.loss --range 0.0001..0.05 --steps 8 --log --plot loss.png
  zcsim sweep --param workload.write_size --values 4KiB,64KiB --metric copies.cpu_copy_bytes

  # over 4 machines or jobs (a Slurm array, a Kubernetes Indexed Job), then join:
  zcsim sweep --param target.memory_bus --range 15MB/s..60MB/s --steps 10 --shard 2/4 > part-2.json
  zcsim merge part-*.json --format csv

--plot writes SVG, or PNG when the file name ends in .png.")]
pub struct Args {
    /// The parameter's path, as for --set (target.memory_bus, workload.write_size, ...).
    #[arg(long)]
    pub param: String,
    /// Values to visit, with units: --values 20MB/s,40MB/s,80MB/s (at most 10000).
    #[arg(long, value_delimiter = ',', conflicts_with = "range")]
    pub values: Option<Vec<String>>,
    /// A range FROM..TO, with units: --range 10MB/s..100MB/s. Both ends run as typed.
    #[arg(long, requires = "steps")]
    pub range: Option<String>,
    /// Points in the range, 2 to 10000.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Space the range's points evenly on a log scale (and plot a log axis).
    #[arg(long)]
    pub log: bool,
    /// The report key to compare and plot (dotted: copies.cpu_copy_bytes).
    #[arg(long, default_value = "throughput_bytes_per_sec")]
    pub metric: String,
    /// Write a plot of the metric, SVG or PNG by the file's extension.
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    pub plot: Option<String>,
    /// Worker threads, 0 to 256 (0: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// table (for reading), json (one document with the configuration; see
    /// docs/report-schema.md) or csv (one row per run, the same columns for every command).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also show where CPU time and bus bytes went at every point.
    #[arg(long)]
    pub breakdown: bool,
    /// Run only the K-th of N interleaved slices of the points (K from 1) and print a partial
    /// result (JSON) for `zcsim merge`, which prints what the whole sweep would; --format,
    /// --plot and --breakdown then go to `zcsim merge`.
    #[arg(long, value_name = "K/N", conflicts_with_all = ["format", "plot", "breakdown"])]
    pub shard: Option<String>,
}

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    if a.threads > MAX_THREADS {
        return Err(flag_error(
            "--threads",
            &a.threads.to_string(),
            "too many",
            &format!("0 (one per core) to {MAX_THREADS}"),
        ));
    }
    let shard = a
        .shard
        .as_deref()
        .map(|raw| {
            raw.parse::<Shard>()
                .map_err(|e| flag_error("--shard", raw, &e.to_string(), Shard::ALLOWED))
        })
        .transpose()?;
    let points = Points::new(
        &a.param,
        a.values.as_deref(),
        a.range.as_deref(),
        a.steps,
        a.log,
    )?;
    let base = a.scenario.load()?;
    check_metric(&base, &a.metric)?;
    if let Some(path) = &a.plot {
        check_plot_path(path)?;
    }
    // Every point's scenario, loaded (and so validated) before the first run, a shard's
    // others included: a mistake at any point stops every shard alike.
    let mut jobs = Vec::new();
    let mut labels = Vec::new();
    for (i, (value, x)) in points.values.iter().zip(&points.xs).enumerate() {
        let s = a
            .scenario
            .load_with(&[format!("{}={value}", points.param)], false)?;
        if shard.is_some_and(|sh| !sh.owns(i)) {
            continue;
        }
        for wr in &s.runs {
            for st in &wr.strategies {
                jobs.push(Job::of(&s, wr, *st));
                labels.push((
                    i,
                    value.clone(),
                    *x,
                    wr.name.clone(),
                    wr.workload.id(),
                    st.id().to_owned(),
                ));
            }
        }
    }
    let reports = cx.runner.run_all(&jobs, a.threads);
    let rows =
        labels
            .into_iter()
            .zip(reports)
            .map(|((i, value, x, name, workload, strategy), report)| {
                (
                    i,
                    Row {
                        metric: metric_of(&report, &a.metric),
                        value,
                        x,
                        name,
                        workload,
                        strategy,
                        report,
                    },
                )
            });
    let identity = Identity {
        zcsim_version: env!("CARGO_PKG_VERSION").to_owned(),
        param: points.param.clone(),
        values: points.values.clone(),
        log: points.log,
        metric: a.metric.clone(),
        config: scenarios::config::Config::of(&base),
    };
    if let Some(shard) = shard {
        let partial = Partial {
            zcsim_sweep_partial: shard::PARTIAL_VERSION,
            shard,
            sweep: identity,
            rows: rows.map(|(point, row)| PartialRow { point, row }).collect(),
        };
        let owned = (0..points.values.len()).filter(|i| shard.owns(*i)).count();
        note(&format!(
            "shard {shard}: {owned} of {} points; `zcsim merge` joins the {} partial results",
            points.values.len(),
            shard.n
        ));
        let mut text = serde_json::to_string(&partial).expect("partials serialize");
        text.push('\n');
        cx.out.write_all(text.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Row> = rows.map(|(_, row)| row).collect();
    let view = Output {
        points: &points,
        metric: &a.metric,
        config: &identity.config,
        format: a.format,
        breakdown: a.breakdown,
        plot: a.plot.as_deref(),
    };
    view.write(cx.out, &rows)?;
    Ok(ExitCode::SUCCESS)
}

/// How a sweep's results are printed: by `zcsim sweep`, and by `zcsim merge` from the
/// partial results of a sharded one, so both print the same bytes.
pub(crate) struct Output<'a> {
    pub points: &'a Points,
    pub metric: &'a str,
    /// The base scenario's effective configuration.
    pub config: &'a scenarios::config::Config,
    pub format: Format,
    pub breakdown: bool,
    pub plot: Option<&'a str>,
}

impl Output<'_> {
    /// Prints `rows` (in the sweep's order) and writes the plot, if asked.
    pub fn write(&self, out: &mut dyn Write, rows: &[Row]) -> Result<(), Failure> {
        // The plot is written even when standard output has gone away; its error, if any,
        // comes after the printing error.
        let printed = self.print(out, rows);
        if let Some(path) = self.plot {
            plot::plot(
                self.points,
                self.metric,
                &self.config.target.name,
                rows,
                path,
            )
            .map_err(|e| Failure::User(format!("--plot {}: {e}", shorten(path))))?;
            note(&format!("wrote {path}"));
        }
        printed?;
        Ok(())
    }

    fn print(&self, out: &mut dyn Write, rows: &[Row]) -> std::io::Result<()> {
        let (points, config) = (self.points, self.config);
        match self.format {
            Format::Table => {
                write!(out, "{}", table(points, self.metric, rows))?;
                if self.breakdown {
                    for value in &points.values {
                        let runs: Vec<RunReport> = rows
                            .iter()
                            .filter(|r| &r.value == value)
                            .map(|r| r.report.clone())
                            .collect();
                        let r = Report {
                            seed: config.seed,
                            target: config.target.name.clone(),
                            workload: String::new(),
                            runs,
                        };
                        writeln!(out, "\n{} = {value}", points.param)?;
                        write!(out, "{}", output::breakdown_table(&r))?;
                    }
                }
            }
            Format::Csv => {
                for r in rows.iter() {
                    if let Some(why) = &r.report.outcome.stalled {
                        note(&format!(
                            "warning: {} = {}: {} {}",
                            points.param,
                            r.value,
                            r.strategy,
                            output::stalled_line(why)
                        ));
                    }
                }
                write!(out, "{}", csv(points, self.metric, config, rows))?
            }
            Format::Json => write!(
                out,
                "{}",
                output::Document::new(
                    "sweep",
                    Some(config.clone()),
                    SweepBody {
                        param: &points.param,
                        metric: self.metric,
                        seed: config.seed,
                        target: &config.target.name,
                        points: rows,
                    },
                )
                .to_json()
            )?,
        }
        Ok(())
    }
}

/// A sweep's results in the JSON document: the swept path and the metric, the base
/// scenario's seed and target (`config` holds the base scenario; each point sets `param` to
/// its `value` on top of it), and one entry per run.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct SweepBody<'a> {
    param: &'a str,
    metric: &'a str,
    seed: u64,
    target: &'a str,
    points: &'a [Row],
}

/// One run of a sweep.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Row {
    pub value: String,
    pub x: f64,
    /// The workload's name in the scenario.
    pub name: String,
    /// The workload's kind.
    #[serde(deserialize_with = "workload_kind")]
    pub workload: &'static str,
    pub strategy: String,
    pub metric: f64,
    pub report: RunReport,
}

/// A workload kind read back from a partial result, as the model names it.
fn workload_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let s = String::deserialize(d)?;
    models::workload::WORKLOAD_IDS
        .into_iter()
        .find(|id| *id == s)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown workload kind `{s}`")))
}

/// The dotted keys of `breakdown` whose last part is an activity: a run where the activity
/// took nothing has no entry, which counts as 0.
const BREAKDOWN_MAPS: [&str; 2] = ["breakdown.cpu_ns.", "breakdown.bus_bytes."];

/// Checks `metric` before any run, against the keys every report has: a report of a world
/// built on the scenario's target but not run (cheap: no event is handled).
fn check_metric(base: &scenarios::Scenario, metric: &str) -> Result<(), Failure> {
    let allowed = "a numeric report key, e.g. throughput_bytes_per_sec, copies.cpu_copy_bytes, utilization.memory_bus, breakdown.cpu_ns.copy";
    if let Some(activity) = BREAKDOWN_MAPS.iter().find_map(|m| metric.strip_prefix(m)) {
        return if models::machine::Activity::ALL
            .iter()
            .any(|a| a.name() == activity)
        {
            Ok(())
        } else {
            let names: Vec<&str> = models::machine::Activity::ALL
                .iter()
                .map(|a| a.name())
                .collect();
            Err(flag_error(
                "--metric",
                metric,
                "no such activity",
                &names.join(", "),
            ))
        };
    }
    let probe = Workload::BulkSend {
        total_bytes: 4096,
        write_size: 4096,
        source: BulkSource::Memory,
    };
    let world = probe
        .build(&world_of(base), Strategy::Copy)
        .map_err(|e| Failure::User(format!("--metric {}: {e}", shorten(metric))))?;
    let report = RunReport::from_world(&world, Strategy::Copy);
    let v = serde_json::to_value(&report).expect("reports serialize");
    let mut cur = &v;
    for part in metric.split('.') {
        cur = cur.get(part).ok_or_else(|| {
            let mut keys = Vec::new();
            numeric_keys(&v, "", &mut keys);
            let known: Vec<&str> = keys.iter().map(String::as_str).collect();
            flag_error(
                "--metric",
                metric,
                &format!("no such report key{}", super::did_you_mean(metric, &known)),
                allowed,
            )
        })?;
    }
    if cur.as_f64().is_none() {
        return Err(flag_error("--metric", metric, "not a number", allowed));
    }
    Ok(())
}

/// Every dotted path to a number in `v`, for suggestions.
fn numeric_keys(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    if let Some(map) = v.as_object() {
        for (k, x) in map {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if x.is_number() {
                out.push(path);
            } else {
                numeric_keys(x, &path, out);
            }
        }
    }
}

/// The value of `metric` (a dotted report key, checked by [`check_metric`]) in `r`.
pub fn metric_of(r: &RunReport, metric: &str) -> f64 {
    let v = serde_json::to_value(r).expect("reports serialize");
    let mut cur = &v;
    for part in metric.split('.') {
        match cur.get(part) {
            Some(next) => cur = next,
            // Only a breakdown entry can be absent: that activity took nothing.
            None => return 0.0,
        }
    }
    cur.as_f64().unwrap_or(0.0)
}

/// Checks before any run that the plot can be written where asked.
pub(crate) fn check_plot_path(path: &str) -> Result<(), Failure> {
    let p = Path::new(path);
    let bad = |problem: &str| {
        flag_error(
            "--plot",
            path,
            problem,
            "a writable FILE.svg or FILE.png path",
        )
    };
    if p.is_dir() {
        return Err(bad("is a directory"));
    }
    let existed = p.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .map_err(|e| bad(&format!("cannot write: {e}")))?;
    if !existed {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// Series keys in first-seen order: `strategy` (or `workload/strategy` with several).
fn series(rows: &[Row]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in rows {
        let k = (r.name.clone(), r.strategy.clone());
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

fn series_name(key: &(String, String), many_workloads: bool) -> String {
    if many_workloads {
        format!("{}/{}", key.0, key.1)
    } else {
        key.1.clone()
    }
}

/// A table: one row per value, one column per strategy; under it, any run that stalled.
pub fn table(points: &Points, metric: &str, rows: &[Row]) -> String {
    let keys = series(rows);
    let many = keys.iter().any(|k| k.0 != keys[0].0);
    let mut out = String::new();
    let _ = writeln!(out, "{metric} by {}", points.param);
    let names: Vec<String> = keys.iter().map(|k| series_name(k, many)).collect();
    let w = names.iter().map(String::len).max().unwrap_or(8).max(12);
    let _ = write!(out, "{:<16}", points.param.rsplit('.').next().unwrap_or(""));
    for n in &names {
        let _ = write!(out, " {n:>w$}");
    }
    let _ = writeln!(out);
    for value in &points.values {
        let _ = write!(out, "{value:<16}");
        for k in &keys {
            let m = rows
                .iter()
                .find(|r| &r.value == value && r.name == k.0 && r.strategy == k.1)
                .map(|r| r.metric);
            let cell = m.map_or("-".to_owned(), |m| format!("{m:.4}"));
            let _ = write!(out, " {cell:>w$}");
        }
        let _ = writeln!(out);
    }
    for r in rows {
        if let Some(why) = &r.report.outcome.stalled {
            let _ = writeln!(
                out,
                "at {} = {}: {} {}",
                points.param,
                r.value,
                r.strategy,
                output::stalled_line(why)
            );
        }
    }
    out
}

/// CSV, one line per run, with the columns of every command's CSV.
pub fn csv(
    points: &Points,
    metric: &str,
    base: &scenarios::config::Config,
    rows: &[Row],
) -> String {
    output::write_csv(rows.iter().map(|r| output::CsvRow {
        param: Some(&points.param),
        value: Some(&r.value),
        x: Some(r.x),
        metric: Some(metric),
        metric_value: Some(r.metric),
        ..output::CsvRow::new(&r.name, r.workload, base.seed, &base.target.name, &r.report)
    }))
}
