//! Loading a scenario: TOML with spans, overlaid preset → file → flags, checked key by key,
//! resolved into the model's types.

mod document;
mod target;

pub use document::read_scenario_file;
use document::*;
use target::*;

use std::collections::BTreeMap;

use models::strategy::{STRATEGY_IDS, Strategy};
use models::workload::{WORKLOAD_IDS, Workload, WorkloadOptions};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::error::{LineIndex, MAX_SHOWN_CHARS, Origin, ScenarioError, key_name, shorten};
use crate::keys::{Key, Options, TARGET_META, Target, option_keys, target_keys, workload_keys};
use crate::presets;
use crate::units::fmt_size;
pub use crate::workloads::Entry;
use crate::workloads::WorkloadSpec;

/// The built-in default scenario (`zcsim` with no arguments).
pub const DEFAULT_SCENARIO: &str = include_str!("../../examples/default.toml");
pub(crate) const DEFAULT_NAME: &str = "scenarios/examples/default.toml";

/// A validated scenario, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub seed: u64,
    pub target: Target,
    pub options: Options,
    pub runs: Vec<WorkloadRun>,
    /// Things the user should know that are not errors (a workload skipped because none of
    /// the listed strategies fits it).
    pub notes: Vec<String>,
}

/// One workload and the strategies to run it with.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadRun {
    /// The name the scenario gave the workload, or its kind and its index among the
    /// scenario's workloads (`bulk-send-1`); distinct within a scenario.
    pub name: String,
    pub workload: Workload,
    /// What applies to every strategy alike (`fill_each_write`).
    pub options: WorkloadOptions,
    pub strategies: Vec<Strategy>,
}

