//! `zcsim reproduce`: the seeds' claims (DESIGN section 9) as experiments with verdicts.
//!
//! Each experiment is a scenario file in `scenarios/experiments/`; its `[experiment]` table
//! names the check, a [`Check`] variant with its typed fields. Fitting happens only in
//! `fit-and-predict` (the NetBSD experiment), on the one parameter DESIGN allows.

use std::fmt::Write as _;
use std::process::ExitCode;

use models::report::RunReport;
use models::strategy::Strategy;
use scenarios::experiments::{self, Check, Experiment};
use scenarios::{Overrides, Scenario};
use serde::Serialize;

use super::{Context, Failure, Format, Outcome as Exit};
use crate::runner::{Job, Runner};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  zcsim reproduce                                # all eight; exit 1 if any fails
  zcsim reproduce netbsd-page-loan laight-thorpe
  cp scenarios/experiments/freebsd-986.toml mine.toml   # edit it, then:
  zcsim check mine.toml && zcsim reproduce mine.toml

An experiment file is a scenario with an [experiment] table: title, claim, source and a
`check` with its fields (docs/experiments.md lists them).")]
pub struct Args {
    /// Built-in experiment names (`zcsim list` shows none: see docs/experiments.md) or paths
    /// of experiment files (FILE.toml); default: every built-in one.
    #[arg(value_name = "NAME|FILE.toml")]
    pub experiments: Vec<String>,
    /// table (for reading), json (one document with the configuration; see
    /// docs/report-schema.md) or csv (one row per run, the same columns for every command).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn execute(cx: &mut Context, a: Args) -> Exit {
    let outcomes = reproduce(&cx.runner, &a.experiments).map_err(Failure::User)?;
    let out = &mut *cx.out;
    match a.format {
        Format::Json => write!(
            out,
            "{}",
            crate::output::Document::new(
                "reproduce",
                None,
                Experiments {
                    experiments: &outcomes
                }
            )
            .to_json()
        )?,
        Format::Csv => write!(out, "{}", csv(&outcomes))?,
        Format::Table => write!(out, "{}", table(&outcomes))?,
    }
    Ok(if outcomes.iter().any(|o| !o.pass) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The body of `reproduce`'s JSON document.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Experiments<'a> {
    experiments: &'a [Outcome],
}

/// One CSV line per experiment.
#[derive(Serialize)]
struct CsvLine<'a> {
    experiment: &'a str,
    pass: bool,
    published: &'a str,
    simulated: &'a str,
    tolerance: &'a str,
}

fn csv(outcomes: &[Outcome]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for o in outcomes {
        w.serialize(CsvLine {
            experiment: &o.name,
            pass: o.pass,
            published: &o.published,
            simulated: &o.simulated,
            tolerance: &o.tolerance,
        })
        .expect("lines serialize");
    }
    if outcomes.is_empty() {
        return "experiment,pass,published,simulated,tolerance\n".into();
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("UTF-8")
}

/// One experiment's outcome.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Outcome {
    /// The built-in name, or the file's path.
    pub name: String,
    pub title: String,
    pub claim: String,
    pub source: String,
    pub published: String,
    pub simulated: String,
    pub tolerance: String,
    pub pass: bool,
    /// How the verdict was reached, one fact per line.
    pub details: Vec<String>,
    /// The experiment scenario's effective configuration.
    pub config: scenarios::config::Config,
}

/// An experiment's text and the path its errors name: a built-in name, or a file (any
/// argument that ends in `.toml` or names an existing file).
fn source(name: &str) -> Result<(String, std::borrow::Cow<'static, str>), String> {
    if let Some(text) = experiments::text(name) {
        return Ok((format!("scenarios/experiments/{name}.toml"), text.into()));
    }
    if name.ends_with(".toml") || std::path::Path::new(name).is_file() {
        let text =
            scenarios::scenario::read_scenario_file(name).map_err(|e| super::render_error(&e))?;
        return Ok((name.to_owned(), text.into()));
    }
    let names: Vec<&str> = experiments::ALL.iter().map(|e| e.0).collect();
    Err(format!(
        "unknown experiment `{}`{}; known: {}, or the path of an experiment file (FILE.toml)",
        super::shorten(name),
        super::did_you_mean(name, &names),
        names.join(", ")
    ))
}

fn load(name: &str, sets: &[String]) -> Result<(Scenario, Experiment), String> {
    let (path, text) = source(name)?;
    let text = &*text;
    let o = Overrides {
        sets: sets.to_vec(),
        ..Overrides::default()
    };
    let s = scenarios::load_str(&path, text, &o).map_err(|e| super::render_error(&e))?;
    let e = experiments::parse(text).map_err(|e| format!("{path}: {e}"))?;
    Ok((s, e))
}

/// Runs what one experiment needs: its scenario's workloads by index, strategies by id.
struct Lab<'a> {
    runner: &'a Runner,
    name: &'a str,
}

