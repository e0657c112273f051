//! Sweeps beyond one machine: `zcsim sweep --shard K/N` runs the K-th of N slices of the
//! points and writes a [`Partial`] result; `zcsim merge` joins the N partials into exactly
//! what the whole sweep prints.
//!
//! Point `i` (counting from 0 in the order the sweep visits them) belongs to shard
//! `i mod N + 1`: the slices interleave, so on a sweep whose runs grow slower along the range
//! (a slower bus, more loss) every shard gets a share of the slow end. Which shard runs which
//! point depends only on `K`, `N` and the point's index, never on the machine or the order
//! the shards ran in.
//!
//! A partial records the sweep's [`Identity`] (the zcsim version, the parameter and its
//! values, the metric, and the effective configuration of the base scenario), so partials of
//! different sweeps, or of the same sweep from another zcsim version, cannot be merged by
//! mistake.

use std::fmt;
use std::str::FromStr;

use scenarios::config::Config;
use serde::{Deserialize, Serialize};

use super::Row;
use super::points::MAX_POINTS;

/// The version of the partial-result format (`zcsim_sweep_partial`): it changes when a key
/// is removed or changes meaning.
pub const PARTIAL_VERSION: u32 = 1;

/// The K-th of N slices of a sweep's points, K counting from 1.
///
/// Invariant: `1 <= k <= n <= MAX_POINTS` (checked by [`FromStr`], the only way a user
/// makes one, and again when a partial is read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

/// Why `--shard` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardError {
    /// Not of the form `K/N`.
    Shape,
    /// `K` or `N` is not a whole number.
    NotANumber { which: &'static str, text: String },
    /// `K` is 0: shards count from 1.
    ZeroK,
    /// `N` is 0.
    ZeroN,
    /// `K` is beyond `N`.
    Beyond { k: usize, n: usize },
    /// More shards than a sweep can have points.
    TooMany { n: usize },
}

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardError::Shape => write!(f, "not K/N"),
            ShardError::NotANumber { which, text } => {
                write!(
                    f,
                    "{which} `{}` is not a whole number",
                    crate::commands::shorten(text)
                )
            }
            ShardError::ZeroK => write!(
                f,
                "K is 0, but shards count from 1 (for an index that counts from 0, such as Kubernetes' JOB_COMPLETION_INDEX, pass $((INDEX + 1)))"
            ),
            ShardError::ZeroN => write!(f, "N is 0: a sweep has at least one shard"),
            ShardError::Beyond { k, n } => {
                write!(f, "K = {k} is beyond N = {n}; the last shard is {n}/{n}")
            }
            ShardError::TooMany { n } => {
                write!(f, "N = {n} is more shards than a sweep has points")
            }
        }
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let (k, n) = s.split_once('/').ok_or(ShardError::Shape)?;
        let number = |which: &'static str, t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| ShardError::NotANumber {
                    which,
                    text: t.to_owned(),
                })
        };
        let (k, n) = (number("K", k)?, number("N", n)?);
        Shard::new(k, n)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl Shard {
    /// What `--shard` allows, for its error message.
    pub const ALLOWED: &str =
        "K/N with 1 <= K <= N <= 10000, e.g. --shard 2/4 (the second of four slices)";

    /// Shard `k` of `n`, checked.
    pub fn new(k: usize, n: usize) -> Result<Shard, ShardError> {
        match (k, n) {
            (_, 0) => Err(ShardError::ZeroN),
            (0, _) => Err(ShardError::ZeroK),
            (_, n) if n > MAX_POINTS => Err(ShardError::TooMany { n }),
            (k, n) if k > n => Err(ShardError::Beyond { k, n }),
            (k, n) => Ok(Shard { k, n }),
        }
    }

    /// Whether point `i` (from 0) is this shard's.
    pub fn owns(self, i: usize) -> bool {
        i % self.n == self.k - 1
    }
}

/// What decides a sweep's results, apart from which machine ran them: equal for every
/// partial of one sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub zcsim_version: String,
    pub param: String,
    /// Every point's value, as passed to `--set`, in the order the sweep visits them.
    pub values: Vec<String>,
    /// A log-spaced range (the plot's axis is logarithmic).
    pub log: bool,
    pub metric: String,
    /// The base scenario's effective configuration (each point sets `param` on top of it).
    pub config: Config,
}

