//! The claims of DESIGN section 9 as experiments: scenario files in
//! `scenarios/experiments/`, each an ordinary scenario plus an `[experiment]` table that says
//! what the seed claims, where, the published figure, the tolerance and which check applies.
//! `zcsim reproduce` runs them; users can read and copy them.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Experiment names, in DESIGN's order, with their files' text.
pub const ALL: [(&str, &str); 14] = [
    (
        "netbsd-page-loan",
        include_str!("../experiments/netbsd-page-loan.toml"),
    ),
    (
        "freebsd-986",
        include_str!("../experiments/freebsd-986.toml"),
    ),
    (
        "linux-mmap-sendpage",
        include_str!("../experiments/linux-mmap-sendpage.toml"),
    ),
    (
        "copy-semantics",
        include_str!("../experiments/copy-semantics.toml"),
    ),
    (
        "miller-straddle",
        include_str!("../experiments/miller-straddle.toml"),
    ),
    (
        "laight-thorpe",
        include_str!("../experiments/laight-thorpe.toml"),
    ),
    (
        "header-modes",
        include_str!("../experiments/header-modes.toml"),
    ),
    (
        "shared-page",
        include_str!("../experiments/shared-page.toml"),
    ),
    // The modern chapter (issue 16): see `experiments_modern`.
    ("ktls-bus", include_str!("../experiments/ktls-bus.toml")),
    (
        "zerocopy-break-even",
        include_str!("../experiments/zerocopy-break-even.toml"),
    ),
    (
        "send-zc-wait",
        include_str!("../experiments/send-zc-wait.toml"),
    ),
    // The receive chapter (issue 17): see `experiments_receive`.
    ("tcp-zc-cpu", include_str!("../experiments/tcp-zc-cpu.toml")),
    ("zcrx-200g", include_str!("../experiments/zcrx-200g.toml")),
    (
        "af-xdp-rxdrop",
        include_str!("../experiments/af-xdp-rxdrop.toml"),
    ),
];

/// The `[experiment]` table: what the seed claims, where it says so, and the check that
/// decides the verdict (the table's `check` key picks the [`Check`] variant).
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    pub title: String,
    pub claim: String,
    pub source: String,
    pub check: Check,
}

/// One kind of verdict, with the fields that kind needs. Written in the file as
/// `check = "near-wire-limit"` next to the variant's fields; a field that the check does not
/// use is an error.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "check", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Check {
    /// Bisect the one fitted parameter (DESIGN allows only `target.memory_bus`) until
    /// `fit_strategy` reaches `fit_kb_per_sec`, then run `predict_strategy` at that value.
    FitAndPredict {
        fit_param: String,
        fit_strategy: String,
        /// The published figure the fit aims at [KB/s, KB = 1024 bytes].
        fit_kb_per_sec: f64,
        predict_strategy: String,
        /// The published figure the prediction is judged against [KB/s].
        published_kb_per_sec: f64,
        /// Largest relative miss of the prediction that passes (0.10 = 10%).
        tolerance: f64,
        /// Strategy id → the bottleneck its run must report.
        #[serde(default)]
        bottlenecks: BTreeMap<String, String>,
    },
    /// `strategy` reaches the wire's payload limit with no CPU copy; with `cpu_baseline`, its
    /// CPU time per payload byte is also at most `cpu_per_byte_at_most` times the baseline's
    /// on the same workload (the claim is about what the copy costs the CPU, which
    /// throughput alone cannot show when both are wire-bound).
    NearWireLimit {
        strategy: String,
        /// The published figure [Mb/s].
        published_mbit_per_sec: f64,
        /// Largest relative distance from the wire's limit that passes.
        tolerance: f64,
        /// The strategy whose CPU use is the reference (`copy`).
        #[serde(default)]
        cpu_baseline: Option<String>,
        /// Largest ratio of CPU time per payload byte, strategy over baseline, that passes.
        #[serde(default)]
        cpu_per_byte_at_most: Option<f64>,
        /// Where that ratio comes from.
        #[serde(default)]
        cpu_source: Option<String>,
    },
    /// `numerator`'s throughput over `denominator`'s is at least `at_least`.
    Ratio {
        numerator: String,
        denominator: String,
        published_ratio: f64,
        at_least: f64,
    },
    /// Which strategies splat on which of the scenario's workloads.
    Splats {
        expect: Vec<SplatExpectation>,
    },
    /// `mmap-sendpage` with and without Miller's fix on the first workload.
    Straddle {},
    /// `slower` is strictly slower than `faster` on the first workload.
    Slower {
        slower: String,
        faster: String,
    },
    /// `sendfile` on three file-server workloads (separate header write, cork, iovec).
    HeaderPackets {},
    /// `cow-send` on a page written while referenced (workload 0) and after (workload 1).
    SharedPage {},
    /// The modern chapter's checks, in [`crate::experiments_modern`].
    KtlsBus(crate::experiments_modern::KtlsBus),
    ZerocopyBreakEven(crate::experiments_modern::ZerocopyBreakEven),
    SendZcWait(crate::experiments_modern::SendZcWait),
    /// The receive chapter's checks, in [`crate::experiments_receive`].
    TcpZcCpu(crate::experiments_receive::TcpZcCpu),
    #[serde(rename = "zcrx-200g")]
    Zcrx200g(crate::experiments_receive::Zcrx200g),
    AfXdpRxdrop(crate::experiments_receive::AfXdpRxdrop),
}

