//! The values a sweep visits: typed (`--values`) or spread over a range (`--range`,
//! `--steps`, `--log`), checked and bounded before any run.
//!
//! A range's ends are run exactly as typed. The points between are computed from the ends
//! (never by adding a step again and again, which accumulates float error), then rounded:
//! sizes, rates, durations and counts to whole base units, fractions to three more decimals
//! than the ends were written with. Rounding that would make two points equal is an error.

use scenarios::keys::{Kind, Value};

use crate::commands::{Failure, flag_error, shorten};

/// Most points a sweep may visit (`--steps`, or values in `--values`).
pub const MAX_POINTS: usize = 10_000;

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

/// `raw` as a number in `kind`'s base unit; the error names the value and what is allowed.
fn number(kind: &Kind, raw: &str) -> Result<f64, String> {
    let v = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    match kind.check(&v) {
        Ok(Value::U64(n)) => Ok(n as f64),
        Ok(Value::F64(x)) => Ok(x),
        Ok(_) => Err(format!(
            "`{}` is not a number; sweeps need a numeric parameter",
            shorten(raw)
        )),
        Err(problem) => Err(format!(
            "`{}` {problem}; allowed: {}",
            shorten(raw),
            kind.allowed()
        )),
    }
}

/// Decimal places of `x`'s shortest exact rendering.
fn decimals(x: f64) -> usize {
    let s = format!("{x}");
    s.split_once('.').map_or(0, |(_, d)| d.len())
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

/// `n` points from `a` to `b`, both ends exact, each point computed from the ends.
fn spread(kind: &Kind, a: f64, b: f64, n: usize, log: bool) -> Vec<f64> {
    let places = decimals(a).max(decimals(b)) + 3;
    let scale = 10f64.powi(places.min(15) as i32);
    (0..n)
        .map(|i| {
            if i == 0 {
                return a;
            }
            if i == n - 1 {
                return b;
            }
            let t = i as f64 / (n - 1) as f64;
            let x = if log {
                (a.ln() + t * (b.ln() - a.ln())).exp()
            } else {
                a + t * (b - a)
            };
            match kind {
                Kind::Fraction { .. } => (x * scale).round() / scale,
                _ => x.round(),
            }
        })
        .collect()
}

impl Points {
    /// `--values V1,V2,...` or `--range FROM..TO --steps N [--log]`.
    pub fn new(
        param: &str,
        values: Option<&[String]>,
        range: Option<&str>,
        steps: Option<usize>,
        log: bool,
    ) -> Result<Points, Failure> {
        let user = |m: String| Failure::User(m);
        let kind = scenarios::scenario::param_kind(param).ok_or_else(|| {
            let mut paths = vec!["seed".to_owned()];
            paths.extend(
                scenarios::keys::target_keys()
                    .iter()
                    .map(|k| format!("target.{}", k.name)),
            );
            paths.extend(
                scenarios::keys::option_keys()
                    .iter()
                    .map(|k| format!("options.{}", k.name)),
            );
            for w in models::workload::WORKLOAD_IDS {
                paths.extend(
                    scenarios::keys::workload_keys(w)
                        .iter()
                        .map(|k| format!("workload.{}", k.name)),
                );
            }
            let known: Vec<&str> = paths.iter().map(String::as_str).collect();
            flag_error(
                "--param",
                param,
                &format!(
                    "not a settable path{}",
                    crate::commands::did_you_mean(param, &known)
                ),
                "seed, target.KEY, workload.KEY, options.KEY (see `zcsim list presets` and `zcsim list workloads`)",
            )
        })?;
        if matches!(kind, Kind::Bool | Kind::Choice(_)) {
            return Err(flag_error(
                "--param",
                param,
                &format!("takes {}, not a number to sweep", kind.allowed()),
                "a size, rate, duration, count or fraction",
            ));
        }
        let unit = base_unit(&kind);
        let (values, xs) = match (values, range) {
            (Some(vs), None) => {
                if vs.len() > MAX_POINTS {
                    return Err(flag_error(
                        "--values",
                        &format!("({} values)", vs.len()),
                        "too many points",
                        &format!("1 to {MAX_POINTS} values"),
                    ));
                }
                let xs = vs
                    .iter()
                    .map(|v| number(&kind, v).map_err(|e| user(format!("--values: {e}"))))
                    .collect::<Result<Vec<_>, _>>()?;
                (vs.to_vec(), xs)
            }
            (None, Some(r)) => {
                let steps = steps.unwrap_or(0);
                if !(2..=MAX_POINTS).contains(&steps) {
                    return Err(flag_error(
                        "--steps",
                        &steps.to_string(),
                        "out of range",
                        &format!("2 to {MAX_POINTS} points"),
                    ));
                }
                let (from, to) = r.split_once("..").ok_or_else(|| {
                    flag_error(
                        "--range",
                        r,
                        "not a range",
                        "FROM..TO, e.g. 10MB/s..100MB/s",
                    )
                })?;
                let a = number(&kind, from.trim()).map_err(|e| user(format!("--range: {e}")))?;
                let b = number(&kind, to.trim()).map_err(|e| user(format!("--range: {e}")))?;
                if log && (a <= 0.0 || b <= 0.0) {
                    return Err(flag_error(
                        "--range",
                        r,
                        "--log needs both ends above zero",
                        "a range of positive values with --log",
                    ));
                }
                let xs = spread(&kind, a, b, steps, log);
                let values: Vec<String> = xs.iter().map(|x| render(&kind, *x)).collect();
                if let Some(w) = values.windows(2).find(|w| w[0] == w[1]) {
                    return Err(flag_error(
                        "--steps",
                        &steps.to_string(),
                        &format!(
                            "{r} rounded to {} gives {} twice",
                            if unit.is_empty() {
                                "whole numbers"
                            } else {
                                unit
                            },
                            w[0]
                        ),
                        "fewer steps, or a wider range",
                    ));
                }
                let xs = values
                    .iter()
                    .map(|v| number(&kind, v).map_err(user))
                    .collect::<Result<Vec<_>, _>>()?;
                (values, xs)
            }
            _ => {
                return Err(user(
                    "give either --values or --range (with --steps)".into(),
                ));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn range(param: &str, r: &str, steps: usize, log: bool) -> Vec<String> {
        Points::new(param, None, Some(r), Some(steps), log)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .values
    }

    #[test]
    fn a_range_runs_its_typed_ends_and_round_points_between() {
        // Without care 0.01..0.07 in 7 steps gives 0.060000000000000005, and a log range's
        // ends come back as 0.0010000000000000002 and 0.10000000000000006.
        assert_eq!(
            range("target.loss", "0.01..0.07", 7, false),
            ["0.01", "0.02", "0.03", "0.04", "0.05", "0.06", "0.07"]
        );
        assert_eq!(
            range("target.loss", "0.001..0.1", 5, true),
            ["0.001", "0.003162", "0.01", "0.031623", "0.1"]
        );
        // Rates: whole bytes per second, ends exact.
        assert_eq!(
            range("target.memory_bus", "10MB/s..100MB/s", 3, true),
            ["10000000B/s", "31622777B/s", "100000000B/s"]
        );
    }

    #[test]
    fn rounding_that_repeats_a_point_is_refused() {
        // 1..3 in 5 steps would run 1, 2, 2, 3, 3 after rounding to whole numbers.
        let e = Points::new("target.cpus", None, Some("1..3"), Some(5), false).unwrap_err();
        assert!(matches!(e, Failure::User(m) if m.contains("--steps 5") && m.contains("twice")));
    }
}
