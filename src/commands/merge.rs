//! `zcsim merge`: joins the partial results of a sharded sweep (`zcsim sweep --shard K/N`,
//! see [`super::sweep::shard`]) and prints exactly what the whole sweep prints, in any
//! format, with its plot.
//!
//! Every partial is checked before anything is printed: its format version, that all come
//! from the same sweep (the same zcsim, parameter, values, metric and configuration), and
//! that each of the N shards is there exactly once.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::Deserialize;

use super::sweep::shard::{Identity, PARTIAL_VERSION, Partial, Shard};
use super::sweep::{Output, Points, Row, check_plot_path};
use super::{Context, Failure, Format, Outcome, shorten};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  for k in 1 2 3 4; do
    zcsim sweep --param target.loss --range 0.0001..0.05 --steps 8 --log --shard $k/4 > part-$k.json
  done
  zcsim merge part-*.json                      # the table the unsharded sweep prints
  zcsim merge part-*.json --format json --plot loss.svg

README.md shows the same sweep as a Slurm job array, a Kubernetes Indexed Job and with GNU
parallel.")]
pub struct Args {
    /// The partial results, one per shard, in any order.
    #[arg(required = true, value_name = "PARTIAL")]
    pub partials: Vec<String>,
    /// table, json or csv: as `zcsim sweep --format`.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write a plot of the metric, SVG or PNG by the file's extension.
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    pub plot: Option<String>,
    /// Also show where CPU time and bus bytes went at every point.
    #[arg(long)]
    pub breakdown: bool,
}

/// The first key of a partial, read alone so another format version is named, not
/// misread.
#[derive(Deserialize)]
struct Version {
    zcsim_sweep_partial: Option<u32>,
}

fn read(path: &str) -> Result<Partial, Failure> {
    let bad = |problem: String| Failure::User(format!("{}: {problem}", shorten(path)));
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let not_partial = |e: serde_json::Error| {
        bad(format!(
            "not a partial result of `zcsim sweep --shard K/N` ({e})"
        ))
    };
    match serde_json::from_str::<Version>(&text)
        .map_err(not_partial)?
        .zcsim_sweep_partial
    {
        Some(PARTIAL_VERSION) => {}
        Some(v) => {
            return Err(bad(format!(
                "a partial result of format version {v}; this zcsim reads version {PARTIAL_VERSION}: merge with the zcsim that wrote it"
            )));
        }
        None => {
            return Err(bad(
                "not a partial result of `zcsim sweep --shard K/N` (no `zcsim_sweep_partial` key)"
                    .to_owned(),
            ));
        }
    }
    let value: serde_json::Value = serde_json::from_str(&text).map_err(not_partial)?;
    let p = Partial::deserialize(value).map_err(not_partial)?;
    // A file edited by hand could break what `--shard` guarantees.
    Shard::new(p.shard.k, p.shard.n).map_err(|e| bad(format!("shard {}: {e}", p.shard)))?;
    if let Some(r) = p
        .rows
        .iter()
        .find(|r| r.point >= p.sweep.values.len() || !p.shard.owns(r.point))
    {
        return Err(bad(format!(
            "has a run of point {} that is not shard {}'s",
            r.point, p.shard
        )));
    }
    Ok(p)
}

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    if let Some(path) = &a.plot {
        check_plot_path(path)?;
    }
    let mut first: Option<(String, Identity)> = None;
    let mut shards: BTreeMap<usize, String> = BTreeMap::new();
    let mut rows: Vec<(usize, Row)> = Vec::new();
    let mut n = 0;
    for path in &a.partials {
        let p = read(path)?;
        match &first {
            None => {
                n = p.shard.n;
                first = Some((path.clone(), p.sweep));
            }
            Some((first_path, identity)) => {
                if let Some(why) = identity.difference(&p.sweep) {
                    return Err(Failure::User(format!(
                        "{} and {} are partial results of different sweeps: {why}",
                        shorten(first_path),
                        shorten(path)
                    )));
                }
                if p.shard.n != n {
                    return Err(Failure::User(format!(
                        "{} is shard {} but {} is one of {n} shards: every partial must come from the same --shard K/N split",
                        shorten(path),
                        p.shard,
                        shorten(first_path)
                    )));
                }
            }
        }
        if let Some(other) = shards.insert(p.shard.k, path.clone()) {
            return Err(Failure::User(format!(
                "shard {} is given twice: {} and {}",
                p.shard,
                shorten(&other),
                shorten(path)
            )));
        }
        rows.extend(p.rows.into_iter().map(|r| (r.point, r.row)));
    }
    let (_, identity) = first.expect("clap requires at least one partial");
    let missing: Vec<String> = (1..=n)
        .filter(|k| !shards.contains_key(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(Failure::User(format!(
            "missing shard{} {}: run `zcsim sweep` with the same arguments and --shard {}, and merge its output too",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            missing[0]
        )));
    }
    // The whole sweep's order: by point, then as each shard ran them (workload, strategy).
    rows.sort_by_key(|(point, _)| *point);
    if let Some(i) =
        (0..identity.values.len()).find(|i| rows.binary_search_by_key(i, |r| r.0).is_err())
    {
        let k = i % n + 1;
        return Err(Failure::User(format!(
            "{} (shard {k}/{n}) has no run of point {i} ({} = {}): the file is incomplete",
            shorten(&shards[&k]),
            identity.param,
            identity.values[i]
        )));
    }
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    // The sweep checked its values when it ran; read back, they give the same points.
    let points = Points::new(
        &identity.param,
        Some(&identity.values),
        None,
        None,
        identity.log,
    )?;
    Output {
        points: &points,
        metric: &identity.metric,
        config: &identity.config,
        format: a.format,
        breakdown: a.breakdown,
        plot: a.plot.as_deref(),
    }
    .write(cx.out, &rows)?;
    Ok(ExitCode::SUCCESS)
}