impl Identity {
    /// The first part that differs between two identities, in words, or `None` if equal.
    pub fn difference(&self, other: &Identity) -> Option<String> {
        let (a, b) = (self, other);
        let differ = |what: &str, x: &dyn fmt::Debug, y: &dyn fmt::Debug| {
            Some(format!("their {what} differ ({x:?} and {y:?})"))
        };
        if a.zcsim_version != b.zcsim_version {
            return differ("zcsim versions", &a.zcsim_version, &b.zcsim_version);
        }
        if a.param != b.param {
            return differ("swept parameters", &a.param, &b.param);
        }
        if a.values != b.values || a.log != b.log {
            return Some(format!(
                "their values differ ({} and {} points{})",
                a.values.len(),
                b.values.len(),
                if a.log != b.log {
                    ", one log-spaced"
                } else {
                    ""
                }
            ));
        }
        if a.metric != b.metric {
            return differ("metrics", &a.metric, &b.metric);
        }
        let (x, y) = (&a.config, &b.config);
        if x.seed != y.seed {
            return differ("seeds", &x.seed, &y.seed);
        }
        if x.target != y.target {
            return differ("targets", &x.target.name, &y.target.name);
        }
        if x.strategies != y.strategies {
            return differ("strategies", &x.strategies, &y.strategies);
        }
        if x.workloads != y.workloads {
            return Some("their workloads differ".to_owned());
        }
        (x.options != y.options).then(|| "their options differ".to_owned())
    }
}

/// One shard's results: what `zcsim sweep --shard K/N` writes (one line of JSON) and
/// `zcsim merge` reads.
///
/// Its runs name strategies and workloads by the model's `&'static str`s, so it reads only
/// from data it owns (a `serde_json::Value`), never borrowing from the text.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(deserialize = "'de: 'static"))]
pub struct Partial {
    /// [`PARTIAL_VERSION`]; first, so a reader can refuse another version before the rest.
    pub zcsim_sweep_partial: u32,
    pub shard: Shard,
    pub sweep: Identity,
    /// The shard's runs in the order the whole sweep would print them.
    pub rows: Vec<PartialRow>,
}

/// A run and the index of its point among the sweep's values.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(deserialize = "'de: 'static"))]
pub struct PartialRow {
    pub point: usize,
    pub row: Row,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_refuse_with_the_reason() {
        // K counts from 1 and may equal N; each way of getting it wrong has its own error.
        assert_eq!("3/4".parse(), Ok(Shard { k: 3, n: 4 }));
        assert_eq!("4/4".parse(), Ok(Shard { k: 4, n: 4 }));
        assert_eq!("0/4".parse::<Shard>(), Err(ShardError::ZeroK));
        assert_eq!("1/0".parse::<Shard>(), Err(ShardError::ZeroN));
        assert_eq!(
            "5/4".parse::<Shard>(),
            Err(ShardError::Beyond { k: 5, n: 4 })
        );
        assert_eq!("4".parse::<Shard>(), Err(ShardError::Shape));
        assert!(matches!(
            "a/4".parse::<Shard>(),
            Err(ShardError::NotANumber { which: "K", .. })
        ));
        assert!(matches!(
            "1/-4".parse::<Shard>(),
            Err(ShardError::NotANumber { which: "N", .. })
        ));
        assert_eq!(
            "1/10001".parse::<Shard>(),
            Err(ShardError::TooMany { n: 10001 })
        );
    }

    #[test]
    fn every_point_belongs_to_exactly_one_shard() {
        // Interleaved slices: with N = 3, points 0, 3, 6 are shard 1's, 1, 4 shard 2's and
        // 2, 5 shard 3's; each of the 7 points is owned once.
        let shards: Vec<Shard> = (1..=3).map(|k| Shard::new(k, 3).unwrap()).collect();
        for i in 0..7 {
            let owners: Vec<usize> = shards.iter().filter(|s| s.owns(i)).map(|s| s.k).collect();
            assert_eq!(owners, [i % 3 + 1]);
        }
    }
}
