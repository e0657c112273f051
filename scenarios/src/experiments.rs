//! The claims of DESIGN section 9 as experiments: scenario files in
//! `scenarios/experiments/`, each an ordinary scenario plus an `[experiment]` table that says
//! what the seed claims, where, the published figure, the tolerance and which check applies.
//! `zcsim reproduce` runs them; users can read and copy them.

use serde::Deserialize;

/// Experiment names, in DESIGN's order, with their files' text.
pub const ALL: [(&str, &str); 8] = [
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
];

/// The `[experiment]` table. Which fields matter depends on `check`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub title: String,
    pub claim: String,
    pub source: String,
    pub check: String,
    pub fit_param: Option<String>,
    pub fit_strategy: Option<String>,
    pub fit_kb_per_sec: Option<f64>,
    pub predict_strategy: Option<String>,
    pub published_kb_per_sec: Option<f64>,
    pub published_mbit_per_sec: Option<f64>,
    pub tolerance: Option<f64>,
    pub bottlenecks: Option<std::collections::BTreeMap<String, String>>,
    pub strategy: Option<String>,
    pub numerator: Option<String>,
    pub denominator: Option<String>,
    pub published_ratio: Option<f64>,
    pub at_least: Option<f64>,
    pub slower: Option<String>,
    pub faster: Option<String>,
    pub expect: Option<Vec<SplatExpectation>>,
}

/// For the `splats` check: on workload `workload`, these strategies splat `none` or `some`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SplatExpectation {
    pub workload: usize,
    pub strategies: Vec<String>,
    pub splats: String,
}

#[derive(Deserialize)]
struct Wrapper {
    experiment: Experiment,
}

/// The `[experiment]` table of an experiment file's text.
pub fn parse(text: &str) -> Result<Experiment, String> {
    let wrapper: Wrapper = toml::from_str::<toml::Table>(text)
        .map_err(|e| e.to_string())
        .and_then(|t| {
            toml::Value::Table(t)
                .try_into()
                .map_err(|e: toml::de::Error| e.to_string())
        })?;
    Ok(wrapper.experiment)
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
}
