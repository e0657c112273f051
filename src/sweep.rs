//! `zcsim sweep`: one parameter over a list or a range of values, every strategy at every
//! point, each point a separate deterministic run on a thread pool; a table, JSON or CSV, and
//! an SVG plot of any report metric.

use std::fmt::Write as _;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use models::report::RunReport;
use scenarios::keys::{Kind, Value};
use serde::Serialize;

use crate::runner::{Job, run_all, world_of};

/// The values a sweep visits.
#[derive(Clone, Debug, PartialEq)]
pub struct Points {
    pub param: String,
    /// Each value as it is passed to `--set` (with its unit).
    pub values: Vec<String>,
    /// The same values as numbers in the parameter's base unit, for the x axis.
    pub xs: Vec<f64>,
    /// The base unit's name ("B/s", "B", "ns", or "" for counts and fractions).
    pub unit: &'static str,
    pub log: bool,
}

fn base_unit(k: &Kind) -> &'static str {
    match k {
        Kind::Size { .. } => "B",
        Kind::Rate { .. } => "B/s",
        Kind::Duration { .. } => "ns",
        _ => "",
    }
}

fn number(kind: &Kind, raw: &str) -> Result<f64, String> {
    let v = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    match kind.check(&v) {
        Ok(Value::U64(n)) => Ok(n as f64),
        Ok(Value::F64(x)) => Ok(x),
        Ok(_) => Err(format!(
            "`{raw}` is not a number; sweeps need a numeric parameter"
        )),
        Err(problem) => Err(format!("`{raw}` {problem}; allowed: {}", kind.allowed())),
    }
}

fn render(kind: &Kind, x: f64) -> String {
    match kind {
        Kind::Fraction { .. } => format!("{x}"),
        k => {
            let n = x.round() as u64;
            match base_unit(k) {
                "" => n.to_string(),
                u => format!("{n}{u}"),
            }
        }
    }
}

impl Points {
    /// `--values V1,V2,...` or `--range FROM..TO --steps N [--log]`.
    pub fn new(
        param: &str,
        values: Option<&[String]>,
        range: Option<&str>,
        steps: usize,
        log: bool,
    ) -> Result<Points, String> {
        let kind = scenarios::scenario::param_kind(param).ok_or_else(|| {
            format!("--param {param}: not a settable path (seed, target.KEY, workload.KEY, options.KEY; see `zcsim list presets` and `zcsim list workloads`)")
        })?;
        if matches!(kind, Kind::Bool | Kind::Choice(_)) {
            return Err(format!(
                "--param {param}: takes {}, not a number to sweep",
                kind.allowed()
            ));
        }
        let unit = base_unit(&kind);
        let (values, xs) = match (values, range) {
            (Some(vs), None) => {
                let xs = vs
                    .iter()
                    .map(|v| number(&kind, v).map_err(|e| format!("--values: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                (vs.to_vec(), xs)
            }
            (None, Some(r)) => {
                let (from, to) = r
                    .split_once("..")
                    .ok_or_else(|| format!("--range {r}: write it as FROM..TO"))?;
                let a = number(&kind, from.trim()).map_err(|e| format!("--range: {e}"))?;
                let b = number(&kind, to.trim()).map_err(|e| format!("--range: {e}"))?;
                if steps < 2 {
                    return Err("--steps must be at least 2".into());
                }
                if log && (a <= 0.0 || b <= 0.0) {
                    return Err("--log needs a range above zero".into());
                }
                let xs: Vec<f64> = (0..steps)
                    .map(|i| {
                        let t = i as f64 / (steps - 1) as f64;
                        if log {
                            (a.ln() + t * (b.ln() - a.ln())).exp()
                        } else {
                            a + t * (b - a)
                        }
                    })
                    .collect();
                let values: Vec<String> = xs.iter().map(|x| render(&kind, *x)).collect();
                let xs = values
                    .iter()
                    .map(|v| number(&kind, v))
                    .collect::<Result<Vec<_>, _>>()?;
                (values, xs)
            }
            _ => return Err("give either --values or --range (with --steps)".into()),
        };
        Ok(Points {
            param: param.to_owned(),
            values,
            xs,
            unit,
            log,
        })
    }
}

/// One run of a sweep.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub value: String,
    pub x: f64,
    pub workload: String,
    pub strategy: String,
    pub metric: f64,
    pub report: RunReport,
}

/// The value of `metric` (a dotted report key) in `r`.
pub fn metric_of(r: &RunReport, metric: &str) -> Result<f64, String> {
    let v = serde_json::to_value(r).expect("reports serialize");
    let mut cur = &v;
    for part in metric.split('.') {
        cur = cur.get(part).ok_or_else(|| {
            format!("--metric {metric}: no such report key (e.g. throughput_bytes_per_sec, copies.cpu_copy_bytes, utilization.memory_bus)")
        })?;
    }
    cur.as_f64()
        .ok_or_else(|| format!("--metric {metric}: not a number"))
}

/// Runs the sweep. `load(sets)` loads the scenario with the extra `--set`s of one point.
pub fn run(
    points: &Points,
    metric: &str,
    threads: usize,
    load: &dyn Fn(&[String]) -> Result<scenarios::Scenario, String>,
) -> Result<Vec<Row>, String> {
    let mut jobs = Vec::new();
    let mut labels = Vec::new();
    for (value, x) in points.values.iter().zip(&points.xs) {
        let s = load(&[format!("{}={value}", points.param)])?;
        for wr in &s.runs {
            for st in &wr.strategies {
                jobs.push(Job {
                    world: world_of(&s),
                    workload: wr.workload.clone(),
                    strategy: *st,
                });
                labels.push((
                    value.clone(),
                    *x,
                    wr.workload.id().to_owned(),
                    st.id().to_owned(),
                ));
            }
        }
    }
    let bar = (std::io::stderr().is_terminal() && jobs.len() > 8).then(|| {
        let b = ProgressBar::new(jobs.len() as u64);
        b.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} runs, {elapsed} elapsed, {eta} left",
            )
            .expect("a valid template"),
        );
        b
    });
    let reports = run_all(&jobs, threads, &|| {
        if let Some(b) = &bar {
            b.inc(1);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    labels
        .into_iter()
        .zip(reports)
        .map(|((value, x, workload, strategy), report)| {
            Ok(Row {
                metric: metric_of(&report, metric)?,
                value,
                x,
                workload,
                strategy,
                report,
            })
        })
        .collect()
}

/// Series keys in first-seen order: `strategy` (or `workload/strategy` with several).
fn series(rows: &[Row]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in rows {
        let k = (r.workload.clone(), r.strategy.clone());
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

/// A table: one row per value, one column per strategy.
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
                .find(|r| &r.value == value && r.workload == k.0 && r.strategy == k.1)
                .map(|r| r.metric);
            let cell = m.map_or("-".to_owned(), |m| format!("{m:.4}"));
            let _ = write!(out, " {cell:>w$}");
        }
        let _ = writeln!(out);
    }
    out
}

/// CSV, one line per run.
pub fn csv(points: &Points, metric: &str, rows: &[Row]) -> String {
    let mut out = format!(
        "param,value,x,workload,strategy,{metric},throughput_bytes_per_sec,bottleneck,cpu_copy_bytes,bus_bytes_per_payload_byte,splats,util_cpu,util_memory_bus,util_wire\n"
    );
    for r in rows {
        let p = &r.report;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{:.3},{},{},{:.4},{},{:.4},{:.4},{:.4}",
            points.param,
            r.value,
            r.x,
            r.workload,
            r.strategy,
            r.metric,
            p.throughput_bytes_per_sec,
            p.bottleneck.name(),
            p.copies.cpu_copy_bytes,
            p.bus_bytes_per_payload_byte,
            p.integrity.splats,
            p.utilization.cpu,
            p.utilization.memory_bus,
            p.utilization.wire
        );
    }
    out
}