/// For the `splats` check: on workload `workload` (numbered from 0 in file order), these
/// strategies splat `none` or `some`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SplatExpectation {
    pub workload: usize,
    pub strategies: Vec<String>,
    pub splats: Splats,
}

/// Whether a run may splat.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Splats {
    None,
    Some,
}

impl Splats {
    pub fn name(self) -> &'static str {
        match self {
            Splats::None => "none",
            Splats::Some => "some",
        }
    }

    /// Whether a run with `splats` splats meets this expectation.
    pub fn holds(self, splats: u64) -> bool {
        match self {
            Splats::None => splats == 0,
            Splats::Some => splats > 0,
        }
    }
}

/// The `[experiment]` table of an experiment file's text.
pub fn parse(text: &str) -> Result<Experiment, String> {
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let Some(toml::Value::Table(mut table)) = doc.remove("experiment") else {
        return Err("no [experiment] table".into());
    };
    let mut text_field = |key: &str| match table.remove(key) {
        Some(toml::Value::String(s)) => Ok(s),
        Some(other) => Err(format!("experiment.{key} = {other}: allowed: a string")),
        None => Err(format!("[experiment] needs {key}")),
    };
    let title = text_field("title")?;
    let claim = text_field("claim")?;
    let source = text_field("source")?;
    let check = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| format!("[experiment]: {}", e.message()))?;
    Ok(Experiment {
        title,
        claim,
        source,
        check,
    })
}

/// The file text of a named experiment.
pub fn text(name: &str) -> Option<&'static str> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_experiment_file_is_a_valid_scenario_with_an_experiment() {
        // The files are user-facing: each must load as a scenario (the [experiment] table
        // aside) and carry a complete experiment table.
        for (name, text) in ALL {
            let path = format!("scenarios/experiments/{name}.toml");
            crate::load_str(&path, text, &crate::Overrides::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let e = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!e.claim.is_empty() && !e.source.is_empty(), "{name}");
        }
    }

    #[test]
    fn a_check_takes_exactly_its_own_fields() {
        // The check kind decides which fields exist: a known kind with its fields parses to
        // its typed variant, a field of another kind is refused by name, a missing field is
        // named, and an unknown kind lists what is allowed.
        let head = "[experiment]\ntitle = \"t\"\nclaim = \"c\"\nsource = \"s\"\n";
        let e = parse(&format!(
            "{head}check = \"slower\"\nslower = \"a\"\nfaster = \"b\"\n"
        ))
        .unwrap();
        assert_eq!(
            e.check,
            Check::Slower {
                slower: "a".into(),
                faster: "b".into()
            }
        );
        let err = parse(&format!("{head}check = \"straddle\"\nslower = \"a\"\n")).unwrap_err();
        assert!(err.contains("slower"), "{err}");
        let err = parse(&format!("{head}check = \"slower\"\nslower = \"a\"\n")).unwrap_err();
        assert!(err.contains("faster"), "{err}");
        let err = parse(&format!("{head}check = \"vibes\"\n")).unwrap_err();
        assert!(
            err.contains("vibes") && err.contains("near-wire-limit"),
            "{err}"
        );
        // near-wire-limit's CPU comparison is optional: present, it parses to its fields.
        let e = parse(&format!(
            "{head}check = \"near-wire-limit\"\nstrategy = \"cow-send\"\npublished_mbit_per_sec = 986\ntolerance = 0.02\ncpu_baseline = \"copy\"\ncpu_per_byte_at_most = 0.85\n"
        ))
        .unwrap();
        assert!(
            matches!(
                e.check,
                Check::NearWireLimit { cpu_baseline: Some(ref b), cpu_per_byte_at_most: Some(x), .. }
                    if b == "copy" && x == 0.85
            ),
            "{e:?}"
        );
        let err = parse("[experiment]\nclaim = \"c\"\n").unwrap_err();
        assert!(err.contains("title"), "{err}");
    }
}