impl Lab<'_> {
    fn run(&self, s: &Scenario, workload: usize, strategy: Strategy) -> Result<RunReport, String> {
        let wr = s.runs.get(workload).ok_or_else(|| {
            format!(
                "{}: the experiment names workload {workload}, the scenario has {}",
                self.name,
                s.runs.len()
            )
        })?;
        Ok(self.runner.run(&Job::of(s, wr, strategy)))
    }

    fn strategy(&self, s: &Scenario, w: usize, id: &str) -> Result<Strategy, String> {
        s.runs
            .get(w)
            .and_then(|wr| wr.strategies.iter().find(|x| x.id() == id))
            .copied()
            .ok_or_else(|| {
                format!(
                    "{}: the experiment names strategy {id} on workload {w}, which its scenario lacks",
                    self.name
                )
            })
    }

    /// Runs strategy `id` on workload `w`.
    fn run_id(&self, s: &Scenario, w: usize, id: &str) -> Result<RunReport, String> {
        self.run(s, w, self.strategy(s, w, id)?)
    }
}

fn kbps(r: &RunReport) -> f64 {
    r.throughput_bytes_per_sec / 1024.0
}

/// Runs the named experiments (all when `names` is empty).
pub fn reproduce(runner: &Runner, names: &[String]) -> Result<Vec<Outcome>, String> {
    let names: Vec<String> = if names.is_empty() {
        experiments::ALL.iter().map(|e| e.0.to_owned()).collect()
    } else {
        names.to_vec()
    };
    names.iter().map(|n| one(runner, n)).collect()
}

