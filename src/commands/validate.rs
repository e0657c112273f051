//! `zcsim validate`: runs the real strategies on this machine over loopback TCP, runs the
//! model on a calibrated preset with the same workloads, and prints measured vs predicted
//! throughput ratios against read+write, with each cell's error. Linux only, behind the
//! `host` feature.

use super::{Context, Failure, Format, Outcome};

#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// A preset file from `zcsim calibrate --out FILE` (default: calibrate now, in-process).
    #[arg(long)]
    pub preset: Option<String>,
    /// Request sizes, comma-separated (default: 4KiB,16KiB,64KiB,256KiB,1MiB).
    #[arg(long, value_delimiter = ',')]
    pub sizes: Option<Vec<String>>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Few repetitions and little data: seconds instead of minutes (for tests).
    #[arg(long)]
    pub quick: bool,
}

#[cfg(not(all(feature = "host", target_os = "linux")))]
pub fn execute(_cx: &mut Context, a: Args) -> Outcome {
    parse_sizes(&a)?;
    Err(Failure::User(
        "zcsim validate is not supported on this build: it needs Linux and the `host` feature"
            .into(),
    ))
}

/// Default request sizes.
pub const SIZES: [&str; 5] = ["4KiB", "16KiB", "64KiB", "256KiB", "1MiB"];

/// Smallest and largest request size accepted.
const MIN_SIZE: u64 = 512;
const MAX_SIZE: u64 = 16 << 20;

/// One cell: a strategy at a size.
#[cfg_attr(not(all(feature = "host", target_os = "linux")), allow(dead_code))]
#[derive(Clone, Debug, serde::Serialize)]
pub struct Cell {
    pub size_bytes: u64,
    pub strategy: &'static str,
    /// Measured throughput, bytes per second (median over repetitions).
    pub measured_bytes_per_sec: f64,
    /// Lowest and highest measured throughput.
    pub measured_min: f64,
    pub measured_max: f64,
    /// The model's throughput on the preset, bytes per second.
    pub predicted_bytes_per_sec: f64,
    /// Measured throughput / measured read-write throughput at the same size.
    pub measured_ratio: f64,
    /// The same for the model.
    pub predicted_ratio: f64,
    /// predicted_ratio / measured_ratio - 1.
    pub error: f64,
}