/// What the command line adds to a scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `--preset`: replaces the scenario's target preset.
    pub preset: Option<String>,
    /// `--workload`: keep only workloads of this kind (its defaults if the scenario has none).
    pub workload: Option<String>,
    /// `--strategies a,b`.
    pub strategies: Option<Vec<String>>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--set path=value`, in order.
    pub sets: Vec<String>,
}

/// Largest scenario file read: far above any real scenario (the default is under 1 KiB, 20,000
/// workloads about 1.2 MB), small enough that `check /dev/zero` stops at once.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Most `[[workloads]]` a scenario may have.
pub const MAX_WORKLOADS: usize = 100_000;
/// Most entries a strategy list may have (there are far fewer strategies; repeats count).
pub const MAX_STRATEGIES: usize = 64;
/// toml's own limit on nesting (dotted keys, tables in tables, arrays in arrays).
pub const MAX_NESTING: usize = 80;

/// What the top level of a scenario file may hold.
const TOP_LEVEL: &str =
    "seed, target, workloads, strategies, options (and experiment, read by zcsim reproduce)";

type Table = BTreeMap<String, Entry>;

/// Loads the scenario in `path`.
pub fn load_file(path: &str, o: &Overrides) -> Result<Scenario, ScenarioError> {
    let text = read_scenario_file(path)?;
    load_str(path, &text, o)
}

/// The built-in default scenario, with the command line's overrides.
pub fn load_default(o: &Overrides) -> Result<Scenario, ScenarioError> {
    load_str(DEFAULT_NAME, DEFAULT_SCENARIO, o)
}

/// Loads a scenario from `text`, reporting positions as in `path`.
pub fn load_str(path: &str, text: &str, o: &Overrides) -> Result<Scenario, ScenarioError> {
    let src = Source::new(path, text);
    let Doc {
        seed,
        mut target,
        mut options,
        mut workloads,
        names,
        mut strategies,
    } = read_doc(&src)?;
    let mut seed = seed.unwrap_or(1);
    if workloads.is_empty() {
        return Err(ScenarioError {
            origin: Origin::Whole { path: path.into() },
            field: "workloads".into(),
            value: None,
            problem: "no workload given".into(),
            allowed: Some(format!(
                "one or more [[workloads]] with kind = {}",
                WORKLOAD_IDS.join(", ")
            )),
        });
    }

    // Command-line overrides, each remembered as its own origin.
    if let Some(p) = &o.preset {
        target.insert(
            "preset".into(),
            Entry {
                value: toml::Value::String(p.clone()),
                origin: Origin::Flag {
                    arg: format!("--preset {p}"),
                },
            },
        );
    }
    if let Some(s) = o.seed {
        seed = s;
    }
    if let Some(ids) = &o.strategies {
        let origin = Origin::Flag {
            arg: format!("--strategies {}", ids.join(",")),
        };
        check_strategy_count(&origin, ids.len())?;
        strategies = Some((
            origin.clone(),
            ids.iter().map(|id| (origin.clone(), id.clone())).collect(),
        ));
    }
    if let Some(kind) = &o.workload {
        let origin = Origin::Flag {
            arg: format!("--workload {kind}"),
        };
        let Some(spec) = WorkloadSpec::new(kind) else {
            return Err(ScenarioError {
                origin,
                field: "workload".into(),
                value: Some(kind.clone()),
                problem: "is not a workload".into(),
                allowed: Some(WORKLOAD_IDS.join(", ")),
            });
        };
        workloads.retain(|(_, w)| w.kind() == kind);
        if workloads.is_empty() {
            workloads.push((origin, spec));
        }
    }
    for set in &o.sets {
        apply_set(
            set,
            &mut seed,
            &mut target,
            &mut workloads,
            &mut options,
            &mut strategies,
        )?;
    }

    let target = resolve_target(path, target)?;
    let options_table = options;
    let options = resolve_keys(
        "options",
        &options_table,
        Options::default(),
        &option_keys(),
    )?;
    check_options(path, &options_table, &options)?;
    check_devmem(path, &options_table, &options, &target)?;
    let mut resolved = Vec::new();
    for (i, (origin, spec)) in workloads.iter().enumerate() {
        let (w, opts) = spec.resolve(&format!("workloads[{i}]"))?;
        if let Err(problem) = w.check_target(&target.world) {
            return Err(ScenarioError {
                origin: (*origin).clone(),
                field: format!("workloads[{i}].kind"),
                value: Some(format!("\"{}\"", w.id())),
                problem: format!("cannot run on target {}: {problem}", target.name),
                allowed: Some("a sending workload, or a target with link = \"ethernet\"".into()),
            });
        }
        resolved.push((origin, w, opts));
    }
    let names = workload_names(&resolved, &names)?;
    let (runs, notes) = resolve_strategies(&resolved, &names, &strategies, &target, &options)?;
    Ok(Scenario {
        seed,
        target,
        options,
        runs,
        notes,
    })
}

/// `--set path=value`: `seed`, `strategies`, `target.KEY`, `workload.KEY` (every workload
/// the key applies to) or `options.KEY`. The value is read as TOML (`true`, `1500`, `0.01`),
/// or as a string when it is not (`40MB/s`).
fn apply_set(
    arg: &str,
    seed: &mut u64,
    target: &mut Table,
    workloads: &mut [(Origin, WorkloadSpec)],
    options: &mut Table,
    strategies: &mut Option<(Origin, Vec<(Origin, String)>)>,
) -> Result<(), ScenarioError> {
    let origin = Origin::Flag {
        arg: format!("--set {arg}"),
    };
    let err = |field: &str, problem: &str, allowed: &str| ScenarioError {
        origin: origin.clone(),
        field: if field.is_empty() {
            key_name(field)
        } else {
            shorten(field)
        },
        value: None,
        problem: problem.to_owned(),
        allowed: Some(allowed.to_owned()),
    };
    let Some((path, raw)) = arg.split_once('=') else {
        return Err(err(
            arg,
            "is not of the form path=value",
            "e.g. --set target.memory_bus=40MB/s",
        ));
    };
    let (path, raw) = (path.trim(), raw.trim());
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let entry = Entry {
        value,
        origin: origin.clone(),
    };
    const PATHS: &str = "seed, strategies, target.KEY, workload.KEY, options.KEY";
    match path.split_once('.') {
        None if path == "seed" => match entry.value.as_integer() {
            Some(s) if s >= 0 => *seed = s as u64,
            _ => {
                return Err(ScenarioError {
                    value: Some(shorten(raw)),
                    ..err("seed", "must be a whole number", "0 to 2^63-1")
                });
            }
        },
        None if path == "strategies" => {
            let ids: Vec<(Origin, String)> = raw
                .split(',')
                .map(|s| (origin.clone(), s.trim().to_owned()))
                .collect();
            check_strategy_count(&origin, ids.len())?;
            *strategies = Some((origin.clone(), ids));
        }
        Some(("target", key)) => {
            target.insert(key.to_owned(), entry);
        }
        Some(("options", key)) => {
            options.insert(key.to_owned(), entry);
        }
        Some(("workload", key)) => {
            let mut hit = false;
            for (i, (_, w)) in workloads.iter_mut().enumerate() {
                if w.takes(key) {
                    w.set(&format!("workloads[{i}]"), key, entry.clone())?;
                    hit = true;
                }
            }
            if !hit {
                let kinds = dedup(workloads.iter().map(|(_, w)| w.kind()).collect());
                let params = dedup(
                    kinds
                        .iter()
                        .flat_map(|k| workload_keys(k).into_iter().map(|p| p.name))
                        .collect(),
                );
                let problem = if workloads.iter().any(|(_, w)| w.has(key)) {
                    "applies to none of this scenario's workloads as written (file_size and cold need a bulk-send from a file, fill_each_write one from memory)"
                } else {
                    "is not a parameter of any workload in this scenario"
                };
                return Err(ScenarioError {
                    value: Some(shorten(raw)),
                    ..err(
                        &format!("workload.{key}"),
                        problem,
                        &format!(
                            "{} (the parameters of {}; see `zcsim list workloads`)",
                            params.join(", "),
                            kinds.join(", ")
                        ),
                    )
                });
            }
        }
        _ => return Err(err(path, "is not a settable path", PATHS)),
    }
    Ok(())
}

/// What one option's range cannot check: the io_uring zero-copy area is whole pages, and
/// its refill batch is at most its chunks (a larger batch would never be returned: the
/// application cannot hold more chunks than the area has).
fn check_options(path: &str, table: &Table, o: &Options) -> Result<(), ScenarioError> {
    let page = 4096;
    let chunks = o.zcrx.area_bytes / page;
    let bad = if !o.zcrx.area_bytes.is_multiple_of(page) {
        Some((
            "zcrx_area",
            "is not a whole number of 4 KiB pages (the area is registered page by page)",
            "a multiple of 4 KiB".to_owned(),
        ))
    } else if o.zcrx.refill_batch > chunks {
        Some((
            "zcrx_refill_batch",
            "is larger than the area's chunks: the application could never fill a batch to return",
            format!("a whole number from 1 to {chunks} (zcrx_area / 4 KiB)"),
        ))
    } else {
        None
    };
    let Some((key, problem, allowed)) = bad else {
        return Ok(());
    };
    // Point at the key that broke it, or at the one the user set if only that one was.
    let at = table
        .get(key)
        .or_else(|| table.get("zcrx_area"))
        .or_else(|| table.get("zcrx_refill_batch"));
    Err(ScenarioError {
        origin: at.map_or(Origin::Whole { path: path.into() }, |e| e.origin.clone()),
        field: format!("options.{key}"),
        value: at.map(|e| render(&e.value)),
        problem: problem.into(),
        allowed: Some(allowed),
    })
}

/// The devmem TCP binding is whole pages and fits the target's device memory (a binding the
/// target cannot hold is the user's mistake, not a strategy to leave out quietly).
fn check_devmem(
    path: &str,
    table: &Table,
    o: &Options,
    target: &Target,
) -> Result<(), ScenarioError> {
    let bytes = o.devmem.binding_bytes;
    let at = table.get("devmem_binding");
    let err = |problem: String, allowed: String| ScenarioError {
        origin: at.map_or(Origin::Whole { path: path.into() }, |e| e.origin.clone()),
        field: "options.devmem_binding".into(),
        value: at.map(|e| render(&e.value)),
        problem,
        allowed: Some(allowed),
    };
    if !bytes.is_multiple_of(4096) {
        return Err(err(
            "is not a whole number of 4 KiB pages (the dmabuf is carved into page-sized net_iovs)"
                .into(),
            "a multiple of 4 KiB".into(),
        ));
    }
    match target.world.machine.device_memory {
        Some(d) if d.capacity_bytes < bytes && at.is_some() => Err(err(
            format!(
                "is larger than target {}'s device memory ({} bytes)",
                target.name, d.capacity_bytes
            ),
            format!(
                "64 KiB to {} bytes (the target's device_memory)",
                d.capacity_bytes
            ),
        )),
        _ => Ok(()),
    }
}

/// A value for an error message, shortened when long.
pub(crate) fn render(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) if s.len() > MAX_SHOWN_CHARS => shorten(&format!("\"{s}\"")),
        _ => shorten(&v.to_string()),
    }
}

/// Checks and applies every entry of `table` to `base` with `keys`; unknown keys are errors.
fn resolve_keys<T>(
    section: &str,
    table: &Table,
    mut base: T,
    keys: &[Key<T>],
) -> Result<T, ScenarioError> {
    for (name, e) in table {
        let Some(key) = keys.iter().find(|k| k.name == name) else {
            let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
            return Err(ScenarioError {
                origin: e.origin.clone(),
                field: format!("{section}.{}", key_name(name)),
                value: Some(render(&e.value)),
                problem: "is not a known field".into(),
                allowed: Some(names.join(", ")),
            });
        };
        let v = key.kind.check(&e.value).map_err(|problem| ScenarioError {
            origin: e.origin.clone(),
            field: format!("{section}.{}", key_name(name)),
            value: Some(render(&e.value)),
            problem,
            allowed: Some(key.kind.allowed()),
        })?;
        (key.apply)(&mut base, v);
    }
    Ok(base)
}

/// The strategies for each workload. Without a list, every strategy that applies. With one,
/// each workload runs the listed strategies that apply to it. A listed strategy that applies
/// to none of the workloads is an error naming both; a workload that none of the listed
/// strategies fits is skipped with a note (an error if that leaves nothing to run).
fn resolve_strategies(
    workloads: &[(&Origin, Workload, WorkloadOptions)],
    names: &[String],
    listed: &Option<(Origin, Vec<(Origin, String)>)>,
    target: &Target,
    options: &Options,
) -> Result<(Vec<WorkloadRun>, Vec<String>), ScenarioError> {
    let configure = |s: Strategy| match s.with_map(options.map) {
        Strategy::PageLoan(_) => Strategy::PageLoan(options.loan),
        Strategy::CowSend(_) => Strategy::CowSend(options.cow),
        Strategy::MmapLoan { map, .. } => Strategy::MmapLoan {
            loan: options.loan,
            map,
        },
        Strategy::MmapSendpage { map, .. } => Strategy::MmapSendpage {
            fixed: options.sendpage_fixed,
            map,
        },
        Strategy::Sendfile { .. } => Strategy::Sendfile {
            linux_fallback: target.linux_sendpage_fallback,
        },
        Strategy::MsgZerocopy(_) => Strategy::MsgZerocopy(options.zerocopy),
        Strategy::IoUringSendZc(_) => Strategy::IoUringSendZc(options.send_zc),
        Strategy::SendfileKtls(_) => Strategy::SendfileKtls(options.ktls),
        Strategy::TcpZerocopyReceive(_) => Strategy::TcpZerocopyReceive(options.tcp_zc),
        Strategy::IoUringZcrx(_) => Strategy::IoUringZcrx(options.zcrx),
        Strategy::AfXdp(_) => Strategy::AfXdp(options.xsk),
        Strategy::DevmemTcp(_) => Strategy::DevmemTcp(options.devmem),
        Strategy::Splice { .. } => Strategy::Splice {
            pipe_bytes: options.pipe_bytes,
        },
        Strategy::VmspliceGift { .. } => Strategy::VmspliceGift {
            pipe_bytes: options.pipe_bytes,
        },
        other => other,
    };
    let mut chosen: Vec<Strategy> = Vec::new();
    if let Some((_, ids)) = listed {
        for (origin, id) in ids {
            let s = Strategy::from_id(id).map_err(|e| ScenarioError {
                origin: origin.clone(),
                field: "strategies".into(),
                value: Some(format!("\"{id}\"")),
                problem: e.to_string(),
                allowed: Some(STRATEGY_IDS.join(", ")),
            })?;
            if let Some(Err(e)) = workloads
                .iter()
                .map(|(_, w, _)| {
                    let s = configure(s);
                    w.check(&s)?;
                    match w.link_misfit(&s, &target.world.link) {
                        Some(reason) => Err(models::strategy::DoesNotApply {
                            strategy: s.id(),
                            workload: w.id(),
                            reason,
                        }),
                        None => Ok(()),
                    }
                })
                .reduce(|a, b| if a.is_ok() { a } else { b })
            {
                let fits: Vec<&str> = workloads
                    .iter()
                    .flat_map(|(_, w, _)| applicable(w))
                    .collect();
                return Err(ScenarioError {
                    origin: origin.clone(),
                    field: "strategies".into(),
                    value: Some(format!("\"{id}\"")),
                    problem: e.to_string(),
                    allowed: Some(dedup(fits).join(", ")),
                });
            }
            // A strategy the target's NIC or machine cannot carry: what it lacks, and where
            // to find it.
            let misfit = models::strategy::target_misfit(&s, &target.world.nic)
                .map(|r| {
                    (
                        r.to_owned(),
                        "a target whose NIC has what it needs, or another strategy",
                    )
                })
                .or_else(|| {
                    models::strategy::machine_misfit(&s, &target.world.machine).map(|r| {
                        (
                            r,
                            "a target with device memory (preset gpu-server-2024), or another strategy",
                        )
                    })
                });
            if let Some((reason, allowed)) = misfit {
                return Err(ScenarioError {
                    origin: origin.clone(),
                    field: "strategies".into(),
                    value: Some(format!("\"{id}\"")),
                    problem: format!("cannot run on target {}: {reason}", target.name),
                    allowed: Some(allowed.into()),
                });
            }
            chosen.push(configure(s));
        }
    } else {
        // Every strategy that applies, which excludes one the target's NIC cannot carry
        // (io_uring zero-copy receive without header split or flow steering).
        chosen = STRATEGY_IDS
            .iter()
            .map(|id| configure(Strategy::from_id(id).expect("catalogue ids parse")))
            .filter(|s| models::strategy::target_misfit(s, &target.world.nic).is_none())
            .filter(|s| models::strategy::machine_misfit(s, &target.world.machine).is_none())
            .collect();
    }
    let mut runs = Vec::new();
    let mut notes = Vec::new();
    for ((origin, w, options), name) in workloads.iter().zip(names) {
        let strategies: Vec<Strategy> = chosen
            .iter()
            .copied()
            .filter(|s| w.check(s).is_ok() && w.link_misfit(s, &target.world.link).is_none())
            .collect();
        if strategies.is_empty() {
            notes.push(format!(
                "note: skipping workload `{name}` ({}) declared at {origin}: none of the listed strategies applies to it (it takes {})",
                w.id(),
                applicable(w).join(", ")
            ));
            continue;
        }
        runs.push(WorkloadRun {
            name: name.clone(),
            workload: w.clone(),
            options: *options,
            strategies,
        });
    }
    Ok((runs, notes))
}

/// Each workload's name: the one written, else kind and index. Two workloads may not share
/// a name (reports could not tell them apart).
fn workload_names(
    resolved: &[(&Origin, Workload, WorkloadOptions)],
    names: &[(Origin, String)],
) -> Result<Vec<String>, ScenarioError> {
    let mut given: Vec<(String, &Origin)> = Vec::new();
    for (i, (origin, w, _)) in resolved.iter().enumerate() {
        let name = names
            .iter()
            .find(|(o, _)| o == *origin)
            .map_or_else(|| format!("{}-{i}", w.id()), |(_, n)| n.clone());
        if let Some((_, first)) = given.iter().find(|(n, _)| *n == name) {
            return Err(ScenarioError {
                origin: (*origin).clone(),
                field: format!("workloads[{i}].name"),
                value: Some(format!("\"{name}\"")),
                problem: format!("is already the name of the workload at {first}"),
                allowed: Some("a name no other workload of the scenario has".into()),
            });
        }
        given.push((name, origin));
    }
    Ok(given.into_iter().map(|(n, _)| n).collect())
}

fn dedup(mut v: Vec<&str>) -> Vec<&str> {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|x| seen.insert(*x));
    v
}

/// The strategy ids that apply to `w`.
pub fn applicable(w: &Workload) -> Vec<&'static str> {
    STRATEGY_IDS
        .iter()
        .copied()
        .filter(|id| {
            w.check(&Strategy::from_id(id).expect("catalogue ids parse"))
                .is_ok()
        })
        .collect()
}

/// The kind of value a settable path takes (`target.memory_bus`, `workload.write_size`,
/// `options.loan_threshold`, `seed`), for sweeps; `None` if no such path exists.
pub fn param_kind(path: &str) -> Option<crate::keys::Kind> {
    if path == "seed" {
        return Some(crate::keys::Kind::Count {
            min: 0,
            max: i64::MAX as u64,
        });
    }
    let (section, key) = path.split_once('.')?;
    match section {
        "target" => target_keys()
            .into_iter()
            .find(|k| k.name == key)
            .map(|k| k.kind),
        "options" => option_keys()
            .into_iter()
            .find(|k| k.name == key)
            .map(|k| k.kind),
        "workload" => WORKLOAD_IDS
            .iter()
            .flat_map(|w| workload_keys(w))
            .find(|k| k.name == key)
            .map(|k| k.kind),
        _ => None,
    }
}

/// Every target key with its allowed values and doc, for `zcsim list`.
pub fn describe_target_keys() -> Vec<(&'static str, String, &'static str)> {
    target_keys()
        .iter()
        .map(|k| (k.name, k.kind.allowed(), k.doc))
        .collect()
}

/// Every key of a workload kind, for `zcsim list workloads`.
pub fn describe_workload_keys(kind: &str) -> Vec<(&'static str, String, &'static str)> {
    workload_keys(kind)
        .iter()
        .map(|k| (k.name, k.kind.allowed(), k.doc))
        .collect()
}