fn one(runner: &Runner, name: &str) -> Result<Outcome, String> {
    let (s, e) = load(name, &[])?;
    let lab = Lab { runner, name };
    let mut o = Outcome {
        name: name.to_owned(),
        title: e.title.clone(),
        claim: e.claim.clone(),
        source: e.source.clone(),
        published: String::new(),
        simulated: String::new(),
        tolerance: String::new(),
        pass: false,
        details: Vec::new(),
        config: scenarios::config::Config::of(&s),
    };
    match &e.check {
        Check::FitAndPredict { .. } => fit_and_predict(&lab, &s, &e.check, &mut o)?,
        Check::NearWireLimit {
            strategy,
            published_mbit_per_sec,
            tolerance,
            cpu_baseline,
            cpu_per_byte_at_most,
            cpu_source,
        } => {
            let id = strategy;
            let r = lab.run_id(&s, 0, id)?;
            let limit = s
                .target
                .world
                .link
                .payload_limit_bytes_per_sec()
                .ok_or("near-wire-limit needs a wire")?;
            let mbit = |b: f64| b * 8.0 / 1e6;
            let tol = *tolerance;
            let off = r.throughput_bytes_per_sec / limit - 1.0;
            o.published = format!("{published_mbit_per_sec:.0} Mb/s");
            o.simulated = format!(
                "{:.0} Mb/s, {} CPU copies",
                mbit(r.throughput_bytes_per_sec),
                r.copies.cpu_copy_bytes
            );
            o.tolerance = format!(
                "within {:.0}% of the wire's {:.0} Mb/s",
                tol * 100.0,
                mbit(limit)
            );
            o.pass = off.abs() <= tol && r.copies.cpu_copy_bytes == 0;
            o.details.push(format!(
                "wire payload limit at MTU {}: {:.1} Mb/s; {id} reaches {:.1} Mb/s ({:+.2}%), bottleneck {}",
                s.target.world.link.mtu_bytes,
                mbit(limit),
                mbit(r.throughput_bytes_per_sec),
                off * 100.0,
                r.bottleneck.name()
            ));
            match (cpu_baseline, cpu_per_byte_at_most) {
                (None, None) => {}
                (Some(base), Some(at_most)) => {
                    let b = lab.run_id(&s, 0, base)?;
                    // CPU time per payload byte: busy share of the run times its length, over
                    // the bytes moved.
                    let per_byte = |r: &RunReport| {
                        r.utilization.cpu * r.sim_time_ns as f64 / r.payload_bytes.max(1) as f64
                    };
                    let ratio = per_byte(&r) / per_byte(&b);
                    o.pass &= ratio <= *at_most;
                    o.published.push_str(&format!(
                        "; CPU per byte at most {at_most:.2}x {base}'s (derived, see the last line)"
                    ));
                    o.simulated
                        .push_str(&format!("; CPU per byte {ratio:.2}x {base}'s"));
                    o.details.push(format!(
                        "CPU: {id} busy {:.0}% for {:.2} ns per byte, {base} busy {:.0}% for {:.2} ns per byte at {:.1} Mb/s ({} copied): {ratio:.2}x, at most {at_most:.2}x passes",
                        r.utilization.cpu * 100.0,
                        per_byte(&r),
                        b.utilization.cpu * 100.0,
                        per_byte(&b),
                        mbit(b.throughput_bytes_per_sec),
                        human(b.copies.cpu_copy_bytes)
                    ));
                    if let Some(src) = cpu_source {
                        o.details.push(format!("CPU bound from: {src}"));
                    }
                }
                _ => {
                    return Err(format!(
                        "{name}: near-wire-limit needs both cpu_baseline and cpu_per_byte_at_most, or neither"
                    ));
                }
            }
        }
        Check::Ratio {
            numerator: num,
            denominator: den,
            published_ratio,
            at_least,
        } => {
            let a = lab.run_id(&s, 0, num)?;
            let b = lab.run_id(&s, 0, den)?;
            let ratio = a.throughput_bytes_per_sec / b.throughput_bytes_per_sec;
            o.published = format!("{published_ratio:.1}x ({})", "\"more than 100% more\"");
            o.simulated = format!("{ratio:.2}x");
            o.tolerance = format!("at least {at_least}x");
            o.pass = ratio >= *at_least;
            o.details.push(format!(
                "{num} {:.0} KB/s ({} copies), {den} {:.0} KB/s ({} copies)",
                kbps(&a),
                human(a.copies.cpu_copy_bytes),
                kbps(&b),
                human(b.copies.cpu_copy_bytes)
            ));
        }
        Check::Splats { expect } => {
            let mut all = true;
            let mut cells = Vec::new();
            for x in expect {
                for id in &x.strategies {
                    let r = lab.run_id(&s, x.workload, id)?;
                    let ok = x.splats.holds(r.integrity.splats);
                    all &= ok;
                    let wname = s.runs[x.workload].workload.summary();
                    o.details.push(format!(
                        "{id} on {wname}: {} splats ({} bytes), expected {}: {}",
                        r.integrity.splats,
                        r.integrity.corrupt_bytes,
                        x.splats.name(),
                        if ok { "ok" } else { "WRONG" }
                    ));
                    cells.push(format!("{id}:{}", r.integrity.splats));
                }
            }
            o.published =
                "no splats when copied, loaned or COW-wired; splats in place; none by rename"
                    .into();
            o.simulated = cells.join(" ");
            o.tolerance = "exact".into();
            o.pass = all;
        }
        Check::Straddle {} => {
            let sendpage = |fixed| Strategy::MmapSendpage {
                fixed,
                map: models::strategy::MapMode::Once,
            };
            let buggy = lab.run(&s, 0, sendpage(false))?;
            let fixed = lab.run(&s, 0, sendpage(true))?;
            o.published = "wrong bytes with the bug, none fixed".into();
            o.simulated = format!(
                "{} wrong bytes with the bug, {} fixed",
                buggy.integrity.corrupt_bytes, fixed.integrity.corrupt_bytes
            );
            o.tolerance = "exact".into();
            o.pass = buggy.integrity.corrupt_bytes > 0 && fixed.integrity.corrupt_bytes == 0;
            o.details.push(format!(
                "bug: {} VMA lookups, {} pages from the wrong file; fixed: {} VMA lookups",
                buggy.vm.vma_lookups, buggy.integrity.splats, fixed.vm.vma_lookups
            ));
        }
        Check::Slower { slower, faster } => {
            let (slow, fast) = (slower, faster);
            let a = lab.run_id(&s, 0, slow)?;
            let b = lab.run_id(&s, 0, fast)?;
            o.published = format!("{slow} slower than {fast}");
            o.simulated = format!("{slow} {:.0} KB/s, {fast} {:.0} KB/s", kbps(&a), kbps(&b));
            o.tolerance = "strictly slower".into();
            o.pass = a.throughput_bytes_per_sec < b.throughput_bytes_per_sec;
            o.details.push(format!(
                "{slow}: {} loan breaks, {} copied, {:.2} bus bytes per byte; {fast}: {} copied, {:.2}",
                a.faults.loan_break,
                human(a.copies.cpu_copy_bytes),
                a.bus_bytes_per_payload_byte,
                human(b.copies.cpu_copy_bytes),
                b.bus_bytes_per_payload_byte
            ));
        }
        Check::HeaderPackets {} => {
            let packets = (0..3)
                .map(|w| lab.run_id(&s, w, "sendfile").map(|r| r.net.packets))
                .collect::<Result<Vec<u64>, String>>()?;
            let responses = match s.runs[0].workload {
                models::workload::Workload::FileServer { requests, .. } => requests,
                _ => {
                    return Err(format!(
                        "{name}: header-packets needs file-server workloads"
                    ));
                }
            };
            o.published = "separate write: +1 packet per response; cork, iovec: +0".into();
            o.simulated = format!(
                "separate {} / cork {} / iovec {} packets for {responses} responses",
                packets[0], packets[1], packets[2]
            );
            o.tolerance = "exact".into();
            o.pass = packets[0] == packets[1] + responses && packets[2] == packets[1];
        }
        Check::KtlsBus(_)
        | Check::ZerocopyBreakEven(_)
        | Check::SendZcWait(_)
        | Check::TcpZcCpu(_)
        | Check::Zcrx200g(_)
        | Check::AfXdpRxdrop(_) => {
            let run = |s: &Scenario, w: usize, st: Strategy| lab.run(s, w, st);
            let v = match &e.check {
                Check::KtlsBus(c) => c.evaluate(&s, &run)?,
                Check::ZerocopyBreakEven(c) => c.evaluate(&s, &run)?,
                Check::SendZcWait(c) => c.evaluate(&s, &run)?,
                Check::TcpZcCpu(c) => c.evaluate(&s, &run)?,
                Check::Zcrx200g(c) => c.evaluate(&s, &run)?,
                Check::AfXdpRxdrop(c) => c.evaluate(&s, &run)?,
                _ => unreachable!("matched above"),
            };
            o.published = v.published;
            o.simulated = v.simulated;
            o.tolerance = v.tolerance;
            o.pass = v.pass;
            o.details = v.details;
        }
        Check::SharedPage {} => {
            let during = lab.run_id(&s, 0, "cow-send")?;
            let after = lab.run_id(&s, 1, "cow-send")?;
            o.published = "copied once if written while referenced, else never".into();
            o.simulated = format!(
                "written while referenced: {} B copied ({} COW); after: {} B",
                during.copies.cpu_copy_bytes, during.faults.cow, after.copies.cpu_copy_bytes
            );
            o.tolerance = "exact".into();
            o.pass = during.copies.cpu_copy_bytes == 4096 && after.copies.cpu_copy_bytes == 0;
        }
    }
    Ok(o)
}