fn parse_sizes(a: &Args) -> Result<Vec<u64>, Failure> {
    let given: Vec<String> = match &a.sizes {
        Some(v) => v.clone(),
        None => SIZES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let allowed = "sizes from 512 B to 16 MiB, such as 4KiB,64KiB,1MiB";
    let mut out = Vec::new();
    for s in given {
        let b = scenarios::units::parse_size(s.trim())
            .map_err(|e| super::flag_error("--sizes", &s, &e.to_string(), allowed))?;
        if !(MIN_SIZE..=MAX_SIZE).contains(&b) {
            return Err(super::flag_error("--sizes", &s, "is out of range", allowed));
        }
        if !out.contains(&b) {
            out.push(b);
        }
    }
    if out.is_empty() {
        return Err(super::flag_error("--sizes", "", "no size given", allowed));
    }
    Ok(out)
}

#[cfg(all(feature = "host", target_os = "linux"))]
pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    use super::calibrate::host_failure;
    use crate::host::strategies::{Real, throughput};
    use crate::host::{Plan, Stats, cached_file, progress};
    use models::strategy::Strategy;

    let sizes = parse_sizes(&a)?;
    // Refuse at once where loopback TCP cannot be used.
    drop(crate::host::loopback_pair().map_err(host_failure)?);
    // The preset: a file from calibrate, or measured now.
    let preset_text = match &a.preset {
        Some(p) => scenarios::scenario::read_scenario_file(p)?,
        None => {
            progress("validate: no --preset given, calibrating this machine first");
            super::calibrate::preset::measure(a.quick).map_err(host_failure)?
        }
    };
    // The strategies the model has, looked up by id (splice only once it is modelled).
    let mut reals = Vec::new();
    for r in Real::ALL {
        match Strategy::from_id(r.id()) {
            Ok(_) => reals.push(r),
            Err(_) => super::note(&format!(
                "note: the model has no strategy `{}` yet; it is measured but not predicted",
                r.id()
            )),
        }
    }
    let measured_only: Vec<Real> = Real::ALL
        .into_iter()
        .filter(|r| !reals.contains(r))
        .collect();

    // The same bytes from the same file size, real and modelled: a cached file sent in
    // requests of the given size (the model: bulk-send from a file, write_size = the size).
    let real_total: usize = if a.quick { 8 << 20 } else { 128 << 20 };
    let file_bytes: usize = if a.quick { 4 << 20 } else { 16 << 20 };
    let max_size = *sizes.iter().max().expect("a size") as usize;
    let file_len = file_bytes.max(max_size);
    let total_for = |size: u64| real_total.max(size as usize * 8);
    let ids: Vec<String> = reals.iter().map(|r| format!("\"{}\"", r.id())).collect();
    let mut doc = format!("seed = 1\nstrategies = [{}]\n\n[target]\n", ids.join(", "));
    doc.push_str(&preset_text);
    for &s in &sizes {
        doc.push_str(&format!(
            "\n[[workloads]]\nkind = \"bulk-send\"\ntotal = \"{} B\"\nwrite_size = \"{s} B\"\nsource = \"file\"\nfile_size = \"{} B\"\n",
            total_for(s),
            file_len,
        ));
    }
    let origin = a.preset.as_deref().unwrap_or("the calibrated preset");
    let scenario = scenarios::load_str(origin, &doc, &scenarios::Overrides::default())?;
    progress("validate: running the model");
    let reports = cx.runner.scenario(&scenario, 0);

    // The real runs.
    let file = cached_file(file_len).map_err(host_failure)?;
    let plan = if a.quick {
        Plan { warmup: 1, reps: 1 }
    } else {
        Plan { warmup: 1, reps: 7 }
    };
    let mut cells = Vec::new();
    let mut extra = Vec::new();
    for (si, &size) in sizes.iter().enumerate() {
        progress(&format!(
            "validate: {} requests over loopback",
            scenarios::units::fmt_size(size)
        ));
        let total = total_for(size);
        // The strategies take turns within each repetition, and each one's ratio to
        // read+write is taken within the repetition, so a load that drifts (other processes
        // on a shared machine) moves both sides of a ratio alike.
        let run = |r: Real| throughput(r, &file, file_len, size as usize, total);
        for _ in 0..plan.warmup {
            for r in Real::ALL {
                run(r).map_err(host_failure)?;
            }
        }
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); Real::ALL.len()];
        for _ in 0..plan.reps {
            for (i, r) in Real::ALL.into_iter().enumerate() {
                samples[i].push(run(r).map_err(host_failure)?);
            }
        }
        let measured: Vec<(Real, Stats, f64)> = Real::ALL
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let mut ratios: Vec<f64> = samples[i]
                    .iter()
                    .zip(&samples[0])
                    .map(|(x, rw)| x / rw)
                    .collect();
                let ratio = Stats::of(&mut ratios).median;
                (r, Stats::of(&mut samples[i].clone()), ratio)
            })
            .collect();
        let report = &reports[si];
        let pred_base = report
            .runs
            .iter()
            .find(|x| x.strategy == "read-write")
            .map(|x| x.throughput_bytes_per_sec)
            .expect("read-write is in the catalogue");
        for (r, st, mr) in &measured {
            let mr = *mr;
            match report.runs.iter().find(|x| x.strategy == r.id()) {
                Some(run) => {
                    let pr = run.throughput_bytes_per_sec / pred_base;
                    cells.push(Cell {
                        size_bytes: size,
                        strategy: r.id(),
                        measured_bytes_per_sec: st.median,
                        measured_min: st.min,
                        measured_max: st.max,
                        predicted_bytes_per_sec: run.throughput_bytes_per_sec,
                        measured_ratio: mr,
                        predicted_ratio: pr,
                        error: pr / mr - 1.0,
                    });
                }
                None => extra.push((size, r.id(), st.median, mr)),
            }
        }
    }
    drop(file);
    print(cx, a.format, &cells, &extra)?;
    if !measured_only.is_empty() {
        super::note(&format!(
            "note: measured but not modelled: {}",
            measured_only
                .iter()
                .map(|r| r.id())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(all(feature = "host", target_os = "linux"))]
fn print(
    cx: &mut Context,
    format: Format,
    cells: &[Cell],
    extra: &[(u64, &'static str, f64, f64)],
) -> Result<(), Failure> {
    use scenarios::units::fmt_size;
    let gbs = |x: f64| x / 1e9;
    match format {
        Format::Json => {
            let v = serde_json::json!({
                "cells": cells,
                "measured_only": extra.iter().map(|(s, id, t, r)| serde_json::json!({
                    "size_bytes": s, "strategy": id, "measured_bytes_per_sec": t, "measured_ratio": r
                })).collect::<Vec<_>>(),
            });
            writeln!(
                cx.out,
                "{}",
                serde_json::to_string_pretty(&v).expect("plain values serialize")
            )?;
        }
        Format::Csv => {
            writeln!(
                cx.out,
                "size_bytes,strategy,measured_bytes_per_sec,measured_min,measured_max,predicted_bytes_per_sec,measured_ratio,predicted_ratio,error"
            )?;
            for c in cells {
                writeln!(
                    cx.out,
                    "{},{},{:.0},{:.0},{:.0},{:.0},{:.4},{:.4},{:.4}",
                    c.size_bytes,
                    c.strategy,
                    c.measured_bytes_per_sec,
                    c.measured_min,
                    c.measured_max,
                    c.predicted_bytes_per_sec,
                    c.measured_ratio,
                    c.predicted_ratio,
                    c.error
                )?;
            }
            for (s, id, t, r) in extra {
                writeln!(cx.out, "{s},{id},{t:.0},,,,{r:.4},,")?;
            }
        }
        Format::Table => {
            writeln!(
                cx.out,
                "{:<9} {:<11} {:>14} {:>14} {:>9} {:>9} {:>7}",
                "request", "strategy", "measured GB/s", "model GB/s", "measured", "model", "error"
            )?;
            writeln!(
                cx.out,
                "{:<9} {:<11} {:>14} {:>14} {:>9} {:>9} {:>7}",
                "", "", "(min-max)", "", "x r+w", "x r+w", ""
            )?;
            let mut last = None;
            for c in cells {
                if last.is_some() && last != Some(c.size_bytes) {
                    writeln!(cx.out)?;
                }
                last = Some(c.size_bytes);
                writeln!(
                    cx.out,
                    "{:<9} {:<11} {:>5.2} ({:.1}-{:.1}) {:>14.2} {:>9.2} {:>9.2} {:>+6.0}%",
                    fmt_size(c.size_bytes),
                    c.strategy,
                    gbs(c.measured_bytes_per_sec),
                    gbs(c.measured_min),
                    gbs(c.measured_max),
                    gbs(c.predicted_bytes_per_sec),
                    c.measured_ratio,
                    c.predicted_ratio,
                    c.error * 100.0
                )?;
            }
            for (s, id, t, r) in extra {
                writeln!(
                    cx.out,
                    "{:<9} {:<11} {:>14.2} {:>14} {:>9.2} {:>9} {:>7}",
                    fmt_size(*s),
                    id,
                    gbs(*t),
                    "not modelled",
                    r,
                    "-",
                    "-"
                )?;
            }
            let compared: Vec<&Cell> = cells
                .iter()
                .filter(|c| c.strategy != "read-write")
                .collect();
            let within = compared.iter().filter(|c| c.error.abs() <= 0.15).count();
            writeln!(
                cx.out,
                "\n{within} of {} ratios within 15% (measured x r+w: the median over repetitions of the ratio\n\
                 to read+write within each; error = model ratio / measured ratio - 1)",
                compared.len()
            )?;
        }
    }
    Ok(())
}