/// A tick label with an SI prefix: `12M`, `450k`, `0.25`.
fn si(x: f64) -> String {
    let a = x.abs();
    let (v, p) = if a >= 1e9 {
        (x / 1e9, "G")
    } else if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{p}")
}

fn metric_unit(metric: &str) -> &'static str {
    if metric.ends_with("bytes_per_sec") {
        "bytes/s"
    } else if metric.ends_with("_bytes") || metric.ends_with("per_payload_byte") {
        "bytes"
    } else if metric.ends_with("_ns") {
        "ns"
    } else if metric.starts_with("utilization") {
        "fraction of time"
    } else {
        "count"
    }
}

/// An SVG line plot: one line per strategy, a legend, a title, and axis labels with units.
pub fn plot(
    points: &Points,
    metric: &str,
    target: &str,
    rows: &[Row],
    path: &str,
) -> Result<(), String> {
    use plotters::prelude::*;
    let keys = series(rows);
    let many = keys.iter().any(|k| k.0 != keys[0].0);
    let (x0, x1) = points
        .xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
    let y1 = rows.iter().map(|r| r.metric).fold(0.0f64, f64::max) * 1.08 + f64::MIN_POSITIVE;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let title = format!("{metric} vs {} on {target}", points.param);
    let x_label = if points.unit.is_empty() {
        points.param.clone()
    } else {
        format!("{} ({})", points.param, points.unit)
    };
    let y_label = format!("{metric} ({})", metric_unit(metric));
    let palette = [&RED, &BLUE, &GREEN, &MAGENTA, &CYAN, &BLACK];
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label.as_str())
                .y_desc(y_label.as_str())
                .x_label_formatter(&|x| si(*x))
                .y_label_formatter(&|y| si(*y))
                .draw()
                .map_err(|e| e.to_string())?;
            for (i, k) in keys.iter().enumerate() {
                let color = palette[i % palette.len()].stroke_width(2);
                let pts: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| r.workload == k.0 && r.strategy == k.1)
                    .map(|r| (r.x, r.metric))
                    .collect();
                let legend_color = palette[i % palette.len()];
                chart
                    .draw_series(LineSeries::new(pts, color))
                    .map_err(|e| e.to_string())?
                    .label(series_name(k, many))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], legend_color)
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| e.to_string())?;
        }};
    }
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title.as_str(), ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(90);
    if points.log {
        draw!(
            builder
                .build_cartesian_2d((x0..x1).log_scale(), 0.0..y1)
                .map_err(|e| e.to_string())?
        );
    } else {
        draw!(
            builder
                .build_cartesian_2d(x0..x1, 0.0..y1)
                .map_err(|e| e.to_string())?
        );
    }
    root.present().map_err(|e| e.to_string())
}