/// DESIGN section 9, item 1: bisect the one fitted parameter so the fit strategy hits its
/// published figure, then run the predicted strategy at that value.
fn fit_and_predict(lab: &Lab, s: &Scenario, check: &Check, o: &mut Outcome) -> Result<(), String> {
    let Check::FitAndPredict {
        fit_param: param,
        fit_strategy: fit_id,
        fit_kb_per_sec: target,
        predict_strategy: pred_id,
        published_kb_per_sec: published,
        tolerance: tol,
        bottlenecks,
    } = check
    else {
        unreachable!("called for fit-and-predict only");
    };
    let (target, published, tol) = (*target, *published, *tol);
    let name = lab.name;
    if param != "target.memory_bus" {
        return Err(format!(
            "{name}: DESIGN allows fitting only target.memory_bus"
        ));
    }
    let at = |bps: u64| -> Result<Scenario, String> {
        Ok(load(name, &[format!("{param}={bps}B/s")])?.0)
    };
    // Throughput rises with the bus: bisect between a quarter and four times the preset.
    let base = s.target.world.machine.memory_bus.bytes_per_sec();
    let (mut lo, mut hi) = (base / 4, base * 4);
    let mut best = (u64::MAX, 0.0, base);
    for _ in 0..26 {
        let mid = lo + (hi - lo) / 2;
        let sc = at(mid)?;
        let got = kbps(&lab.run_id(&sc, 0, fit_id)?);
        let miss = ((got - target).abs() * 1000.0) as u64;
        if miss < best.0 {
            best = (miss, got, mid);
        }
        if got < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1 {
            break;
        }
    }
    let (_, fit_got, fitted) = best;
    let sc = at(fitted)?;
    let fit_run = lab.run_id(&sc, 0, fit_id)?;
    let pred = lab.run_id(&sc, 0, pred_id)?;
    let pred_kb = kbps(&pred);
    let off = pred_kb / published - 1.0;
    let mut pass = off.abs() <= tol && (fit_got / target - 1.0).abs() <= 0.01;
    o.details.push(format!(
        "fitted {param} = {} (preset: {}); {fit_id} then gives {fit_got:.0} KB/s against {target:.0}",
        sim::ByteRate::from_bytes_per_sec(fitted),
        sim::ByteRate::from_bytes_per_sec(base)
    ));
    o.details.push(format!(
        "predicted {pred_id}: {pred_kb:.0} KB/s against the published {published:.0} ({:+.1}%)",
        off * 100.0
    ));
    for (id, want) in bottlenecks {
        let got = if id == fit_id { &fit_run } else { &pred };
        let ok = got.bottleneck.name() == want;
        pass &= ok;
        o.details.push(format!(
            "bottleneck of {id}: {} (expected {want}): {}",
            got.bottleneck.name(),
            if ok { "ok" } else { "WRONG" }
        ));
    }
    o.published = format!("{fit_id} {target:.0} KB/s, {pred_id} {published:.0} KB/s");
    o.simulated = format!(
        "{fit_id} {fit_got:.0} KB/s (fitted bus {}), {pred_id} {pred_kb:.0} KB/s",
        sim::ByteRate::from_bytes_per_sec(fitted)
    );
    o.tolerance = format!("{pred_id} within {:.0}%", tol * 100.0);
    o.pass = pass;
    Ok(())
}

fn human(b: u64) -> String {
    models::world::human_bytes(b)
}

/// The verdict table.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let passed = outcomes.iter().filter(|o| o.pass).count();
    for o in outcomes {
        let _ = writeln!(
            out,
            "[{}] {}: {}",
            if o.pass { "PASS" } else { "FAIL" },
            o.name,
            o.title
        );
        let _ = writeln!(out, "  claim:     {}", o.claim);
        let _ = writeln!(out, "  source:    {}", o.source);
        let _ = writeln!(out, "  published: {}", o.published);
        let _ = writeln!(out, "  simulated: {}", o.simulated);
        let _ = writeln!(out, "  tolerance: {}", o.tolerance);
        for d in &o.details {
            let _ = writeln!(out, "  - {d}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "{passed} passed, {} failed", outcomes.len() - passed);
    out
}
